// Small text helpers shared by the validators in core and the JSON codec:
// UTF-8 validation, quoting of client input for error messages,
// percent-decoding, integer parsing and hex. Pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
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

// True when `text` holds a NUL character (well-formed, but refused in every
// field and parameter: it truncates strings in logs and C APIs).
inline bool HasNul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

// Number of code points in `text` (for invalid text: before the first
// invalid byte, see ScanUtf8).
std::size_t CountCodePoints(std::string_view text);

// What editors put before a UTF-8 file's text; not part of any JSON value.
inline constexpr std::string_view kUtf8ByteOrderMark = "\xEF\xBB\xBF";

// ---------------------------------------------------------------------------
// Error messages

// The most code points of client input an error message echoes.
inline constexpr std::size_t kMaxEchoCodePoints = 64;
// The longest QuoteForMessage result: two quotes, six bytes per code point
// (the longest escape), and "...".
inline constexpr std::size_t kMaxQuotedBytes = 2 + 6 * kMaxEchoCodePoints + 3;

// `input` quoted for an error message: in single quotes, escaped, and cut
// after kMaxEchoCodePoints code points with "..." after the closing quote
// marking the cut. The result is printable, valid UTF-8 of bounded length,
// so a hostile value can neither bloat a message nor split or forge a log
// line:
//   quote, double quote, \   -> \'  \"  \\  (escaped by a backslash)
//   newline, CR, tab         -> \n \r \t
//   other C0 controls, DEL   -> \u0000 to \u001F, \u007F
//   C1 controls              -> \u0080 to \u009F
//   U+2028, U+2029           -> \u2028, \u2029 (line breaks to some readers)
//   a byte of invalid UTF-8  -> \xNN, counted as one code point
// A value that holds secret-shaped text (HoldsSecretShapedText) is not
// echoed at all when its shown part (its first kMaxEchoCodePoints code
// points) would hold 15 or more letters and digits, half of a secret's
// random characters: the result is kSecretShapedValue. Every error message that
// names a value a client sent goes through this, so a secret sent in the
// wrong place never comes back in an answer or a log.
std::string QuoteForMessage(std::string_view input);

// What QuoteForMessage gives for a value holding secret-shaped text.
inline constexpr std::string_view kSecretShapedValue = "(a value shaped like a secret, not shown)";

// True when `text` holds 30 or more characters of [0-9A-Za-z] in all. A
// tokend secret is a prefix, '_', 30 random characters and a checksum anyone
// can compute, so its random part alone gives it back, however it was cut,
// recased, wrapped or split by other characters; a legacy Boomerang
// secret's UUID holds 32. Many other services' keys are as long. Cheap
// enough for every echoed value.
bool HoldsSecretShapedText(std::string_view text);

// The test for identifiers passed through (request ids: UUIDs, hex trace
// ids, ULIDs, prefixed ones such as "req-<uuid>" or "user_<base32>"): 30 or
// more characters of [0-9A-Za-z] in all, with both upper- and lower-case
// letters among them. A secret's 30 random characters lack either case about
// once in six million; the identifiers in use are written in one case.
bool HoldsMixedCaseSecretText(std::string_view text);

// Three letters, '_', then 30 or more characters of [0-9A-Za-z] or 36 of
// [0-9A-Za-z-]: a secret with its prefix, in any case, cut or not, and a
// legacy Boomerang secret (its UUID is written in one case).
bool HoldsPrefixedSecretText(std::string_view text);

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

// ---------------------------------------------------------------------------
// Hex

// The value (0 to 15) of the hex digit `c`, either case; -1 for any other
// character. Inline: parsing a hash or an id calls it once a digit, and the
// start-up fill of the secret fingerprints parses every stored one.
inline int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Writes the lowercase hex of `bytes` into `out`, two characters a byte;
// `out` holds exactly 2 * bytes.size() characters. For callers that must not
// allocate (a secret's hash on the introspection path).
void WriteLowerHex(std::span<const unsigned char> bytes, std::span<char> out);

// The lowercase hex of `bytes`.
std::string LowerHex(std::span<const unsigned char> bytes);

}  // namespace tokend::core
