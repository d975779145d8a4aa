#include "core/webhook_retry.h"

#include <algorithm>

namespace tokend::core {

std::int64_t WebhookRetryDelayMillis(const WebhookRetryPolicy& policy, int retry,
                                     double random_unit) {
  std::int64_t delay = std::max<std::int64_t>(policy.base_delay_millis, 1);
  // Doubling stops at the cap, so the shift can never overflow.
  for (int i = 1; i < retry && delay < policy.max_delay_millis; ++i) delay *= 2;
  delay = std::min(delay, policy.max_delay_millis);
  const double unit = std::clamp(random_unit, 0.0, 1.0);
  const double jitter = std::clamp(policy.jitter_fraction, 0.0, 1.0);
  return delay + static_cast<std::int64_t>(static_cast<double>(delay) * jitter * unit);
}

std::optional<EpochMillis> NextWebhookAttempt(const WebhookRetryPolicy& policy,
                                              EpochMillis queued_at, int attempts, EpochMillis now,
                                              double random_unit) {
  const EpochMillis next =
      now + WebhookRetryDelayMillis(policy, std::max(attempts, 1), random_unit);
  if (next - queued_at > policy.give_up_after_millis) return std::nullopt;
  return next;
}

}  // namespace tokend::core
