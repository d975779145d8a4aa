#include "http/request_log.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "core/text.h"

namespace tokend::http {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// 16 hex digits drawn once per process.
const std::string& ProcessPrefix() {
  static const std::string prefix = [] {
    std::array<unsigned char, 8> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
      // Without the CSPRNG, time keeps processes apart well enough for ids.
      const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
      for (std::size_t i = 0; i < bytes.size(); ++i) {
        bytes[i] = static_cast<unsigned char>(static_cast<std::uint64_t>(now) >> (8 * i));
      }
    }
    return core::LowerHex(bytes);
  }();
  return prefix;
}

std::atomic<std::uint64_t> next_request{1};

bool IdCharacter(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// A JSON string of text that may hold anything (the route label and ids
// never need escapes; a request id is checked; the remote address is an IP).
void AppendJsonString(std::string& out, std::string_view text) {
  out.push_back('"');
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned char>(c));
      out.append(escaped);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

}  // namespace

bool IsAcceptableRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdBytes) return false;
  // Passed back and logged as it is: never a secret a client put there.
  if (core::HoldsPrefixedSecretText(id) || core::HoldsMixedCaseSecretText(id)) return false;
  for (const char c : id) {
    if (!IdCharacter(c)) return false;
  }
  return true;
}

std::string NewRequestId() {
  const std::uint64_t number = next_request.fetch_add(1, std::memory_order_relaxed);
  std::string id = ProcessPrefix();
  id.push_back('-');
  char digits[16];
  int n = 0;
  std::uint64_t rest = number;
  do {
    digits[n++] = kHex[rest & 0xF];
    rest >>= 4;
  } while (rest != 0);
  while (n > 0) id.push_back(digits[--n]);
  return id;
}

std::string RequestIdFor(std::optional<std::string_view> presented) {
  if (presented && IsAcceptableRequestId(*presented)) return std::string(*presented);
  return NewRequestId();
}

AccessLog::AccessLog(bool enabled, bool json) : json_(json) {
  if (enabled) logger_ = spdlog::get("access");
}

void AccessLog::Write(const Exchange& ex, int status) const {
  if (!logger_) return;
  // A method Beast does not know is the client's free text, of any length
  // below the header limit: a log line names it no further.
  const std::string_view method = ex.req.method() == beast_http::verb::unknown
                                      ? std::string_view("UNKNOWN")
                                      : std::string_view(ex.req.method_string());
  // The label is "METHOD /template"; the line has the method on its own.
  std::string_view route = ex.label;
  if (const auto space = route.find(' '); space != std::string_view::npos) {
    route.remove_prefix(space + 1);
  }
  const std::string_view token_id =
      ex.auth && ex.auth->token ? std::string_view(ex.auth->token->id) : std::string_view{};
  WriteLine(ex.remote, method, route, status, std::chrono::steady_clock::now() - ex.start,
            ex.request_id, token_id);
}

void AccessLog::WriteRefusal(std::string_view remote, std::string_view method, int status,
                             std::chrono::duration<double, std::milli> elapsed,
                             std::string_view request_id) const {
  if (!logger_) return;
  WriteLine(remote, method.empty() ? std::string_view("-") : method, kUnmatchedRoute, status,
            elapsed, request_id, {});
}

void AccessLog::WriteLine(std::string_view remote, std::string_view method, std::string_view route,
                          int status, std::chrono::duration<double, std::milli> elapsed,
                          std::string_view request_id, std::string_view token_id) const {
  std::string line;
  line.reserve(256);
  char duration[32];
  std::snprintf(duration, sizeof duration, "%.3f", elapsed.count());
  if (json_) {
    // Members after "message" (app/logging's JSON formatter writes the rest
    // of the object around them).
    line.append("\"remoteAddress\":");
    AppendJsonString(line, remote);
    line.append(",\"method\":");
    AppendJsonString(line, method);
    line.append(",\"route\":");
    AppendJsonString(line, route);
    line.append(",\"status\":");
    line.append(std::to_string(status));
    line.append(",\"durationMs\":");
    line.append(duration);
    line.append(",\"requestId\":");
    AppendJsonString(line, request_id);
    if (!token_id.empty()) {
      line.append(",\"tokenId\":");
      AppendJsonString(line, token_id);
    }
  } else {
    line.append("access ");
    line.append(remote.empty() ? std::string_view("-") : remote);
    line.push_back(' ');
    line.append(method);
    line.push_back(' ');
    line.append(route);
    line.push_back(' ');
    line.append(std::to_string(status));
    line.push_back(' ');
    line.append(duration);
    line.append("ms id=");
    line.append(request_id);
    line.append(" token=");
    line.append(token_id.empty() ? std::string_view("-") : token_id);
  }
  logger_->log(spdlog::level::info, spdlog::string_view_t(line.data(), line.size()));
}

}  // namespace tokend::http
