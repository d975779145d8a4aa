#include "http/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>

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

// OpenSSL checks the key against the first certificate of the chain file as
// it loads the key, or at SSL_CTX_check_private_key: either way the pair is
// wrong, and the usual cause is a chain file whose leaf is not first.
bool IsKeyMismatch(const boost::system::error_code& ec) {
  const auto code = static_cast<unsigned long>(ec.value());
  return ERR_GET_LIB(code) == ERR_LIB_X509 && ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH;
}

core::Status KeyMismatch(const std::string& cert_file, const std::string& key_file) {
  ERR_clear_error();
  return core::Status::InvalidArgument(
      "the TLS key file '" + key_file + "' does not match the first certificate in '" + cert_file +
      "' (the certificate file holds the server's own certificate first, then "
      "its intermediates)");
}

// "2026-12-05 10:00:00 UTC", or "an unreadable date".
std::string CertificateDate(const ASN1_TIME* time) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return "an unreadable date";
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return text;
}

// Why clients that check dates refuse the certificate now, if they do.
std::optional<std::string> OutsideItsDates(SSL_CTX* native, const std::string& cert_file) {
  const X509* certificate = SSL_CTX_get0_certificate(native);
  if (certificate == nullptr) return std::nullopt;
  if (X509_cmp_current_time(X509_get0_notAfter(certificate)) < 0) {
    return "the TLS certificate in '" + cert_file + "' expired on " +
           CertificateDate(X509_get0_notAfter(certificate));
  }
  if (X509_cmp_current_time(X509_get0_notBefore(certificate)) > 0) {
    return "the TLS certificate in '" + cert_file + "' is not valid before " +
           CertificateDate(X509_get0_notBefore(certificate));
  }
  return std::nullopt;
}

// What makes a usable pair a risk, logged as warnings: tokend serves all the
// same, since refusing would turn a late renewal into an outage at start or
// at a reload.
void WarnAboutTlsFiles(SSL_CTX* native, const std::string& cert_file, const std::string& key_file) {
  if (const std::optional<std::string> dates = OutsideItsDates(native, cert_file)) {
    spdlog::warn(
        "{}: clients that check it refuse every connection; renew it, then reload "
        "(SIGHUP)",
        *dates);
  }
  // A private key that group or others may read is a leak waiting to
  // happen. OpenSSH refuses such keys; tokend warns: a key shared with a
  // group (ssl-cert) is a common deployment.
  struct stat info {};
  if (::stat(key_file.c_str(), &info) == 0 && (info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    spdlog::warn(
        "the TLS key file '{}' is accessible to group or others (mode {:04o}); "
        "restrict it to tokend's user (chmod 600)",
        key_file, static_cast<unsigned>(info.st_mode & 07777));
  }
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
  if (ec && IsKeyMismatch(ec)) return KeyMismatch(cert_file, key_file);
  if (ec) {
    return core::Status::InvalidArgument("cannot load the TLS key file '" + key_file +
                                         "': " + OpenSslReason(ec));
  }
  if (SSL_CTX_check_private_key(native) != 1) return KeyMismatch(cert_file, key_file);
  return context;
}

core::Status CheckTlsFiles(const std::string& cert_file, const std::string& key_file,
                           TlsFileWarnings warnings) {
  auto context = LoadTlsContext(cert_file, key_file);
  if (!context.ok()) return context.status();
  if (warnings == TlsFileWarnings::kLog) {
    WarnAboutTlsFiles((*context)->native_handle(), cert_file, key_file);
  }
  return core::Status::Ok();
}

core::Status TlsContexts::Reload() {
  auto context = LoadTlsContext(cert_file_, key_file_);
  if (!context.ok()) return context.status();
  WarnAboutTlsFiles((*context)->native_handle(), cert_file_, key_file_);
  std::lock_guard lock(mutex_);
  current_ = std::move(*context);
  return core::Status::Ok();
}

TlsContextPtr TlsContexts::Current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

}  // namespace tokend::http
