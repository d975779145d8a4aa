// Invariant checks for the fuzz targets: a failed check prints what broke and
// aborts, which libFuzzer reports as a crash and saves the input for.
#pragma once

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/text.h"

#define FUZZ_CHECK(cond, what)                                                                 \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s (%s)\n", __FILE__, __LINE__, #cond, \
                   std::string(what).c_str());                                                 \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)

namespace tokend::fuzz {

// True when `body` is a RestErrorResponse: a JSON object (valid UTF-8, as
// Boost.JSON checks) with a numeric `code` and string `reason`, `message`
// and `status`.
inline bool IsErrorBody(std::string_view body) {
  boost::json::error_code ec;
  const boost::json::value value = boost::json::parse(body, ec);
  if (ec || !value.is_object()) return false;
  const boost::json::object& object = value.get_object();
  const auto* code = object.if_contains("code");
  const auto* reason = object.if_contains("reason");
  const auto* message = object.if_contains("message");
  const auto* status = object.if_contains("status");
  return code != nullptr && code->is_int64() && reason != nullptr && reason->is_string() &&
         message != nullptr && message->is_string() && status != nullptr && status->is_string();
}

// The longest error message core and the JSON codec write: fixed text around
// at most one quoted client value (core::QuoteForMessage).
inline constexpr std::size_t kMaxMessageBytes = 1024;

// True when `message` is valid UTF-8 without control characters and at most
// kMaxMessageBytes long: client input reaches it only quoted and escaped.
inline bool IsSafeMessage(std::string_view message) {
  if (message.size() > kMaxMessageBytes || !core::IsValidUtf8(message)) return false;
  for (std::size_t i = 0; i < message.size(); ++i) {
    const auto byte = static_cast<unsigned char>(message[i]);
    if (byte < 0x20 || byte == 0x7F) return false;
    // C1 controls are \xC2\x80 to \xC2\x9F in (valid) UTF-8.
    if (byte == 0xC2 && static_cast<unsigned char>(message[i + 1]) < 0xA0) return false;
  }
  return message.find("\xE2\x80\xA8") == std::string_view::npos &&  // line separator
         message.find("\xE2\x80\xA9") == std::string_view::npos;    // paragraph separator
}

}  // namespace tokend::fuzz
