// Audit events (API 8): the record of every change to a token, the rules of
// expiry notices and the tamper-evident chain that links events together.
// Pure data and rules; the store renders and writes events, the service
// decides which ones a change makes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/authz.h"
#include "core/status.h"
#include "core/time.h"
#include "core/token.h"

namespace tokend::core {

enum class AuditAction {
  kCreated,        // token.created
  kDeleted,        // token.deleted (DELETE /api/v2/token/{id})
  kRevoked,        // token.revoked, reason "reported", "bulk" or "reuse"
  kRotated,        // token.rotated (subject: the old token)
  kReuseDetected,  // token.reuse_detected (subject: the presented retired token)
  kExpiring,       // token.expiring (8.3)
  kExpired,        // token.expired (8.3)
};

inline constexpr AuditAction kAllAuditActions[] = {
    AuditAction::kCreated, AuditAction::kDeleted,       AuditAction::kRevoked,
    AuditAction::kRotated, AuditAction::kReuseDetected, AuditAction::kExpiring,
    AuditAction::kExpired};

// "token.created", ...
std::string_view ToString(AuditAction action);
// Exact, case-sensitive; nullopt for anything else.
std::optional<AuditAction> ParseAuditAction(std::string_view text);

// The reasons of token.revoked.
inline constexpr std::string_view kReasonReported = "reported";
inline constexpr std::string_view kReasonBulk = "bulk";
inline constexpr std::string_view kReasonReuse = "reuse";

// The token an event is about.
struct EventSubject {
  std::string id;
  TokenType type = TokenType::kGlobal;
  std::optional<std::string> principal;  // null for global tokens
  std::string name;

  static EventSubject Of(const Token& token);
  bool operator==(const EventSubject&) const = default;
};

// The token that made a change.
struct EventActor {
  std::string id;
  TokenType type = TokenType::kGlobal;
  std::optional<std::string> principal;  // null for a global caller

  bool operator==(const EventActor&) const = default;
};

// Who caused a change: a caller's token and TCP peer, or the system (no
// actor, no address: notices, reuse detection, leak reports).
struct EventOrigin {
  std::optional<EventActor> actor;
  std::optional<std::string> remote_address;

  // The caller's token as actor (none for the unrestricted `--auth off`
  // caller) and its remote address.
  static EventOrigin Of(const Caller& caller);
  static EventOrigin System() { return {}; }
  bool operator==(const EventOrigin&) const = default;
};

// One member of an event's `details`: text or a whole number.
struct EventDetail {
  std::string name;
  std::variant<std::string, std::int64_t> value;

  bool operator==(const EventDetail&) const = default;
};

struct AuditEvent {
  std::string id;  // 24 lowercase hex (ObjectId); the webhook-id
  EpochMillis time = 0;
  AuditAction action = AuditAction::kCreated;
  EventSubject subject;
  EventOrigin origin;
  std::optional<std::string> reason;  // token.revoked only
  std::vector<EventDetail> details;   // in this order; empty: no `details`

  bool operator==(const AuditEvent&) const = default;
};

// A new event (fresh id) about `subject` at `now`.
AuditEvent MakeEvent(AuditAction action, const Token& subject, const EventOrigin& origin,
                     EpochMillis now);

// The hex SHA-256 "hash" of an event in its writer's chain: over the previous
// event's hash (kChainGenesis for a chain's first event) followed by the
// event's canonical JSON (everything but `hash`).
inline constexpr std::string_view kChainGenesis =
    "0000000000000000000000000000000000000000000000000000000000000000";
std::string ChainHash(std::string_view previous_hash, std::string_view canonical_json);

// Expiry notices (API 8.3). Thresholds are whole seconds before a token's
// expiration date, kept sorted from the largest down, without duplicates.
struct NoticeThresholds {
  std::vector<std::int64_t> seconds;  // descending, each >= 1

  // "7d,1d": a comma list of durations (core/expiry_policy's form: a whole
  // number >= 1 and a unit s, m, h or d); an empty list turns notices off.
  // InvalidArgument naming the bad item.
  static Result<NoticeThresholds> Parse(std::string_view text);
  bool operator==(const NoticeThresholds&) const = default;
};

// The `token.expiring` event a token gets as it is created (or rotated into
// being) already inside one or more thresholds: the nearest one, that is the
// smallest threshold at or above its remaining lifetime. nullopt when it is
// inside none, never expires or is expired already. Later crossings are found
// by the scan (store::TokenStore::RecordExpiryNotices), which skips tokens
// created inside the threshold it scans, so no notice is made twice.
std::optional<AuditEvent> CreationNotice(const Token& token, const NoticeThresholds& thresholds,
                                         EpochMillis now);

// How far the scan of a threshold smaller than the one being scanned has
// come (0 seconds: expiry itself): the crossings at or before done_until are
// behind it, and it tells the tokens that cross it later.
struct ThresholdProgress {
  std::int64_t seconds = 0;
  EpochMillis done_until = 0;
};

// Whether the scan of a threshold tells a token expiring at `expiration`
// that crossed it, scanned at `now`: not when the token is already inside a
// smaller threshold (or expired) whose own scan will still tell it, its
// crossing being after that scan's progress, so that a token gets the
// nearest notice only, however many thresholds a pause let it cross.
// `smaller`: every smaller threshold's progress (one never scanned starts at
// this round's end, which its caller gives as its done_until).
bool NoticeFallsToThisThreshold(EpochMillis expiration, EpochMillis now,
                                std::span<const ThresholdProgress> smaller);

// The `token.expiring` event for `token` crossing `threshold_seconds` (or,
// with threshold_seconds == 0, its `token.expired` event), made at `now`:
// details {expirationDate, daysRemaining} (whole days left at `now`, rounded
// down, never negative). System origin.
AuditEvent MakeNoticeEvent(const Token& token, std::int64_t threshold_seconds, EpochMillis now);

}  // namespace tokend::core
