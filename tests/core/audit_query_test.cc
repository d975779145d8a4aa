// ParseAuditQuery: the parameters of GET /api/v2/token/audit, and the
// expiry notice thresholds and creation notice rule.
#include <gtest/gtest.h>

#include "core/audit.h"
#include "core/query.h"

namespace tokend::core {
namespace {

Result<AuditQuery> Parse(std::string_view raw) {
  Result<QueryParams> params = ParseQueryString(raw);
  if (!params.ok()) return params.status();
  return ParseAuditQuery(*params);
}

TEST(AuditQueryTest, NewestFirstAndUnpagedByDefault) {
  const Result<AuditQuery> query = Parse("");
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(*query, AuditQuery{});
  EXPECT_FALSE(query->ascending);
  EXPECT_FALSE(query->paged());
}

TEST(AuditQueryTest, ParsesEveryParameter) {
  const Result<AuditQuery> query = Parse(
      "limit=10&page=2&order=Asc&tokenId=65e1a2b0c3d4e5f601234567&types=team,user"
      "&principals=t1&principals=t2,t3&actions=token.created,token.revoked"
      "&actions=token.expired&fromDate=5&toDate=100&sort=name&lastUsedBefore=x");
  ASSERT_TRUE(query.ok()) << query.status().ToString();
  AuditQuery expected;
  expected.limit = 10;
  expected.page = 2;
  expected.ascending = true;
  expected.token_id = "65e1a2b0c3d4e5f601234567";
  expected.types = {TokenType::kTeam, TokenType::kUser};
  expected.principals = {"t1", "t2", "t3"};
  expected.actions = {AuditAction::kCreated, AuditAction::kRevoked, AuditAction::kExpired};
  expected.from_date = 5;
  expected.to_date = 100;
  EXPECT_EQ(*query, expected);
  EXPECT_EQ(query->offset(), 20);
}

TEST(AuditQueryTest, RefusesWhatTheTokenQueryRefusesAndUnknownActions) {
  for (const char* bad : {"actions=token.nope", "actions=TOKEN.CREATED", "limit=0", "limit=1001",
                          "order=up", "fromDate=x", "fromDate=9&toDate=1", "tokenId=a&tokenId=b",
                          "types=robot", "page=-1", "a=%zz"}) {
    const Result<AuditQuery> query = Parse(bad);
    ASSERT_FALSE(query.ok()) << bad;
    EXPECT_EQ(query.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(AuditActionTest, NamesRoundTrip) {
  for (AuditAction action : kAllAuditActions) {
    EXPECT_EQ(ParseAuditAction(ToString(action)), action);
  }
  EXPECT_EQ(ToString(AuditAction::kReuseDetected), "token.reuse_detected");
  EXPECT_FALSE(ParseAuditAction("token.created "));
}

TEST(NoticeThresholdsTest, ParsesSortsAndRefuses) {
  Result<NoticeThresholds> parsed = NoticeThresholds::Parse("1d,7d,1d,30m");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->seconds, (std::vector<std::int64_t>{604800, 86400, 1800}));
  EXPECT_TRUE(NoticeThresholds::Parse("")->seconds.empty());
  for (const char* bad : {"7", "0d", "7d,", "7d,,1d", "-1d", "1w", " 7d"}) {
    Result<NoticeThresholds> refused = NoticeThresholds::Parse(bad);
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_NE(refused.status().message().find("--expiry-notice"), std::string::npos);
  }
}

Token Expiring(EpochMillis created, std::optional<EpochMillis> expires) {
  Token token;
  token.id = "65e1a2b0c3d4e5f601234567";
  token.type = TokenType::kUser;
  token.principal = "u1";
  token.name = "n";
  token.creation_date = created;
  token.expiration_date = expires;
  return token;
}

TEST(CreationNoticeTest, OnlyTheNearestThresholdInsideWhichATokenIsCreated) {
  const NoticeThresholds thresholds{{7 * 86400, 86400}};
  constexpr EpochMillis kNow = 1'700'000'000'000;
  constexpr EpochMillis kDay = 86'400'000;
  EXPECT_FALSE(CreationNotice(Expiring(kNow, std::nullopt), thresholds, kNow));
  EXPECT_FALSE(CreationNotice(Expiring(kNow, kNow + 8 * kDay), thresholds, kNow));
  EXPECT_FALSE(CreationNotice(Expiring(kNow, kNow), thresholds, kNow)) << "already expired";

  std::optional<AuditEvent> week =
      CreationNotice(Expiring(kNow, kNow + 3 * kDay), thresholds, kNow);
  ASSERT_TRUE(week);
  EXPECT_EQ(week->action, AuditAction::kExpiring);
  EXPECT_FALSE(week->origin.actor);
  ASSERT_EQ(week->details.size(), 2u);
  EXPECT_EQ(week->details[0].name, "expirationDate");
  EXPECT_EQ(week->details[1], (EventDetail{"daysRemaining", std::int64_t{3}}));

  std::optional<AuditEvent> day = CreationNotice(Expiring(kNow, kNow + kDay / 2), thresholds, kNow);
  ASSERT_TRUE(day);
  EXPECT_EQ(day->details[1], (EventDetail{"daysRemaining", std::int64_t{0}}));
  // Exactly on a threshold counts as inside it.
  ASSERT_TRUE(CreationNotice(Expiring(kNow, kNow + 7 * kDay), thresholds, kNow));
  EXPECT_FALSE(CreationNotice(Expiring(kNow, kNow + kDay), NoticeThresholds{}, kNow));
}

TEST(ChainHashTest, IsTheSha256OfThePreviousHashAndTheCanonicalJson) {
  // SHA-256 of 64 '0' characters followed by "{}", computed independently.
  EXPECT_EQ(ChainHash(kChainGenesis, "{}"),
            "5508d2b710e64bc470079e1b211d9c58e21011e59d0559e422345dc19d659a75");
  EXPECT_NE(ChainHash(kChainGenesis, "{}"), ChainHash(kChainGenesis, "{ }"));
  EXPECT_EQ(ChainHash(kChainGenesis, "{}").size(), 64u);
}

}  // namespace
}  // namespace tokend::core
