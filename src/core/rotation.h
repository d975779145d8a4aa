// Rotation (API 7.3 and 8.4): what rotating a token does, decided from the
// old token, the request and the expiry policy alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/create_request.h"
#include "core/expiry_policy.h"
#include "core/status.h"
#include "core/time.h"
#include "core/token.h"

namespace tokend::core {

// A rotate request as decoded from its (optional) JSON body.
struct RotateRequest {
  std::optional<EpochMillis> expiration_date;   // null or absent: inherited
  std::optional<std::int64_t> overlap_seconds;  // null or absent: 0
};

// Everything a rotation changes, for the store to apply in one transaction.
struct RotationPlan {
  NewTokenSpec spec;        // the new token's fields (its id and secret are minted later)
  std::string family_id;    // the new token's family: the old one's
  EpochMillis overlap_end;  // now + overlapSeconds
  bool keep_old = false;    // overlapSeconds > 0: the old token validates until overlap_end
  // When kept: the old token's new expirationDate, the earlier of its own
  // and overlap_end.
  std::optional<EpochMillis> old_expiration;
  // True when the rotation is what ends the old secret's validity (its own
  // expirationDate is null or later than overlap_end); only then is the
  // secret remembered for reuse detection (a secret whose overlap its own
  // expiry cut short is just expired, never reused).
  bool retire_secret = false;
};

// The refusal to rotate a token that a newer token of its family replaces
// (409): the store decides it, since only the store knows whether the token
// rotated_to names, or one after it, still exists.
Status RotationPending(std::string_view old_id, std::string_view newer_id);

// The plan for rotating `old` at `now` (a pending rotation is the store's
// to refuse, see RotationPending):
// - overlapSeconds outside 0..kMaxRotationOverlapSeconds: InvalidArgument
//   (1010) naming the field;
// - an expired old token: kTokenExpired (409);
// - a given expirationDate not in the future or past kMaxExpirationDate: the
//   400s of create; beyond the policy's maximum: the 400 of create;
// - without one, the old token's lifetime (expirationDate - creationDate)
//   from now, clamped to the policy's maximum; an old token without expiry
//   gives the new one none, which the policy then fills as on create.
Result<RotationPlan> PlanRotation(const Token& old, const RotateRequest& request,
                                  const ExpiryPolicy& policy, EpochMillis now);

}  // namespace tokend::core
