// Listening sockets, sessions and threads. The shape follows Beast's advanced
// server: one io_context per I/O thread, each with its own acceptor on the
// same port (SO_REUSEPORT), a C++20 coroutine per connection owning its
// socket, buffer and parser, and a RequestHandler that knows no sockets.
//
// Sockets are non-blocking and every read or write is tried at once; only
// when the kernel has nothing (or no room) does the session wait for the
// socket through the io_context. Under keep-alive load the bytes are usually
// there, so a request costs one recv and one send, and no trip through the
// scheduler (which Asio's own async_read/async_write take even when the
// speculative call succeeds). Beast's parser reads the requests; responses
// are written from one buffer (AppendWireResponse).
#include "http/server.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <csignal>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <typeinfo>
#include <unordered_set>
#include <utility>
#include <vector>

#include "http/auth.h"
#include "http/error_response.h"
#include "http/metrics.h"
#include "http/request_handler.h"
#include "http/router.h"
#include "service/token_service.h"

namespace tokend::http {
namespace {

namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using asio::use_awaitable;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

// How long a closing connection keeps reading (and discarding) what the
// client still sends, so that the last response is not lost to a reset.
constexpr std::chrono::seconds kLingerTime{2};
constexpr std::size_t kLingerMaxBytes = 1024 * 1024;
constexpr std::size_t kReadChunk = 16 * 1024;
// A write buffer grown beyond this by one large response is released.
constexpr std::size_t kKeptWriteBuffer = 64 * 1024;
// How often a connection with a deadline checks it: deadlines hold to within
// this much.
constexpr std::chrono::milliseconds kDeadlineTick{250};

}  // namespace

class Worker;
class Session;

class ServerCore {
 public:
  ServerCore(ServerOptions options, service::TokenService& service, Metrics& metrics)
      : options_(std::move(options)), service_(service), metrics_(metrics) {}
  ~ServerCore();

  core::Result<std::uint16_t> Start();
  void Stop();
  void Wait();

  const ServerOptions& options() const { return options_; }
  Metrics& metrics() { return metrics_; }
  const RequestHandler& handler() const { return *handler_; }
  std::atomic<std::size_t>& connections() { return connections_; }

 private:
  core::Result<std::uint16_t> Listen();

  const ServerOptions options_;
  service::TokenService& service_;
  Metrics& metrics_;
  std::atomic<std::size_t> connections_{0};

  std::mutex mutex_;  // guards started_, stop_requested_ and Start/Stop
  bool started_ = false;
  bool stop_requested_ = false;
  std::mutex wait_mutex_;  // guards joined_ and the joins
  bool joined_ = false;

  std::unique_ptr<asio::thread_pool> pool_;
  std::optional<RequestHandler> handler_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
};

namespace {

// True when a header over the limit is so because of its request line (414,
// not 431). The parser consumes the request line once it is complete, so a
// request line is still in the buffer exactly when the target is not parsed.
bool RequestLineTooLong(const beast_http::request_parser<beast_http::string_body>& parser,
                        const beast::flat_buffer& buffer, std::size_t max_target) {
  const std::string_view target = parser.get().target();
  if (!target.empty()) return target.size() > max_target;
  const auto data = buffer.data();
  const std::string_view bytes(static_cast<const char*>(data.data()), data.size());
  const auto end = bytes.find("\r\n");
  return end == std::string_view::npos || end > max_target;
}

}  // namespace

// One I/O thread: its io_context, acceptor and the sessions it runs. Every
// member is touched only on that thread once Start has returned.
class Worker {
 public:
  explicit Worker(ServerCore& server) : server_(server) {}
  ~Worker() { destroyed_ = true; }

  asio::io_context& context() { return ctx_; }
  ServerCore& server() { return server_; }
  bool draining() const { return draining_; }

  tcp::acceptor& MakeAcceptor() { return acceptor_.emplace(ctx_); }
  void KeepRunning() { guard_.emplace(ctx_.get_executor()); }
  // SIGINT/SIGTERM call `on_signal` (once) on this worker's thread.
  template <typename Callback>
  void HandleSignals(Callback on_signal) {
    signals_.emplace(ctx_, SIGINT, SIGTERM);
    signals_->async_wait([on_signal](error_code ec, int signal) {
      if (!ec) on_signal(signal);
    });
  }

  void Run();
  asio::awaitable<void> Accept();
  void BeginDrain();

  void SessionStarted(Session* session) { sessions_.insert(session); }
  void SessionEnded(Session* session);

 private:
  void Finish();
  std::vector<Session*> Sessions() const { return {sessions_.begin(), sessions_.end()}; }

  ServerCore& server_;
  bool destroyed_ = false;  // declared before ctx_: checked while ctx_ unwinds
  std::unordered_set<Session*> sessions_;
  bool draining_ = false;
  asio::io_context ctx_{1};
  std::optional<tcp::acceptor> acceptor_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  asio::steady_timer drain_timer_{ctx_};
  std::optional<asio::signal_set> signals_;
};

// One connection. Runs as a coroutine on its worker's thread; owned by that
// coroutine (shared_ptr) and weakly referenced by its deadline timer.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Worker& worker, tcp::socket socket, bool admitted)
      : worker_(worker),
        options_(worker.server().options()),
        socket_(std::move(socket)),
        deadline_(worker.context()),
        buffer_(options_.max_header_bytes + kReadChunk),
        admitted_(admitted) {
    worker_.SessionStarted(this);
    if (admitted_) worker_.server().metrics().ConnectionOpened();
    error_code ignored;
    socket_.non_blocking(true, ignored);
  }

  ~Session() {
    if (admitted_) {
      worker_.server().connections().fetch_sub(1);
      worker_.server().metrics().ConnectionClosed();
    }
    worker_.SessionEnded(this);
  }

  asio::awaitable<void> Run() {
    try {
      if (admitted_) {
        co_await Serve();
      } else {
        co_await SendErrorAndClose(core::ApiError::kTooManyConnections,
                                   "Too many open connections; retry later.");
      }
    } catch (const std::exception& e) {
      spdlog::error("connection ended by unexpected {}", typeid(e).name());
    }
    error_code ec;
    socket_.close(ec);
  }

  // Stop() began: an idle connection closes now, a busy one after its
  // response (sent with Connection: close).
  void OnDrain() {
    if (idle_) {
      closing_ = true;
      error_code ec;
      socket_.cancel(ec);
    }
  }

  // shutdown_timeout passed: close whatever the connection was doing.
  void ForceClose() {
    closing_ = true;
    error_code ignored;
    socket_.close(ignored);
  }

 private:
  // The connection's requests, one after another. Written as one coroutine
  // whose reads and writes are tried inline first: a request whose bytes
  // are already there, answered from the cache, suspends nowhere and costs
  // no coroutine frame but the handler's.
  asio::awaitable<void> Serve() {
    bool first = true;
    for (;;) {
      if (buffer_.size() == 0) {
        // Waiting for the next request: the idle time (the header time for
        // the first one) runs until its first byte arrives.
        if (worker_.draining()) co_return;
        error_code ec = ReadNow();
        if (ec == asio::error::would_block) {
          idle_ = true;
          ArmDeadline(first ? options_.header_timeout : options_.idle_timeout);
          ec = co_await ReadWhenReady();
          idle_ = false;
          Disarm();
        }
        if (ec || closing_) co_return;
      }
      first = false;

      parser_.emplace();
      parser_->header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
      parser_->body_limit(options_.max_body_bytes);
      parser_->eager(false);
      std::size_t header_n = 0;
      error_code header_ec = ParseNow(/*whole_message=*/false, header_n);
      if (header_ec == asio::error::would_block) {
        ArmDeadline(options_.header_timeout);
        header_ec = co_await ParseWhenReady(/*whole_message=*/false, header_n);
        Disarm();
      }
      if (header_ec) {
        co_await OnReadError(header_ec, /*header=*/true);
        co_return;
      }
      if (auto refusal = CheckHeader(header_n)) {
        co_await SendErrorAndClose(refusal->first, std::move(refusal->second));
        co_return;
      }

      auto& req = parser_->get();
      if (!parser_->is_done()) {
        parser_->eager(true);
        std::size_t body_n = 0;
        error_code body_ec = ParseNow(/*whole_message=*/true, body_n);
        if (body_ec == asio::error::would_block) {
          if (req.version() >= 11 &&
              beast::iequals(req[beast_http::field::expect], "100-continue")) {
            static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            if (!co_await WriteAll(kContinue) || closing_) co_return;
          }
          ArmDeadline(options_.body_timeout);
          body_ec = co_await ParseWhenReady(/*whole_message=*/true, body_n);
          Disarm();
        }
        if (body_ec) {
          co_await OnReadError(body_ec, /*header=*/false);
          co_return;
        }
      }
      if (closing_) co_return;

      const RequestHandler& handler = worker_.server().handler();
      std::optional<Response> answered = handler.AnswerNow(parser_->get(), &memo_);
      if (!answered) answered.emplace(co_await handler.Handle(parser_->release(), &memo_));
      bool keep_alive = answered->keep_alive();
      Serialize(*answered);
      // The request and response are freed before the wait below: held by
      // every connection of the thread at once, they would overflow the
      // allocator's per-thread cache.
      answered.reset();
      parser_.reset();
      // The response waits for the other connections whose requests are
      // ready on this thread, so that the responses leave together: a client
      // (or proxy) multiplexing many connections then wakes once for several
      // answers instead of once for each, and its wake-ups are what cost the
      // most system time on both sides. (Before the drain check, so that a
      // drain that began meanwhile still closes this connection.)
      co_await asio::post(socket_.get_executor(), asio::use_awaitable);
      if (keep_alive && (worker_.draining() || closing_)) {
        MakeWireResponseClose(out_);
        keep_alive = false;
      }
      // Write(res), without its coroutine when the socket takes it all.
      std::string_view rest = out_;
      bool sent = SendNow(rest);
      if (sent && !rest.empty()) sent = co_await SendWhenReady(rest);
      TrimWriteBuffer();
      if (!sent) co_return;
      if (!keep_alive) {
        co_await LingeringClose();
        co_return;
      }
      if (closing_) co_return;
    }
  }

  // What is wrong with a parsed header that Beast's parser lets through:
  // the error to answer (before any body is read), or nullopt.
  std::optional<std::pair<core::ApiError, std::string>> CheckHeader(std::size_t header_n) const {
    const auto& req = parser_->get();
    if (req.target().size() > options_.max_target_bytes) {
      return std::pair{core::ApiError::kUriTooLong, "The request target is longer than " +
                                                        std::to_string(options_.max_target_bytes) +
                                                        " bytes."};
    }
    // Beast counts its header limit per read, so a header of many short
    // fields arriving in pieces can pass it; the total is checked here.
    if (header_n > options_.max_header_bytes) {
      return std::pair{core::ApiError::kHeadersTooLarge,
                       "The request header is larger than " +
                           std::to_string(options_.max_header_bytes) + " bytes."};
    }
    // RFC 9112 section 3.2: an HTTP/1.1 request carries exactly one Host.
    if (req.version() >= 11 && req.count(beast_http::field::host) != 1) {
      return std::pair{core::ApiError::kBadHttpRequest,
                       std::string("An HTTP/1.1 request must carry exactly one Host header.")};
    }
    if (const auto length = parser_->content_length();
        length && *length > options_.max_body_bytes) {
      return std::pair{core::ApiError::kPayloadTooLarge, TooLargeMessage()};
    }
    return std::nullopt;
  }

  std::string TooLargeMessage() const {
    return "The request body is larger than " + std::to_string(options_.max_body_bytes) + " bytes.";
  }

  // Answers what can be answered about a request that could not be read.
  asio::awaitable<void> OnReadError(error_code ec, bool header) {
    if (closing_) co_return;
    if (timed_out_) {
      co_await SendErrorAndClose(core::ApiError::kRequestTimeout,
                                 header ? "The request header was not received in time."
                                        : "The request body was not received in time.");
      co_return;
    }
    if (ec == beast_http::error::header_limit || ec == beast_http::error::buffer_overflow) {
      if (RequestLineTooLong(*parser_, buffer_, options_.max_target_bytes)) {
        co_await SendErrorAndClose(core::ApiError::kUriTooLong,
                                   "The request target is longer than " +
                                       std::to_string(options_.max_target_bytes) + " bytes.");
      } else {
        co_await SendErrorAndClose(core::ApiError::kHeadersTooLarge,
                                   "The request header is larger than " +
                                       std::to_string(options_.max_header_bytes) + " bytes.");
      }
      co_return;
    }
    if (ec == beast_http::error::body_limit) {
      co_await SendErrorAndClose(core::ApiError::kPayloadTooLarge, TooLargeMessage());
      co_return;
    }
    if (ec == beast_http::error::end_of_stream || ec == beast_http::error::partial_message) {
      co_return;  // the client went away
    }
    if (ec.category() == beast_http::make_error_code(beast_http::error::bad_method).category()) {
      co_await SendErrorAndClose(core::ApiError::kBadHttpRequest,
                                 "Malformed HTTP request (" + ec.message() + ").");
    }
  }

  // Sends an error response, then closes the connection.
  asio::awaitable<void> SendErrorAndClose(core::ApiError error, std::string message) {
    Response res = ErrorResponse(error, std::move(message));
    FinishResponse(res, 11, /*keep_alive=*/false);
    worker_.server().metrics().RecordRequest(kUnmatchedRoute, res.result_int(), 0.0);
    if (co_await Write(res)) co_await LingeringClose();
  }

  // Half-closes, then discards what the client still sends for a moment, so
  // the response is not destroyed by a reset of unread request bytes.
  asio::awaitable<void> LingeringClose() {
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) co_return;
    ArmDeadline(kLingerTime);
    std::size_t total = 0;
    char discard[4096];
    while (total < kLingerMaxBytes && !closing_) {
      auto [read_ec, n] = co_await socket_.async_read_some(asio::buffer(discard), kNoThrow);
      if (read_ec) break;
      total += n;
    }
    Disarm();
  }

  // The bytes of `res`, in out_.
  std::string_view Serialize(const Response& res) {
    out_.clear();
    AppendWireResponse(res, out_);
    return out_;
  }

  // A large response (the OpenAPI document, an unpaged query) should not
  // pin its buffer for the life of the connection.
  void TrimWriteBuffer() {
    if (out_.capacity() > kKeptWriteBuffer) std::string().swap(out_);
  }

  // Writes one response; false when the connection failed or timed out.
  asio::awaitable<bool> Write(const Response& res) {
    const bool sent = co_await WriteAll(Serialize(res));
    TrimWriteBuffer();
    co_return sent;
  }

  // Sends all of `data`; when the socket is full, waits for room under the
  // body timeout. False when the connection failed, was cancelled or timed
  // out.
  asio::awaitable<bool> WriteAll(std::string_view data) {
    if (!SendNow(data)) co_return false;
    if (data.empty()) co_return true;
    co_return co_await SendWhenReady(data);
  }

  // Sends what the socket takes now, removing it from `data`; false when
  // the connection failed.
  bool SendNow(std::string_view& data) {
    while (!data.empty()) {
      error_code ec;
      const std::size_t n = socket_.write_some(asio::buffer(data), ec);
      if (ec) return ec == asio::error::would_block || ec == asio::error::try_again;
      data.remove_prefix(n);
    }
    return true;
  }

  // Sends the rest of `data`, waiting for room under the body timeout.
  asio::awaitable<bool> SendWhenReady(std::string_view data) {
    ArmDeadline(options_.body_timeout);
    while (!data.empty()) {
      auto [wait_ec] = co_await socket_.async_wait(tcp::socket::wait_write, kNoThrow);
      if (wait_ec || !SendNow(data)) break;
    }
    Disarm();
    co_return data.empty();
  }

  // Appends what the socket holds now to buffer_, without waiting:
  // would_block when it holds nothing, buffer_overflow when buffer_ is full,
  // eof when the client closed its side.
  //
  // A read that came back shorter than asked took everything the socket had
  // (drained_): the next read is then surely would_block, and is not made.
  // Under load that spares a failing system call per request, since the
  // next request of a connection seldom arrives before its response left.
  error_code ReadNow() {
    const std::size_t size = beast::read_size(buffer_, kReadChunk);
    if (size == 0) return beast_http::error::buffer_overflow;
    if (drained_) return asio::error::would_block;
    error_code ec;
    const std::size_t n = socket_.read_some(buffer_.prepare(size), ec);
    if (ec == asio::error::try_again || ec == asio::error::would_block) {
      drained_ = true;
      return asio::error::would_block;
    }
    if (!ec) {
      buffer_.commit(n);
      drained_ = n < size;
    }
    return ec;
  }

  // Waits (under the deadline the caller armed) for bytes, and appends them
  // to buffer_. Errors as ReadNow, or operation_aborted when cancelled.
  asio::awaitable<error_code> ReadWhenReady() {
    const std::size_t size = beast::read_size(buffer_, kReadChunk);
    if (size == 0) co_return beast_http::error::buffer_overflow;
    // Asio's read first tries the socket (a system call) before it waits
    // for epoll. Under keep-alive load that try usually finds the socket
    // empty (0.9 failed calls per request), since the client is still
    // reading the response; a turn through the queue before it made them
    // 0.3 per request but cost more CPU than the failed calls it saved.
    // A deadline or a drain that came while no read was pending cancelled
    // nothing: it is honoured here.
    if (closing_ || timed_out_) co_return asio::error::operation_aborted;
    // Not async_wait: Asio re-arms epoll (another system call) for every
    // wait, while a read joins the descriptor's queue as it is.
    auto [ec, n] = co_await socket_.async_read_some(buffer_.prepare(size), kNoThrow);
    buffer_.commit(n);
    drained_ = n < size;
    if (closing_) co_return asio::error::operation_aborted;
    co_return ec;
  }

  // Feeds buffer_ to parser_, reading what the socket holds, until the
  // header (or, with `whole_message`, the whole request) is parsed; adds the
  // bytes the parser consumed to `total`. would_block when more bytes must
  // be waited for (ParseWhenReady); otherwise the errors of Beast's
  // http::read_header and http::read.
  error_code ParseNow(bool whole_message, std::size_t& total) {
    auto& parser = *parser_;
    for (;;) {
      if (whole_message ? parser.is_done() : parser.is_header_done()) return {};
      if (buffer_.size() > 0) {
        error_code ec;
        const std::size_t used = parser.put(buffer_.data(), ec);
        total += used;
        buffer_.consume(used);
        if (ec && ec != beast_http::error::need_more) return ec;
        if (!ec && used > 0) continue;
      }
      const error_code ec = ReadNow();
      if (ec == asio::error::eof) return OnEndOfStream();
      if (ec) return ec;
    }
  }

  // ParseNow, waiting for bytes as long as they are missing.
  asio::awaitable<error_code> ParseWhenReady(bool whole_message, std::size_t& total) {
    for (;;) {
      error_code ec = ParseNow(whole_message, total);
      if (ec != asio::error::would_block) co_return ec;
      ec = co_await ReadWhenReady();
      if (ec == asio::error::eof) co_return OnEndOfStream();
      if (ec) co_return ec;
    }
  }

  // The client closed its side: the request ends here if its framing allows
  // (as Beast's readers decide), else end_of_stream or partial_message.
  error_code OnEndOfStream() {
    if (!parser_->got_some()) return beast_http::error::end_of_stream;
    error_code ec;
    parser_->put_eof(ec);
    return ec;
  }

  // I/O still pending `timeout` from now is cancelled and timed_out_ is set.
  // (Beast's own stream timeout would close the socket, leaving no way to
  // answer 408.) Arming and disarming only move deadline_at_: a steady tick
  // checks it, so the per-request cost is no timer system call, and a
  // deadline is enforced within kDeadlineTick.
  void ArmDeadline(std::chrono::steady_clock::duration timeout) {
    timed_out_ = false;
    deadline_at_ = std::chrono::steady_clock::now() + timeout;
    if (!ticking_) Tick();
  }

  void Disarm() { deadline_at_ = kNoDeadline; }

  void Tick() {
    ticking_ = true;
    deadline_.expires_after(kDeadlineTick);
    deadline_.async_wait([weak = weak_from_this()](error_code ec) {
      const auto self = weak.lock();
      if (!self) return;
      self->ticking_ = false;
      if (ec || self->deadline_at_ == kNoDeadline) return;  // stopped, or nothing to watch
      if (std::chrono::steady_clock::now() < self->deadline_at_) {
        self->Tick();
        return;
      }
      self->deadline_at_ = kNoDeadline;
      self->timed_out_ = true;
      error_code ignored;
      self->socket_.cancel(ignored);
    });
  }

  static constexpr std::chrono::steady_clock::time_point kNoDeadline =
      std::chrono::steady_clock::time_point::max();

  Worker& worker_;
  const ServerOptions& options_;
  tcp::socket socket_;
  asio::steady_timer deadline_;
  std::chrono::steady_clock::time_point deadline_at_ = kNoDeadline;
  bool ticking_ = false;
  beast::flat_buffer buffer_;
  std::optional<beast_http::request_parser<beast_http::string_body>> parser_;
  std::string out_;      // the response being written
  BearerMemo memo_;      // the bearer this connection last authenticated
  const bool admitted_;  // false: over max_connections, answered 503
  bool idle_ = false;
  bool drained_ = false;  // the last read emptied the socket (see ReadNow)
  bool timed_out_ = false;
  bool closing_ = false;
};

void Worker::Run() {
  for (;;) {
    try {
      ctx_.run();
      return;
    } catch (const std::exception& e) {
      spdlog::error("I/O thread caught unexpected {}", typeid(e).name());
    }
  }
}

asio::awaitable<void> Worker::Accept() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_->async_accept(kNoThrow);
    if (draining_ || !acceptor_->is_open()) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      // Out of descriptors or a connection reset before accept: back off.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer pause(ctx_, std::chrono::milliseconds(50));
      co_await pause.async_wait(kNoThrow);
      continue;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto& connections = server_.connections();
    const bool admitted = connections.fetch_add(1) < server_.options().max_connections;
    if (!admitted) connections.fetch_sub(1);
    auto session = std::make_shared<Session>(*this, std::move(socket), admitted);
    asio::co_spawn(
        ctx_, [session]() -> asio::awaitable<void> { co_await session->Run(); }, asio::detached);
  }
}

void Worker::BeginDrain() {
  draining_ = true;
  error_code ignored;
  if (acceptor_) acceptor_->close(ignored);
  if (signals_) signals_->cancel(ignored);
  for (Session* session : Sessions()) session->OnDrain();
  if (sessions_.empty()) {
    Finish();
    return;
  }
  drain_timer_.expires_after(server_.options().shutdown_timeout);
  drain_timer_.async_wait([this](error_code ec) {
    if (ec) return;
    if (!sessions_.empty()) {
      spdlog::warn("closing {} connection(s) still busy after the shutdown timeout",
                   sessions_.size());
    }
    for (Session* session : Sessions()) session->ForceClose();
  });
}

void Worker::SessionEnded(Session* session) {
  if (destroyed_) return;
  sessions_.erase(session);
  if (draining_ && sessions_.empty()) Finish();
}

void Worker::Finish() {
  drain_timer_.cancel();
  guard_.reset();
}

ServerCore::~ServerCore() {
  Stop();
  Wait();
}

core::Result<std::uint16_t> ServerCore::Listen() {
  error_code ec;
  asio::ip::address address = asio::ip::make_address(options_.address, ec);
  if (ec) {
    tcp::resolver resolver(workers_.front()->context());
    auto results = resolver.resolve(options_.address, "", ec);
    if (ec || results.empty()) {
      return core::Status::InvalidArgument("Cannot resolve the listen address '" +
                                           options_.address + "'.");
    }
    address = results.begin()->endpoint().address();
  }
  const auto describe = [&](std::uint16_t port) {
    return (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()) + ":" +
           std::to_string(port);
  };

  std::uint16_t port = options_.port;
  if (port != 0) {
    // Every acceptor sets SO_REUSEPORT, which would let a second tokend on
    // the same port share it silently; a plain bind first tells "in use".
    tcp::acceptor probe(workers_.front()->context());
    tcp::endpoint endpoint(address, port);
    probe.open(endpoint.protocol(), ec);
    if (!ec) probe.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) probe.bind(endpoint, ec);
    if (ec == asio::error::address_in_use) {
      return core::Status::Unavailable("Cannot listen on " + describe(port) +
                                       ": the address is already in use.");
    }
  }

  for (std::size_t i = 0; i < workers_.size(); ++i) {
    tcp::acceptor& acceptor = workers_[i]->MakeAcceptor();
    const tcp::endpoint endpoint(address, port);
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.set_option(ReusePort(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec && i == 0) port = acceptor.local_endpoint(ec).port();
    if (ec) {
      if (ec == asio::error::address_in_use) {
        return core::Status::Unavailable("Cannot listen on " + describe(port) +
                                         ": the address is already in use.");
      }
      return core::Status::Unavailable("Cannot listen on " + describe(port) + ": " + ec.message() +
                                       ".");
    }
  }
  return port;
}

core::Result<std::uint16_t> ServerCore::Start() {
  std::lock_guard lock(mutex_);
  if (started_) return core::Status::Unavailable("The server was already started.");
  if (stop_requested_)
    return core::Status::Unavailable("The server was stopped before it started.");

  int io_threads = options_.io_threads;
  if (io_threads <= 0) io_threads = static_cast<int>(std::thread::hardware_concurrency());
  io_threads = std::max(io_threads, 1);
  for (int i = 0; i < io_threads; ++i) workers_.push_back(std::make_unique<Worker>(*this));

  auto port = Listen();
  if (!port.ok()) {
    workers_.clear();
    return port.status();
  }

  pool_ = std::make_unique<asio::thread_pool>(std::max(options_.blocking_threads, 1));
  handler_.emplace(HandlerEnv{service_, metrics_, pool_->get_executor()});

  Worker& first = *workers_.front();
  if (options_.handle_signals) {
    first.HandleSignals([this](int signal) {
      spdlog::info("received signal {}; stopping", signal);
      Stop();
    });
  }
  for (auto& worker : workers_) {
    worker->KeepRunning();
    asio::co_spawn(worker->context(), worker->Accept(), asio::detached);
  }
  for (auto& worker : workers_) {
    threads_.emplace_back([w = worker.get()] { w->Run(); });
  }
  started_ = true;
  return *port;
}

void ServerCore::Stop() {
  std::lock_guard lock(mutex_);
  if (stop_requested_) return;
  stop_requested_ = true;
  if (!started_) return;
  for (auto& worker : workers_) {
    asio::post(worker->context(), [w = worker.get()] { w->BeginDrain(); });
  }
}

void ServerCore::Wait() {
  std::lock_guard lock(wait_mutex_);
  if (joined_) return;
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  if (pool_) pool_->join();
  joined_ = !threads_.empty();
}

class Server::Impl : public ServerCore {
 public:
  using ServerCore::ServerCore;
};

Server::Server(ServerOptions options, service::TokenService& service, Metrics& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), service, metrics)) {}

Server::~Server() = default;

core::Result<std::uint16_t> Server::Start() { return impl_->Start(); }
void Server::Stop() { impl_->Stop(); }
void Server::Wait() { impl_->Wait(); }

}  // namespace tokend::http
