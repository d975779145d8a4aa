#include "core/rotation.h"

#include <algorithm>
#include <string>

namespace tokend::core {

Status RotationPending(std::string_view old_id, std::string_view newer_id) {
  return Status::Error(ApiError::kRotationPending,
                       "Token " + std::string(old_id) + " is being replaced by token " +
                           std::string(newer_id) +
                           " (its rotation overlap runs); rotate the newer token instead.");
}

Result<RotationPlan> PlanRotation(const Token& old, const RotateRequest& request,
                                  const ExpiryPolicy& policy, EpochMillis now) {
  const std::int64_t overlap_seconds = request.overlap_seconds.value_or(0);
  if (overlap_seconds < 0 || overlap_seconds > kMaxRotationOverlapSeconds) {
    return InvalidCreateRequest(
        "Field 'overlapSeconds' must be a whole number of seconds from 0 to " +
        std::to_string(kMaxRotationOverlapSeconds) + ".");
  }
  if (!old.IsValidAt(now)) {
    return Status::Error(ApiError::kTokenExpired,
                         "Token " + old.id + " has expired; an expired token cannot be rotated.");
  }
  std::optional<EpochMillis> expiration = request.expiration_date;
  if (expiration) {
    if (*expiration <= now)
      return InvalidCreateRequest("Field 'expirationDate' must be in the future.");
    if (*expiration > kMaxExpirationDate) {
      return InvalidCreateRequest(
          "Field 'expirationDate' must be before 10000-01-01T00:00:00.000+00:00.");
    }
  } else if (old.expiration_date) {
    // Lifetimes are bounded by kMaxExpirationDate, so the sum cannot overflow.
    const std::int64_t lifetime =
        std::max<std::int64_t>(0, *old.expiration_date - old.creation_date);
    EpochMillis inherited = std::min(now + lifetime, kMaxExpirationDate);
    if (const std::optional<std::int64_t> max = policy.For(old.type).max_seconds) {
      inherited = std::min(inherited, now + *max * 1000);
    }
    expiration = inherited;
  }
  Result<std::optional<EpochMillis>> applied = ApplyExpiryPolicy(policy, old.type, expiration, now);
  if (!applied.ok()) return applied.status();

  RotationPlan plan;
  plan.spec.type = old.type;
  plan.spec.name = old.name;
  plan.spec.description = old.description;
  plan.spec.principal = old.principal;
  plan.spec.actions = old.actions;
  plan.spec.expiration_date = *applied;
  plan.family_id = old.Family();
  plan.overlap_end = now + overlap_seconds * 1000;
  plan.keep_old = overlap_seconds > 0;
  if (plan.keep_old) {
    plan.old_expiration =
        old.expiration_date ? std::min(*old.expiration_date, plan.overlap_end) : plan.overlap_end;
  }
  plan.retire_secret = !old.expiration_date || *old.expiration_date > plan.overlap_end;
  return plan;
}

}  // namespace tokend::core
