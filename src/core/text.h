// Small text helpers shared by the validators in core. Pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tokend::core {

// The longest client value echoed back in an error message, in bytes.
inline constexpr std::size_t kMaxEchoBytes = 64;

// ' ', '\t', '\n', '\v', '\f', '\r'.
bool IsAsciiSpace(char c);

// `text` without leading and trailing ASCII whitespace.
std::string_view TrimAsciiSpace(std::string_view text);

// `value` in single quotes for an error message, cut to at most
// kMaxEchoBytes bytes on a UTF-8 boundary, with "..." marking a cut; bytes
// of invalid UTF-8 are shown as '?'.
std::string QuoteForMessage(std::string_view value);

// Decodes %XX escapes once, and '+' as a space when `plus_is_space` (form
// encoding; path segments keep '+'). nullopt on a malformed escape.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space);

// An optional '-' then decimal digits, within int64; nullopt otherwise.
std::optional<std::int64_t> ParseInt64(std::string_view text);

}  // namespace tokend::core
