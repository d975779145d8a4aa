#include "core/audit.h"

#include <algorithm>
#include <utility>

#include "core/expiry_policy.h"
#include "core/object_id.h"
#include "core/secret.h"

namespace tokend::core {

namespace {

constexpr std::string_view kActionNames[] = {
    "token.created",        "token.deleted",  "token.revoked", "token.rotated",
    "token.reuse_detected", "token.expiring", "token.expired"};

constexpr std::int64_t kMillisPerSecond = 1000;
constexpr std::int64_t kMillisPerDay = 86400 * kMillisPerSecond;

}  // namespace

std::string_view ToString(AuditAction action) {
  return kActionNames[static_cast<std::size_t>(action)];
}

std::optional<AuditAction> ParseAuditAction(std::string_view text) {
  for (AuditAction action : kAllAuditActions) {
    if (ToString(action) == text) return action;
  }
  return std::nullopt;
}

EventSubject EventSubject::Of(const Token& token) {
  return EventSubject{token.id, token.type, token.principal, token.name};
}

EventOrigin EventOrigin::Of(const Caller& caller) {
  EventOrigin origin;
  if (!caller.token_id.empty()) {
    std::optional<std::string> principal;
    if (caller.scope != TokenType::kGlobal) principal = caller.principal;
    origin.actor = EventActor{caller.token_id, caller.scope, std::move(principal)};
  } else if (caller.presented) {
    const Token& token = *caller.presented;
    std::optional<std::string> principal;
    if (token.type != TokenType::kGlobal) principal = token.principal;
    origin.actor = EventActor{token.id, token.type, std::move(principal)};
  }
  origin.remote_address = caller.remote_address;
  return origin;
}

AuditEvent MakeEvent(AuditAction action, const Token& subject, const EventOrigin& origin,
                     EpochMillis now) {
  AuditEvent event;
  event.id = NewObjectId(now);
  event.time = now;
  event.action = action;
  event.subject = EventSubject::Of(subject);
  event.origin = origin;
  return event;
}

std::string ChainHash(std::string_view previous_hash, std::string_view canonical_json) {
  std::string input;
  input.reserve(previous_hash.size() + canonical_json.size());
  input.append(previous_hash);
  input.append(canonical_json);
  return HashSecret(input);
}

Result<NoticeThresholds> NoticeThresholds::Parse(std::string_view text) {
  NoticeThresholds thresholds;
  if (text.empty()) return thresholds;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = text.find(',', start);
    const std::string_view item = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    Result<std::int64_t> seconds = ParseDurationSeconds(item);
    if (!seconds.ok()) {
      return Status::InvalidArgument("--expiry-notice: " + seconds.status().message());
    }
    thresholds.seconds.push_back(*seconds);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  std::sort(thresholds.seconds.begin(), thresholds.seconds.end(), std::greater<>());
  thresholds.seconds.erase(std::unique(thresholds.seconds.begin(), thresholds.seconds.end()),
                           thresholds.seconds.end());
  return thresholds;
}

std::optional<AuditEvent> CreationNotice(const Token& token, const NoticeThresholds& thresholds,
                                         EpochMillis now) {
  if (!token.expiration_date || *token.expiration_date <= now) return std::nullopt;
  const std::int64_t remaining = *token.expiration_date - now;
  std::optional<std::int64_t> nearest;
  for (std::int64_t seconds : thresholds.seconds) {
    if (seconds * kMillisPerSecond >= remaining) nearest = seconds;  // descending: last is nearest
  }
  if (!nearest) return std::nullopt;
  return MakeNoticeEvent(token, *nearest, now);
}

bool NoticeFallsToThisThreshold(EpochMillis expiration, EpochMillis now,
                                std::span<const ThresholdProgress> smaller) {
  for (const ThresholdProgress& threshold : smaller) {
    const EpochMillis crossing = expiration - threshold.seconds * kMillisPerSecond;
    if (crossing <= now && crossing > threshold.done_until) return false;
  }
  return true;
}

AuditEvent MakeNoticeEvent(const Token& token, std::int64_t threshold_seconds, EpochMillis now) {
  AuditEvent event =
      MakeEvent(threshold_seconds == 0 ? AuditAction::kExpired : AuditAction::kExpiring, token,
                EventOrigin::System(), now);
  const EpochMillis expiration = token.expiration_date.value_or(now);
  const std::int64_t days = std::max<std::int64_t>(0, (expiration - now) / kMillisPerDay);
  event.details.push_back({"expirationDate", FormatSpringDate(expiration)});
  event.details.push_back({"daysRemaining", days});
  return event;
}

}  // namespace tokend::core
