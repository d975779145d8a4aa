#include "core/text.h"

#include <gtest/gtest.h>

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
