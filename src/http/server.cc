// The server: its listeners (one per I/O thread, each with an acceptor on
// the same port through SO_REUSEPORT), the store pool that runs blocking
// Step work, and the request handler they share. Sessions are in
// session.cc, the per-thread accept loop in listener.cc.
#include "http/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "http/listener.h"
#include "http/request_handler.h"
#include "http/tls_context.h"

namespace tokend::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

}  // namespace

class Server::Impl {
 public:
  Impl(ServerOptions options, service::TokenService& service, Metrics& metrics)
      : options_(std::move(options)),
        handler_(HandlerEnv{service, metrics}, AccessLog(options_.access_log, options_.json_logs)),
        metrics_(metrics) {}
  ~Impl() {
    Stop();
    Wait();
  }

  core::Result<std::uint16_t> Start();
  void Stop();
  void Wait();
  core::Status ReloadTls();

 private:
  void OnReloadSignal();

  core::Result<std::uint16_t> Listen();

  const ServerOptions options_;
  const RequestHandler handler_;
  Metrics& metrics_;
  std::atomic<std::size_t> connections_{0};
  std::unique_ptr<TlsContexts> tls_;  // null: plain HTTP

  std::mutex mutex_;  // guards started_, stop_requested_ and Start/Stop
  bool started_ = false;
  bool stop_requested_ = false;
  std::mutex wait_mutex_;  // guards joined_ and the joins
  bool joined_ = false;

  std::unique_ptr<asio::thread_pool> pool_;
  std::optional<ServerContext> context_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<std::thread> threads_;
};

namespace {

// The address `host` names: itself when it is an IP address, else the first
// address it resolves to.
core::Result<asio::ip::address> ResolveListenHost(asio::io_context& context,
                                                  const std::string& host) {
  error_code ec;
  asio::ip::address address = asio::ip::make_address(host, ec);
  if (!ec) return address;
  tcp::resolver resolver(context);
  auto results = resolver.resolve(host, "", ec);
  if (ec || results.empty()) {
    return core::Status::InvalidArgument("Cannot resolve the listen address '" + host + "'.");
  }
  return results.begin()->endpoint().address();
}

core::Status CannotListen(const asio::ip::address& address, std::uint16_t port,
                          const error_code& ec) {
  const std::string where =
      (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()) + ":" +
      std::to_string(port);
  const std::string why =
      ec == asio::error::address_in_use ? "the address is already in use" : ec.message();
  return core::Status::Unavailable("Cannot listen on " + where + ": " + why + ".");
}

// Binds address:port once, without SO_REUSEPORT, and lets go: every
// acceptor sets SO_REUSEPORT, which would let a second tokend on the same
// port share it silently; a plain bind tells "in use". Port 0 binds any.
core::Status ProbeBind(asio::io_context& context, const asio::ip::address& address,
                       std::uint16_t port) {
  error_code ec;
  tcp::acceptor probe(context);
  const tcp::endpoint endpoint(address, port);
  probe.open(endpoint.protocol(), ec);
  if (!ec) probe.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) probe.bind(endpoint, ec);
  if (ec) return CannotListen(address, port, ec);
  return core::Status::Ok();
}

}  // namespace

core::Status CheckListenAddress(const std::string& host, std::uint16_t port) {
  asio::io_context context;
  core::Result<asio::ip::address> address = ResolveListenHost(context, host);
  if (!address.ok()) return address.status();
  return ProbeBind(context, *address, port);
}

core::Result<std::uint16_t> Server::Impl::Listen() {
  core::Result<asio::ip::address> resolved =
      ResolveListenHost(listeners_.front()->context(), options_.address);
  if (!resolved.ok()) return resolved.status();
  const asio::ip::address address = *resolved;
  if (!tls_ && !address.is_loopback()) {
    spdlog::warn(
        "serving plain HTTP on {}, which is not a loopback address: secrets cross the network "
        "unencrypted; give --tls-cert and --tls-key, or put a TLS proxy in front",
        options_.address);
  }
  std::uint16_t port = options_.port;
  if (port != 0) {
    if (core::Status probed = ProbeBind(listeners_.front()->context(), address, port);
        !probed.ok()) {
      return probed;
    }
  }
  for (auto& listener : listeners_) {
    // The first listener may have been given an ephemeral port; the others
    // join it.
    if (const error_code ec = listener->Bind(tcp::endpoint(address, port), port); ec) {
      return CannotListen(address, port, ec);
    }
  }
  return port;
}

core::Result<std::uint16_t> Server::Impl::Start() {
  std::lock_guard lock(mutex_);
  if (started_) return core::Status::Unavailable("The server was already started.");
  if (stop_requested_) {
    return core::Status::Unavailable("The server was stopped before it started.");
  }
  if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
    tls_ = std::make_unique<TlsContexts>(options_.tls_cert_file, options_.tls_key_file);
    if (core::Status status = tls_->Reload(); !status.ok()) {
      tls_.reset();
      return status;
    }
  }
  pool_ = std::make_unique<asio::thread_pool>(std::max(options_.blocking_threads, 1));
  context_.emplace(
      ServerContext{options_, metrics_, handler_, pool_->get_executor(), connections_, tls_.get()});
  int io_threads = options_.io_threads;
  if (io_threads <= 0) io_threads = static_cast<int>(std::thread::hardware_concurrency());
  io_threads = std::max(io_threads, 1);
  for (int i = 0; i < io_threads; ++i) listeners_.push_back(std::make_unique<Listener>(*context_));

  auto port = Listen();
  if (!port.ok()) {
    listeners_.clear();
    pool_->join();
    return port.status();
  }
  if (options_.handle_signals) {
    listeners_.front()->HandleSignals([this](int signal) {
      spdlog::info("received signal {}; stopping", signal);
      Stop();
    });
    listeners_.front()->HandleReload([this] { OnReloadSignal(); });
  }
  for (auto& listener : listeners_) listener->Start();
  for (auto& listener : listeners_) threads_.emplace_back([l = listener.get()] { l->Run(); });
  started_ = true;
  return *port;
}

void Server::Impl::Stop() {
  std::lock_guard lock(mutex_);
  if (stop_requested_) return;
  stop_requested_ = true;
  if (!started_) return;
  for (auto& listener : listeners_) {
    asio::post(listener->context(), [l = listener.get()] { l->BeginDrain(); });
  }
}

core::Status Server::Impl::ReloadTls() {
  if (!tls_) return core::Status::InvalidArgument("TLS is not configured.");
  return tls_->Reload();
}

void Server::Impl::OnReloadSignal() {
  if (!tls_) {
    spdlog::info("SIGHUP ignored: no TLS");
    return;
  }
  if (core::Status status = tls_->Reload(); !status.ok()) {
    spdlog::error("SIGHUP: {}; keeping the current certificate", status.message());
    return;
  }
  spdlog::info("SIGHUP: reloaded the TLS certificate '{}' and key '{}'", options_.tls_cert_file,
               options_.tls_key_file);
}

void Server::Impl::Wait() {
  std::lock_guard lock(wait_mutex_);
  if (joined_) return;
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  if (pool_) pool_->join();
  joined_ = !threads_.empty();
}

Server::Server(ServerOptions options, service::TokenService& service, Metrics& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), service, metrics)) {}

Server::~Server() = default;

core::Result<std::uint16_t> Server::Start() { return impl_->Start(); }
void Server::Stop() { impl_->Stop(); }
void Server::Wait() { impl_->Wait(); }
core::Status Server::ReloadTls() { return impl_->ReloadTls(); }

}  // namespace tokend::http
