// The HTTP server: listening sockets, connections (sessions) and the threads
// that run them. The request path, end to end: listener.cc accepts,
// session.cc reads and parses, request_handler.cc routes and authenticates,
// handlers.cc decodes, calls the service and encodes, wire.cc writes. This
// header keeps Boost.Beast and Asio out of the layers that include it.
//
// Thread safety: Start, Wait and the destructor are meant for the owning
// thread; Stop may be called from any thread, any number of times.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace tokend::service {
class TokenService;
}  // namespace tokend::service

namespace tokend::http {

class Metrics;

struct ServerOptions {
  std::string address = "127.0.0.1";  // numeric IPv4/IPv6 address or host name
  std::uint16_t port = 7700;          // 0: an ephemeral port (see Start)
  int io_threads = 0;                 // 0: std::thread::hardware_concurrency()
  // Threads running store calls. Store calls block, so this bounds the
  // creates that can share one SQLite group commit (docs/PERFORMANCE.md).
  int blocking_threads = 128;
  std::size_t max_body_bytes = 64 * 1024;
  std::size_t max_header_bytes = 16 * 1024;  // request line + fields
  std::size_t max_target_bytes = 8 * 1024;
  // Time allowed from the first byte of a request to the end of its header;
  // also how long a new connection may wait before sending anything.
  std::chrono::seconds header_timeout{10};
  // Time allowed to receive a request body, and to send a response.
  std::chrono::seconds body_timeout{30};
  // Time an open connection may wait for its next request.
  std::chrono::seconds idle_timeout{60};
  // Time Stop() lets in-flight requests finish before closing them.
  std::chrono::seconds shutdown_timeout{10};
  std::size_t max_connections = 10000;  // beyond: 503 and close
  bool handle_signals = true;           // SIGINT/SIGTERM call Stop()
};

class Server {
 public:
  // `service` and `metrics` must outlive the server.
  Server(ServerOptions options, service::TokenService& service, Metrics& metrics);
  // Stops (as Stop) and waits (as Wait).
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds one listening socket per I/O thread on options.address:port
  // (SO_REUSEPORT), starts the I/O and blocking threads and returns the bound
  // port (the one chosen by the system when options.port is 0). Unavailable
  // when the address is in use or cannot be bound; InvalidArgument when the
  // address does not resolve. Call at most once.
  core::Result<std::uint16_t> Start();

  // Graceful stop: listening sockets close at once (new connections are
  // refused), idle connections close, requests in flight are answered with
  // `Connection: close`, and whatever remains after shutdown_timeout is
  // closed. Returns without waiting; idempotent; callable from any thread
  // (including the server's own threads and before Start).
  void Stop();

  // Blocks until the server has fully stopped (after Stop, or a signal) and
  // its threads are joined. Returns at once when Start did not succeed.
  void Wait();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tokend::http
