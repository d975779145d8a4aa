#include <gtest/gtest.h>

#include "core/create_request.h"

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
      "\xC3",              // truncated
      "\xE2\x82",          // truncated
      "\xC3\x28",          // bad continuation
      "\xE2\x28\xA1",
  };
  for (std::string_view text : kInvalid) EXPECT_FALSE(IsValidUtf8(text));
}

TEST(Utf8Test, CountCodePoints) {
  EXPECT_EQ(CountCodePoints(""), 0u);
  EXPECT_EQ(CountCodePoints("abc"), 3u);
  EXPECT_EQ(CountCodePoints("caf\xC3\xA9"), 4u);
  EXPECT_EQ(CountCodePoints("\xF0\x9F\x98\x80\xE2\x82\xAC"), 2u);
}

}  // namespace
}  // namespace tokend::core
