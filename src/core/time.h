// Time in tokend is milliseconds since the Unix epoch, UTC, as Boomerang's
// clients send and expect it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tokend::core {

using EpochMillis = std::int64_t;

// Current wall-clock time.
EpochMillis NowMillis();

// Spring Boot's format: "2026-03-01T05:00:00.000+00:00" (always UTC).
std::string FormatSpringDate(EpochMillis millis);

// Appends FormatSpringDate(millis) to `out` (without allocating for years
// 0000..9999, which is every date tokend stores).
void AppendSpringDate(std::string& out, EpochMillis millis);

// RFC 9110's IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", HTTP's Date) of
// `seconds` since the epoch, written into `out`, which holds exactly
// kHttpDateLength characters (years 0000..9999).
inline constexpr std::size_t kHttpDateLength = 29;
void WriteHttpDate(std::int64_t seconds, char* out);

// Parses a request date given as a string: a string of digits (epoch millis,
// optionally with a leading '-'), or ISO-8601 "YYYY-MM-DDTHH:MM:SS[.fff...]"
// with 'Z', "+HH:MM", "-HH:MM", "+HHMM" or no offset (then UTC). Fractional
// seconds beyond milliseconds are truncated. nullopt when malformed or out of
// range (years 0001..9999).
std::optional<EpochMillis> ParseDateString(std::string_view text);

}  // namespace tokend::core
