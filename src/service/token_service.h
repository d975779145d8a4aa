// TokenService: the use cases behind every route. It validates (core),
// authorizes (core/authz), talks to the TokenStore and keeps the cache of
// resolved secrets that makes authentication and introspection cheap.
//
// Thread safety: all methods may be called concurrently. Methods documented
// as "may block" call the store; the others never block and may run on I/O
// threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/authz.h"
#include "core/create_request.h"
#include "core/query.h"
#include "core/status.h"
#include "core/time.h"
#include "core/token.h"
#include "store/token_store.h"

namespace tokend::service {

using core::Result;
using core::Status;

class SecretCache;

struct ServiceOptions {
  bool auth_required = true;
  std::int64_t max_unpaged = 10000;     // --max-unpaged
  std::size_t cache_capacity = 200000;  // resolved secrets kept in memory; 0: none
};

struct CreatedToken {
  core::Token token;
  std::string secret;  // shown once; never logged
};

struct QueryPage {
  std::vector<core::Token> tokens;
  std::int64_t total = 0;  // exact number of matches
};

// Outcome of resolving a presented secret without blocking.
enum class CachedResolution {
  kActive,    // known, unexpired: `token` is set
  kInactive,  // malformed, or known and expired
  kMiss,      // the store must be asked: call Resolve()
};

struct CacheStats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t invalidations = 0;
};

class TokenService final : public store::ChangeListener {
 public:
  // `store` must outlive the service. Registers itself as the store's listener.
  TokenService(store::TokenStore& store, const ServiceOptions& options);
  ~TokenService() override;
  TokenService(const TokenService&) = delete;
  TokenService& operator=(const TokenService&) = delete;

  bool auth_required() const { return options_.auth_required; }
  const ServiceOptions& options() const { return options_; }

  // Never blocks. Resolves `secret` from its shape and the cache only;
  // `now` decides expiry. A miss changes nothing (the store lookup that
  // follows counts it), so a caller may ask again.
  CachedResolution ResolveCached(std::string_view secret, core::SharedToken* token,
                                 core::EpochMillis now = core::NowMillis());

  // Never blocks. A stamp that moves whenever a resolution may have become
  // stale: a token deleted (here or, through the store's change feed,
  // elsewhere), the feed going down or up. A resolution made after reading
  // stamp S may be reused without asking the cache again for as long as the
  // stamp still reads S and the token is unexpired. nullopt while the cache
  // is off or untrusted: then nothing may be reused.
  std::optional<std::uint64_t> ResolutionStamp() const;

  // May block. The active token a secret belongs to; null when the secret is
  // malformed, unknown, deleted or expired. Unavailable when the store is.
  Result<core::SharedToken> Resolve(std::string_view secret);

  // May block. POST /api/v2/token: CheckOperation, ValidateCreate, CheckCreate,
  // then a durable insert.
  Result<CreatedToken> Create(const core::Caller& caller, const core::CreateTokenRequest& request);

  // May block. DELETE /api/v2/token/{id}: NotFound when absent or not visible.
  // The token stops resolving before this returns.
  Status Delete(const core::Caller& caller, std::string_view id);

  // May block. GET /api/v2/token/{id}.
  Result<core::Token> Get(const core::Caller& caller, std::string_view id);

  // May block. GET /api/v2/token/query, filtered to what the caller may see.
  // Unpaged queries matching more than max_unpaged tokens are refused
  // (InvalidArgument, kUnpagedTooLarge).
  Result<QueryPage> Query(const core::Caller& caller, const core::TokenQuery& query);

  // Never blocks. Introspection of an already resolved token: the token when
  // it is active and the caller may read it; null otherwise.
  static core::SharedToken Introspection(const core::Caller& caller,
                                         const core::SharedToken& resolved,
                                         core::EpochMillis now = core::NowMillis());

  // May block. Mints a global `**/**` token without any caller (first start
  // and `tokend bootstrap`).
  Result<CreatedToken> CreateBootstrapAdmin();

  // May block. True when the store holds no token at all.
  Result<bool> StoreIsEmpty();

  // May block. Store health (GET /health) and metrics.
  Status Ping() { return store_.Ping(); }
  Result<std::vector<std::pair<core::TokenType, std::int64_t>>> CountByType() {
    return store_.CountByType();
  }

  CacheStats cache_stats() const;

  // store::ChangeListener
  void OnTokenDeleted(std::string_view id) override;
  void OnFeedHealthChanged(bool healthy) override;

 private:
  Result<CreatedToken> Mint(const core::NewTokenSpec& spec, core::EpochMillis now);

  store::TokenStore& store_;
  const ServiceOptions options_;
  std::unique_ptr<SecretCache> cache_;
  std::atomic<std::uint64_t> hits_{0};
  std::atomic<std::uint64_t> misses_{0};
};

}  // namespace tokend::service
