#include "http/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "http/server.h"

namespace tokend::http {
namespace {

namespace ssl = boost::asio::ssl;

// The reason OpenSSL gives for `ec` (never the data it was parsing); clears
// OpenSSL's error queue.
std::string OpenSslReason(const boost::system::error_code& ec) {
  std::string reason = ec ? ec.message() : std::string();
  ERR_clear_error();
  return reason.empty() ? "not a valid PEM file" : reason;
}

core::Status Unreadable(const std::string& what, const std::string& file) {
  return core::Status::InvalidArgument("cannot read the TLS " + what + " file '" + file +
                                       "': " + std::strerror(errno));
}

// Readable by this process: a missing or unreadable file is named as such
// rather than as an OpenSSL parse error.
core::Status CheckReadable(const std::string& what, const std::string& file) {
  if (::access(file.c_str(), R_OK) != 0) return Unreadable(what, file);
  std::FILE* f = std::fopen(file.c_str(), "r");
  if (f == nullptr) return Unreadable(what, file);
  std::fclose(f);
  return core::Status::Ok();
}

// OpenSSL's passphrase callback: notes that the key asked for one and gives
// none. Without it OpenSSL prompts on the terminal, which at start waited for
// a passphrase and on a reload held an I/O thread (and the shutdown) forever.
int RefusePassphrase(char* /*buffer*/, int /*size*/, int /*writing*/, void* asked) {
  *static_cast<bool*>(asked) = true;
  return 0;
}

}  // namespace

core::Result<TlsContextPtr> LoadTlsContext(const std::string& cert_file,
                                           const std::string& key_file) {
  if (auto status = CheckReadable("certificate", cert_file); !status.ok()) return status;
  if (auto status = CheckReadable("key", key_file); !status.ok()) return status;

  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(native, TLS1_3_VERSION);
  SSL_CTX_set_options(
      native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Asio's context deletes a callback it finds in the userdata when it is
  // destroyed: ours is taken back on every path out of here.
  bool passphrase_asked = false;
  SSL_CTX_set_default_passwd_cb(native, RefusePassphrase);
  SSL_CTX_set_default_passwd_cb_userdata(native, &passphrase_asked);
  struct TakeBack {
    SSL_CTX* native;
    ~TakeBack() { SSL_CTX_set_default_passwd_cb_userdata(native, nullptr); }
  } take_back{native};
  boost::system::error_code ec;
  context->use_certificate_chain_file(cert_file, ec);
  if (ec) {
    return core::Status::InvalidArgument("cannot load the TLS certificate file '" + cert_file +
                                         "': " + OpenSslReason(ec));
  }
  context->use_private_key_file(key_file, ssl::context::pem, ec);
  if (passphrase_asked) {
    ERR_clear_error();
    return core::Status::InvalidArgument("the TLS key file '" + key_file +
                                         "' is encrypted: tokend needs the key unencrypted "
                                         "(openssl pkey -in ENCRYPTED -out KEY), readable by "
                                         "tokend alone");
  }
  if (ec) {
    return core::Status::InvalidArgument("cannot load the TLS key file '" + key_file +
                                         "': " + OpenSslReason(ec));
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    return core::Status::InvalidArgument("the TLS key file '" + key_file +
                                         "' does not match the certificate file '" + cert_file +
                                         "'");
  }
  return context;
}

core::Status CheckTlsFiles(const std::string& cert_file, const std::string& key_file) {
  auto context = LoadTlsContext(cert_file, key_file);
  return context.ok() ? core::Status::Ok() : context.status();
}

core::Status TlsContexts::Reload() {
  auto context = LoadTlsContext(cert_file_, key_file_);
  if (!context.ok()) return context.status();
  // A private key that group or others may read is a leak waiting to
  // happen. OpenSSH refuses such keys; tokend warns, at start and on every
  // reload, and serves: a key shared with a group (ssl-cert) is a common
  // deployment, and refusing would turn a reload into an outage.
  struct stat info {};
  if (::stat(key_file_.c_str(), &info) == 0 && (info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    spdlog::warn(
        "the TLS key file '{}' is accessible to group or others (mode {:04o}); "
        "restrict it to tokend's user (chmod 600)",
        key_file_, static_cast<unsigned>(info.st_mode & 07777));
  }
  std::lock_guard lock(mutex_);
  current_ = std::move(*context);
  return core::Status::Ok();
}

TlsContextPtr TlsContexts::Current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

}  // namespace tokend::http
