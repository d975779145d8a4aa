#include "service/token_service.h"

#include <chrono>
#include <utility>

#include "core/object_id.h"
#include "core/secret.h"
#include "core/time.h"
#include "service/secret_cache.h"
#include "service/use_recorder.h"

namespace tokend::service {
namespace {

// Ids and secrets are random; a collision is astronomically unlikely, but a
// retry costs nothing and keeps a freak collision from surfacing as an error.
constexpr int kMintAttempts = 3;

using core::TokenNotFound;

}  // namespace

TokenService::TokenService(store::TokenStore& store, const ServiceOptions& options)
    : store_(store),
      options_(options),
      cache_(std::make_unique<SecretCache>(options.cache_capacity)),
      uses_(std::make_unique<UseRecorder>(
          store, std::chrono::seconds(options.last_used_resolution_seconds))) {
  store_.SetChangeListener(this);
  uses_->Start();
}

TokenService::~TokenService() {
  // Whatever is still pending is written before the store may go.
  (void)uses_->Stop();
  store_.SetChangeListener(nullptr);
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
    hits_.fetch_add(1, std::memory_order_relaxed);
    if (!cached->IsValidAt(now)) return Resolution(core::SharedToken());
    return Resolution(std::move(cached));
  }
  const std::optional<core::SecretShape> shape = core::ParseSecret(secret.text);
  if (!shape) return Resolution(core::SharedToken());
  return Outcome<Resolution>::Blocking([this, secret, legacy = shape->legacy, now] {
    return ResolveFromStore(secret, legacy, now);
  });
}

Resolution TokenService::ResolveFromStore(const core::HashedSecret& secret, bool legacy,
                                          core::EpochMillis now) {
  misses_.fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t epoch = cache_->epoch();
  Result<core::Token> found = store_.FindBySecretHash(secret.hash());
  if (!found.ok()) {
    if (!found.status().IsNotFound()) return found.status();
    (legacy ? unknown_legacy_ : unknown_checksummed_).fetch_add(1, std::memory_order_relaxed);
    return core::SharedToken();
  }
  cache_->Insert(*found, epoch);
  if (!found->IsValidAt(now)) return core::SharedToken();
  return core::SharedToken(std::make_shared<const core::Token>(std::move(found).value()));
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

Result<CreatedToken> TokenService::Mint(const core::NewTokenSpec& spec, core::EpochMillis now) {
  Status last;
  for (int attempt = 0; attempt < kMintAttempts; ++attempt) {
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
    const std::uint64_t epoch = cache_->epoch();
    last = store_.Insert(token);
    if (last.ok()) {
      // Fresh tokens are usually presented soon after they are minted.
      cache_->Insert(token, epoch);
      return created;
    }
    if (last.code() != core::StatusCode::kAlreadyExists) return last;
  }
  return last;
}

Result<CreatedToken> TokenService::Create(const core::Caller& caller,
                                          const core::CreateTokenRequest& request) {
  if (Status allowed = core::CheckOperation(caller, core::TokenOperation::kCreate); !allowed.ok()) {
    return allowed;
  }
  const core::EpochMillis now = core::NowMillis();
  Result<core::NewTokenSpec> spec = core::ValidateCreate(request, now);
  if (!spec.ok()) return spec.status();
  Result<std::optional<core::EpochMillis>> expiration =
      core::ApplyExpiryPolicy(options_.expiry_policy, spec->type, spec->expiration_date, now);
  if (!expiration.ok()) return expiration.status();
  spec->expiration_date = *expiration;
  if (Status allowed = core::CheckCreate(caller, *spec); !allowed.ok()) return allowed;
  return Mint(*spec, now);
}

Result<core::Token> TokenService::FindVisible(const core::Caller& caller,
                                              core::TokenOperation operation, std::string_view id) {
  // One answer for a malformed, absent or uncovered id, so that a scoped
  // caller cannot tell other tenants' ids from free ones; a malformed id
  // never reaches the store.
  if (!core::IsObjectId(id)) return TokenNotFound();
  Result<core::Token> token = store_.FindById(id);
  if (!token.ok()) return token.status().IsNotFound() ? TokenNotFound() : token.status();
  if (Status access = core::CheckAccess(caller, operation, *token); !access.ok()) {
    return access.IsNotFound() ? TokenNotFound() : access;
  }
  return token;
}

Result<core::Token> TokenService::Get(const core::Caller& caller, std::string_view id) {
  if (Status allowed = core::CheckOperation(caller, core::TokenOperation::kRead); !allowed.ok()) {
    return allowed;
  }
  return FindVisible(caller, core::TokenOperation::kRead, id);
}

Status TokenService::Delete(const core::Caller& caller, std::string_view id) {
  if (Status allowed = core::CheckOperation(caller, core::TokenOperation::kDelete); !allowed.ok()) {
    return allowed;
  }
  Result<core::Token> token = FindVisible(caller, core::TokenOperation::kDelete, id);
  if (!token.ok()) return token.status();
  Status deleted = store_.Delete(token->id);
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
    return Status::InvalidArgument(
        "The query matches more than " + std::to_string(options_.max_unpaged) +
            " tokens, too many for one unpaged answer; pass 'limit' (and 'page') to page "
            "through them.",
        core::ApiError::kUnpagedTooLarge);
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
    Result<core::Token> found = store_.FindBySecretHash(core::HashSecret(secret));
    if (!found.ok()) {
      if (found.status().IsNotFound()) continue;
      return found.status();
    }
    Status deleted = store_.Delete(found->id);
    cache_->EraseById(found->id);
    if (deleted.IsNotFound()) continue;  // revoked meanwhile, by someone else
    if (!deleted.ok()) return deleted;
    // Recorded here once the audit trail exists (in Delete's transaction):
    // a `token.revoked` event, reason "reported", without an actor.
    ++revoked;
  }
  return revoked;
}

Result<std::int64_t> TokenService::RevokeMatching(const core::Caller& caller,
                                                  const core::TokenQuery& requested, bool dry_run) {
  if (Status allowed = core::CheckOperation(caller, core::TokenOperation::kDelete); !allowed.ok()) {
    return allowed;
  }
  const core::TokenQuery filters = WithPolicy(requested);
  const core::Visibility visibility = core::Visibility::Of(caller);
  if (dry_run) {
    Result<store::TokenPage> page = store_.Query(filters, visibility, 0, 0, /*count_total=*/true);
    if (!page.ok()) return page.status();
    return page->total;
  }
  // The store records a `token.revoked` event (reason "bulk", the caller as
  // actor) for each deleted token in this same transaction, once the audit
  // trail exists.
  Result<std::vector<std::string>> deleted = store_.DeleteMatching(filters, visibility);
  if (!deleted.ok()) return deleted.status();
  // The store told the listener; erasing here too keeps revocation immediate
  // for a store that announces late (as in Delete).
  for (const std::string& id : *deleted) cache_->EraseById(id);
  return static_cast<std::int64_t>(deleted->size());
}

Result<CreatedToken> TokenService::CreateBootstrapAdmin() {
  core::NewTokenSpec spec;
  spec.type = core::TokenType::kGlobal;
  spec.name = "bootstrap admin";
  spec.description = "Global administrator token created by tokend at first start";
  spec.actions = {"**/**"};
  return Mint(spec, core::NowMillis());
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
                    .unknown_legacy = unknown_legacy_.load(std::memory_order_relaxed)};
}

void TokenService::OnTokenDeleted(std::string_view id) { cache_->EraseById(id); }

void TokenService::OnFeedHealthChanged(bool healthy) { cache_->SetTrusted(healthy); }

}  // namespace tokend::service
