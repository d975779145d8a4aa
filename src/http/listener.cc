#include "http/listener.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <limits>
#include <typeinfo>
#include <vector>

#include "http/error_response.h"
#include "http/request_log.h"
#include "http/session.h"
#include "http/tls_context.h"
#include "http/wire.h"

namespace tokend::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

int OpenSpareDescriptor() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

// An accept error's text, from its errno value alone: no call on an error
// category object (whose dynamic type the sanitizer build cannot check).
std::string SystemErrorText(const error_code& ec) {
  char buffer[128];
  return ::strerror_r(ec.value(), buffer, sizeof buffer);
}

// How many connections the descriptor limit leaves room for: the soft
// RLIMIT_NOFILE, less what the process held when it first asked (the store,
// the log, the listeners) and a margin for what it opens later (PostgreSQL
// and webhook connections, SQLite's journal files, connections closing).
// Over it, a connection is answered 503 (9016) like one over
// max_connections, rather than accept failing for want of descriptors. The
// limit is read again at most once a second: it can change while running.
std::size_t DescriptorRoomForConnections() {
  constexpr std::size_t kMargin = 64;
  static const std::size_t held_at_start = [] {
    std::size_t count = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      ++count;
    }
    return count;
  }();
  const auto read_room = [] {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
      return std::numeric_limits<std::size_t>::max();
    }
    const auto soft = static_cast<std::size_t>(limit.rlim_cur);
    return soft > held_at_start + kMargin ? soft - held_at_start - kMargin : std::size_t{0};
  };
  const auto this_second = [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  // Both start from a first reading made under the static initialisation's
  // lock: an I/O thread accepting while another reads the limit for the
  // first time must never see a room of zero.
  static std::atomic<std::size_t> room{read_room()};
  static std::atomic<std::int64_t> read_at{this_second()};
  const std::int64_t now = this_second();
  if (read_at.load(std::memory_order_relaxed) != now) {
    read_at.store(now, std::memory_order_relaxed);
    room.store(read_room(), std::memory_order_relaxed);
  }
  return room.load(std::memory_order_relaxed);
}

// The 503 a connection shed for want of descriptors gets on plain HTTP,
// written without a session (none can be set up): made for each, as every
// answer is (its Date, its timestamp, a request id of its own).
std::string OutOfDescriptorsAnswer() {
  Response res = ErrorResponse(core::ApiError::kTooManyConnections,
                               "The server has no room for another connection; retry later.");
  res.set(kRequestIdHeader, RequestIdFor(std::nullopt));
  FinishResponse(res, 11, /*keep_alive=*/false);
  std::string wire;
  AppendWireResponse(res, wire);
  return wire;
}

}  // namespace

Listener::Listener(const ServerContext& server)
    : server_(server), spare_fd_(OpenSpareDescriptor()) {}

Listener::~Listener() {
  destroyed_ = true;
  if (spare_fd_ >= 0) ::close(spare_fd_);
}

bool Listener::ShedOneConnection() {
  if (spare_fd_ < 0) spare_fd_ = OpenSpareDescriptor();
  if (spare_fd_ < 0) return false;
  ::close(spare_fd_);
  spare_fd_ = -1;
  const int fd =
      ::accept4(acceptor_->native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0) {
    if (server_.tls == nullptr) {
      const std::string answer = OutOfDescriptorsAnswer();
      (void)!::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    ::close(fd);
  }
  spare_fd_ = OpenSpareDescriptor();
  return fd >= 0;
}

error_code Listener::Bind(const tcp::endpoint& endpoint, std::uint16_t& bound_port) {
  error_code ec;
  tcp::acceptor& acceptor = acceptor_.emplace(ctx_);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.set_option(ReusePort(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) bound_port = acceptor.local_endpoint(ec).port();
  return ec;
}

void Listener::HandleSignals(std::function<void(int)> on_signal) {
  signals_.emplace(ctx_, SIGINT, SIGTERM);
  signals_->async_wait([on_signal = std::move(on_signal)](error_code ec, int signal) {
    if (!ec) on_signal(signal);
  });
}

void Listener::HandleReload(std::function<void()> on_reload) {
  on_reload_ = std::move(on_reload);
  reload_signals_.emplace(ctx_, SIGHUP);
  WaitForReload();
}

void Listener::WaitForReload() {
  reload_signals_->async_wait([this](error_code ec, int) {
    if (ec) return;
    on_reload_();
    WaitForReload();
  });
}

void Listener::Start() {
  guard_.emplace(ctx_.get_executor());
  asio::co_spawn(ctx_, Accept(), asio::detached);
}

void Listener::Run() {
  for (;;) {
    try {
      ctx_.run();
      return;
    } catch (const std::exception& e) {
      spdlog::error("I/O thread caught unexpected {}", typeid(e).name());
    }
  }
}

asio::awaitable<void> Listener::Accept() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_->async_accept(asio::as_tuple(asio::use_awaitable));
    if (draining_ || !acceptor_->is_open()) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      const bool out_of_descriptors = ec == asio::error::no_descriptors || ec.value() == ENFILE;
      if (out_of_descriptors) {
        // Once a minute at most, for every listener together: the condition
        // lasts while connections do. (A minute since the last warning, not a
        // minute of the clock: two warnings either side of a minute's turn
        // were a moment apart.)
        static std::atomic<std::int64_t> last_warning{std::numeric_limits<std::int64_t>::min() / 2};
        const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count();
        std::int64_t last = last_warning.load();
        if (now - last >= 60'000 && last_warning.compare_exchange_strong(last, now)) {
          spdlog::warn(
              "out of file descriptors ({}): new connections are closed at once; raise the "
              "process's limit (LimitNOFILE)",
              SystemErrorText(ec));
        }
        if (ShedOneConnection()) continue;
      } else {
        spdlog::warn("accept failed: {}", SystemErrorText(ec));
      }
      // Nothing taken (or a connection reset before accept): back off.
      asio::steady_timer pause(ctx_, std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    const bool admitted = server_.connections.fetch_add(1) <
                          std::min(server_.options.max_connections, DescriptorRoomForConnections());
    if (!admitted) server_.connections.fetch_sub(1);
    Session::Start(*this, std::move(socket), admitted,
                   server_.tls ? server_.tls->Current() : nullptr);
  }
}

void Listener::BeginDrain() {
  draining_ = true;
  error_code ignored;
  if (acceptor_) acceptor_->close(ignored);
  if (signals_) signals_->cancel(ignored);
  if (reload_signals_) reload_signals_->cancel(ignored);
  // A copy: a session may end, and leave the set, while it is told.
  const std::vector<Session*> sessions(sessions_.begin(), sessions_.end());
  for (Session* session : sessions) session->OnDrain();
  if (sessions_.empty()) {
    Finish();
    return;
  }
  drain_timer_.expires_after(server_.options.shutdown_timeout);
  drain_timer_.async_wait([this](error_code ec) {
    if (ec) return;
    if (!sessions_.empty()) {
      spdlog::warn("closing {} connection(s) still busy after the shutdown timeout",
                   sessions_.size());
    }
    const std::vector<Session*> sessions(sessions_.begin(), sessions_.end());
    for (Session* session : sessions) session->ForceClose();
  });
}

void Listener::SessionEnded(Session* session) {
  if (destroyed_) return;
  sessions_.erase(session);
  if (draining_ && sessions_.empty()) Finish();
}

void Listener::Finish() {
  drain_timer_.cancel();
  guard_.reset();
}

}  // namespace tokend::http
