#include "core/expiry_policy.h"

#include <gtest/gtest.h>

#include "core/create_request.h"

namespace tokend::core {
namespace {

constexpr EpochMillis kNow = 1'772'341'200'000;  // 2026-03-01T05:00:00.000Z
constexpr std::int64_t kDay = 86400;

ExpiryPolicy MustParse(const std::vector<std::string>& max,
                       const std::vector<std::string>& defaults = {}) {
  auto policy = ExpiryPolicy::Parse(max, defaults);
  EXPECT_TRUE(policy.ok()) << policy.status().ToString();
  return policy.ok() ? *policy : ExpiryPolicy();
}

TEST(DurationTest, ParsesEveryUnit) {
  EXPECT_EQ(*ParseDurationSeconds("1s"), 1);
  EXPECT_EQ(*ParseDurationSeconds("45m"), 45 * 60);
  EXPECT_EQ(*ParseDurationSeconds("12h"), 12 * 3600);
  EXPECT_EQ(*ParseDurationSeconds("90d"), 90 * kDay);
  EXPECT_EQ(*ParseDurationSeconds("007d"), 7 * kDay);
  EXPECT_EQ(*ParseDurationSeconds("3650000d"), kMaxDurationSeconds);
}

TEST(DurationTest, RefusesAnythingElse) {
  for (std::string_view bad :
       {"", "d", "0d", "0s", "00h", "90", "-1d", "+1d", "1.5d", "1 d", " 1d", "1D", "1w", "1dd",
        "d1", "1e3s", "3650001d", "99999999999999999999999d", "87600001h"}) {
    auto parsed = ParseDurationSeconds(bad);
    EXPECT_FALSE(parsed.ok()) << "'" << bad << "'";
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
      EXPECT_NE(parsed.status().message().find("invalid duration"), std::string::npos);
    }
  }
}

TEST(DurationTest, FormatsTheLargestExactUnit) {
  EXPECT_EQ(FormatDuration(90 * kDay), "90d");
  EXPECT_EQ(FormatDuration(36 * 3600), "36h");
  EXPECT_EQ(FormatDuration(90 * 60), "90m");
  EXPECT_EQ(FormatDuration(61), "61s");
}

TEST(ExpiryPolicyTest, EmptyByDefault) {
  ExpiryPolicy policy = MustParse({}, {});
  EXPECT_TRUE(policy.empty());
  EXPECT_TRUE(policy.MaxLifetimeMillis().empty());
  for (TokenType type : kAllTokenTypes) EXPECT_TRUE(policy.For(type).empty());
  EXPECT_EQ(policy, ExpiryPolicy());
}

TEST(ExpiryPolicyTest, TypeSpecificValueWinsOverTheBareOne) {
  ExpiryPolicy policy = MustParse({"30d", "team=90d"}, {"user=1d", "7d"});
  EXPECT_EQ(policy.For(TokenType::kTeam), (LifetimeLimits{90 * kDay, 7 * kDay}));
  EXPECT_EQ(policy.For(TokenType::kGlobal), (LifetimeLimits{30 * kDay, 7 * kDay}));
  EXPECT_EQ(policy.For(TokenType::kUser), (LifetimeLimits{30 * kDay, 1 * kDay}));
  EXPECT_EQ(policy.For(TokenType::kSession), (LifetimeLimits{30 * kDay, 7 * kDay}));
  EXPECT_FALSE(policy.empty());
}

TEST(ExpiryPolicyTest, OnlyTheTypesGivenHaveLimits) {
  ExpiryPolicy policy = MustParse({"team=90d"}, {"workflow=12h"});
  EXPECT_EQ(policy.For(TokenType::kTeam), (LifetimeLimits{90 * kDay, std::nullopt}));
  EXPECT_EQ(policy.For(TokenType::kWorkflow), (LifetimeLimits{std::nullopt, 12 * 3600}));
  EXPECT_TRUE(policy.For(TokenType::kGlobal).empty());
  const std::vector<std::pair<TokenType, std::int64_t>> maxima = {
      {TokenType::kTeam, 90 * kDay * 1000}};
  EXPECT_EQ(policy.MaxLifetimeMillis(), maxima);
}

TEST(ExpiryPolicyTest, BlanksAroundSettingsAreIgnored) {
  ExpiryPolicy policy = MustParse({" team = 90d ", "", "  "}, {});
  EXPECT_EQ(policy.For(TokenType::kTeam).max_seconds, 90 * kDay);
}

TEST(ExpiryPolicyTest, BadSettingsAreNamed) {
  struct Case {
    std::vector<std::string> max;
    std::vector<std::string> defaults;
    std::vector<std::string_view> mentions;
  };
  const std::vector<Case> cases = {
      {{"tema=90d"}, {}, {"--max-lifetime", "'tema=90d'", "unknown token type 'tema'"}},
      {{"Team=90d"}, {}, {"unknown token type 'Team'"}},
      {{"=90d"}, {}, {"unknown token type ''"}},
      {{"team=0d"}, {}, {"--max-lifetime", "'team=0d'", "invalid duration '0d'"}},
      {{"90"}, {}, {"invalid duration '90'"}},
      {{}, {"team=x"}, {"--default-lifetime", "TOKEND_DEFAULT_LIFETIME", "'team=x'"}},
      {{"team=1d", "team=2d"}, {}, {"'team=2d'", "second time"}},
      {{"1d", "2d"}, {}, {"'2d'", "every type a second time"}},
      {{"team=30d"}, {"team=31d"}, {"type 'team'", "31d", "30d", "longer than its maximum"}},
      {{"30d"}, {"team=31d"}, {"type 'team'", "31d", "30d"}},
      {{"team=30d"}, {"60d"}, {"type 'team'", "60d", "30d"}},
  };
  for (const Case& c : cases) {
    auto policy = ExpiryPolicy::Parse(c.max, c.defaults);
    ASSERT_FALSE(policy.ok());
    EXPECT_EQ(policy.status().code(), StatusCode::kInvalidArgument);
    for (std::string_view text : c.mentions) {
      EXPECT_NE(policy.status().message().find(text), std::string::npos)
          << policy.status().message() << " lacks " << text;
    }
  }
}

TEST(ExpiryPolicyTest, ADefaultEqualToTheMaximumIsAllowed) {
  ExpiryPolicy policy = MustParse({"team=30d", "1h"}, {"team=30d", "1h"});
  EXPECT_EQ(policy.For(TokenType::kTeam), (LifetimeLimits{30 * kDay, 30 * kDay}));
}

TEST(ApplyExpiryPolicyTest, NoPolicyChangesNothing) {
  const ExpiryPolicy none;
  EXPECT_EQ(*ApplyExpiryPolicy(none, TokenType::kTeam, std::nullopt, kNow), std::nullopt);
  EXPECT_EQ(*ApplyExpiryPolicy(none, TokenType::kTeam, kMaxExpirationDate, kNow),
            kMaxExpirationDate);
}

TEST(ApplyExpiryPolicyTest, AMissingDateGetsTheDefaultElseTheMaximum) {
  const ExpiryPolicy policy = MustParse({"90d"}, {"team=30d"});
  EXPECT_EQ(*ApplyExpiryPolicy(policy, TokenType::kTeam, std::nullopt, kNow),
            kNow + 30 * kDay * 1000);
  EXPECT_EQ(*ApplyExpiryPolicy(policy, TokenType::kUser, std::nullopt, kNow),
            kNow + 90 * kDay * 1000);
}

TEST(ApplyExpiryPolicyTest, ADefaultWithoutAMaximumFillsAMissingDateOnly) {
  const ExpiryPolicy policy = MustParse({}, {"1h"});
  EXPECT_EQ(*ApplyExpiryPolicy(policy, TokenType::kGlobal, std::nullopt, kNow), kNow + 3600 * 1000);
  const EpochMillis far = kNow + 3650 * kDay * 1000;
  EXPECT_EQ(*ApplyExpiryPolicy(policy, TokenType::kGlobal, far, kNow), far);
}

TEST(ApplyExpiryPolicyTest, TheMaximumIsTheLatestDateAllowed) {
  const ExpiryPolicy policy = MustParse({"team=90d"});
  const EpochMillis latest = kNow + 90 * kDay * 1000;
  EXPECT_EQ(*ApplyExpiryPolicy(policy, TokenType::kTeam, latest, kNow), latest);
  EXPECT_EQ(*ApplyExpiryPolicy(policy, TokenType::kTeam, kNow + 1, kNow), kNow + 1);
  // Other types are not bound.
  EXPECT_EQ(*ApplyExpiryPolicy(policy, TokenType::kUser, latest + 1, kNow), latest + 1);

  auto beyond = ApplyExpiryPolicy(policy, TokenType::kTeam, latest + 1, kNow);
  ASSERT_FALSE(beyond.ok());
  EXPECT_EQ(beyond.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(beyond.status().api_error(), ApiError::kTokenInvalidRequest);
  const std::string message = beyond.status().message();
  EXPECT_TRUE(message.starts_with("Invalid Token request. Token type, name, and permissions are"))
      << message;
  EXPECT_NE(message.find("'expirationDate'"), std::string::npos) << message;
  EXPECT_NE(message.find("type 'team'"), std::string::npos) << message;
  EXPECT_NE(message.find("(90d)"), std::string::npos) << message;
  EXPECT_NE(message.find("2026-05-30T05:00:00.000+00:00"), std::string::npos) << message;
}

TEST(ApplyExpiryPolicyTest, FilledDatesStopAtTheLastWritableDate) {
  const ExpiryPolicy policy = MustParse({"3650000d"});
  EXPECT_EQ(*ApplyExpiryPolicy(policy, TokenType::kTeam, std::nullopt, kNow), kMaxExpirationDate);
  EXPECT_EQ(*ApplyExpiryPolicy(policy, TokenType::kTeam, kMaxExpirationDate, kNow),
            kMaxExpirationDate);
}

}  // namespace
}  // namespace tokend::core
