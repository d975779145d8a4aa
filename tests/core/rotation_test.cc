#include "core/rotation.h"

#include <gtest/gtest.h>

namespace tokend::core {
namespace {

constexpr EpochMillis kNow = 1'770'000'000'000;
constexpr std::int64_t kDay = 86'400'000;

Token Old(std::optional<EpochMillis> expiration = std::nullopt) {
  Token token;
  token.id = "65f0a1b2c3d4e5f607182930";
  token.type = TokenType::kTeam;
  token.name = "deploy";
  token.description = "d";
  token.principal = "team-a";
  token.creation_date = kNow - 10 * kDay;
  token.expiration_date = expiration;
  token.actions = {"workflow/read"};
  return token;
}

RotateRequest Overlap(std::int64_t seconds) {
  RotateRequest request;
  request.overlap_seconds = seconds;
  return request;
}

TEST(PlanRotationTest, CopiesTheOldTokenAndStartsOrContinuesItsFamily) {
  Result<RotationPlan> plan = PlanRotation(Old(), {}, ExpiryPolicy(), kNow);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->spec.type, TokenType::kTeam);
  EXPECT_EQ(plan->spec.name, "deploy");
  EXPECT_EQ(plan->spec.description, "d");
  EXPECT_EQ(plan->spec.principal, "team-a");
  EXPECT_EQ(plan->spec.actions, std::vector<std::string>{"workflow/read"});
  EXPECT_EQ(plan->spec.expiration_date, std::nullopt);
  EXPECT_EQ(plan->family_id, Old().id);
  EXPECT_FALSE(plan->keep_old);
  EXPECT_EQ(plan->overlap_end, kNow);
  EXPECT_TRUE(plan->retire_secret);

  Token later = Old();
  later.family_id = "65f0a1b2c3d4e5f600000001";
  EXPECT_EQ(PlanRotation(later, {}, ExpiryPolicy(), kNow)->family_id, *later.family_id);
}

TEST(PlanRotationTest, InheritsTheLifetimeClampedToThePolicy) {
  const Token old = Old(kNow + 20 * kDay);  // a 30-day lifetime
  EXPECT_EQ(PlanRotation(old, {}, ExpiryPolicy(), kNow)->spec.expiration_date, kNow + 30 * kDay);
  auto policy = ExpiryPolicy::Parse({"team=7d"}, {});
  ASSERT_TRUE(policy.ok());
  EXPECT_EQ(PlanRotation(old, {}, *policy, kNow)->spec.expiration_date, kNow + 7 * kDay);
  RotateRequest too_late;
  too_late.expiration_date = kNow + 8 * kDay;
  EXPECT_EQ(PlanRotation(old, too_late, *policy, kNow).status().code(),
            StatusCode::kInvalidArgument);
  auto with_default = ExpiryPolicy::Parse({}, {"team=1d"});
  ASSERT_TRUE(with_default.ok());
  EXPECT_EQ(PlanRotation(Old(), {}, *with_default, kNow)->spec.expiration_date, kNow + kDay);
}

TEST(PlanRotationTest, TheOverlapShortensTheOldTokenAndDecidesRetirement) {
  Result<RotationPlan> plan = PlanRotation(Old(), Overlap(60), ExpiryPolicy(), kNow);
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->keep_old);
  EXPECT_EQ(plan->old_expiration, kNow + 60'000);
  EXPECT_TRUE(plan->retire_secret);

  plan = PlanRotation(Old(kNow + 30'000), Overlap(60), ExpiryPolicy(), kNow);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->old_expiration, kNow + 30'000) << "its own expiry comes first";
  EXPECT_FALSE(plan->retire_secret) << "then it just expires: never a reuse";

  plan = PlanRotation(Old(kNow + 60'000), Overlap(60), ExpiryPolicy(), kNow);
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->retire_secret) << "equal: its own expiry ends it too";
}

TEST(PlanRotationTest, RefusesBadOverlapsExpiredAndRotatingTokens) {
  for (std::int64_t seconds : {std::int64_t{-1}, kMaxRotationOverlapSeconds + 1}) {
    Status refused = PlanRotation(Old(), Overlap(seconds), ExpiryPolicy(), kNow).status();
    EXPECT_EQ(refused.api_error(), ApiError::kTokenInvalidRequest);
    EXPECT_NE(refused.message().find("overlapSeconds"), std::string::npos);
  }
  EXPECT_EQ(PlanRotation(Old(kNow), {}, ExpiryPolicy(), kNow).status().api_error(),
            ApiError::kTokenExpired);
  // Whether a newer token still replaces it is the store's to say.
  Token rotating = Old(kNow + 1000);
  rotating.rotated_to = "65f0a1b2c3d4e5f600000002";
  EXPECT_TRUE(PlanRotation(rotating, {}, ExpiryPolicy(), kNow).ok());
  const Status pending = RotationPending(rotating.id, *rotating.rotated_to);
  EXPECT_EQ(pending.api_error(), ApiError::kRotationPending);
  EXPECT_NE(pending.message().find("rotate the newer token instead"), std::string::npos);
  RotateRequest past;
  past.expiration_date = kNow;
  EXPECT_EQ(PlanRotation(Old(), past, ExpiryPolicy(), kNow).status().api_error(),
            ApiError::kTokenInvalidRequest);
}

}  // namespace
}  // namespace tokend::core
