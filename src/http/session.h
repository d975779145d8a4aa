// One connection, internal to the http layer. The shape of Beast's advanced
// server session: it owns the socket, the read buffer and the parser; reads
// a request under a deadline and its limits; has the RequestHandler answer
// it (running any blocking Step work on the store pool); writes the
// response; and repeats while the connection is kept alive.
//
// Reads and writes are tried at once on the non-blocking socket, and the
// session waits through the io_context only when the kernel has nothing (or
// no room): under keep-alive load a request whose bytes are there and whose
// answer the cache knows suspends nowhere. Runs on its listener's thread
// only; owned by its coroutine, weakly referenced by its deadline's timer.
//
// With TLS the same session runs OpenSSL on that socket (TlsConnection): the
// handshake first (under the header timeout), then every read and write
// tried at once through OpenSSL as on the plain path, waiting for whichever
// direction OpenSSL needs, and a close_notify at the end. Without TLS the
// plain path is untouched but for one test of tls_ per I/O.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/api_error.h"
#include "http/auth.h"
#include "http/exchange.h"
#include "http/tls_connection.h"
#include "http/tls_context.h"

namespace tokend::http {

class Listener;
struct ServerOptions;

class Session : public std::enable_shared_from_this<Session> {
 public:
  // `admitted` false: the server is at max_connections; the session answers
  // 503 and closes. `tls`: the context of the connection's TLS, held for its
  // whole life; null for plain HTTP.
  static void Start(Listener& listener, boost::asio::ip::tcp::socket socket, bool admitted,
                    TlsContextPtr tls);

  Session(Listener& listener, boost::asio::ip::tcp::socket socket, bool admitted,
          TlsContextPtr tls);
  ~Session();

  // Stop() began: an idle connection closes now, a busy one after its
  // response (sent with Connection: close).
  void OnDrain();
  // shutdown_timeout passed: close whatever the connection was doing.
  void ForceClose();

 private:
  using error_code = boost::system::error_code;
  using Parser = beast_http::request_parser<beast_http::string_body>;

  enum class Phase {
    kIdle,     // waiting for a request's first byte
    kBusy,     // reading, answering or writing a request
    kClosing,  // the connection ends as soon as the current step returns
  };

  // Holds one deadline for the I/O in progress. Arming and disarming only
  // move a time point that a steady tick checks, so a request costs no timer
  // system call; a deadline is enforced within kTick. On expiry the socket's
  // I/O is cancelled (not the socket closed, as Beast's stream timeout does)
  // so that the session can still answer 408.
  class Deadline {
   public:
    static constexpr std::chrono::milliseconds kTick{250};
    explicit Deadline(boost::asio::any_io_executor executor) : timer_(executor) {}
    void Arm(Session& session, std::chrono::steady_clock::duration timeout);
    void Disarm() { at_ = kNever; }
    bool expired() const { return expired_; }
    void Cancel() { timer_.cancel(); }

   private:
    static constexpr auto kNever = std::chrono::steady_clock::time_point::max();
    void Tick(std::weak_ptr<Session> session);

    boost::asio::steady_timer timer_;
    std::chrono::steady_clock::time_point at_ = kNever;
    bool ticking_ = false;
    bool expired_ = false;
  };

  boost::asio::awaitable<void> Run();
  boost::asio::awaitable<bool> Handshake();
  boost::asio::awaitable<void> Serve();

  // Reading a request.
  std::optional<std::pair<core::ApiError, std::string>> CheckHeader(
      std::size_t header_n, const RequestHeaders& headers) const;
  void DropEmptyLines();
  bool MayStartAnEmptyLine() const;
  bool AnswersHead() const;
  boost::asio::awaitable<void> OnReadError(error_code ec, bool header);
  error_code ReadNow();
  boost::asio::awaitable<error_code> ReadWhenReady();
  error_code ParseNow(bool whole_message, std::size_t& total);
  boost::asio::awaitable<error_code> ParseWhenReady(bool whole_message, std::size_t& total);
  error_code OnEndOfStream();
  void OnChunkHeader(std::uint64_t size, std::string_view extensions, error_code& ec);

  // Answering it.
  boost::asio::awaitable<Step> CompleteOnStorePool(Exchange& ex, Step step);

  // Writing the response.
  boost::asio::awaitable<bool> Write(const Response& res);
  boost::asio::awaitable<bool> WriteAll(std::string_view data);
  bool SendNow(std::string_view& data);
  boost::asio::awaitable<bool> SendWhenReady(std::string_view data);
  // Waits until the socket is ready for what the TLS session asked for.
  boost::asio::awaitable<error_code> WaitForTls();
  // Calls `attempt` (a TLS operation) until it no longer asks to wait,
  // waiting between tries; its last result, or the wait's error.
  boost::asio::awaitable<error_code> UntilTlsDone(const std::function<error_code()>& attempt);
  void TrimWriteBuffer();
  // `read_ec`: the error the request's read ended with, if any; it tells
  // how much of the header the parser took (see PresentedRequestId).
  boost::asio::awaitable<void> SendErrorAndClose(core::ApiError error, std::string message,
                                                 error_code read_ec = {});
  std::optional<std::string_view> PresentedRequestId(error_code read_ec) const;
  boost::asio::awaitable<void> LingeringClose();
  std::string TooLargeMessage() const;
  std::string ChunkLineTooLongMessage() const;

  Listener& listener_;
  const ServerOptions& options_;
  boost::asio::ip::tcp::socket socket_;
  // Declared in this order so that the TLS session goes before its context.
  TlsContextPtr tls_context_;
  std::optional<TlsConnection> tls_;
  Deadline deadline_;
  boost::beast::flat_buffer buffer_;
  // Given to each parser_, which keeps a reference: calls OnChunkHeader.
  std::function<void(std::uint64_t, boost::beast::string_view, error_code&)> on_chunk_header_;
  std::optional<Parser> parser_;
  // The data and extensions of the current request's chunks so far.
  std::uint64_t chunked_bytes_ = 0;
  std::string out_;      // the response being written
  BearerMemo memo_;      // the bearer this connection last authenticated
  std::string remote_;   // the peer's "ip:port", kept only for the access log
  std::string peer_ip_;  // the peer's address, for audit events
  const bool admitted_;  // false: over max_connections, answered 503
  Phase phase_ = Phase::kBusy;
  bool drained_ = false;              // the last read emptied the socket (see ReadNow)
  std::size_t empty_line_bytes_ = 0;  // skipped before the current request
};

}  // namespace tokend::http
