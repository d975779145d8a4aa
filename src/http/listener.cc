#include "http/listener.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <typeinfo>
#include <vector>

#include "http/session.h"
#include "http/tls_context.h"

namespace tokend::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

}  // namespace

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
      // Out of descriptors or a connection reset before accept: back off.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer pause(ctx_, std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    const bool admitted = server_.connections.fetch_add(1) < server_.options.max_connections;
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
