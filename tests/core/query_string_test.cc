#include <gtest/gtest.h>

#include "core/query.h"

namespace tokend::core {
namespace {

TEST(QueryStringTest, SplitsAndDecodes) {
  const Result<QueryParams> params =
      ParseQueryString("a=1&b=x%20y&c=p+q&d=%2B%26%3d&flag&e=&=v&f=a=b");
  ASSERT_TRUE(params.ok()) << params.status().ToString();
  const QueryParams expected = {{"a", "1"},   {"b", "x y"}, {"c", "p q"}, {"d", "+&="},
                                {"flag", ""}, {"e", ""},    {"", "v"},    {"f", "a=b"}};
  EXPECT_EQ(*params, expected);
}

TEST(QueryStringTest, SkipsEmptySegments) {
  const Result<QueryParams> params = ParseQueryString("&a=1&&b=2&");
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(*params, (QueryParams{{"a", "1"}, {"b", "2"}}));
  EXPECT_TRUE(ParseQueryString("")->empty());
}

TEST(QueryStringTest, DecodesOnlyOnce) {
  const Result<QueryParams> params = ParseQueryString("types=%2541");
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(*params, (QueryParams{{"types", "%41"}}));
}

TEST(QueryStringTest, DecodesNamesLikeValues) {
  const Result<QueryParams> params =
      ParseQueryString("access%5Ftoken=bft_x&%74ypes=team&page+size=1&li%256Dit=2");
  ASSERT_TRUE(params.ok()) << params.status().ToString();
  const QueryParams expected = {
      {"access_token", "bft_x"}, {"types", "team"}, {"page size", "1"}, {"li%6Dit", "2"}};
  EXPECT_EQ(*params, expected);
}

TEST(QueryStringTest, DecodesUtf8) {
  const Result<QueryParams> params = ParseQueryString("principals=caf%C3%A9");
  ASSERT_TRUE(params.ok());
  EXPECT_EQ((*params)[0].second, "caf\xC3\xA9");
}

TEST(QueryStringTest, RejectsBadEncodingNamingTheParameter) {
  struct Case {
    std::string_view raw;
    std::string_view names;
  };
  constexpr Case kCases[] = {
      {"limit=%ZZ", "'limit'"},   {"limit=%4", "'limit'"},    {"limit=%", "'limit'"},
      {"page=%00", "'page'"},     {"types=%FF", "'types'"},   {"x=%C0%AF", "'x'"},
      {"na%ZZme=1", "'na%ZZme'"}, {"a=1&sort=%G0", "'sort'"},
  };
  for (const Case& c : kCases) {
    const Result<QueryParams> params = ParseQueryString(c.raw);
    ASSERT_FALSE(params.ok()) << c.raw;
    EXPECT_EQ(params.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(params.status().api_error(), ApiError::kQueryInvalidFilters);
    EXPECT_NE(params.status().message().find(c.names), std::string::npos)
        << params.status().message();
  }
}

// A NUL is well-formed UTF-8: the message names the NUL, not the encoding.
TEST(QueryStringTest, NamesANulAsANulNotAsBadUtf8) {
  for (std::string_view raw : {"principals=%00", "limit=1%00", "na%00me=1"}) {
    const Result<QueryParams> params = ParseQueryString(raw);
    ASSERT_FALSE(params.ok()) << raw;
    EXPECT_EQ(params.status().api_error(), ApiError::kQueryInvalidFilters);
    EXPECT_NE(params.status().message().find("NUL character"), std::string::npos)
        << params.status().message();
    EXPECT_EQ(params.status().message().find("UTF-8"), std::string::npos)
        << params.status().message();
  }
  const Result<QueryParams> bad = ParseQueryString("principals=%FF");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("UTF-8"), std::string::npos) << bad.status().message();
}

}  // namespace
}  // namespace tokend::core
