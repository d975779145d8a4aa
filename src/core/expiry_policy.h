// The expiry policy (API section 7.2): per-type maximum and default
// lifetimes of new tokens, the durations they are written in, and the rule
// that applies them on create.
#pragma once

#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/time.h"
#include "core/token.h"

namespace tokend::core {

// The longest duration a policy accepts: 3650000 days (about 10000 years),
// so that every sum with a date stays far inside 64-bit milliseconds.
inline constexpr std::int64_t kMaxDurationSeconds = std::int64_t{3650000} * 86400;

// Figures the policy route reports beside the lifetimes: the most
// --last-used-resolution may be (the contract's lag bound for lastUsedDate;
// the route reports the value in force), and the longest rotation overlap.
inline constexpr std::int64_t kLastUsedResolutionSeconds = 60;
inline constexpr std::int64_t kMaxRotationOverlapSeconds = 604800;

// "N{s,m,h,d}": a whole number of at least 1 (decimal digits only, no sign)
// followed by one unit letter, at most kMaxDurationSeconds. The number of
// seconds; InvalidArgument quoting the text otherwise.
Result<std::int64_t> ParseDurationSeconds(std::string_view text);

// The shortest exact spelling of a number of seconds: 7776000 -> "90d",
// 43200 -> "12h", 90 -> "90s".
std::string FormatDuration(std::int64_t seconds);

// The limits in force for one type; either may be absent.
struct LifetimeLimits {
  std::optional<std::int64_t> max_seconds;
  std::optional<std::int64_t> default_seconds;

  bool empty() const { return !max_seconds && !default_seconds; }
  bool operator==(const LifetimeLimits&) const = default;
};

// Per-type maximum and default lifetimes, each with an all-types fallback:
// a type's own value wins over the bare one. Immutable once built.
class ExpiryPolicy {
 public:
  // No limits at all: every token may live forever, no date is filled in.
  ExpiryPolicy() = default;

  // Builds a policy from "[TYPE=]DURATION" settings (--max-lifetime and
  // --default-lifetime, each list in order). Blank settings are skipped.
  // InvalidArgument naming the flag and the setting for: an unknown type, a
  // bad duration, the same type (or the bare value) set twice, and a default
  // longer than the maximum in force for its type.
  static Result<ExpiryPolicy> Parse(const std::vector<std::string>& max_settings,
                                    const std::vector<std::string>& default_settings);

  // The limits in force for `type`.
  LifetimeLimits For(TokenType type) const;

  // True when no type has any limit.
  bool empty() const;

  // Every type with a maximum, and that maximum in milliseconds, in
  // kAllTokenTypes order (what the lifetimeBeyondPolicy filter needs).
  std::vector<std::pair<TokenType, std::int64_t>> MaxLifetimeMillis() const;

  bool operator==(const ExpiryPolicy&) const = default;

 private:
  static constexpr std::size_t kTypes = std::size(kAllTokenTypes);
  std::optional<std::int64_t> any_max_;
  std::optional<std::int64_t> any_default_;
  std::optional<std::int64_t> max_[kTypes];
  std::optional<std::int64_t> default_[kTypes];
};

// The expirationDate a new token of `type` gets at `now` when its request
// asked for `requested` (nullopt: missing or null):
// - with a maximum in force, a requested date later than now + maximum is
//   InvalidArgument (1010) naming the type, the maximum and the latest date
//   allowed;
// - a missing date becomes now + the default lifetime, else now + the
//   maximum, else stays missing.
// Filled dates are capped at kMaxExpirationDate (create_request.h).
Result<std::optional<EpochMillis>> ApplyExpiryPolicy(const ExpiryPolicy& policy, TokenType type,
                                                     std::optional<EpochMillis> requested,
                                                     EpochMillis now);

}  // namespace tokend::core
