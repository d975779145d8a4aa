// TLS on a connection's own non-blocking descriptor (OpenSSL's socket BIO),
// internal to the http layer. Every call is made at once and says what it
// needs when it cannot go on: the session then waits for the socket to be
// readable or writable and calls again, as it does for plain reads and
// writes. So a TLS request whose bytes are there is read, answered and
// written without suspending, and no byte is copied through a memory BIO
// pair on its way to the kernel.
//
// Every call first checks that the socket is still open: a closed
// descriptor's number may already belong to another connection.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <memory>

namespace tokend::http {

class TlsConnection {
 public:
  // What a call that returned would_block waits for.
  enum class Want { kRead, kWrite };

  // A server-side TLS session over `socket` (which must outlive this), with
  // the certificate and settings of `context`.
  TlsConnection(SSL_CTX* context, boost::asio::ip::tcp::socket& socket);

  // Each returns: no error (done), would_block (wait for want(), then call
  // again with the same arguments), eof (the peer closed: close_notify, or
  // the TCP connection without one), or another error.
  boost::system::error_code Handshake();
  boost::system::error_code Read(void* data, std::size_t size, std::size_t& n);
  // Writes some of `data` (n bytes, at least one record when not blocked).
  boost::system::error_code Write(const void* data, std::size_t size, std::size_t& n);
  // Sends close_notify.
  boost::system::error_code Shutdown();

  Want want() const { return want_; }
  // Bytes already received and not yet returned by Read: a wait for the
  // socket would not see them.
  bool HasPending() const;

 private:
  // bad_descriptor when no call can be made (no session, or the socket
  // closed); otherwise clears OpenSSL's error queue for the call.
  boost::system::error_code Begin();
  boost::system::error_code Result(int ret);

  struct Free {
    void operator()(SSL* ssl) const { SSL_free(ssl); }
  };
  boost::asio::ip::tcp::socket& socket_;
  std::unique_ptr<SSL, Free> ssl_;
  Want want_ = Want::kRead;
};

}  // namespace tokend::http
