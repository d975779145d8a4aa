// Shared libpq plumbing for the PostgreSQL backend: owning handles, connection
// settings, error translation and parameter encoding. Internal to
// src/store/postgres/.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace tokend::store::pg {

using core::Result;
using core::Status;

struct ConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnDeleter>;
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// Every server-side statement is cancelled after this long.
inline constexpr int kStatementTimeoutMillis = 5000;

// A blocking libpq call on a connection gives up after this long: a second
// past the server's own statement timeout, so that a live server always
// answers first (its error keeps the connection usable).
inline constexpr std::chrono::milliseconds kCallDeadline{kStatementTimeoutMillis + 1000};

// Bounds the blocking libpq calls made on `conn` while it lives: past
// `limit`, another thread shuts the connection's socket down, and the call
// returns as a lost connection (Unavailable; the pool then drops it). A
// server that stopped answering (a frozen process, a network path that drops
// every packet) is noticed neither by statement_timeout, which it runs
// itself, nor by TCP, whose kernel still acknowledges; without this, every
// request holding such a connection, /health's included, waited for it.
// Not for work allowed to run longer (migrations, VACUUM).
class CallDeadline {
 public:
  explicit CallDeadline(PGconn* conn, std::chrono::milliseconds limit = kCallDeadline);
  ~CallDeadline();
  CallDeadline(const CallDeadline&) = delete;
  CallDeadline& operator=(const CallDeadline&) = delete;

 private:
  std::uint64_t ticket_ = 0;  // 0: nothing to watch (no socket)
};

// PQexec under a CallDeadline.
ResultPtr ExecBounded(PGconn* conn, const char* sql);

// How to reach the server. Holds the URL (which may carry a password) and
// knows how to keep that password out of every message.
class ConnectionConfig {
 public:
  // InvalidArgument when libpq cannot parse `url`.
  static Result<ConnectionConfig> Parse(std::string_view url, int connect_timeout_seconds);

  int connect_timeout_seconds() const { return connect_timeout_seconds_; }

  // Blocking connect (bounded by the connect timeout), then session setup
  // (statement_timeout). `application_name` overrides the URL's when set.
  // Unavailable when the server cannot be reached or refuses.
  Result<ConnPtr> Connect(const char* application_name) const;

  // Starts a non-blocking connect (PQconnectStartParams); the caller drives
  // PQconnectPoll. Null only when libpq is out of memory.
  ConnPtr StartConnect(const char* application_name) const;

  // `text` with the password replaced by "***": the password libpq reads
  // from the URL, and every form and piece of it the URL holds
  // (store/redact.h), since libpq may quote a piece of a careless URL as a
  // host name or port.
  std::string Redact(std::string_view text) const;

 private:
  std::string url_;
  std::vector<std::string> secrets_;  // what Redact replaces
  int connect_timeout_seconds_ = 5;
};

// Runs the per-session setup on a fresh connection (statement_timeout).
Status SetUpSession(PGconn* conn, const ConnectionConfig& config);

// Translates a failed libpq call into a Status: connection failures,
// 08xxx, 53xxx, 57P01-57P03, 57014 and 25006 are Unavailable; 23505 is
// AlreadyExists; 22021 and 22P05 are InvalidArgument; anything else is
// Internal naming the SQLSTATE. `result` may be null (then the connection's
// error message is used). `what` names the operation.
Status TranslateError(const ConnectionConfig& config, PGconn* conn, const PGresult* result,
                      std::string_view what);

// True when `result` is non-null and has status `expected`.
inline bool Succeeded(const PGresult* result, ExecStatusType expected) {
  return result != nullptr && PQresultStatus(result) == expected;
}

// A PostgreSQL array literal ("{\"a\",NULL}") of the given elements, for a
// text-format parameter cast to text[] or bigint[]. nullopt elements are SQL
// NULL. Elements are quoted and escaped, so any text is safe.
std::string ArrayLiteral(const std::vector<std::optional<std::string>>& elements);

// Waits until `socket` is readable (or writable when `for_write`) or
// `timeout` passes. True when ready; false on timeout or error.
bool WaitSocket(int socket, bool for_write, std::chrono::milliseconds timeout);

// True when the idle connection has been closed by the server (or is
// otherwise unusable). Consumes any pending input without blocking.
bool IdleConnectionIsDead(PGconn* conn);

}  // namespace tokend::store::pg
