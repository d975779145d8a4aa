// The I/O side of the server, internal to the http layer: one Listener per
// I/O thread (its io_context, its acceptor on the shared port and the
// sessions it runs) and what every listener and session share.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <unordered_set>

#include "core/status.h"
#include "http/server_options.h"

namespace tokend::http {

class Metrics;
class RequestHandler;
class Session;
class TlsContexts;

// What every listener and session of one server share; owned by the server.
struct ServerContext {
  const ServerOptions& options;
  Metrics& metrics;
  const RequestHandler& handler;
  boost::asio::any_io_executor store_pool;  // where a Step's blocking work runs
  std::atomic<std::size_t>& connections;    // open connections, all threads
  TlsContexts* tls = nullptr;               // null: plain HTTP
};

// One I/O thread. Every member is touched only on that thread once Run has
// begun, except through Post.
class Listener {
 public:
  explicit Listener(const ServerContext& server);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  const ServerContext& server() const { return server_; }
  boost::asio::io_context& context() { return ctx_; }
  bool draining() const { return draining_; }

  // Opens the acceptor on `endpoint` (SO_REUSEPORT, so that every listener
  // binds the same port); the bound port, or the system's error.
  boost::system::error_code Bind(const boost::asio::ip::tcp::endpoint& endpoint,
                                 std::uint16_t& bound_port);
  // SIGINT/SIGTERM call `on_signal` (once) on this listener's thread.
  void HandleSignals(std::function<void(int)> on_signal);
  // SIGHUP calls `on_reload` on this listener's thread, every time.
  void HandleReload(std::function<void()> on_reload);
  // Starts accepting; Run then serves until the listener has drained.
  void Start();
  void Run();
  // Stop(): stop accepting, close idle connections, let busy ones answer,
  // and close what remains after shutdown_timeout.
  void BeginDrain();

  void SessionStarted(Session* session) { sessions_.insert(session); }
  void SessionEnded(Session* session);

 private:
  boost::asio::awaitable<void> Accept();
  // With no descriptor left, takes one waiting connection with the spare
  // descriptor and closes it at once (answered 503 first on plain HTTP),
  // instead of leaving it unanswered in the backlog. False when none could
  // be taken.
  bool ShedOneConnection();
  void WaitForReload();
  void Finish();

  const ServerContext& server_;
  bool destroyed_ = false;  // declared before ctx_: checked while ctx_ unwinds
  std::unordered_set<Session*> sessions_;
  bool draining_ = false;
  boost::asio::io_context ctx_{1};
  // A descriptor held in reserve for ShedOneConnection (-1: none).
  int spare_fd_ = -1;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
  boost::asio::steady_timer drain_timer_{ctx_};
  std::optional<boost::asio::signal_set> signals_;
  std::optional<boost::asio::signal_set> reload_signals_;
  std::function<void()> on_reload_;
};

}  // namespace tokend::http
