// TLS for the server, internal to the http layer: the OpenSSL context built
// from a certificate and key file, and the holder through which new
// connections take the current one while SIGHUP replaces it.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <mutex>
#include <string>

#include "core/status.h"

namespace tokend::http {

using TlsContextPtr = std::shared_ptr<boost::asio::ssl::context>;

// A server context for TLS 1.2 and 1.3 only, OpenSSL's default ciphers, no
// compression and no renegotiation, serving the certificate chain in
// `cert_file` (PEM) with the private key in `key_file` (PEM). InvalidArgument
// naming the file that cannot be read or parsed, or when the key does not
// match the certificate; the message never quotes the files' contents.
core::Result<TlsContextPtr> LoadTlsContext(const std::string& cert_file,
                                           const std::string& key_file);

// The context new connections use. Each connection keeps the context it
// began with (its SSL object refers to it), so replacing the current one
// never disturbs an open connection. Thread-safe.
class TlsContexts {
 public:
  TlsContexts(std::string cert_file, std::string key_file)
      : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {}

  // Loads the files into a new context and makes it current; on failure the
  // current context stays and the error names the file.
  core::Status Reload();
  TlsContextPtr Current() const;

 private:
  const std::string cert_file_;
  const std::string key_file_;
  mutable std::mutex mutex_;
  TlsContextPtr current_;
};

}  // namespace tokend::http
