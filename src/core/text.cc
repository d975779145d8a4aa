#include "core/text.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

namespace tokend::core {

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view TrimAsciiSpace(std::string_view text) {
  while (!text.empty() && IsAsciiSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsAsciiSpace(text.back())) text.remove_suffix(1);
  return text;
}

std::size_t Utf8SequenceLength(std::string_view text) {
  if (text.empty()) return 0;
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const unsigned char lead = p[0];
  if (lead < 0x80) return 1;
  std::size_t length;
  // The second byte's range excludes overlongs (E0, F0), surrogates (ED) and
  // code points above U+10FFFF (F4), per RFC 3629's table.
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;  // continuation byte, C0/C1 (always overlong), F5 and up
  }
  if (text.size() < length) return 0;
  if (p[1] < low || p[1] > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
  }
  return length;
}

Utf8Scan ScanUtf8(std::string_view text) {
  Utf8Scan scan;
  std::size_t pos = 0;
  while (pos < text.size()) {
    // Eight ASCII bytes at a time: most text tokend sees is ASCII.
    if (text.size() - pos >= 8) {
      std::uint64_t word;
      std::memcpy(&word, text.data() + pos, sizeof word);
      if ((word & 0x8080808080808080ULL) == 0) {
        pos += 8;
        scan.code_points += 8;
        continue;
      }
    }
    if (static_cast<unsigned char>(text[pos]) < 0x80) {
      ++pos;
    } else {
      const std::size_t length = Utf8SequenceLength(text.substr(pos));
      if (length == 0) {
        scan.first_invalid = pos;
        return scan;
      }
      pos += length;
    }
    ++scan.code_points;
  }
  return scan;
}

bool IsValidUtf8(std::string_view text) { return ScanUtf8(text).valid(); }

std::size_t CountCodePoints(std::string_view text) { return ScanUtf8(text).code_points; }

namespace {

bool IsBase62(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

constexpr std::size_t kSecretRandomChars = 30;
// The most letters and digits an echo of a value holding a secret's worth may
// show: fewer than half of a secret's random characters.
constexpr std::size_t kMaxShownSecretChars = 15;

constexpr std::size_t kUuidChars = 36;

// Whether the text from `pos` starts a run of at least kSecretRandomChars
// base62 characters, or of kUuidChars base62 characters and hyphens.
bool SecretRunAt(std::string_view text, std::size_t pos) {
  std::size_t base62 = 0;
  while (pos + base62 < text.size() && IsBase62(text[pos + base62])) ++base62;
  if (base62 >= kSecretRandomChars) return true;
  std::size_t with_hyphens = 0;
  while (pos + with_hyphens < text.size() &&
         (IsBase62(text[pos + with_hyphens]) || text[pos + with_hyphens] == '-')) {
    ++with_hyphens;
  }
  return with_hyphens >= kUuidChars;
}

bool IsLetter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

std::size_t CountBase62(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), IsBase62));
}

}  // namespace

bool HoldsSecretShapedText(std::string_view text) {
  return CountBase62(text) >= kSecretRandomChars;
}

bool HoldsPrefixedSecretText(std::string_view text) {
  for (std::size_t underscore = 3; underscore + 1 < text.size(); ++underscore) {
    if (text[underscore] == '_' && IsLetter(text[underscore - 1]) &&
        IsLetter(text[underscore - 2]) && IsLetter(text[underscore - 3]) &&
        SecretRunAt(text, underscore + 1)) {
      return true;
    }
  }
  return false;
}

bool HoldsMixedCaseSecretText(std::string_view text) {
  std::size_t base62 = 0;
  bool upper = false;
  bool lower = false;
  for (const char c : text) {
    if (!IsBase62(c)) continue;
    ++base62;
    upper = upper || (c >= 'A' && c <= 'Z');
    lower = lower || (c >= 'a' && c <= 'z');
  }
  return base62 >= kSecretRandomChars && upper && lower;
}

std::string QuoteForMessage(std::string_view input) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  // Most input is short printable text: one allocation covers it.
  out.reserve(2 + std::min(input.size(), kMaxEchoCodePoints) + 3);
  out.push_back('\'');
  auto append_escape = [&](std::string_view prefix, unsigned char byte) {
    out.append(prefix);
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0xF]);
  };
  std::size_t pos = 0;
  for (std::size_t count = 0; pos < input.size() && count < kMaxEchoCodePoints; ++count) {
    const auto c = static_cast<unsigned char>(input[pos]);
    if (c >= 0x20 && c < 0x7F) {
      if (c == '\'' || c == '"' || c == '\\') out.push_back('\\');
      out.push_back(static_cast<char>(c));
      ++pos;
      continue;
    }
    if (c < 0x80) {
      switch (c) {
        case '\n':
          out.append("\\n");
          break;
        case '\r':
          out.append("\\r");
          break;
        case '\t':
          out.append("\\t");
          break;
        default:
          append_escape("\\u00", c);  // other C0 controls and DEL
      }
      ++pos;
      continue;
    }
    const std::size_t length = Utf8SequenceLength(input.substr(pos));
    if (length == 0) {
      // Messages end up in JSON bodies and logs, which need valid UTF-8.
      append_escape("\\x", c);
      ++pos;
      continue;
    }
    const auto second = static_cast<unsigned char>(input[pos + 1]);
    if (c == 0xC2 && second < 0xA0) {
      append_escape("\\u00", second);  // C1 controls, U+0080 to U+009F
    } else if (c == 0xE2 && second == 0x80 &&
               (input[pos + 2] == '\xA8' || input[pos + 2] == '\xA9')) {
      // U+2028 and U+2029 end a line in some log viewers and in JavaScript.
      out.append(input[pos + 2] == '\xA8' ? "\\u2028" : "\\u2029");
    } else {
      out.append(input.substr(pos, length));
    }
    pos += length;
  }
  // What is shown may not give back half of a secret the value holds.
  if (HoldsSecretShapedText(input) && CountBase62(input.substr(0, pos)) >= kMaxShownSecretChars) {
    return std::string(kSecretShapedValue);
  }
  out.push_back('\'');
  // Outside the quotes, so that it cannot be mistaken for input.
  if (pos < input.size()) out.append("...");
  return out;
}

std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+' && plus_is_space) {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int high = HexValue(text[i + 1]);
      const int low = HexValue(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out += static_cast<char>(high << 4 | low);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::int64_t> ParseInt64(std::string_view text) {
  const bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  // Accumulate negatively so the minimum value itself parses.
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  std::int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const int digit = c - '0';
    if (value < (kMin + digit) / 10) return std::nullopt;
    value = value * 10 - digit;
  }
  if (negative) return value;
  if (value == kMin) return std::nullopt;
  return -value;
}

void WriteLowerHex(std::span<const unsigned char> bytes, std::span<char> out) {
  // Both digits of every byte value, so that each byte is one copy.
  static constexpr std::array<char, 512> kPairs = [] {
    constexpr char kDigits[] = "0123456789abcdef";
    std::array<char, 512> pairs{};
    for (std::size_t value = 0; value < 256; ++value) {
      pairs[2 * value] = kDigits[value >> 4];
      pairs[2 * value + 1] = kDigits[value & 0x0f];
    }
    return pairs;
  }();
  char* to = out.data();
  for (const unsigned char byte : bytes) {
    std::memcpy(to, &kPairs[2 * std::size_t{byte}], 2);
    to += 2;
  }
}

std::string LowerHex(std::span<const unsigned char> bytes) {
  std::string hex(2 * bytes.size(), '\0');
  WriteLowerHex(bytes, hex);
  return hex;
}

}  // namespace tokend::core
