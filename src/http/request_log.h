// Request ids (X-Request-Id) and the access log: one line per request, in
// the log format chosen at start. Internal to the http layer.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/exchange.h"

namespace spdlog {
class logger;
}

namespace tokend::http {

inline constexpr std::string_view kRequestIdHeader = "X-Request-Id";
inline constexpr std::size_t kMaxRequestIdBytes = 128;

// True for 1..128 characters of [A-Za-z0-9._-] holding no secret-shaped text
// (core::HoldsPrefixedSecretText, core::HoldsMixedCaseSecretText): an id a client or proxy sent
// that tokend passes back and logs as it is.
bool IsAcceptableRequestId(std::string_view id);

// A fresh id of the same grammar, unique within this process and, with a
// random prefix drawn at start, across processes: "<16 hex>-<counter hex>".
std::string NewRequestId();

// The request's id: its X-Request-Id (RequestHeaders::request_id) when
// acceptable, else a new one.
std::string RequestIdFor(std::optional<std::string_view> presented);

// Writes access lines through the spdlog logger named "access" (see
// app/logging), text or JSON members.
class AccessLog {
 public:
  // Off: Write does nothing. `json`: the line's fields are JSON members.
  AccessLog(bool enabled, bool json);

  bool enabled() const { return logger_ != nullptr; }

  // One line: remote address, method, route template, status, duration in
  // milliseconds, request id, the caller's token id when one was
  // authenticated. Never a secret, query string or body.
  void Write(const Exchange& ex, int status) const;
  // The line of a request refused before it was routed (413 for a body over
  // the limit, 400 for malformed framing, 408, ...): route `unmatched`, no
  // token; `method` as far as the request line was read (empty: `-`).
  void WriteRefusal(std::string_view remote, std::string_view method, int status,
                    std::chrono::duration<double, std::milli> elapsed,
                    std::string_view request_id) const;

 private:
  void WriteLine(std::string_view remote, std::string_view method, std::string_view route,
                 int status, std::chrono::duration<double, std::milli> elapsed,
                 std::string_view request_id, std::string_view token_id) const;

  std::shared_ptr<spdlog::logger> logger_;
  bool json_ = false;
};

}  // namespace tokend::http
