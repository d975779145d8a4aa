#include "http/tls_connection.h"

#include <openssl/err.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <cerrno>
#include <csignal>

namespace tokend::http {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// OpenSSL's socket BIO writes with write(2), which raises SIGPIPE when the
// peer has gone, and the default action would end the process; ignored
// once for the whole process, as nginx does (plain sockets already send
// with MSG_NOSIGNAL, and libpq guards its own writes).
void IgnoreSigpipe() {
  static const bool ignored = [] { return std::signal(SIGPIPE, SIG_IGN) != SIG_ERR; }();
  (void)ignored;
}

}  // namespace

TlsConnection::TlsConnection(SSL_CTX* context, asio::ip::tcp::socket& socket)
    : socket_(socket), ssl_(SSL_new(context)) {
  IgnoreSigpipe();
  if (!ssl_) return;
  // A partial write returns what was sent (whole records) and lets the rest
  // be retried from a buffer that has moved; a peer that closes without
  // close_notify ends the stream like one that sent it (the HTTP framing,
  // not TLS, says whether the request was whole).
  SSL_set_mode(ssl_.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_set_options(ssl_.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  // One read(2) for whatever the socket holds, not one for each record's
  // header and another for its body; what is read beyond a record waits in
  // OpenSSL (HasPending).
  SSL_set_read_ahead(ssl_.get(), 1);
  if (SSL_set_fd(ssl_.get(), socket_.native_handle()) != 1) {
    ssl_.reset();
    return;
  }
  SSL_set_accept_state(ssl_.get());
}

error_code TlsConnection::Begin() {
  if (!ssl_ || !socket_.is_open()) return asio::error::bad_descriptor;
  ERR_clear_error();  // so that SSL_get_error sees this call's errors only
  return {};
}

error_code TlsConnection::Handshake() {
  if (error_code ec = Begin()) return ec;
  return Result(SSL_do_handshake(ssl_.get()));
}

error_code TlsConnection::Read(void* data, std::size_t size, std::size_t& n) {
  n = 0;
  if (error_code ec = Begin()) return ec;
  const int ret = SSL_read_ex(ssl_.get(), data, size, &n);
  return ret == 1 ? error_code() : Result(ret);
}

error_code TlsConnection::Write(const void* data, std::size_t size, std::size_t& n) {
  n = 0;
  if (error_code ec = Begin()) return ec;
  const int ret = SSL_write_ex(ssl_.get(), data, size, &n);
  return ret == 1 ? error_code() : Result(ret);
}

error_code TlsConnection::Shutdown() {
  if (error_code ec = Begin()) return ec;
  const int ret = SSL_shutdown(ssl_.get());
  return ret >= 0 ? error_code() : Result(ret);
}

bool TlsConnection::HasPending() const { return ssl_ && SSL_has_pending(ssl_.get()) == 1; }

error_code TlsConnection::Result(int ret) {
  if (ret == 1) return {};
  const int reason = SSL_get_error(ssl_.get(), ret);
  switch (reason) {
    case SSL_ERROR_WANT_READ:
      want_ = Want::kRead;
      return asio::error::would_block;
    case SSL_ERROR_WANT_WRITE:
      want_ = Want::kWrite;
      return asio::error::would_block;
    case SSL_ERROR_ZERO_RETURN:
      return asio::error::eof;
    case SSL_ERROR_SYSCALL: {
      const int saved = errno;
      ERR_clear_error();
      if (saved == EAGAIN || saved == EWOULDBLOCK) {
        want_ = Want::kRead;
        return asio::error::would_block;
      }
      return saved == 0 ? error_code(asio::error::eof)
                        : error_code(saved, boost::system::system_category());
    }
    default: {
      const unsigned long code = ERR_get_error();
      ERR_clear_error();
      return error_code(static_cast<int>(code), asio::error::get_ssl_category());
    }
  }
}

}  // namespace tokend::http
