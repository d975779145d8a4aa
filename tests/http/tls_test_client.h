// A tiny synchronous HTTPS client over OpenSSL for the server's TLS tests:
// one TLS connection, a chosen protocol version range, the peer certificate's
// fingerprint, and HTTP/1.1 requests over it. Every read has a timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "test_client.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace tokend::http::testing {

class TlsTestClient {
 public:
  // Connects to 127.0.0.1:port and shakes hands offering TLS versions
  // min_version..max_version (OpenSSL's TLS1_x_VERSION; 0: no bound). The
  // certificate is not verified (tests serve a self-signed one); check
  // connected() and error().
  explicit TlsTestClient(std::uint16_t port, int min_version = 0, int max_version = 0);
  ~TlsTestClient();
  TlsTestClient(const TlsTestClient&) = delete;
  TlsTestClient& operator=(const TlsTestClient&) = delete;

  bool connected() const { return ssl_ != nullptr && connected_; }
  // Why the connection or handshake failed.
  const std::string& error() const { return error_; }
  // "TLSv1.2", "TLSv1.3".
  std::string protocol() const;
  // SHA-256 of the server certificate (DER), in hex.
  std::string PeerFingerprint() const;

  // Sends one request (Host and Content-Length added) and reads its response
  // (framed by Content-Length); nullopt on error or timeout.
  std::optional<HttpResponse> Request(std::string_view method, std::string_view target,
                                      const Headers& headers = {}, std::string_view body = {});
  // Sends raw bytes (any number of requests, or a part of one).
  bool Send(std::string_view raw);
  // Reads the next response (framed by Content-Length).
  std::optional<HttpResponse> ReadResponse();

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool connected_ = false;
  std::string error_;
  std::string pending_;  // bytes read past the previous response
};

// SHA-256 of the first certificate in the PEM file, in hex; empty on error.
std::string CertificateFileFingerprint(const std::string& pem_file);

}  // namespace tokend::http::testing
