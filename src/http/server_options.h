// The limits and sizes of the HTTP server, every one explicit (docs/API.md
// section 7.7 lists them with their reasons).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace tokend::http {

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
  bool handle_signals = true;           // SIGINT/SIGTERM call Stop(), SIGHUP ReloadTls()
  // Both set: HTTPS only (TLS 1.2 and 1.3), from these PEM files; both
  // empty: plain HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
  // --access-log: one line per request through the spdlog logger "access"
  // (registered by the program), as JSON members when `json_logs`.
  bool access_log = false;
  bool json_logs = false;
};

}  // namespace tokend::http
