#include "core/text.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <limits>

namespace tokend::core {
namespace {

TEST(TextTest, TrimAsciiSpace) {
  EXPECT_EQ(TrimAsciiSpace("  a b \t\r\n"), "a b");
  EXPECT_EQ(TrimAsciiSpace(" \v\f "), "");
  EXPECT_EQ(TrimAsciiSpace("x"), "x");
  // U+00A0 is not ASCII whitespace and stays.
  EXPECT_EQ(TrimAsciiSpace("\xC2\xA0"), "\xC2\xA0");
}

TEST(TextTest, QuoteShortValueAsIs) {
  EXPECT_EQ(QuoteForMessage("abc"), "'abc'");
  EXPECT_EQ(QuoteForMessage(""), "''");
  EXPECT_EQ(QuoteForMessage("caf\xC3\xA9 \xF0\x9F\x98\x80"), "'caf\xC3\xA9 \xF0\x9F\x98\x80'");
}

TEST(TextTest, QuoteNeverEchoesSecretShapedText) {
  const std::string secret = "bfg_" + std::string(28, 'a') + "Zz09AbcD12";
  const std::string legacy = "bft_0f8fad5b-d9cb-469f-a165-70867728950e";
  // A secret cut to its prefix and random part, recased, another separator,
  // without its prefix, wrapped or split by any character: each gives the
  // secret back (the checksum is public).
  for (const std::string& value :
       {secret, legacy, "team," + secret, secret + "/read", "x" + secret + "tail",
        secret.substr(0, 34), "BFG_" + secret.substr(4), "bfg-" + secret.substr(4),
        "bfg " + secret.substr(4), secret.substr(4, 30), legacy.substr(4), std::string(45, 'a'),
        secret.substr(0, 26) + "\n" + secret.substr(26),
        secret.substr(0, 20) + "." + secret.substr(20),
        secret.substr(4, 15) + " " + secret.substr(19, 15),
        "bfg_" + std::string(20, 'a') + "." + std::string(15, 'a')}) {
    EXPECT_TRUE(HoldsSecretShapedText(value)) << value;
    EXPECT_EQ(QuoteForMessage(value), kSecretShapedValue) << value;
  }
  // Fewer than 30 letters and digits in all are echoed.
  for (const std::string& value :
       {std::string(29, 'a'), "bfg_" + std::string(25, 'a'), std::string("0f8fad5b-d9cb-469f-a165"),
        std::string("workflow/read, workflowrun/action"),
        std::string("2026-03-01T05:00:00.000+00:00")}) {
    EXPECT_FALSE(HoldsSecretShapedText(value)) << value;
    EXPECT_EQ(QuoteForMessage(value).front(), '\'') << value;
  }
}

// A secret with its prefix, cut or not, in any case; a legacy secret.
TEST(TextTest, PrefixedSecretText) {
  const std::string secret = "bfg_" + std::string(28, 'a') + "Zz09AbcD12";
  for (const std::string& value :
       {secret, secret.substr(0, 34), "BFG_" + secret.substr(4), "req." + secret,
        std::string("bft_0f8fad5b-d9cb-469f-a165-70867728950e")}) {
    EXPECT_TRUE(HoldsPrefixedSecretText(value)) << value;
  }
  for (const std::string& value :
       {std::string("0123456789abcdef0123456789abcdef"),
        std::string("0f8fad5b-d9cb-469f-a165-70867728950e"), secret.substr(4),
        std::string("bfg-") + secret.substr(4), secret.substr(0, 33)}) {
    EXPECT_FALSE(HoldsPrefixedSecretText(value)) << value;
  }
}

// What a request id may not hold: 30 letters and digits in all, in both
// cases (a secret, cut, recased or split, with or without its prefix);
// identifiers written in one case pass, prefixed or not.
TEST(TextTest, MixedCaseSecretText) {
  const std::string secret =
      "bfg_" + std::string(14, 'a') + "Q" + std::string(13, 'b') + "Zz09AbcD12";
  for (const std::string& value :
       {secret, secret.substr(0, 34), "req." + secret, secret.substr(4), "bfg-" + secret.substr(4),
        secret.substr(0, 20) + "." + secret.substr(20),
        secret.substr(0, 24) + "-" + secret.substr(24)}) {
    EXPECT_TRUE(HoldsMixedCaseSecretText(value)) << value;
  }
  for (const std::string& value :
       {std::string("0123456789abcdef0123456789abcdef"),
        std::string("0f8fad5b-d9cb-469f-a165-70867728950e"),
        std::string("req-550e8400-e29b-41d4-a716-446655440000"),
        std::string("trace.550e8400-e29b-41d4-a716-446655440000"),
        std::string("01ARZ3NDEKTSV4RRFFQ69G5FAV-01ARZ3NDEKTSV4RRFFQ69G5FAW"),
        std::string("user_2x4y6z8a0b2c4d6e8f0g2h4j6k"),
        std::string("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        std::string("2NxZLPBVqrWVnA0Fx1WUjDwoQ2k"), secret.substr(0, 29)}) {
    EXPECT_FALSE(HoldsMixedCaseSecretText(value)) << value;
  }
}

// A secret a value holds is not half shown, wherever it sits: an echo shows
// fewer than 15 of its letters and digits or none of the value.
TEST(TextTest, QuoteShowsLessThanHalfOfASecretWhereverItSits) {
  const std::string random = std::string(28, 'a') + "Z9";
  EXPECT_EQ(QuoteForMessage(std::string(35, '-') + random), kSecretShapedValue);
  EXPECT_EQ(QuoteForMessage(std::string(49, '-') + random), kSecretShapedValue);
  const std::string far = QuoteForMessage(std::string(50, '-') + random);
  EXPECT_NE(far, kSecretShapedValue);
  EXPECT_EQ(far.find(random.substr(0, 15)), std::string::npos) << far;
  EXPECT_NE(QuoteForMessage(std::string(50, '-') + "abc"), kSecretShapedValue);
}

TEST(TextTest, QuoteCutsLongValueAt64CodePoints) {
  EXPECT_EQ(QuoteForMessage(std::string(64, '.')), "'" + std::string(64, '.') + "'");
  EXPECT_EQ(QuoteForMessage(std::string(65, '.')), "'" + std::string(64, '.') + "'...");
  EXPECT_EQ(QuoteForMessage(std::string(100, '.')), "'" + std::string(64, '.') + "'...");
}

TEST(TextTest, QuoteCountsCodePointsNotBytes) {
  // 63 ASCII bytes then a 2-byte character: 64 code points, kept whole.
  const std::string value = std::string(63, '.') + "\xC3\xA9" + "tail";
  EXPECT_EQ(QuoteForMessage(value), "'" + std::string(63, '.') + "\xC3\xA9'...");
  std::string emoji;
  for (int i = 0; i < 70; ++i) emoji += "\xF0\x9F\x98\x80";
  EXPECT_EQ(QuoteForMessage(emoji), "'" + emoji.substr(0, 64 * 4) + "'...");
}

TEST(TextTest, QuoteEscapesQuotesAndBackslashes) {
  EXPECT_EQ(QuoteForMessage(R"(it's "x" \n)"), R"('it\'s \"x\" \\n')");
}

TEST(TextTest, QuoteEscapesControlCharacters) {
  EXPECT_EQ(QuoteForMessage("a\nb\rc\td"), R"('a\nb\rc\td')");
  EXPECT_EQ(QuoteForMessage(std::string("\0\x01\x1B\x1F\x7F", 5)),
            R"('\u0000\u0001\u001B\u001F\u007F')");
  // C1 controls (NEL among them) and the Unicode line and paragraph separators.
  EXPECT_EQ(QuoteForMessage("\xC2\x80\xC2\x85\xC2\x9F\xC2\xA0"), "'\\u0080\\u0085\\u009F\xC2\xA0'");
  EXPECT_EQ(QuoteForMessage("a\xE2\x80\xA8"
                            "b\xE2\x80\xA9"
                            "c\xE2\x80\xA7"),
            "'a\\u2028b\\u2029c\xE2\x80\xA7'");
}

TEST(TextTest, QuoteEscapesInvalidUtf8BytePerByte) {
  EXPECT_EQ(QuoteForMessage("a\xFF"
                            "b"),
            R"('a\xFFb')");
  EXPECT_EQ(QuoteForMessage("\xC3(\xED\xA0\x80"), R"('\xC3(\xED\xA0\x80')");
  // Each invalid byte counts as one code point of input.
  std::string escapes;
  for (int i = 0; i < 64; ++i) escapes += "\\x80";
  EXPECT_EQ(QuoteForMessage(std::string(65, '\x80')), "'" + escapes + "'...");
}

TEST(TextTest, QuoteOfHostileInputIsShortPrintableUtf8) {
  std::string hostile;
  for (int i = 0; hostile.size() < 8192; ++i) {
    hostile += static_cast<char>(i % 256);
    hostile += "\n\r\"'\\\xE2\x80\xA8\xC2\x85";
  }
  for (std::size_t skip = 0; skip < 256; ++skip) {
    const std::string quoted = QuoteForMessage(std::string_view(hostile).substr(skip));
    EXPECT_LE(quoted.size(), kMaxQuotedBytes);
    EXPECT_TRUE(quoted.ends_with("'...")) << quoted;
    EXPECT_TRUE(IsValidUtf8(quoted)) << quoted;
    for (char c : quoted) {
      const auto byte = static_cast<unsigned char>(c);
      EXPECT_TRUE(byte >= 0x20 && byte != 0x7F) << quoted;
    }
    EXPECT_EQ(quoted.find("\xE2\x80\xA8"), std::string::npos);
    EXPECT_EQ(quoted.find("\xC2\x85"), std::string::npos);
  }
  // The worst case: every code point takes the longest escape.
  const std::string worst = QuoteForMessage(std::string(8192, '\x01'));
  EXPECT_EQ(worst.size(), kMaxQuotedBytes);
}

TEST(LowerHexTest, EveryByteValueAsPrintfWritesIt) {
  std::array<unsigned char, 256> bytes{};
  std::string expected;
  for (std::size_t value = 0; value < bytes.size(); ++value) {
    bytes[value] = static_cast<unsigned char>(value);
    char digits[3];
    std::snprintf(digits, sizeof digits, "%02x", static_cast<unsigned>(value));
    expected += digits;
  }
  EXPECT_EQ(LowerHex(bytes), expected);
}

}  // namespace
}  // namespace tokend::core

namespace tokend::core {
namespace {

TEST(PercentDecodeTest, DecodesEscapesOnce) {
  EXPECT_EQ(PercentDecode("a%20b%2541", true), "a b%41");
  EXPECT_EQ(PercentDecode("%e2%82%AC", false), "\xE2\x82\xAC");
  EXPECT_EQ(PercentDecode("", true), "");
}

TEST(PercentDecodeTest, PlusIsASpaceOnlyInFormEncoding) {
  EXPECT_EQ(PercentDecode("a+b", true), "a b");
  EXPECT_EQ(PercentDecode("a+b", false), "a+b");
}

TEST(PercentDecodeTest, RefusesMalformedEscapes) {
  for (const char* bad : {"%", "%4", "a%", "%ZZ", "%G0", "%0g", "ab%2"}) {
    EXPECT_FALSE(PercentDecode(bad, true).has_value()) << bad;
  }
}

TEST(ParseInt64Test, AcceptsTheWholeRange) {
  EXPECT_EQ(ParseInt64("0"), 0);
  EXPECT_EQ(ParseInt64("-1"), -1);
  EXPECT_EQ(ParseInt64("1772341200000"), 1772341200000);
  EXPECT_EQ(ParseInt64("9223372036854775807"), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(ParseInt64("-9223372036854775808"), std::numeric_limits<std::int64_t>::min());
}

TEST(ParseInt64Test, RefusesEverythingElse) {
  for (const char* bad : {"", "-", "+1", " 1", "1 ", "1.0", "1e3", "0x10", "9223372036854775808",
                          "-9223372036854775809", "99999999999999999999"}) {
    EXPECT_FALSE(ParseInt64(bad).has_value()) << bad;
  }
}

TEST(HexValueTest, ReadsDigitsOfEitherCaseAndRefusesTheRest) {
  EXPECT_EQ(HexValue('0'), 0);
  EXPECT_EQ(HexValue('9'), 9);
  EXPECT_EQ(HexValue('a'), 10);
  EXPECT_EQ(HexValue('F'), 15);
  for (const char other : {'g', 'G', '/', ':', '@', '`', ' ', '\0'}) {
    EXPECT_EQ(HexValue(other), -1) << static_cast<int>(other);
  }
}

TEST(LowerHexTest, WritesTwoLowercaseDigitsPerByteHighNibbleFirst) {
  const std::array<unsigned char, 6> bytes{0x00, 0x0f, 0xf0, 0xff, 0xab, 0x09};
  EXPECT_EQ(LowerHex(bytes), "000ff0ffab09");
  EXPECT_EQ(LowerHex({}), "");
  std::array<char, 12> out{};
  WriteLowerHex(bytes, out);
  EXPECT_EQ(std::string_view(out.data(), out.size()), "000ff0ffab09");
}

}  // namespace
}  // namespace tokend::core
