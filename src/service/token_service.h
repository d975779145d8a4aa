// TokenService: the use cases behind every route. It validates (core),
// authorizes (core/authz), talks to the TokenStore and keeps the cache of
// resolved secrets that makes authentication and introspection cheap.
//
// Thread safety: all methods may be called concurrently. Methods documented
// as "may block" call the store; the others never block and may run on I/O
// threads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>

#include "core/audit.h"
#include "core/authz.h"
#include "core/create_request.h"
#include "core/expiry_policy.h"
#include "core/query.h"
#include "core/rotation.h"
#include "core/secret.h"
#include "core/status.h"
#include "core/time.h"
#include "core/token.h"
#include "service/outcome.h"
#include "store/token_store.h"

namespace tokend::service {

using core::Result;
using core::Status;

class SecretCache;
class UseRecorder;

struct ServiceOptions {
  bool auth_required = true;
  std::int64_t max_unpaged = 10000;     // --max-unpaged
  std::size_t cache_capacity = 100000;  // resolved secrets kept in memory; 0: none
  // --max-lifetime, --default-lifetime: applied on Create (never to
  // CreateBootstrapAdmin) and by the lifetimeBeyondPolicy query filter.
  core::ExpiryPolicy expiry_policy;
  // --last-used-resolution: how often recorded uses are written to the
  // store, in seconds (1..60); the lag bound of lastUsedDate.
  int last_used_resolution_seconds = 5;
  // --reuse-detection: a retired secret presented after its overlap revokes
  // its family (API 7.3). Retired secrets are recorded either way.
  bool reuse_detection = true;
  // --retired-retention: how long a retired secret is remembered after its
  // overlap ends.
  std::int64_t retired_retention_seconds = std::int64_t{90} * 86400;
  // How often a background thread removes ended overlaps and forgotten
  // retired secrets from the store; zero: no background thread (Get and
  // Query still sweep when an overlap this service started has ended).
  std::chrono::milliseconds rotation_sweep_interval{0};
  // --expiry-notice: the thresholds of token.expiring events (API 8.3).
  core::NoticeThresholds expiry_notices{{std::int64_t{7} * 86400, 86400}};
  // --audit-retention: events older than this are removed in the background.
  std::int64_t audit_retention_seconds = std::int64_t{365} * 86400;
  // How often a background thread scans for expiry notices (and, once an
  // hour, removes events past retention); zero: no background thread.
  std::chrono::milliseconds event_scan_interval{0};
};

struct CreatedToken {
  core::Token token;
  std::string secret;  // shown once; never logged
};

struct QueryPage {
  std::vector<core::Token> tokens;
  std::int64_t total = 0;  // exact number of matches
};

// A page of the audit trail: each event as its JSON object text.
struct AuditPage {
  std::vector<std::string> events;
  std::int64_t total = 0;  // exact number of matches
};

struct CacheStats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t invalidations = 0;
  // Store lookups that found nothing, by the presented secret's form: a
  // flood of well-formed unknown secrets (anyone can compute a checksum)
  // shows here.
  std::uint64_t unknown_checksummed = 0;
  std::uint64_t unknown_legacy = 0;
  // Retired secrets presented after their overlap, each revoking its family
  // (counted once per retired secret).
  std::uint64_t reuse_detected = 0;
};

// A secret's resolution: its active token, null when the secret is malformed,
// unknown, deleted or expired; Unavailable when the store cannot tell.
using Resolution = Result<core::SharedToken>;

class TokenService final : public store::ChangeListener {
 public:
  // `store` must outlive the service. Registers itself as the store's listener.
  TokenService(store::TokenStore& store, const ServiceOptions& options);
  ~TokenService() override;
  TokenService(const TokenService&) = delete;
  TokenService& operator=(const TokenService&) = delete;

  bool auth_required() const { return options_.auth_required; }
  const ServiceOptions& options() const { return options_; }

  // Never blocks by itself. The resolution of `secret` at `now`: ready when
  // its shape or the cache decides, else blocking work that asks the store
  // (and counts a miss). `secret.text` must outlive the outcome.
  Outcome<Resolution> Resolve(const core::HashedSecret& secret, core::EpochMillis now);

  // Never blocks. A stamp that moves whenever a resolution may have become
  // stale: a token deleted (here or, through the store's change feed,
  // elsewhere), the feed going down or up. A resolution made after reading
  // stamp S may be reused without asking the cache again for as long as the
  // stamp still reads S and the token is unexpired. nullopt while the cache
  // is off or untrusted: then nothing may be reused.
  std::optional<std::uint64_t> ResolutionStamp() const;

  // Never blocks by itself (as Resolve). POST /api/v2/token/introspect: what
  // `caller` may learn of `secret` at `now`. PermissionDenied when the caller
  // may not introspect at all (token/read); the token when it is active and
  // the caller's scope covers it; null otherwise, so that an uncovered token
  // reads exactly as an unknown one. An active answer is a use of the
  // introspected token (RecordUse). `caller` and `secret.text` must outlive
  // the outcome.
  Outcome<Resolution> Introspect(const core::Caller& caller, const core::HashedSecret& secret,
                                 core::EpochMillis now);

  // May block. POST /api/v2/token: CheckOperation, ValidateCreate, the
  // expiry policy (ApplyExpiryPolicy), CheckCreate, then a durable insert.
  Result<CreatedToken> Create(const core::Caller& caller, const core::CreateTokenRequest& request);
  // Create as an Outcome. When the store queues inserts to a writer of its
  // own, the checks run here and the insert is submitted: no thread waits
  // for its commit. Otherwise Create as blocking work.
  Outcome<Result<CreatedToken>> CreateOutcome(const core::Caller& caller,
                                              const core::CreateTokenRequest& request);

  // May block. DELETE /api/v2/token/{id}. One NotFound (kTokenNotFound, a
  // fixed message) whether the id is malformed, absent or outside the
  // caller's scope. The token stops resolving before this returns.
  Status Delete(const core::Caller& caller, std::string_view id);

  // May block. GET /api/v2/token/{id}; not found as for Delete.
  Result<core::Token> Get(const core::Caller& caller, std::string_view id);

  // May block. GET /api/v2/token/query, filtered to what the caller may see.
  // Unpaged queries matching more than max_unpaged tokens are refused
  // (InvalidArgument, kUnpagedTooLarge). With lifetime_beyond_policy, the
  // query's policy_max_lifetimes are set from the policy in force.
  Result<QueryPage> Query(const core::Caller& caller, const core::TokenQuery& query);

  // May block. POST /api/v2/token/revoke: revokes the token of each secret,
  // with no caller (anyone holding a secret may revoke it). Malformed,
  // unknown and already revoked secrets are skipped alike; expired tokens are
  // revoked too. A secret rotated away, given after its overlap, is a reuse
  // (API 7.3): its family is revoked as on any route. Returns how many tokens
  // this call deleted (a secret given twice counts once; a family counts its
  // tokens that were not gone already). The cache is neither asked nor filled (a known
  // secret costs the same lookup as an unknown one) and nothing counts as a
  // use. Each token stops resolving before this returns. Not all or nothing:
  // on a store error (Unavailable) the secrets before it stay revoked.
  Result<std::int64_t> RevokeSecrets(std::span<const std::string_view> secrets);

  // May block. POST /api/v2/token/query/revoke: revokes, in one store
  // transaction, every token matching `filters` (types, principals, dates,
  // last-used dates, lifetimeBeyondPolicy with the policy in force, as for
  // Query; expired tokens included) that the caller covers, the caller's own token
  // included when it matches. Needs token/delete. Returns how many were
  // revoked or, with `dry_run`, how many would be (nothing is revoked).
  Result<std::int64_t> RevokeMatching(const core::Caller& caller, const core::TokenQuery& filters,
                                      bool dry_run);

  // Never blocks. Records a use of token `id` at `at` (docs/API.md, "Last
  // used"): the HTTP layer calls it once per request that passes
  // authentication with a token; Introspect calls it for the token of an
  // active answer. Written to the store within last_used_resolution_seconds.
  void RecordUse(std::string_view id, core::EpochMillis at);

  // May block. Writes every pending use now. On a store error the uses stay
  // pending.
  Status FlushUses();
  // May block. What a graceful shutdown does once no request runs any more:
  // stops the background work (sweeps, scans, the use recorder's thread) and
  // writes the uses still pending. A store that hangs costs it one call's
  // timeout, not one per thread in turn: the last write of the uses runs
  // while a sweep or scan may still be in its store call. Idempotent (the
  // destructor calls it); the status of the uses' write.
  Status Shutdown();
  // May block. POST /api/v2/token/{id}/rotate (API 7.3): needs token/write
  // and token/delete (PermissionDenied otherwise), the one NotFound of Get
  // for an id the caller does not cover (a token whose overlap ended is
  // gone), then the error of `request` when its body could not be read, the
  // errors of core::PlanRotation (400, 409), then CheckCreate of the new
  // token against the caller (no escalation). The new token's rotated_from
  // is the old id. The old token's cached resolution is dropped before this
  // returns.
  Result<CreatedToken> Rotate(const core::Caller& caller, std::string_view id,
                              const Result<core::RotateRequest>& request);

  // May block. POST /api/v2/token/self/rotate: rotates `own`, the caller's
  // own token as authentication resolved it, with no permission needed; the
  // errors of core::PlanRotation. NotFound when the token is gone meanwhile.
  // `caller` is the one `own` acts as (the actor of the events).
  Result<CreatedToken> RotateSelf(const core::Caller& caller, const core::Token& own,
                                  const core::RotateRequest& request);

  // May block. GET /api/v2/token/audit (API 8.1): needs token/read; only
  // events whose subject the caller's scope covers; unpaged answers are
  // capped at max_unpaged like the token query.
  Result<AuditPage> Audit(const core::Caller& caller, const core::AuditQuery& query);

  // May block. One scan of every expiry notice threshold and of expiry
  // itself at `now` (what the background thread runs). Returns how many
  // notices were written.
  Result<std::int64_t> ScanExpiryNotices(core::EpochMillis now);

  // May block. Removes the events older than the retention at `now`.
  Result<std::int64_t> PruneAudit(core::EpochMillis now);

  // May block. Removes ended overlaps and forgotten retired secrets (what the
  // background sweep runs).
  Result<store::SweepCounts> SweepRotations();

  // May block. Mints a global `**/**` token without any caller (first start
  // and `tokend bootstrap`). The expiry policy does not apply: the bootstrap
  // token never expires.
  Result<CreatedToken> CreateBootstrapAdmin();
  // May block. Deletes that token again (a system token.deleted), when its
  // secret could not be handed over.
  Status DiscardBootstrapAdmin(const core::Token& token);

  // May block. True when the store holds no token at all.
  Result<bool> StoreIsEmpty();

  // The query's policy_max_lifetimes, from the policy in force when it asks
  // for lifetime_beyond_policy; cleared otherwise.
  core::TokenQuery WithPolicy(const core::TokenQuery& query) const;

  // May block. Store health (GET /health) and metrics.
  Status Ping() { return store_.Ping(); }
  Result<std::vector<std::pair<core::TokenType, std::int64_t>>> CountByType() {
    return store_.CountByType();
  }

  CacheStats cache_stats() const;

  // store::ChangeListener
  void OnTokenDeleted(std::string_view id) override;
  void OnFeedHealthChanged(bool healthy) override;
  void OnFeedLagging(bool lagging) override;
  void OnOverlapStarted(core::EpochMillis end) override;
  void OnFeedFreshUntil(std::chrono::steady_clock::time_point until) override;

 private:
  // CheckOperation, ValidateCreate, the expiry policy and CheckCreate.
  Result<core::NewTokenSpec> PlanCreate(const core::Caller& caller,
                                        const core::CreateTokenRequest& request,
                                        core::EpochMillis now) const;
  // Stores a new token with its token.created event (by `origin`) and its
  // creation notice, if any.
  Result<CreatedToken> Mint(const core::NewTokenSpec& spec, const core::EventOrigin& origin,
                            core::EpochMillis now);
  // token.created (with `details`) and the creation notice of `token`.
  std::vector<core::AuditEvent> CreationEvents(const core::Token& token,
                                               const core::EventOrigin& origin,
                                               std::vector<core::EventDetail> details,
                                               core::EpochMillis now) const;
  // The store's answer for a secret the cache does not know. May block.
  Resolution ResolveFromStore(const core::HashedSecret& secret, bool legacy, core::EpochMillis now);
  // What a lookup made after reading the cache's `epoch` answers; nullopt
  // for a retired secret's reuse, which the caller acts on (it writes).
  std::optional<Resolution> FromLookup(store::SecretLookup& found, std::uint64_t epoch, bool legacy,
                                       core::EpochMillis now);
  // The rotation of `old` by `plan`, with retries on a freak id or secret
  // collision. May block.
  Result<CreatedToken> ApplyRotation(const core::Token& old, const core::RotationPlan& plan,
                                     const core::EventOrigin& origin, core::EpochMillis now);
  // Whether presenting `retired` at `now` is a reuse to act on (API 7.3).
  bool IsReuse(const store::RetiredSecret& retired, core::EpochMillis now) const;
  // A retired secret presented after its overlap: revokes its family once.
  // Null (answered as an unknown token), or Unavailable. May block.
  Resolution OnSecretReuse(const store::RetiredSecret& retired, core::EpochMillis now);
  // The revocation itself, with the cache, the metric and the log line.
  Result<store::FamilyRevocation> RevokeFamilyOf(const store::RetiredSecret& retired,
                                                 core::EpochMillis now);
  // The store wrote the events (token.reuse_detected, token.revoked with
  // reason "reuse"); this logs one warning line, never with the secret or
  // its hash.
  void LogReuseDetected(const store::RetiredSecret& retired,
                        const std::vector<std::string>& revoked);
  // Sweeps now when an overlap this service started has ended, so that Get
  // and Query never show a token whose overlap is over. May block.
  void SweepIfOverlapEnded(core::EpochMillis now);
  void NoteOverlapEnd(core::EpochMillis end);
  void SweepLoop();
  void EventLoop();
  // The token `id` names if `caller` may see it for `operation`; the one
  // NotFound otherwise.
  Result<core::Token> FindVisible(const core::Caller& caller, core::TokenOperation operation,
                                  std::string_view id);

  store::TokenStore& store_;
  const ServiceOptions options_;
  std::unique_ptr<SecretCache> cache_;
  std::unique_ptr<UseRecorder> uses_;
  std::atomic<std::uint64_t> hits_{0};
  std::atomic<std::uint64_t> misses_{0};
  std::atomic<std::uint64_t> unknown_checksummed_{0};
  std::atomic<std::uint64_t> unknown_legacy_{0};
  std::atomic<std::uint64_t> reuse_detected_{0};

  // The ends of the overlaps not swept yet: those this service started, and
  // the earliest the store held at the last sweep (started before a restart,
  // or by another instance). next_overlap_end_ is the earliest (INT64_MAX:
  // none; 0 until the first sweep, which learns it), read without a lock.
  std::mutex overlaps_mu_;
  std::set<core::EpochMillis> overlap_ends_;  // guarded by overlaps_mu_
  std::atomic<core::EpochMillis> next_overlap_end_;

  std::mutex sweep_mu_;
  std::condition_variable sweep_cv_;
  bool stopping_ = false;      // guarded by sweep_mu_
  std::thread sweeper_;        // runs SweepLoop when rotation_sweep_interval > 0
  std::thread event_scanner_;  // runs EventLoop when event_scan_interval > 0
};

}  // namespace tokend::service
