#include <gtest/gtest.h>

#include "core/query.h"

namespace tokend::core {
namespace {

Result<TokenQuery> Parse(std::string_view raw) {
  Result<QueryParams> params = ParseQueryString(raw);
  if (!params.ok()) return params.status();
  return ParseTokenQuery(*params);
}

TEST(TokenQueryTest, DefaultsWhenEmpty) {
  const Result<TokenQuery> query = Parse("");
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(*query, TokenQuery{});
  EXPECT_FALSE(query->paged());
  EXPECT_EQ(query->offset(), 0);
}

TEST(TokenQueryTest, ParsesEveryParameter) {
  const Result<TokenQuery> query = Parse(
      "limit=10&page=2&order=desc&sort=expirationDate&types=team,user&principals=t1"
      "&fromDate=-5&toDate=100&access_token=bfg_x");
  ASSERT_TRUE(query.ok()) << query.status().ToString();
  TokenQuery expected;
  expected.limit = 10;
  expected.page = 2;
  expected.order = SortOrder::kDesc;
  expected.sort = SortField::kExpirationDate;
  expected.types = {TokenType::kTeam, TokenType::kUser};
  expected.principals = {"t1"};
  expected.from_date = -5;
  expected.to_date = 100;
  EXPECT_EQ(*query, expected);
  EXPECT_EQ(query->offset(), 20);
}

TEST(TokenQueryTest, SortFieldsAndOrders) {
  for (SortField field : {SortField::kCreationDate, SortField::kExpirationDate, SortField::kName,
                          SortField::kType, SortField::kPrincipal, SortField::kLastUsedDate}) {
    const Result<TokenQuery> query = Parse("sort=" + std::string(ToString(field)));
    ASSERT_TRUE(query.ok());
    EXPECT_EQ(query->sort, field);
  }
  for (std::string_view order : {"ASC", "asc", "Asc"}) {
    EXPECT_EQ(Parse("order=" + std::string(order))->order, SortOrder::kAsc);
  }
  for (std::string_view order : {"DESC", "desc", "dEsC"}) {
    EXPECT_EQ(Parse("order=" + std::string(order))->order, SortOrder::kDesc);
  }
  EXPECT_EQ(ToString(SortOrder::kAsc), "ASC");
  EXPECT_EQ(ToString(SortOrder::kDesc), "DESC");
}

TEST(TokenQueryTest, ListsCombineCommasAndRepeats) {
  const Result<TokenQuery> query = Parse(
      "types=team,+user&types=&types=,session,,&principals=a,+b+&principals=c&"
      "types=team&principals=a");
  ASSERT_TRUE(query.ok()) << query.status().ToString();
  EXPECT_EQ(query->types,
            (std::vector<TokenType>{TokenType::kTeam, TokenType::kUser, TokenType::kSession}));
  EXPECT_EQ(query->principals, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(TokenQueryTest, EmptyScalarCountsAsAbsent) {
  const Result<TokenQuery> query = Parse("limit=&limit=5&order=&sort=&page=&fromDate=&toDate=");
  ASSERT_TRUE(query.ok()) << query.status().ToString();
  EXPECT_EQ(query->limit, 5);
  EXPECT_EQ(query->order, SortOrder::kAsc);
}

TEST(TokenQueryTest, BoundsAreInclusive) {
  EXPECT_EQ(Parse("limit=1")->limit, 1);
  EXPECT_EQ(Parse("limit=1000")->limit, 1000);
  EXPECT_EQ(Parse("limit=0010")->limit, 10);
  EXPECT_EQ(Parse("limit=1&page=0")->page, 0);
  EXPECT_EQ(Parse("limit=1&page=2147483647")->page, 2147483647);
  EXPECT_EQ(Parse("fromDate=5&toDate=5")->from_date, 5);
}

TEST(TokenQueryTest, PageWithoutLimitHasNoEffect) {
  const Result<TokenQuery> query = Parse("page=3");
  ASSERT_TRUE(query.ok());
  EXPECT_FALSE(query->paged());
  EXPECT_EQ(query->offset(), 0);
}

TEST(TokenQueryTest, RejectsMalformedParametersNamingThem) {
  struct Case {
    std::string_view raw;
    std::string_view names;
  };
  constexpr Case kCases[] = {
      {"limit=abc", "'limit'"},
      {"limit=0", "'limit'"},
      {"limit=1001", "'limit'"},
      {"limit=-1", "'limit'"},
      {"limit=+5", "'limit'"},
      {"limit=1.5", "'limit'"},
      {"limit=99999999999999999999999", "'limit'"},
      {"limit=10&limit=10", "'limit'"},
      {"page=-1", "'page'"},
      {"page=2147483648", "'page'"},
      {"page=x", "'page'"},
      {"page=1&page=2", "'page'"},
      {"order=up", "'order'"},
      {"order=ASC&order=DESC", "'order'"},
      {"sort=creationdate", "'sort'"},
      {"sort=id", "'sort'"},
      {"sort=name&sort=type", "'sort'"},
      {"types=team,foo", "'foo'"},
      {"types=Team", "'types'"},
      {"fromDate=abc", "'fromDate'"},
      {"fromDate=1e3", "'fromDate'"},
      {"fromDate=-", "'fromDate'"},
      {"fromDate=9223372036854775808", "'fromDate'"},
      {"toDate=2026-01-01", "'toDate'"},
      {"fromDate=1&fromDate=2", "'fromDate'"},
      {"toDate=1&toDate=2", "'toDate'"},
      {"fromDate=10&toDate=9", "'fromDate'"},
      {"sort=lastuseddate", "'sort'"},
      {"lastUsedBefore=abc", "'lastUsedBefore'"},
      {"lastUsedBefore=1e3", "'lastUsedBefore'"},
      {"lastUsedBefore=9223372036854775808", "'lastUsedBefore'"},
      {"lastUsedBefore=1&lastUsedBefore=2", "'lastUsedBefore'"},
      {"lastUsedBefore=1&lastUsed%42efore=1", "'lastUsedBefore'"},
      {"lastUsedAfter=2026-01-01", "'lastUsedAfter'"},
      {"lastUsedAfter=-", "'lastUsedAfter'"},
      {"lastUsedAfter=1&lastUsedAfter=1", "'lastUsedAfter'"},
      {"lastUsedAfter=10&lastUsedBefore=9", "'lastUsedAfter'"},
  };
  for (const Case& c : kCases) {
    const Result<TokenQuery> query = Parse(c.raw);
    ASSERT_FALSE(query.ok()) << c.raw;
    EXPECT_EQ(query.status().code(), StatusCode::kInvalidArgument) << c.raw;
    EXPECT_EQ(query.status().api_error(), ApiError::kQueryInvalidFilters) << c.raw;
    EXPECT_NE(query.status().message().find(c.names), std::string::npos)
        << c.raw << ": " << query.status().message();
  }
}

TEST(TokenQueryTest, MatchesNamesAfterDecoding) {
  const Result<TokenQuery> query = Parse(
      "li%6Dit=5&%70age=1&sor%74=name&%6Frder=desc&%74ypes=team&principal%73=t1"
      "&from%44ate=1&to%44ate=2");
  ASSERT_TRUE(query.ok()) << query.status().ToString();
  TokenQuery expected;
  expected.limit = 5;
  expected.page = 1;
  expected.sort = SortField::kName;
  expected.order = SortOrder::kDesc;
  expected.types = {TokenType::kTeam};
  expected.principals = {"t1"};
  expected.from_date = 1;
  expected.to_date = 2;
  EXPECT_EQ(*query, expected);
}

TEST(TokenQueryTest, EncodedAndPlainNameAreTheSameParameter) {
  const Result<TokenQuery> query = Parse("limit=5&li%6Dit=6");
  ASSERT_FALSE(query.ok());
  EXPECT_EQ(query.status().message(), "Invalid query parameter 'limit': given more than once.");
}

TEST(TokenQueryTest, NamesAreDecodedOnlyOnce) {
  // "li%256Dit" decodes to "li%6Dit", which is not "limit": ignored.
  const Result<TokenQuery> query = Parse("li%256Dit=abc");
  ASSERT_TRUE(query.ok()) << query.status().ToString();
  EXPECT_EQ(*query, TokenQuery{});
}

TEST(TokenQueryTest, MessageEchoesTheValue) {
  const Result<TokenQuery> query = Parse("limit=abc");
  ASSERT_FALSE(query.ok());
  EXPECT_EQ(query.status().message(),
            "Invalid query parameter 'limit': 'abc' is not an integer between 1 and 1000.");
}

TEST(TokenQueryTest, LongValuesAreCutInTheMessage) {
  const Result<TokenQuery> query = Parse("sort=" + std::string(300, 's'));
  ASSERT_FALSE(query.ok());
  EXPECT_EQ(query.status().message().find(std::string(65, 's')), std::string::npos);
}

Result<RevokeQuery> ParseRevoke(std::string_view raw) {
  Result<QueryParams> params = ParseQueryString(raw);
  if (!params.ok()) return params.status();
  return ParseRevokeQuery(*params);
}

TEST(RevokeQueryTest, TakesTheQueryFiltersAndItsSwitches) {
  Result<RevokeQuery> revoke =
      ParseRevoke("types=user,session&principals=u1&fromDate=5&toDate=9&dryRun=TRUE");
  ASSERT_TRUE(revoke.ok()) << revoke.status().ToString();
  EXPECT_TRUE(revoke->dry_run);
  EXPECT_EQ(revoke->filters.types, (std::vector{TokenType::kUser, TokenType::kSession}));
  EXPECT_EQ(revoke->filters.principals, std::vector<std::string>{"u1"});
  EXPECT_EQ(revoke->filters.from_date, 5);
  EXPECT_EQ(revoke->filters.to_date, 9);

  revoke = ParseRevoke("all=true&dryRun=false&dryRun=");
  ASSERT_TRUE(revoke.ok()) << revoke.status().ToString();
  EXPECT_FALSE(revoke->dry_run);
  EXPECT_EQ(revoke->filters, TokenQuery{});
  EXPECT_TRUE(ParseRevoke("toDate=0").ok());
}

// This route revokes: a parameter it does not know (a misspelled dryRun,
// say) is refused, never taken for absent.
TEST(RevokeQueryTest, AnUnknownParameterIsRefusedNamingIt) {
  for (std::string_view raw : {"all=true&dryrun=true", "types=team&dry_run=true",
                               "principals=p&force=1", "all=true&tokenId=x"}) {
    const Result<RevokeQuery> revoke = ParseRevoke(raw);
    ASSERT_FALSE(revoke.ok()) << raw;
    EXPECT_EQ(revoke.status().api_error(), ApiError::kQueryInvalidFilters) << raw;
    EXPECT_NE(revoke.status().message().find("unknown here"), std::string::npos)
        << revoke.status().message();
  }
  // The credential parameter is the caller's, not the route's.
  EXPECT_TRUE(ParseRevoke("all=true&access_token=x").ok());
}

TEST(TokenQueryLastUsedTest, ParsesBothFiltersAndTheSort) {
  const Result<TokenQuery> query =
      Parse("lastUsedBefore=1770000000000&lastUsedAfter=-5&sort=lastUsedDate&order=desc");
  ASSERT_TRUE(query.ok()) << query.status().ToString();
  EXPECT_EQ(query->last_used_before, 1770000000000);
  EXPECT_EQ(query->last_used_after, -5);
  EXPECT_EQ(query->sort, SortField::kLastUsedDate);
  EXPECT_EQ(query->order, SortOrder::kDesc);
  EXPECT_EQ(ToString(SortField::kLastUsedDate), "lastUsedDate");
}

TEST(TokenQueryLastUsedTest, EmptyCountsAsAbsentAndAnEmptyWindowIsAccepted) {
  const Result<TokenQuery> empty = Parse("lastUsedBefore=&lastUsedAfter=");
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(*empty, TokenQuery{});
  // As for fromDate and toDate: an empty window is allowed, a reversed one
  // is refused.
  EXPECT_TRUE(Parse("lastUsedBefore=5&lastUsedAfter=5").ok());
}

TEST(TokenQueryLastUsedTest, MessagesSayWhatIsExpected) {
  const Result<TokenQuery> query = Parse("lastUsedAfter=yesterday");
  ASSERT_FALSE(query.ok());
  EXPECT_EQ(query.status().message(),
            "Invalid query parameter 'lastUsedAfter': 'yesterday' is not a number of epoch "
            "milliseconds.");
  const Result<TokenQuery> twice = Parse("lastUsedBefore=1&lastUsedBefore=1");
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.status().message(),
            "Invalid query parameter 'lastUsedBefore': given more than once.");
}

TEST(RevokeQueryTest, LastUsedFiltersAndLifetimeBeyondPolicyCountAsFilters) {
  for (std::string_view raw :
       {"lastUsedBefore=1770000000000", "lastUsedAfter=0", "lifetimeBeyondPolicy=true"}) {
    const Result<RevokeQuery> revoke = ParseRevoke(raw);
    ASSERT_TRUE(revoke.ok()) << raw << ": " << revoke.status().ToString();
    EXPECT_FALSE(revoke->dry_run);
  }
  EXPECT_EQ(ParseRevoke("lastUsedBefore=7")->filters.last_used_before, 7);
  EXPECT_EQ(ParseRevoke("lastUsedAfter=8")->filters.last_used_after, 8);
  EXPECT_TRUE(ParseRevoke("lifetimeBeyondPolicy=true")->filters.lifetime_beyond_policy);
  for (std::string_view raw :
       {"lifetimeBeyondPolicy=false", "lastUsedBefore=", "lastUsedAfter=x",
        "lastUsedBefore=1&lastUsedBefore=2", "lastUsedAfter=1&sort=lastUsedDate"}) {
    const Result<RevokeQuery> revoke = ParseRevoke(raw);
    EXPECT_FALSE(revoke.ok()) << raw;
    EXPECT_EQ(revoke.status().api_error(), ApiError::kQueryInvalidFilters) << raw;
  }
}

TEST(RevokeQueryTest, RefusesNoFilterPagingOrderAndBadSwitches) {
  for (std::string_view raw :
       {"", "all=false", "all=", "types=", "dryRun=true", "principals=,", "types=team&limit=5",
        "types=team&limit=", "types=team&page=1", "types=team&order=ASC", "types=team&sort=name",
        "all=true&s%6Fr%74=name", "all=1", "all=true&all=true", "dryRun=yes&all=true", "types=nope",
        "fromDate=9&toDate=1"}) {
    const Result<RevokeQuery> revoke = ParseRevoke(raw);
    EXPECT_FALSE(revoke.ok()) << raw;
    EXPECT_EQ(revoke.status().api_error(), ApiError::kQueryInvalidFilters) << raw;
  }
}

}  // namespace
}  // namespace tokend::core

namespace tokend::core {
namespace {

TEST(TokenQueryLifetimeTest, TrueFilters) {
  const Result<TokenQuery> query = Parse("lifetimeBeyondPolicy=true&types=team");
  ASSERT_TRUE(query.ok()) << query.status().ToString();
  EXPECT_TRUE(query->lifetime_beyond_policy);
  // Only the service knows the policy.
  EXPECT_TRUE(query->policy_max_lifetimes.empty());
  EXPECT_TRUE(Parse("lifetimeBe%79ondPolicy=true")->lifetime_beyond_policy);
}

TEST(TokenQueryLifetimeTest, FalseEmptyOrAbsentDoNotFilter) {
  for (std::string_view raw :
       {"", "lifetimeBeyondPolicy=false", "lifetimeBeyondPolicy=", "lifetimeBeyondPolicy",
        "lifetimeBeyondPolicy=&lifetimeBeyondPolicy=false"}) {
    const Result<TokenQuery> query = Parse(raw);
    ASSERT_TRUE(query.ok()) << raw << ": " << query.status().ToString();
    EXPECT_FALSE(query->lifetime_beyond_policy) << raw;
    EXPECT_EQ(*query, TokenQuery{}) << raw;
  }
}

TEST(TokenQueryLifetimeTest, AnythingElseIs1001) {
  for (std::string_view raw :
       {"lifetimeBeyondPolicy=TRUE", "lifetimeBeyondPolicy=1", "lifetimeBeyondPolicy=yes",
        "lifetimeBeyondPolicy=true%20", "lifetimeBeyondPolicy=true&lifetimeBeyondPolicy=true",
        "lifetimeBeyondPolicy=true&lifetimeBeyondPolicy=false"}) {
    const Result<TokenQuery> query = Parse(raw);
    ASSERT_FALSE(query.ok()) << raw;
    EXPECT_EQ(query.status().api_error(), ApiError::kQueryInvalidFilters) << raw;
    EXPECT_NE(query.status().message().find("'lifetimeBeyondPolicy'"), std::string::npos)
        << query.status().message();
  }
}

}  // namespace
}  // namespace tokend::core
