// Invariant checks for the fuzz targets: a failed check prints what broke and
// aborts, which libFuzzer reports as a crash and saves the input for.
#pragma once

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#define FUZZ_CHECK(cond, what)                                                        \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s (%s)\n", __FILE__, __LINE__, \
                   #cond, std::string(what).c_str());                                 \
      std::abort();                                                                   \
    }                                                                                 \
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

}  // namespace tokend::fuzz
