#include "core/text.h"

#include <gtest/gtest.h>

#include <cstdint>
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

TEST(TextTest, QuoteShortValueAsIs) { EXPECT_EQ(QuoteForMessage("abc"), "'abc'"); }

TEST(TextTest, QuoteCutsLongValueAt64Bytes) {
  const std::string quoted = QuoteForMessage(std::string(100, 'x'));
  EXPECT_EQ(quoted, "'" + std::string(64, 'x') + "...'");
}

TEST(TextTest, QuoteCutsOnCodePointBoundary) {
  // 63 ASCII bytes then a 2-byte character straddling the 64-byte limit.
  const std::string value = std::string(63, 'x') + "\xC3\xA9" + "tail";
  EXPECT_EQ(QuoteForMessage(value), "'" + std::string(63, 'x') + "...'");
}

TEST(TextTest, QuoteMasksInvalidUtf8) { EXPECT_EQ(QuoteForMessage("a\xFF" "b"), "'a?b'"); }

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

}  // namespace
}  // namespace tokend::core
