// TokenStore: the one storage interface. Every backend (SQLite file, SQLite
// in memory, PostgreSQL) implements this contract and passes the same
// contract test suite (tests/store/token_store_contract_test.cc).
//
// Thread safety: every method may be called concurrently from any thread.
// Every method may block (disk, network); callers keep them off I/O threads.
// Errors: a store that cannot be reached, a full disk or a read-only file is
// Unavailable; nothing a caller passes makes a method return Internal.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/audit.h"
#include "core/authz.h"
#include "core/query.h"
#include "core/status.h"
#include "core/token.h"

namespace tokend::store {

using core::Result;
using core::Status;

struct TokenPage {
  std::vector<core::Token> tokens;
  std::int64_t total = -1;  // exact count of all matches; -1 when not asked for
};

// One recorded use of a token: its id and when (epoch milliseconds).
struct TokenUse {
  std::string id;
  core::EpochMillis at = 0;
};

// Told about deletions so that caches can drop entries. Methods are called on
// a store thread and must not block or call back into the store.
class ChangeListener {
 public:
  virtual ~ChangeListener() = default;
  // A token was deleted, through this process or another sharing the store.
  virtual void OnTokenDeleted(std::string_view id) = 0;
  // healthy=false: deletions made by other instances may be missed from now
  // on (notification channel down); true again once they will be heard and
  // everything missed meanwhile must be assumed deleted.
  virtual void OnFeedHealthChanged(bool healthy) = 0;
  // lagging=true: the feed is up but has not proved for a moment that every
  // deletion made elsewhere has reached this process (a stalled connection):
  // answers must not rely on it; false once it has (every deletion before
  // then delivered through OnTokenDeleted first).
  virtual void OnFeedLagging(bool lagging) = 0;
  // The feed vouches until `until` that every deletion made elsewhere before
  // has reached OnTokenDeleted; told again as each of its round trips
  // completes. A store whose only writer is this process never calls it.
  virtual void OnFeedFreshUntil(std::chrono::steady_clock::time_point /*until*/) {}
  // A rotation overlap, of this process or another sharing the store, ends
  // at `end`: the old token is gone from then on. A store whose only writer
  // is this process never calls it (every overlap is its own).
  virtual void OnOverlapStarted(core::EpochMillis /*end*/) {}
};

// A secret rotated away (API 7.3), remembered by its hash for reuse
// detection until forget_after.
struct RetiredSecret {
  std::string secret_hash;
  std::string token_id;  // the token the secret belonged to
  // That token's type, principal and name: the subject of the
  // token.reuse_detected event when the secret comes back.
  core::TokenType token_type = core::TokenType::kGlobal;
  std::optional<std::string> principal;
  std::string name;
  std::string family_id;  // its rotation family
  core::EpochMillis overlap_end = 0;
  core::EpochMillis forget_after = 0;
  std::optional<core::EpochMillis> reuse_detected_at;  // null: no reuse acted on yet

  bool operator==(const RetiredSecret&) const = default;
};

// What a secret hash names: a stored token, a retired secret, either, both
// (a token whose overlap runs, or ended but is not swept yet) or neither.
struct SecretLookup {
  std::optional<core::Token> token;
  std::optional<RetiredSecret> retired;
};

// One rotation, for Rotate to apply in one transaction.
struct Rotation {
  core::Token new_token;  // complete: rotated_from and family_id set
  std::string old_id;
  // Overlap > 0: the old token is kept with rotated_to = new_token.id and
  // this expiration date; otherwise it is deleted.
  bool keep_old = false;
  std::optional<core::EpochMillis> old_expiration;
  // Written when the rotation ends the old secret's validity.
  std::optional<RetiredSecret> retired;
  // Written in the same transaction: token.rotated (subject: the old token)
  // and token.created (the new one), and any creation notice.
  std::vector<core::AuditEvent> events;
};

// What RevokeFamily did.
struct FamilyRevocation {
  // False when the retired secret's reuse was already acted on (or the
  // secret is no longer retired): nothing was changed.
  bool first_detection = false;
  std::vector<std::string> deleted;  // the ids of the tokens revoked
  // Of those, the ones that were not gone already, each given its
  // token.revoked event (a token whose overlap had ended is removed as the
  // sweep removes it, with none).
  std::int64_t revoked = 0;
};

// What SweepRotations removed.
struct SweepCounts {
  std::int64_t tokens = 0;   // old tokens whose overlap ended
  std::int64_t retired = 0;  // retired secrets past their retention
  // The earliest end of an overlap still running after the sweep (whoever
  // started it), if any: when the next sweep has work to do.
  std::optional<core::EpochMillis> next_overlap_end;
};

// The audit query's filters (limit and page are ignored: the caller passes
// limit and offset explicitly, as for Query).
using AuditQuery = core::AuditQuery;

struct AuditPage {
  // Each event as its JSON object text: the canonical JSON with "hash" added
  // as its last member (the form GET answers and webhooks carry).
  std::vector<std::string> events;
  std::int64_t total = -1;  // exact count of all matches; -1 when not asked for
};

// What `tokend audit verify` found.
struct ChainReport {
  std::int64_t chains = 0;  // writers' chains walked
  std::int64_t events = 0;  // events checked
  // Empty when every chain is whole; else the first broken link: the id of
  // the first event whose hash, link or content does not match (or, for an
  // event missing at a chain's end, the chain's last event present), and
  // why, without any hash value.
  std::string broken_event_id;
  std::string problem;

  bool ok() const { return problem.empty(); }
};

// An event waiting for delivery to one webhook URL (API 8.2).
struct Delivery {
  std::string event_id;
  std::string url;
  std::string payload;  // the webhook body: {"type", "timestamp", "data"}
  int attempts = 0;     // tries made before this one
  core::EpochMillis queued_at = 0;

  bool operator==(const Delivery&) const = default;
};

// What to do with a claimed delivery after a try.
struct DeliveryOutcome {
  enum class Kind { kDelivered, kRetry, kFailed };
  Kind kind = Kind::kDelivered;
  core::EpochMillis retry_at = 0;  // kRetry: not claimed again before
  std::string last_error;          // kRetry, kFailed: status or transport error
};

struct OutboxStats {
  std::int64_t waiting = 0;  // not delivered, not failed
  std::int64_t failed = 0;
  std::optional<core::EpochMillis> oldest_waiting;  // queued_at of the oldest waiting
};

// One scan of an expiry notice threshold (API 8.3): tokens whose crossing
// time (expiration date - threshold) lies after the threshold's last scan
// and at or before `until`.
struct NoticeScan {
  std::int64_t threshold_seconds = 0;  // 0: token.expired
  // Every smaller threshold, from the largest down, 0 (expiry) last: a token
  // already inside one at `now` whose scan will still tell it gets that
  // notice instead (core::NoticeFallsToThisThreshold). Empty for
  // token.expired.
  std::vector<std::int64_t> smaller_thresholds_seconds;
  core::EpochMillis until = 0;
  core::EpochMillis now = 0;
};

struct StoreOptions {
  int pool_size = 8;  // connections kept open (PostgreSQL) / readers (SQLite)
  int connect_timeout_seconds = 5;
  // PostgreSQL: open every pooled connection in the background as soon as
  // the store is open, each with its first statement run, so that the first
  // requests after a start do not each wait for a new connection and its
  // first plans (`tokend serve` sets it).
  bool open_pool_at_start = false;
  // Every event written is queued for delivery to each of these URLs (a
  // URL given twice, once).
  std::vector<std::string> webhook_urls;
  // False: the store is opened as it is, for a look that must change nothing
  // (an import's dry run). NotFound when the database holds no tokend store
  // yet; Unavailable (SchemaOlderThanThisTokend) when its schema
  // lacks a migration this tokend applies.
  bool migrate = true;
};

// The refusal of StoreOptions::migrate false for a store made by an older
// tokend; `display` names the store.
Status SchemaOlderThanThisTokend(std::string_view display);

class TokenStore {
 public:
  virtual ~TokenStore() = default;

  // Opens "sqlite:PATH", "sqlite::memory:" or "postgresql://..." (also
  // "postgres://"), creating and migrating the schema as needed. Any number
  // of processes may open one PostgreSQL database at once; a SQLite file is
  // used by one store at a time (one process per file; store/sqlite/
  // sqlite_store.h). InvalidArgument for an unknown scheme; AlreadyExists
  // when the SQLite file is in use by another store; Unavailable when the
  // database cannot be opened.
  static Result<std::unique_ptr<TokenStore>> Open(std::string_view url,
                                                  const StoreOptions& options = {});

  // What Open would refuse in `url` itself, without opening anything: an
  // unknown scheme, an empty SQLite path, a PostgreSQL URL libpq cannot
  // parse, a SQLite path that names something other than a readable and
  // writable file (a missing file is fine: Open creates it). Nothing is
  // created and no server is contacted (`tokend serve --check-config`).
  static Status CheckUrl(std::string_view url);

  // Stores a new token. Durable when it returns ok (a crash right after
  // cannot lose it). AlreadyExists when the id or secret_hash is taken.
  // InvalidArgument, on every backend alike, for a token no row can hold
  // (store/token_row.h: text that is not UTF-8 or holds NUL, a permission
  // that is empty or holds a space).
  //
  // Events: every change writes the events it is given (and those it makes
  // itself, said below) in its own transaction, each linked into this
  // writer's hash chain and queued for every StoreOptions::webhook_urls: no
  // change without its events, no event without its change.
  virtual Status Insert(const core::Token& token, std::span<const core::AuditEvent> events) = 0;
  // True when SubmitInsert queues the insert to a writer of the store's own
  // and returns at once (SQLite, PostgreSQL); false when it would hold the
  // calling thread for the whole insert.
  virtual bool QueuesInserts() const { return false; }
  // Insert, answered through `done` instead of waited for: called once, on
  // a writer thread of the store after the commit when QueuesInserts() (and
  // by the time the store is destroyed), else before SubmitInsert returns.
  // `token` and `events` are copied.
  virtual void SubmitInsert(const core::Token& token, std::span<const core::AuditEvent> events,
                            std::function<void(Status)> done) {
    done(Insert(token, events));
  }

  // Stores many tokens in one transaction (seeding, migrations); all or none.
  //
  // Insert, InsertMany and Delete are Unavailable when the store is no longer
  // the one configured (its SQLite file was removed or replaced): what they
  // wrote would not be there after a restart.
  virtual Status InsertMany(std::span<const core::Token> tokens) = 0;

  // NotFound when no token has this id (any text is accepted as an id).
  virtual Result<core::Token> FindById(std::string_view id) = 0;

  // NotFound when no token has this hash. Expired tokens are returned too.
  virtual Result<core::Token> FindBySecretHash(std::string_view secret_hash) = 0;

  // Deletes by id; NotFound when absent. Listeners hear of it before this
  // returns, and other instances sharing the store soon after.
  virtual Status Delete(std::string_view id, std::span<const core::AuditEvent> events) = 0;

  // Deletes every token matching `query`'s filters (types, principals,
  // from/to dates, last-used dates, lifetime beyond policy; sort, order,
  // limit and page are ignored) and `visibility`,
  // expired ones included, in one transaction: all of them or, on any error,
  // none. Returns the deleted ids (in no particular order; empty when nothing
  // matched). Listeners hear of every one before this returns, and other
  // instances sharing the store soon after, as for Delete. Unavailable as
  // for Delete.
  // Writes a token.revoked event (reason "bulk", `origin`, `now`) for each.
  virtual Result<std::vector<std::string>> DeleteMatching(const core::TokenQuery& query,
                                                          const core::Visibility& visibility,
                                                          const core::EventOrigin& origin,
                                                          core::EpochMillis now) = 0;

  // The tokens matching `query`'s filters (types, principals, from/to dates,
  // last-used dates, lifetime beyond policy) and `visibility`, ordered by query.sort/query.order
  // with ties broken on id in the same direction (strings compare as UTF-8 bytes; nulls first in
  // ASC, last in DESC), skipping `offset` rows and returning at most `limit`. When `count_total`,
  // page.total is the exact number of matches (ignoring limit/offset). query.limit and query.page
  // are ignored: the caller passes limit and offset explicitly.
  virtual Result<TokenPage> Query(const core::TokenQuery& query, const core::Visibility& visibility,
                                  std::int64_t limit, std::int64_t offset, bool count_total) = 0;

  // Number of stored tokens of each type (types with none may be omitted).
  virtual Result<std::vector<std::pair<core::TokenType, std::int64_t>>> CountByType() = 0;

  // Ok when the store answers a trivial query and still takes writes.
  virtual Status Ping() = 0;

  // Brings what the store's planner knows up to date after a bulk load (an
  // import), so that the first queries run as fast as later ones instead of
  // waiting for the database's own background upkeep. May take a while on a
  // large store; changes no data. Nothing to do by default: SQLite reads no
  // visibility information, and tokend's queries name their indexes' order
  // whatever its statistics say.
  virtual Status AfterBulkLoad() { return Status::Ok(); }

  // Registers the (single) listener; nullptr unregisters. The listener must
  // outlive the store or be unregistered first.
  virtual void SetChangeListener(ChangeListener* listener) = 0;

  // True when other processes may share this store (so deletions may happen
  // elsewhere and are announced through the listener's feed).
  virtual bool IsShared() const = 0;

  // Stores each of `tokens` whose id and secret_hash are both unused, by the
  // store, by the tokens before it in `tokens` and by every token an earlier
  // call met, and skips the others (an import that may meet what it already
  // brought in; a token it brought in and that was deleted since, revoked or
  // rotated away, stays gone). Every token it meets is remembered. One transaction: on any
  // error none is stored. Returns how many were stored. InvalidArgument,
  // before anything is written, for a token no row can hold (as for
  // InsertMany); Unavailable as for InsertMany.
  // events[i] (when events is not empty: one per token) is written when
  // tokens[i] is stored.
  virtual Result<std::int64_t> InsertAbsent(std::span<const core::Token> tokens,
                                            std::span<const core::AuditEvent> events) = 0;
  // Whether an earlier InsertAbsent met a token with this id or this secret
  // hash (stored or skipped), so that it would skip such a token now
  // whether or not the store still holds it.
  virtual Result<bool> KnownToImports(std::string_view id, std::string_view secret_hash) = 0;
  // Records uses, in one transaction: each token's last_used_date becomes the
  // newest of its stored value and the uses given for it (an older use never
  // overwrites a newer one, from this process or another sharing the store).
  // Ids that name no token (deleted meanwhile, or never valid) are skipped
  // silently. A use changes no token's validity: listeners hear nothing.
  // Durable when it returns ok. Unavailable as for Delete; on error nothing
  // is recorded.
  virtual Status RecordUses(std::span<const TokenUse> uses) = 0;
  // Rotation (API 7.3). In one transaction: inserts rotation.new_token;
  // deletes the old token, or (keep_old) sets its rotated_to and expiration
  // date; writes rotation.retired when given. Only while the old token exists
  // with rotated_to null: NotFound when it does not exist, kRotationPending
  // (409) when it is being rotated already; AlreadyExists when the new id or
  // hash is taken (nothing changed then). Listeners hear the old id as
  // deleted (caches drop it: it is gone or its expiry changed) before this
  // returns, and other instances soon after. Unavailable as for Delete.
  virtual Status Rotate(const Rotation& rotation) = 0;

  // The token and the retired secret with this hash, in one lookup; neither
  // is an empty answer, not an error. Expired tokens are returned too.
  virtual Result<SecretLookup> LookupSecret(std::string_view secret_hash) = 0;

  // False only when LookupSecret(secret_hash) would certainly find neither a
  // token nor a retired secret: a store that sees every write to its data
  // (one process per SQLite file) answers this from memory, without I/O,
  // so a flood of well-formed unknown secrets costs no lookups. True when in
  // doubt; a store shared with other processes (PostgreSQL) always answers
  // true. Never blocks on I/O. Thread-safe.
  virtual bool MayHoldSecret(std::string_view secret_hash) const {
    (void)secret_hash;
    return true;
  }

  // LookupSecret, when the store can do it at once on the calling thread
  // without waiting for a connection or a server round trip (SQLite with an
  // idle reader: in WAL mode a read never waits for the writer); nullopt
  // otherwise, and then the caller uses LookupSecret on a thread that may
  // wait. The read itself may touch the disk. Thread-safe.
  virtual std::optional<Result<SecretLookup>> TryLookupSecret(std::string_view secret_hash) {
    (void)secret_hash;
    return std::nullopt;
  }

  // Reuse of the retired secret `secret_hash` of family `family_id`, in one
  // transaction: marks the secret's reuse_detected_at = now (when not marked
  // yet) and deletes every token whose id or family_id is `family_id`.
  // Nothing changes when the secret is not retired or was marked already
  // (first_detection false). Listeners hear of every deleted id as for
  // DeleteMatching. On a first detection, writes token.reuse_detected (the
  // retired token as subject) and token.revoked (reason "reuse") for each
  // deleted token, all system events at `now`.
  virtual Result<FamilyRevocation> RevokeFamily(std::string_view family_id,
                                                std::string_view secret_hash,
                                                core::EpochMillis now) = 0;

  // Deletes the old tokens of rotations whose overlap ended (rotated_to set,
  // expiration date at or before `now`; listeners hear of them as deleted)
  // and the retired secrets whose forget_after is at or before `now`.
  virtual Result<SweepCounts> SweepRotations(core::EpochMillis now) = 0;

  // Expiry notices (API 8.3), in one transaction: claims the window of
  // `scan.threshold_seconds` (from its last scan to scan.until; a threshold
  // never scanned before starts at scan.until, so nothing before is notified)
  // and writes core::MakeNoticeEvent(token, threshold, scan.now) for every
  // token expiring in that window that is not rotated away (rotated_to null)
  // and, for a threshold > 0, was created before crossing it and falls to
  // this threshold rather than to one of scan.smaller_thresholds_seconds
  // (core::NoticeFallsToThisThreshold, with their scans' progress; one never
  // scanned counts as scanned up to scan.until). A window is claimed once
  // across every instance sharing the store. Returns how many events it wrote.
  virtual Result<std::int64_t> RecordExpiryNotices(const NoticeScan& scan) = 0;

  // The audit trail (API 8.1): the events matching `query` whose subject
  // `visibility` covers, ordered by time then id (query.ascending), skipping
  // `offset` and returning at most `limit`.
  virtual Result<AuditPage> QueryAudit(const AuditQuery& query, const core::Visibility& visibility,
                                       std::int64_t limit, std::int64_t offset,
                                       bool count_total) = 0;

  // Removes the events older than `before` (retention), keeping every chain
  // verifiable. Returns how many were removed.
  virtual Result<std::int64_t> PruneAudit(core::EpochMillis before) = 0;

  // Walks every writer's chain (`tokend audit verify`). Events older than
  // `removable_before` may be missing from the head of a chain (retention);
  // a younger one missing is a break.
  virtual Result<ChainReport> VerifyAudit(core::EpochMillis removable_before) = 0;

  // Webhook outbox (API 8.2). Claims up to `max` deliveries due at `now`
  // (not failed, retry time reached, not claimed by anyone until now) for
  // `lease_millis`: no other instance claims them meanwhile. Oldest first.
  // Deliveries to `skipped_urls` stay where they are, for a later claim (the
  // caller's tries to those receivers are at their limit).
  virtual Result<std::vector<Delivery>> ClaimDeliveries(
      core::EpochMillis now, std::int64_t lease_millis, int max,
      const std::vector<std::string>& skipped_urls) = 0;

  // Ends a claimed try: delivered (removed from the outbox), retry later
  // (attempts + 1, released until retry_at) or failed (kept, never claimed
  // again).
  virtual Status FinishDelivery(const Delivery& delivery, const DeliveryOutcome& outcome) = 0;

  virtual Result<OutboxStats> GetOutboxStats() = 0;
};

}  // namespace tokend::store
