#include "core/webhook_retry.h"

#include <gtest/gtest.h>

namespace tokend::core {
namespace {

constexpr std::int64_t kSecond = 1000;
constexpr std::int64_t kHour = 3600 * kSecond;
constexpr std::int64_t kDay = 24 * kHour;

TEST(WebhookRetryTest, DelaysDoubleFromFiveSecondsUpToOneHour) {
  const WebhookRetryPolicy policy;
  EXPECT_EQ(WebhookRetryDelayMillis(policy, 1, 0.0), 5 * kSecond);
  EXPECT_EQ(WebhookRetryDelayMillis(policy, 2, 0.0), 10 * kSecond);
  EXPECT_EQ(WebhookRetryDelayMillis(policy, 3, 0.0), 20 * kSecond);
  EXPECT_EQ(WebhookRetryDelayMillis(policy, 10, 0.0), 2560 * kSecond);
  EXPECT_EQ(WebhookRetryDelayMillis(policy, 11, 0.0), kHour);
  EXPECT_EQ(WebhookRetryDelayMillis(policy, 1000, 0.0), kHour);
  EXPECT_EQ(WebhookRetryDelayMillis(policy, 0, 0.0), 5 * kSecond);
}

TEST(WebhookRetryTest, JitterStretchesADelayByAtMostItsFraction) {
  const WebhookRetryPolicy policy;
  EXPECT_EQ(WebhookRetryDelayMillis(policy, 1, 0.5), 5 * kSecond + kSecond / 2);
  EXPECT_LE(WebhookRetryDelayMillis(policy, 1, 0.999), 6 * kSecond);
  EXPECT_EQ(WebhookRetryDelayMillis(policy, 1, 7.0), 6 * kSecond);   // clamped
  EXPECT_EQ(WebhookRetryDelayMillis(policy, 1, -1.0), 5 * kSecond);  // clamped
  EXPECT_LE(WebhookRetryDelayMillis(policy, 50, 0.999), kHour + kHour / 5);
}

TEST(WebhookRetryTest, ARetryIsScheduledFromTheFailedTry) {
  const WebhookRetryPolicy policy;
  const EpochMillis queued = 1'000'000;
  EXPECT_EQ(NextWebhookAttempt(policy, queued, 1, queued + 100, 0.0), queued + 100 + 5 * kSecond);
  EXPECT_EQ(NextWebhookAttempt(policy, queued, 3, queued + kHour, 0.0),
            queued + kHour + 20 * kSecond);
}

TEST(WebhookRetryTest, GivesUpWhenTheNextTryWouldBeMoreThanThreeDaysAfterQueueing) {
  const WebhookRetryPolicy policy;
  const EpochMillis queued = 1'000'000;
  // An hour's delay from two days and 23 hours: exactly three days, still tried.
  EXPECT_EQ(NextWebhookAttempt(policy, queued, 40, queued + 3 * kDay - kHour, 0.0),
            queued + 3 * kDay);
  EXPECT_EQ(NextWebhookAttempt(policy, queued, 40, queued + 3 * kDay - kHour + 1, 0.0),
            std::nullopt);
  EXPECT_EQ(NextWebhookAttempt(policy, queued, 2, queued + 4 * kDay, 0.0), std::nullopt);
}

TEST(WebhookRetryTest, AShortPolicyForTestsFollowsTheSameRules) {
  WebhookRetryPolicy policy;
  policy.base_delay_millis = 100;
  policy.max_delay_millis = 400;
  policy.give_up_after_millis = 1000;
  EXPECT_EQ(WebhookRetryDelayMillis(policy, 4, 0.0), 400);
  EXPECT_EQ(NextWebhookAttempt(policy, 0, 1, 901, 0.0), std::nullopt);
  EXPECT_EQ(NextWebhookAttempt(policy, 0, 1, 800, 0.0), 900);
}

TEST(WebhookRetryTest, OnlyTwoHundredsCountAsDelivered) {
  EXPECT_TRUE(IsWebhookDelivered(200));
  EXPECT_TRUE(IsWebhookDelivered(204));
  EXPECT_TRUE(IsWebhookDelivered(299));
  EXPECT_FALSE(IsWebhookDelivered(100));
  EXPECT_FALSE(IsWebhookDelivered(301));
  EXPECT_FALSE(IsWebhookDelivered(302));
  EXPECT_FALSE(IsWebhookDelivered(307));
  EXPECT_FALSE(IsWebhookDelivered(308));
  EXPECT_FALSE(IsWebhookDelivered(404));
  EXPECT_FALSE(IsWebhookDelivered(500));
}

}  // namespace
}  // namespace tokend::core
