// Request dates: ParseDateString, and its inverse FormatSpringDate. Invariant:
// for every instant in years 0001..9999 (the range both sides support),
// FormatSpringDate(t) parses back to t; anything ParseDateString accepts in
// that range formats and reparses to the same value. FormatSpringDate must
// not misbehave for any int64 (the first 8 input bytes, as an instant).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/time.h"
#include "fuzz_check.h"

namespace {

using tokend::core::EpochMillis;

// 0001-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z.
constexpr EpochMillis kMinIso = -62'135'596'800'000;
constexpr EpochMillis kMaxIso = 253'402'300'799'999;

void CheckRoundTrip(EpochMillis millis) {
  const std::string text = tokend::core::FormatSpringDate(millis);
  FUZZ_CHECK(!text.empty(), std::to_string(millis));
  if (millis < kMinIso || millis > kMaxIso) return;
  FUZZ_CHECK(text.size() == 29, text);
  const auto parsed = tokend::core::ParseDateString(text);
  FUZZ_CHECK(parsed && *parsed == millis, std::to_string(millis) + " -> " + text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = tokend::core::ParseDateString(text);
  if (parsed) CheckRoundTrip(*parsed);

  if (size >= 8) {
    std::int64_t millis = 0;
    std::memcpy(&millis, data, sizeof(millis));
    CheckRoundTrip(millis);
  }
  return 0;
}
