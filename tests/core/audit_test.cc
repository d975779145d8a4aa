// The event model, chain hash and expiry notice rules (API 8).
#include "core/audit.h"

#include <gtest/gtest.h>

#include "core/secret.h"

namespace tokend::core {
namespace {

constexpr std::int64_t kDay = 86'400'000;
constexpr EpochMillis kNow = 1'770'000'000'000;

Token TokenExpiringAt(std::optional<EpochMillis> expiration) {
  Token token;
  token.id = "65f0a1b2c3d4e5f601234567";
  token.type = TokenType::kUser;
  token.principal = "u1";
  token.name = "laptop";
  token.creation_date = kNow - kDay;
  token.expiration_date = expiration;
  return token;
}

TEST(AuditActionTest, NamesRoundTripExactly) {
  for (AuditAction action : kAllAuditActions) {
    EXPECT_EQ(ParseAuditAction(ToString(action)), action);
  }
  EXPECT_EQ(ToString(AuditAction::kReuseDetected), "token.reuse_detected");
  EXPECT_FALSE(ParseAuditAction("Token.created"));
  EXPECT_FALSE(ParseAuditAction("token.created "));
  EXPECT_FALSE(ParseAuditAction(""));
}

TEST(EventOriginTest, ACallersTokenIsTheActorAndTheUnrestrictedCallerNone) {
  Caller caller;
  caller.token_id = "65f0a1b2c3d4e5f60123aaaa";
  caller.scope = TokenType::kTeam;
  caller.principal = "ops";
  caller.remote_address = "192.0.2.7";
  const EventOrigin origin = EventOrigin::Of(caller);
  ASSERT_TRUE(origin.actor);
  EXPECT_EQ(*origin.actor, (EventActor{caller.token_id, TokenType::kTeam, "ops"}));
  EXPECT_EQ(origin.remote_address, "192.0.2.7");

  caller.scope = TokenType::kGlobal;
  EXPECT_EQ(EventOrigin::Of(caller).actor->principal, std::nullopt);
  EXPECT_FALSE(EventOrigin::Of(Caller::Unrestricted()).actor);
  EXPECT_EQ(EventOrigin::System(), EventOrigin{});
}

// --auth off: the unrestricted caller names the valid token it presented.
TEST(EventOriginTest, AnUnrestrictedCallersPresentedTokenIsTheActor) {
  Caller caller = Caller::Unrestricted();
  Token token;
  token.id = "65f0a1b2c3d4e5f60123bbbb";
  token.type = TokenType::kUser;
  token.principal = "alice";
  caller.presented = std::make_shared<const Token>(token);
  ASSERT_TRUE(EventOrigin::Of(caller).actor);
  EXPECT_EQ(*EventOrigin::Of(caller).actor, (EventActor{token.id, TokenType::kUser, "alice"}));
  token.type = TokenType::kGlobal;
  token.principal.reset();
  caller.presented = std::make_shared<const Token>(token);
  EXPECT_EQ(*EventOrigin::Of(caller).actor,
            (EventActor{token.id, TokenType::kGlobal, std::nullopt}));
}

TEST(ChainHashTest, IsTheSha256OfThePreviousHashAndTheText) {
  EXPECT_EQ(ChainHash(kChainGenesis, "{}"), HashSecret(std::string(kChainGenesis) + "{}"));
  EXPECT_NE(ChainHash(kChainGenesis, "{}"), ChainHash(ChainHash(kChainGenesis, "{}"), "{}"));
  EXPECT_EQ(ChainHash("a", "b").size(), 64u);
}

TEST(NoticeThresholdsTest, ParsesSortsAndRefusesBadItems) {
  Result<NoticeThresholds> parsed = NoticeThresholds::Parse("1d,7d,12h,1d");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->seconds, (std::vector<std::int64_t>{7 * 86'400, 86'400, 12 * 3'600}));
  EXPECT_TRUE(NoticeThresholds::Parse("")->seconds.empty());
  for (const char* bad : {"0d", "7d,", ",7d", "7x", "7d,,1d", "-1d"}) {
    const Result<NoticeThresholds> refused = NoticeThresholds::Parse(bad);
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(refused.status().message().find("--expiry-notice"), std::string::npos);
  }
}

TEST(CreationNoticeTest, OnlyTheNearestThresholdTheTokenIsInside) {
  const NoticeThresholds thresholds = *NoticeThresholds::Parse("7d,1d");
  EXPECT_FALSE(CreationNotice(TokenExpiringAt(kNow + 8 * kDay), thresholds, kNow));
  EXPECT_FALSE(CreationNotice(TokenExpiringAt(std::nullopt), thresholds, kNow));
  EXPECT_FALSE(CreationNotice(TokenExpiringAt(kNow), thresholds, kNow));
  const auto inside_seven = CreationNotice(TokenExpiringAt(kNow + 3 * kDay), thresholds, kNow);
  ASSERT_TRUE(inside_seven);
  EXPECT_EQ(inside_seven->action, AuditAction::kExpiring);
  EXPECT_EQ(inside_seven->details.back().value, (std::variant<std::string, std::int64_t>{3}));
  const auto inside_one = CreationNotice(TokenExpiringAt(kNow + kDay / 2), thresholds, kNow);
  ASSERT_TRUE(inside_one);
  EXPECT_EQ(inside_one->details.back().value, (std::variant<std::string, std::int64_t>{0}));
  // Exactly on a threshold counts as inside it.
  EXPECT_TRUE(CreationNotice(TokenExpiringAt(kNow + 7 * kDay), thresholds, kNow));
}

// A crossing found by a threshold's scan falls to the nearest threshold
// whose scan will still tell it: a smaller one the token is inside at the
// scan, and whose progress is before the token's crossing of it.
TEST(NoticeFallsToThisThresholdTest, TheNearestThresholdThatWillTellTakesTheNotice) {
  const EpochMillis expiration = kNow + 9'000;              // inside 30 s, 20 s; not expired
  const ThresholdProgress behind_20{20, kNow - 60'000};     // its scan has 20 s's crossing ahead
  const ThresholdProgress past_20{20, kNow};                // its scan went past it
  const ThresholdProgress new_30{30, kNow};                 // first scanned this round
  const ThresholdProgress behind_expiry{0, kNow - 60'000};  // expiry not yet reached
  const std::vector<ThresholdProgress> tells = {new_30, behind_20, behind_expiry};
  EXPECT_FALSE(NoticeFallsToThisThreshold(expiration, kNow, tells));
  const std::vector<ThresholdProgress> told_already = {new_30, past_20, behind_expiry};
  EXPECT_TRUE(NoticeFallsToThisThreshold(expiration, kNow, told_already));
  EXPECT_TRUE(NoticeFallsToThisThreshold(expiration, kNow, {}));
  // Not inside the smaller threshold yet: its own crossing is to come.
  EXPECT_TRUE(NoticeFallsToThisThreshold(kNow + 25'000, kNow, tells));
  // Expired during the pause: token.expired tells it.
  const std::vector<ThresholdProgress> expiry_ahead = {past_20, behind_expiry};
  EXPECT_FALSE(NoticeFallsToThisThreshold(kNow - 1'000, kNow, expiry_ahead));
  // Exactly on a threshold counts as inside it.
  const std::vector<ThresholdProgress> only_20 = {behind_20};
  EXPECT_FALSE(NoticeFallsToThisThreshold(kNow + 20'000, kNow, only_20));
}

TEST(NoticeEventTest, CarriesTheExpirationDateAndWholeDaysLeft) {
  const Token token = TokenExpiringAt(kNow + 2 * kDay + kDay / 2);
  const AuditEvent expiring = MakeNoticeEvent(token, 7 * 86'400, kNow);
  EXPECT_EQ(expiring.action, AuditAction::kExpiring);
  EXPECT_FALSE(expiring.origin.actor);
  EXPECT_FALSE(expiring.origin.remote_address);
  ASSERT_EQ(expiring.details.size(), 2u);
  EXPECT_EQ(expiring.details[0].name, "expirationDate");
  EXPECT_EQ(std::get<std::string>(expiring.details[0].value),
            FormatSpringDate(*token.expiration_date));
  EXPECT_EQ(expiring.details[1].name, "daysRemaining");
  EXPECT_EQ(std::get<std::int64_t>(expiring.details[1].value), 2);
  EXPECT_EQ(expiring.subject, EventSubject::Of(token));
  EXPECT_EQ(expiring.time, kNow);
  EXPECT_EQ(expiring.id.size(), 24u);

  const AuditEvent expired = MakeNoticeEvent(token, 0, *token.expiration_date + 5);
  EXPECT_EQ(expired.action, AuditAction::kExpired);
  EXPECT_EQ(std::get<std::int64_t>(expired.details[1].value), 0);
}

}  // namespace
}  // namespace tokend::core
