#include <gtest/gtest.h>

#include "core/text.h"

namespace tokend::core {
namespace {

TEST(Utf8Test, ValidText) {
  constexpr std::string_view kValid[] = {
      "",
      "plain ascii",
      "caf\xC3\xA9",                // U+00E9
      "\xE2\x82\xAC",               // U+20AC
      "\xED\x9F\xBF",               // U+D7FF, just below the surrogates
      "\xEE\x80\x80",               // U+E000, just above them
      "\xF0\x9F\x98\x80",           // U+1F600
      "\xF4\x8F\xBF\xBF",           // U+10FFFF
      std::string_view("a\0b", 3),  // NUL is well-formed UTF-8
  };
  for (std::string_view text : kValid) EXPECT_TRUE(IsValidUtf8(text));
}

TEST(Utf8Test, InvalidText) {
  constexpr std::string_view kInvalid[] = {
      "\x80",              // lone continuation
      "\xC0\xAF",          // overlong '/'
      "\xC1\xBF",          // overlong
      "\xE0\x80\xAF",      // overlong 3-byte
      "\xF0\x80\x80\xAF",  // overlong 4-byte
      "\xED\xA0\x80",      // U+D800 surrogate
      "\xED\xBF\xBF",      // U+DFFF surrogate
      "\xF4\x90\x80\x80",  // U+110000
      "\xF5\x80\x80\x80",  // lead byte beyond U+10FFFF
      "\xFF",
      "\xC3",      // truncated
      "\xE2\x82",  // truncated
      "\xC3\x28",  // bad continuation
      "\xE2\x28\xA1",
  };
  for (std::string_view text : kInvalid) {
    EXPECT_FALSE(IsValidUtf8(text));
    EXPECT_EQ(ScanUtf8(text).first_invalid, 0u);
    EXPECT_EQ(Utf8SequenceLength(text), 0u);
  }
}

TEST(Utf8Test, SequenceLength) {
  EXPECT_EQ(Utf8SequenceLength(""), 0u);
  EXPECT_EQ(Utf8SequenceLength("a\xFF"), 1u);
  EXPECT_EQ(Utf8SequenceLength(std::string_view("\0", 1)), 1u);
  EXPECT_EQ(Utf8SequenceLength("\xC3\xA9\xFF"), 2u);
  EXPECT_EQ(Utf8SequenceLength("\xE2\x82\xAC"), 3u);
  EXPECT_EQ(Utf8SequenceLength("\xF0\x9F\x98\x80x"), 4u);
}

TEST(Utf8Test, ScanFindsTheFirstInvalidByte) {
  struct Case {
    std::string_view text;
    std::size_t first_invalid;
    std::size_t code_points;  // before first_invalid
  };
  constexpr Case kCases[] = {
      {"abc\xFF", 3, 3},
      {"caf\xC3\xA9\x80", 5, 4},
      {"\xE2\x82\xAC\xE2\x82", 3, 1},        // truncated at the end
      {"0123456789abcdef\xC0\xAF", 16, 16},  // after the 8-byte ASCII steps
      {"01234567\xC3\xA9"
       "0123456789\xED\xA0\x80",
       20, 19},
  };
  for (const Case& c : kCases) {
    const Utf8Scan scan = ScanUtf8(c.text);
    EXPECT_FALSE(scan.valid()) << c.first_invalid;
    EXPECT_EQ(scan.first_invalid, c.first_invalid);
    EXPECT_EQ(scan.code_points, c.code_points) << c.first_invalid;
  }
}

TEST(Utf8Test, ScanCountsValidText) {
  const Utf8Scan scan = ScanUtf8(std::string(1000, 'a') + "\xF0\x9F\x98\x80" + "tail\xC3\xA9");
  EXPECT_TRUE(scan.valid());
  EXPECT_EQ(scan.first_invalid, std::string_view::npos);
  EXPECT_EQ(scan.code_points, 1006u);
}

TEST(Utf8Test, CountCodePoints) {
  EXPECT_EQ(CountCodePoints(""), 0u);
  EXPECT_EQ(CountCodePoints("abc"), 3u);
  EXPECT_EQ(CountCodePoints("caf\xC3\xA9"), 4u);
  EXPECT_EQ(CountCodePoints("\xF0\x9F\x98\x80\xE2\x82\xAC"), 2u);
}

}  // namespace
}  // namespace tokend::core
