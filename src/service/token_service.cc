#include "service/token_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <utility>

#include "core/object_id.h"
#include "core/secret.h"
#include "core/time.h"
#include "log/fields.h"
#include "service/secret_cache.h"
#include "service/use_recorder.h"

namespace tokend::service {
namespace {

// Ids and secrets are random; a collision is astronomically unlikely, but a
// retry costs nothing and keeps a freak collision from surfacing as an error.
constexpr int kMintAttempts = 3;

using core::TokenNotFound;

constexpr core::EpochMillis kNoOverlapEnd = std::numeric_limits<core::EpochMillis>::max();

// A notice scan covers crossings up to this long ago, so that a token whose
// create is still committing when the scan runs is never passed over.
constexpr core::EpochMillis kNoticeScanLagMillis = 2000;
// Events past retention are removed this often.
constexpr std::chrono::hours kAuditPruneInterval{1};

// A token whose rotation overlap has ended: gone, like a deleted token, even
// before the sweep removes it from the store.
bool RotatedAway(const core::Token& token, core::EpochMillis now) {
  return token.rotated_to && !token.IsValidAt(now);
}

// An unpaged read that matched more than the cap: the one refusal of the
// token query and the audit query alike.
Status UnpagedTooLarge(std::string_view query, std::string_view items, std::int64_t cap) {
  return Status::InvalidArgument("The " + std::string(query) + " matches more than " +
                                     std::to_string(cap) + " " + std::string(items) +
                                     ", too many for one unpaged answer; pass 'limit' (and "
                                     "'page') to page through them.",
                                 core::ApiError::kUnpagedTooLarge);
}

}  // namespace

TokenService::TokenService(store::TokenStore& store, const ServiceOptions& options)
    : store_(store),
      options_(options),
      cache_(std::make_unique<SecretCache>(options.cache_capacity)),
      uses_(std::make_unique<UseRecorder>(
          store, std::chrono::seconds(options.last_used_resolution_seconds))),
      next_overlap_end_(0) {
  store_.SetChangeListener(this);
  uses_->Start();
  if (options_.rotation_sweep_interval.count() > 0) {
    sweeper_ = std::thread([this] { SweepLoop(); });
  }
  if (options_.event_scan_interval.count() > 0) {
    event_scanner_ = std::thread([this] { EventLoop(); });
  }
}

TokenService::~TokenService() {
  // Whatever is still pending is written before the store may go.
  (void)Shutdown();
  store_.SetChangeListener(nullptr);
}

Status TokenService::Shutdown() {
  {
    std::lock_guard lock(sweep_mu_);
    if (stopping_) return Status::Ok();
    stopping_ = true;
  }
  sweep_cv_.notify_all();
  const Status uses = uses_->Stop();
  if (sweeper_.joinable()) sweeper_.join();
  if (event_scanner_.joinable()) event_scanner_.join();
  return uses;
}

void TokenService::RecordUse(std::string_view id, core::EpochMillis at) { uses_->Record(id, at); }

Status TokenService::FlushUses() { return uses_->Flush(); }

core::TokenQuery TokenService::WithPolicy(const core::TokenQuery& requested) const {
  core::TokenQuery query = requested;
  query.policy_max_lifetimes.clear();
  if (query.lifetime_beyond_policy) {
    query.policy_max_lifetimes = options_.expiry_policy.MaxLifetimeMillis();
  }
  return query;
}

Outcome<Resolution> TokenService::Resolve(const core::HashedSecret& secret, core::EpochMillis now) {
  // A cache hit means the SHA-256 of `secret` equals a stored token's: the
  // secret is that token's, so its shape needs checking only on a miss.
  if (secret.text.size() != core::kSecretLength) return Resolution(core::SharedToken());
  if (core::SharedToken cached = cache_->Find(secret.hash())) {
    // A token whose rotation overlap ended may be a reuse: only the store
    // can tell (its retired secret), so that case asks it.
    if (!(options_.reuse_detection && RotatedAway(*cached, now))) {
      hits_.fetch_add(1, std::memory_order_relaxed);
      if (!cached->IsValidAt(now)) return Resolution(core::SharedToken());
      return Resolution(std::move(cached));
    }
  }
  const std::optional<core::SecretShape> shape = core::ParseSecret(secret.text);
  if (!shape) return Resolution(core::SharedToken());
  // A secret the store certainly never held (known from memory when the
  // store sees every write) is unknown without a store call or a hop to the
  // store's threads: a flood of well-formed unknown secrets costs a hash.
  if (!store_.MayHoldSecret(secret.hash())) {
    (shape->legacy ? unknown_legacy_ : unknown_checksummed_)
        .fetch_add(1, std::memory_order_relaxed);
    return Resolution(core::SharedToken());
  }
  // A store that can read at once (an idle SQLite reader) answers here:
  // handing a read of microseconds to the store's threads and back costs
  // more than the read. A reuse still goes there, since revoking writes.
  const std::uint64_t epoch = cache_->epoch();
  if (std::optional<Result<store::SecretLookup>> found = store_.TryLookupSecret(secret.hash())) {
    if (!found->ok()) {
      misses_.fetch_add(1, std::memory_order_relaxed);
      return Resolution(found->status());
    }
    if (std::optional<Resolution> answer = FromLookup(**found, epoch, shape->legacy, now)) {
      misses_.fetch_add(1, std::memory_order_relaxed);
      return std::move(*answer);
    }
  }
  return Outcome<Resolution>::Blocking([this, secret, legacy = shape->legacy, now] {
    return ResolveFromStore(secret, legacy, now);
  });
}

Resolution TokenService::ResolveFromStore(const core::HashedSecret& secret, bool legacy,
                                          core::EpochMillis now) {
  misses_.fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t epoch = cache_->epoch();
  // One lookup answers both the token and, for a secret rotated away, its
  // retired record: an unknown secret still costs one store call.
  Result<store::SecretLookup> found = store_.LookupSecret(secret.hash());
  if (!found.ok()) return found.status();
  if (std::optional<Resolution> answer = FromLookup(*found, epoch, legacy, now)) {
    return std::move(*answer);
  }
  return OnSecretReuse(*found->retired, now);
}

std::optional<Resolution> TokenService::FromLookup(store::SecretLookup& found, std::uint64_t epoch,
                                                   bool legacy, core::EpochMillis now) {
  if (found.token) {
    // One copy, shared by the cache and the answer.
    core::SharedToken token = std::make_shared<const core::Token>(std::move(*found.token));
    cache_->Insert(token, epoch);
    if (token->IsValidAt(now)) return Resolution(std::move(token));
  }
  if (found.retired && IsReuse(*found.retired, now)) return std::nullopt;
  if (!found.token && !found.retired) {
    (legacy ? unknown_legacy_ : unknown_checksummed_).fetch_add(1, std::memory_order_relaxed);
  }
  return Resolution(core::SharedToken());
}

bool TokenService::IsReuse(const store::RetiredSecret& retired, core::EpochMillis now) const {
  // Presented after its overlap, while remembered, and not acted on before
  // (the event is recorded once per secret).
  return options_.reuse_detection && retired.overlap_end <= now && retired.forget_after > now &&
         !retired.reuse_detected_at;
}

Resolution TokenService::OnSecretReuse(const store::RetiredSecret& retired, core::EpochMillis now) {
  Result<store::FamilyRevocation> revoked = RevokeFamilyOf(retired, now);
  if (!revoked.ok()) return revoked.status();
  return core::SharedToken();
}

Result<store::FamilyRevocation> TokenService::RevokeFamilyOf(const store::RetiredSecret& retired,
                                                             core::EpochMillis now) {
  Result<store::FamilyRevocation> revoked =
      store_.RevokeFamily(retired.family_id, retired.secret_hash, now);
  if (!revoked.ok()) return revoked;
  // The store told the listener; erasing here too keeps revocation immediate
  // for a store that announces late (as in Delete).
  for (const std::string& id : revoked->deleted) cache_->EraseById(id);
  if (revoked->first_detection) {
    reuse_detected_.fetch_add(1, std::memory_order_relaxed);
    LogReuseDetected(retired, revoked->deleted);
  }
  return revoked;
}

void TokenService::LogReuseDetected(const store::RetiredSecret& retired,
                                    const std::vector<std::string>& revoked) {
  log::Warn("reuse of a retired secret: its rotation family revoked",
            {{"token_id", retired.token_id},
             {"family_id", retired.family_id},
             {"revoked", std::to_string(revoked.size())}});
}

std::optional<std::uint64_t> TokenService::ResolutionStamp() const {
  return cache_->TrustedEpoch();
}

Outcome<Resolution> TokenService::Introspect(const core::Caller& caller,
                                             const core::HashedSecret& secret,
                                             core::EpochMillis now) {
  if (Status allowed = core::CheckOperation(caller, core::TokenOperation::kRead); !allowed.ok()) {
    return Resolution(std::move(allowed));
  }
  return Resolve(secret, now)
      .Then([this, caller = &caller, now](Resolution resolved) -> Outcome<Resolution> {
        if (!resolved.ok() || *resolved == nullptr) return resolved;
        if (!core::CheckAccess(*caller, core::TokenOperation::kRead, **resolved).ok()) {
          return Resolution(core::SharedToken());
        }
        // Only an active answer is a use of the introspected token.
        RecordUse((*resolved)->id, now);
        return resolved;
      });
}

std::vector<core::AuditEvent> TokenService::CreationEvents(const core::Token& token,
                                                           const core::EventOrigin& origin,
                                                           std::vector<core::EventDetail> details,
                                                           core::EpochMillis now) const {
  std::vector<core::AuditEvent> events;
  events.push_back(core::MakeEvent(core::AuditAction::kCreated, token, origin, now));
  events.back().details = std::move(details);
  if (std::optional<core::AuditEvent> notice =
          core::CreationNotice(token, options_.expiry_notices, now)) {
    events.push_back(std::move(*notice));
  }
  return events;
}

namespace {

// A new token of `spec`, with a fresh id and secret.
CreatedToken NewToken(const core::NewTokenSpec& spec, core::EpochMillis now) {
  CreatedToken created;
  created.secret = core::GenerateSecret(spec.type);
  core::Token& token = created.token;
  token.id = core::NewObjectId(now);
  token.type = spec.type;
  token.name = spec.name;
  token.description = spec.description;
  token.principal = spec.principal;
  token.creation_date = now;
  token.expiration_date = spec.expiration_date;
  token.actions = spec.actions;
  token.secret_hash = core::HashSecret(created.secret);
  return created;
}

}  // namespace

Result<CreatedToken> TokenService::Mint(const core::NewTokenSpec& spec,
                                        const core::EventOrigin& origin, core::EpochMillis now) {
  Status last;
  for (int attempt = 0; attempt < kMintAttempts; ++attempt) {
    CreatedToken created = NewToken(spec, now);
    const core::Token& token = created.token;
    const std::uint64_t epoch = cache_->epoch();
    last = store_.Insert(token, CreationEvents(token, origin, {}, now));
    if (last.ok()) {
      // Fresh tokens are usually presented soon after they are minted.
      cache_->Insert(token, epoch);
      return created;
    }
    if (last.code() != core::StatusCode::kAlreadyExists) return last;
  }
  return last;
}

Result<core::NewTokenSpec> TokenService::PlanCreate(const core::Caller& caller,
                                                    const core::CreateTokenRequest& request,
                                                    core::EpochMillis now) const {
  if (Status allowed = core::CheckOperation(caller, core::TokenOperation::kCreate); !allowed.ok()) {
    return allowed;
  }
  Result<core::NewTokenSpec> spec = core::ValidateCreate(request, now);
  if (!spec.ok()) return spec.status();
  Result<std::optional<core::EpochMillis>> expiration =
      core::ApplyExpiryPolicy(options_.expiry_policy, spec->type, spec->expiration_date, now);
  if (!expiration.ok()) return expiration.status();
  spec->expiration_date = *expiration;
  if (Status allowed = core::CheckCreate(caller, *spec); !allowed.ok()) return allowed;
  return spec;
}

Result<CreatedToken> TokenService::Create(const core::Caller& caller,
                                          const core::CreateTokenRequest& request) {
  const core::EpochMillis now = core::NowMillis();
  Result<core::NewTokenSpec> spec = PlanCreate(caller, request, now);
  if (!spec.ok()) return spec.status();
  return Mint(*spec, core::EventOrigin::Of(caller), now);
}

Outcome<Result<CreatedToken>> TokenService::CreateOutcome(const core::Caller& caller,
                                                          const core::CreateTokenRequest& request) {
  using Created = Outcome<Result<CreatedToken>>;
  if (!store_.QueuesInserts()) {
    return Created::Blocking([this, caller, request] { return Create(caller, request); });
  }
  const core::EpochMillis now = core::NowMillis();
  Result<core::NewTokenSpec> planned = PlanCreate(caller, request, now);
  if (!planned.ok()) return Result<CreatedToken>(planned.status());
  auto created = std::make_shared<CreatedToken>(NewToken(*planned, now));
  const core::EventOrigin origin = core::EventOrigin::Of(caller);
  return Created::FromSubmit([this, created, origin, spec = std::move(*planned),
                              now](Created::Finish finish) {
    const std::uint64_t epoch = cache_->epoch();
    store_.SubmitInsert(
        created->token, CreationEvents(created->token, origin, {}, now),
        [this, created, origin, spec, now, epoch, finish = std::move(finish)](Status inserted) {
          finish([this, created, origin, spec, now, epoch, inserted]() -> Created {
            if (inserted.ok()) {
              // Fresh tokens are usually presented soon after they are minted.
              cache_->Insert(created->token, epoch);
              return Result<CreatedToken>(std::move(*created));
            }
            if (inserted.code() != core::StatusCode::kAlreadyExists) {
              return Result<CreatedToken>(inserted);
            }
            // Another id and secret, as Mint's own retries would.
            return Created::Blocking([this, spec, origin, now] { return Mint(spec, origin, now); });
          });
        });
  });
}

Result<core::Token> TokenService::FindVisible(const core::Caller& caller,
                                              core::TokenOperation operation, std::string_view id) {
  // One answer for a malformed, absent or uncovered id, so that a scoped
  // caller cannot tell other tenants' ids from free ones; a malformed id
  // never reaches the store.
  if (!core::IsObjectId(id)) return TokenNotFound();
  Result<core::Token> token = store_.FindById(id);
  if (!token.ok()) return token.status().IsNotFound() ? TokenNotFound() : token.status();
  if (RotatedAway(*token, core::NowMillis())) return TokenNotFound();
  if (Status access = core::CheckAccess(caller, operation, *token); !access.ok()) {
    return access.IsNotFound() ? TokenNotFound() : access;
  }
  return token;
}

Result<core::Token> TokenService::Get(const core::Caller& caller, std::string_view id) {
  if (Status allowed = core::CheckOperation(caller, core::TokenOperation::kRead); !allowed.ok()) {
    return allowed;
  }
  SweepIfOverlapEnded(core::NowMillis());
  return FindVisible(caller, core::TokenOperation::kRead, id);
}

Status TokenService::Delete(const core::Caller& caller, std::string_view id) {
  if (Status allowed = core::CheckOperation(caller, core::TokenOperation::kDelete); !allowed.ok()) {
    return allowed;
  }
  Result<core::Token> token = FindVisible(caller, core::TokenOperation::kDelete, id);
  if (!token.ok()) return token.status();
  const core::AuditEvent event = core::MakeEvent(core::AuditAction::kDeleted, *token,
                                                 core::EventOrigin::Of(caller), core::NowMillis());
  Status deleted = store_.Delete(token->id, std::span(&event, 1));
  // The store tells the listener too; erasing here as well keeps revocation
  // immediate even for a store that announces deletions late.
  cache_->EraseById(token->id);
  if (deleted.IsNotFound()) return TokenNotFound();  // deleted meanwhile
  return deleted;
}

Result<QueryPage> TokenService::Query(const core::Caller& caller,
                                      const core::TokenQuery& requested) {
  if (Status allowed = core::CheckOperation(caller, core::TokenOperation::kRead); !allowed.ok()) {
    return allowed;
  }
  SweepIfOverlapEnded(core::NowMillis());
  const core::TokenQuery query = WithPolicy(requested);
  const core::Visibility visibility = core::Visibility::Of(caller);
  if (query.paged()) {
    Result<store::TokenPage> page =
        store_.Query(query, visibility, *query.limit, query.offset(), /*count_total=*/true);
    if (!page.ok()) return page.status();
    return QueryPage{std::move(page->tokens), page->total};
  }
  // Unpaged: fetch one row past the cap to learn whether the cap is exceeded
  // without a separate count.
  Result<store::TokenPage> page =
      store_.Query(query, visibility, options_.max_unpaged + 1, 0, /*count_total=*/false);
  if (!page.ok()) return page.status();
  if (static_cast<std::int64_t>(page->tokens.size()) > options_.max_unpaged) {
    return UnpagedTooLarge("query", "tokens", options_.max_unpaged);
  }
  const auto total = static_cast<std::int64_t>(page->tokens.size());
  return QueryPage{std::move(page->tokens), total};
}

Result<std::int64_t> TokenService::RevokeSecrets(std::span<const std::string_view> secrets) {
  std::int64_t revoked = 0;
  for (std::string_view secret : secrets) {
    // Shape first: a malformed secret names no token. Anyone can compute a
    // checksum, so skipping the store here tells a caller nothing.
    if (secret.size() != core::kSecretLength || !core::ParseSecret(secret)) continue;
    const core::EpochMillis now = core::NowMillis();
    Result<store::SecretLookup> found = store_.LookupSecret(core::HashSecret(secret));
    if (!found.ok()) return found.status();
    // A token whose overlap ended is gone already. Its secret, reported
    // after the overlap, is a reuse like any other presentation (API 7.3):
    // the holder of a leaked secret may have rotated it, so the whole family
    // goes, not a successor left live. (Not a use either way: no last use.)
    if (!found->token || RotatedAway(*found->token, now)) {
      if (!found->retired || !IsReuse(*found->retired, now)) continue;
      Result<store::FamilyRevocation> family = RevokeFamilyOf(*found->retired, now);
      if (!family.ok()) return family.status();
      revoked += family->revoked;
      continue;
    }
    const core::Token& token = *found->token;
    // A leak report: a system event, whoever sent it.
    core::AuditEvent event =
        core::MakeEvent(core::AuditAction::kRevoked, token, core::EventOrigin::System(), now);
    event.reason = std::string(core::kReasonReported);
    Status deleted = store_.Delete(token.id, std::span(&event, 1));
    cache_->EraseById(token.id);
    if (deleted.IsNotFound()) continue;  // revoked meanwhile, by someone else
    if (!deleted.ok()) return deleted;
    ++revoked;
  }
  return revoked;
}

Result<std::int64_t> TokenService::RevokeMatching(const core::Caller& caller,
                                                  const core::TokenQuery& requested, bool dry_run) {
  if (Status allowed = core::CheckOperation(caller, core::TokenOperation::kDelete); !allowed.ok()) {
    return allowed;
  }
  // Matches what a query would list: not the tokens whose overlap ended.
  SweepIfOverlapEnded(core::NowMillis());
  const core::TokenQuery filters = WithPolicy(requested);
  const core::Visibility visibility = core::Visibility::Of(caller);
  if (dry_run) {
    Result<store::TokenPage> page = store_.Query(filters, visibility, 0, 0, /*count_total=*/true);
    if (!page.ok()) return page.status();
    return page->total;
  }
  // The store writes a token.revoked event (reason "bulk") for each.
  Result<std::vector<std::string>> deleted =
      store_.DeleteMatching(filters, visibility, core::EventOrigin::Of(caller), core::NowMillis());
  if (!deleted.ok()) return deleted.status();
  // The store told the listener; erasing here too keeps revocation immediate
  // for a store that announces late (as in Delete).
  for (const std::string& id : *deleted) cache_->EraseById(id);
  return static_cast<std::int64_t>(deleted->size());
}

Result<CreatedToken> TokenService::Rotate(const core::Caller& caller, std::string_view id,
                                          const Result<core::RotateRequest>& request) {
  for (core::TokenOperation needed :
       {core::TokenOperation::kCreate, core::TokenOperation::kDelete}) {
    if (Status allowed = core::CheckOperation(caller, needed); !allowed.ok()) return allowed;
  }
  Result<core::Token> old = FindVisible(caller, core::TokenOperation::kDelete, id);
  if (!old.ok()) return old.status();
  if (!request.ok()) return request.status();
  const core::EpochMillis now = core::NowMillis();
  Result<core::RotationPlan> plan = core::PlanRotation(*old, *request, options_.expiry_policy, now);
  if (!plan.ok()) return plan.status();
  if (Status allowed = core::CheckCreate(caller, plan->spec); !allowed.ok()) return allowed;
  return ApplyRotation(*old, *plan, core::EventOrigin::Of(caller), now);
}

Result<CreatedToken> TokenService::RotateSelf(const core::Caller& caller, const core::Token& own,
                                              const core::RotateRequest& request) {
  const core::EpochMillis now = core::NowMillis();
  Result<core::RotationPlan> plan = core::PlanRotation(own, request, options_.expiry_policy, now);
  if (!plan.ok()) return plan.status();
  if (Status allowed = core::CheckSelfRotation(own, plan->spec, now); !allowed.ok()) {
    return allowed;
  }
  return ApplyRotation(own, *plan, core::EventOrigin::Of(caller), now);
}

Result<CreatedToken> TokenService::ApplyRotation(const core::Token& old,
                                                 const core::RotationPlan& plan,
                                                 const core::EventOrigin& origin,
                                                 core::EpochMillis now) {
  store::Rotation rotation;
  rotation.old_id = old.id;
  rotation.keep_old = plan.keep_old;
  rotation.old_expiration = plan.old_expiration;
  // Recorded whether or not reuse detection is on, so that turning it on
  // covers the rotations made meanwhile.
  if (plan.retire_secret) {
    rotation.retired = store::RetiredSecret{
        .secret_hash = old.secret_hash,
        .token_id = old.id,
        .token_type = old.type,
        .principal = old.principal,
        .name = old.name,
        .family_id = plan.family_id,
        .overlap_end = plan.overlap_end,
        .forget_after = plan.overlap_end + options_.retired_retention_seconds * 1000,
        .reuse_detected_at = std::nullopt,
    };
  }
  Status last;
  for (int attempt = 0; attempt < kMintAttempts; ++attempt) {
    CreatedToken created;
    created.secret = core::GenerateSecret(plan.spec.type);
    core::Token& token = created.token;
    token.id = core::NewObjectId(now);
    token.type = plan.spec.type;
    token.name = plan.spec.name;
    token.description = plan.spec.description;
    token.principal = plan.spec.principal;
    token.creation_date = now;
    token.expiration_date = plan.spec.expiration_date;
    token.actions = plan.spec.actions;
    token.secret_hash = core::HashSecret(created.secret);
    token.rotated_from = old.id;
    token.family_id = plan.family_id;
    rotation.new_token = token;
    // The rotated event first: events of one change share its time, and the
    // audit route orders them by id, the order they are made in.
    rotation.events = {core::MakeEvent(core::AuditAction::kRotated, old, origin, now)};
    rotation.events.front().details = {{"rotatedTo", token.id}};
    for (core::AuditEvent& event : CreationEvents(token, origin, {{"rotatedFrom", old.id}}, now)) {
      rotation.events.push_back(std::move(event));
    }
    last = store_.Rotate(rotation);
    // The store told the listener; erasing here too drops the old token's
    // resolution (gone, or with its shortened expiry) even from a store
    // that announces late.
    cache_->EraseById(old.id);
    if (last.ok()) {
      if (plan.keep_old) NoteOverlapEnd(*plan.old_expiration);
      return created;
    }
    if (last.IsNotFound()) return TokenNotFound();  // deleted meanwhile
    if (last.api_error() != core::ApiError::kAlreadyExists) return last;
  }
  return last;
}

void TokenService::NoteOverlapEnd(core::EpochMillis end) {
  std::lock_guard lock(overlaps_mu_);
  overlap_ends_.insert(end);
  next_overlap_end_.store(*overlap_ends_.begin(), std::memory_order_release);
}

void TokenService::SweepIfOverlapEnded(core::EpochMillis now) {
  if (next_overlap_end_.load(std::memory_order_acquire) > now) return;
  // A failed sweep leaves the ends in place: the next call tries again, and
  // Get stays exact without it.
  (void)SweepRotations();
}

Result<store::SweepCounts> TokenService::SweepRotations() {
  const core::EpochMillis now = core::NowMillis();
  Result<store::SweepCounts> swept = store_.SweepRotations(now);
  if (!swept.ok()) return swept;
  std::lock_guard lock(overlaps_mu_);
  overlap_ends_.erase(overlap_ends_.begin(), overlap_ends_.upper_bound(now));
  if (swept->next_overlap_end && *swept->next_overlap_end > now) {
    overlap_ends_.insert(*swept->next_overlap_end);
  }
  next_overlap_end_.store(overlap_ends_.empty() ? kNoOverlapEnd : *overlap_ends_.begin(),
                          std::memory_order_release);
  return swept;
}

Result<AuditPage> TokenService::Audit(const core::Caller& caller, const core::AuditQuery& query) {
  if (Status allowed = core::CheckOperation(caller, core::TokenOperation::kRead); !allowed.ok()) {
    return allowed;
  }
  const core::Visibility visibility = core::Visibility::Of(caller);
  if (query.paged()) {
    Result<store::AuditPage> page =
        store_.QueryAudit(query, visibility, *query.limit, query.offset(), /*count_total=*/true);
    if (!page.ok()) return page.status();
    return AuditPage{std::move(page->events), page->total};
  }
  Result<store::AuditPage> page =
      store_.QueryAudit(query, visibility, options_.max_unpaged + 1, 0, /*count_total=*/false);
  if (!page.ok()) return page.status();
  if (static_cast<std::int64_t>(page->events.size()) > options_.max_unpaged) {
    return UnpagedTooLarge("audit query", "events", options_.max_unpaged);
  }
  const auto total = static_cast<std::int64_t>(page->events.size());
  return AuditPage{std::move(page->events), total};
}

Result<std::int64_t> TokenService::ScanExpiryNotices(core::EpochMillis now) {
  const std::vector<std::int64_t>& thresholds = options_.expiry_notices.seconds;
  std::int64_t written = 0;
  // Expiry itself is the last "threshold", 0 seconds before.
  for (std::size_t i = 0; i <= thresholds.size(); ++i) {
    store::NoticeScan scan;
    scan.threshold_seconds = i < thresholds.size() ? thresholds[i] : 0;
    if (i < thresholds.size()) {
      scan.smaller_thresholds_seconds.assign(
          thresholds.begin() + static_cast<std::ptrdiff_t>(i) + 1, thresholds.end());
      scan.smaller_thresholds_seconds.push_back(0);
    }
    scan.until = now - kNoticeScanLagMillis;
    scan.now = now;
    Result<std::int64_t> notices = store_.RecordExpiryNotices(scan);
    if (!notices.ok()) return notices.status();
    written += *notices;
  }
  return written;
}

Result<std::int64_t> TokenService::PruneAudit(core::EpochMillis now) {
  return store_.PruneAudit(now - options_.audit_retention_seconds * 1000);
}

void TokenService::EventLoop() {
  std::chrono::steady_clock::time_point next_prune = std::chrono::steady_clock::now();
  std::unique_lock lock(sweep_mu_);
  for (;;) {
    lock.unlock();
    if (Result<std::int64_t> notices = ScanExpiryNotices(core::NowMillis()); !notices.ok()) {
      spdlog::warn("expiry notice scan failed: {}", notices.status().message());
    }
    if (std::chrono::steady_clock::now() >= next_prune) {
      if (Result<std::int64_t> pruned = PruneAudit(core::NowMillis()); !pruned.ok()) {
        spdlog::warn("removing audit events past retention failed: {}", pruned.status().message());
      } else {
        next_prune = std::chrono::steady_clock::now() + kAuditPruneInterval;
      }
    }
    lock.lock();
    if (sweep_cv_.wait_for(lock, options_.event_scan_interval, [this] { return stopping_; })) {
      return;
    }
  }
}

void TokenService::SweepLoop() {
  std::unique_lock lock(sweep_mu_);
  while (
      !sweep_cv_.wait_for(lock, options_.rotation_sweep_interval, [this] { return stopping_; })) {
    lock.unlock();
    if (Result<store::SweepCounts> swept = SweepRotations(); !swept.ok()) {
      spdlog::warn("rotation sweep failed: {}", swept.status().message());
    }
    lock.lock();
  }
}

Result<CreatedToken> TokenService::CreateBootstrapAdmin() {
  core::NewTokenSpec spec;
  spec.type = core::TokenType::kGlobal;
  spec.name = "bootstrap admin";
  spec.description = "Global administrator token created by tokend at first start";
  spec.actions = {"**/**"};
  return Mint(spec, core::EventOrigin::System(), core::NowMillis());
}

Status TokenService::DiscardBootstrapAdmin(const core::Token& token) {
  const core::AuditEvent event = core::MakeEvent(core::AuditAction::kDeleted, token,
                                                 core::EventOrigin::System(), core::NowMillis());
  Status deleted = store_.Delete(token.id, std::span(&event, 1));
  cache_->EraseById(token.id);
  return deleted;
}

Result<bool> TokenService::StoreIsEmpty() {
  auto counts = store_.CountByType();
  if (!counts.ok()) return counts.status();
  for (const auto& [type, count] : *counts) {
    if (count > 0) return false;
  }
  return true;
}

CacheStats TokenService::cache_stats() const {
  return CacheStats{.hits = hits_.load(std::memory_order_relaxed),
                    .misses = misses_.load(std::memory_order_relaxed),
                    .invalidations = cache_->invalidations(),
                    .unknown_checksummed = unknown_checksummed_.load(std::memory_order_relaxed),
                    .unknown_legacy = unknown_legacy_.load(std::memory_order_relaxed),
                    .reuse_detected = reuse_detected_.load(std::memory_order_relaxed)};
}

void TokenService::OnTokenDeleted(std::string_view id) { cache_->EraseById(id); }

void TokenService::OnFeedHealthChanged(bool healthy) {
  cache_->SetTrusted(healthy);
  // Overlaps other instances began while the feed was down went unheard:
  // the next query or bulk revocation sweeps, and learns them from the store.
  if (healthy) NoteOverlapEnd(0);
}

void TokenService::OnFeedLagging(bool lagging) { cache_->SetLagging(lagging); }

void TokenService::OnOverlapStarted(core::EpochMillis end) { NoteOverlapEnd(end); }

void TokenService::OnFeedFreshUntil(std::chrono::steady_clock::time_point until) {
  cache_->SetFreshUntil(until);
}

}  // namespace tokend::service
