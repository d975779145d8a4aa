// The HTTP server: listening sockets, connections (sessions) and the threads
// that run them. The request path, end to end: listener.cc accepts,
// session.cc reads and parses, request_handler.cc routes and authenticates,
// handlers.cc decodes, calls the service and encodes, wire.cc writes. This
// header keeps Boost.Beast and Asio out of the layers that include it.
//
// Thread safety: Start, Wait and the destructor are meant for the owning
// thread; Stop may be called from any thread, any number of times.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "http/server_options.h"

namespace tokend::service {
class TokenService;
}  // namespace tokend::service

namespace tokend::http {

class Metrics;

// Whether `host`:`port` can be listened on now: resolves `host` and binds
// the address once, then lets it go. InvalidArgument when it does not
// resolve; Unavailable, with the reason, when it cannot be bound. For a
// start that must find a taken port before it makes anything (a store, an
// admin token); Server::Start checks again.
core::Status CheckListenAddress(const std::string& host, std::uint16_t port);

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

  // Loads options.tls_cert_file and tls_key_file again: new connections use
  // the new certificate, open ones keep theirs. On failure the current
  // certificate stays and the error names the file. InvalidArgument without
  // TLS. What SIGHUP does (with handle_signals), logging the outcome.
  core::Status ReloadTls();

  // Blocks until the server has fully stopped (after Stop, or a signal) and
  // its threads are joined. Returns at once when Start did not succeed.
  void Wait();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether CheckTlsFiles logs the warnings a start or a reload logs about
// usable files (a certificate outside its dates, a key others may read).
enum class TlsFileWarnings { kQuiet, kLog };

// Loads `cert_file` and `key_file` as the server would (readable, parsed, the
// key matching the certificate) without serving anything; InvalidArgument
// naming the file otherwise.
core::Status CheckTlsFiles(const std::string& cert_file, const std::string& key_file,
                           TlsFileWarnings warnings = TlsFileWarnings::kQuiet);

}  // namespace tokend::http
