// Small text helpers shared by the validators in core and the JSON codec:
// UTF-8 validation, quoting of client input for error messages,
// percent-decoding and integer parsing. Pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tokend::core {

// ---------------------------------------------------------------------------
// UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF)

// Length (1 to 4) of the well-formed UTF-8 sequence `text` starts with; 0
// when `text` is empty or does not start with one. The building block of
// ScanUtf8, for loops that must treat each invalid byte on its own.
std::size_t Utf8SequenceLength(std::string_view text);

struct Utf8Scan {
  // Offset of the first byte that does not start a well-formed sequence;
  // npos when the whole text is valid.
  std::size_t first_invalid = std::string_view::npos;
  // Code points before `first_invalid` (all of them when valid).
  std::size_t code_points = 0;

  bool valid() const { return first_invalid == std::string_view::npos; }
};

// Validates `text` and counts its code points in one pass.
Utf8Scan ScanUtf8(std::string_view text);

// True when `text` is well-formed UTF-8. NUL is well-formed.
bool IsValidUtf8(std::string_view text);

// Number of code points in `text` (for invalid text: before the first
// invalid byte, see ScanUtf8).
std::size_t CountCodePoints(std::string_view text);

// ---------------------------------------------------------------------------
// Error messages

// The longest client value echoed back in an error message, in bytes.
inline constexpr std::size_t kMaxEchoBytes = 64;

// `value` in single quotes for an error message, cut to at most
// kMaxEchoBytes bytes on a UTF-8 boundary, with "..." marking a cut; bytes
// of invalid UTF-8 are shown as '?'.
std::string QuoteForMessage(std::string_view value);

// ---------------------------------------------------------------------------
// Parsing

// ' ', '\t', '\n', '\v', '\f', '\r'.
bool IsAsciiSpace(char c);

// `text` without leading and trailing ASCII whitespace.
std::string_view TrimAsciiSpace(std::string_view text);

// Decodes %XX escapes once, and '+' as a space when `plus_is_space` (form
// encoding; path segments keep '+'). nullopt on a malformed escape.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space);

// An optional '-' then decimal digits, within int64; nullopt otherwise.
std::optional<std::int64_t> ParseInt64(std::string_view text);

}  // namespace tokend::core
