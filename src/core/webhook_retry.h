// When a webhook delivery is tried again and when it is given up (API 8.2).
// Pure: the caller passes the clock and the random number.
#pragma once

#include <cstdint>
#include <optional>

#include "core/time.h"

namespace tokend::core {

struct WebhookRetryPolicy {
  // The delay before the first retry; each later one doubles, up to max.
  std::int64_t base_delay_millis = 5'000;
  std::int64_t max_delay_millis = 3'600'000;
  // A delivery whose next try would come later than this after it was
  // queued is failed instead.
  std::int64_t give_up_after_millis = 3LL * 24 * 3'600'000;
  // Each delay is stretched by up to this fraction (0.2: up to 20% longer),
  // so that many deliveries failing together do not retry together.
  double jitter_fraction = 0.2;
};

// The delay before retry number `retry` (1 for the first retry, after the
// first try failed): base * 2^(retry-1), capped at max, then stretched by
// jitter_fraction * `random_unit` (in [0, 1); values outside are clamped).
std::int64_t WebhookRetryDelayMillis(const WebhookRetryPolicy& policy, int retry,
                                     double random_unit);

// After a failed try number `attempts` (1 for the first try) of a delivery
// queued at `queued_at`, failing at `now`: the time of the next try, or
// nullopt when it would fall more than give_up_after after queued_at (the
// delivery is then failed).
std::optional<EpochMillis> NextWebhookAttempt(const WebhookRetryPolicy& policy,
                                              EpochMillis queued_at, int attempts, EpochMillis now,
                                              double random_unit);

// Whether an HTTP answer with this status counts as delivered: 2xx only.
// Redirects (3xx) are not followed and count as failures, like 1xx, 4xx, 5xx.
constexpr bool IsWebhookDelivered(int http_status) {
  return http_status >= 200 && http_status <= 299;
}

}  // namespace tokend::core
