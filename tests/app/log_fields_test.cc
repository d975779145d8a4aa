// Log lines with fields: what the encoding gives back, and how text shows it.
#include <gtest/gtest.h>

#include <string>

#include "log/fields.h"

namespace tokend::log {
namespace {

TEST(LogFieldsTest, EveryByteOfAMessageOrValueComesBackAsItWas) {
  const std::string tricky = std::string("a:1:b\\x1e\\x00\"", 14) + std::string(1, '\0') + "=9:";
  const std::string payload = Encode(tricky, {{"id", "12:34"}, {"", tricky}, {"n", ""}});
  const auto line = Decode(payload);
  ASSERT_TRUE(line);
  EXPECT_EQ(line->message, tricky);
  ASSERT_EQ(line->fields.size(), 3u);
  EXPECT_EQ(line->fields[0].name, "id");
  EXPECT_EQ(line->fields[0].value, "12:34");
  EXPECT_EQ(line->fields[1].name, "");
  EXPECT_EQ(line->fields[1].value, tricky);
  EXPECT_EQ(line->fields[2].value, "");
}

TEST(LogFieldsTest, AnythingElseIsNotALineWithFields) {
  for (const std::string payload :
       {"", "plain text", "5:abc", "3:abc4:name", "3:abc4:name9:v", "x:abc", "-1:a", "3:abc:"}) {
    EXPECT_FALSE(Decode(payload)) << payload;
  }
  EXPECT_TRUE(Decode("3:abc"));
}

TEST(LogFieldsTest, TextQuotesOnlyTheValuesThatNeedIt) {
  EXPECT_EQ(TextFields({{"id", "abc-1"}, {"n", "3"}}), " id=abc-1 n=3");
  EXPECT_EQ(TextFields({{"error", "timed out"}}), " error=\"timed out\"");
  EXPECT_EQ(TextFields({{"e", ""}}), " e=\"\"");
  EXPECT_EQ(TextFields({{"e", "a\"b\\c=d"}}), " e=\"a\\\"b\\\\c=d\"");
  EXPECT_EQ(TextFields({{"e", "a\nb"}}), " e=\"a\\x0ab\"");
}

}  // namespace
}  // namespace tokend::log
