// The authentication step: who is calling, from the presented secret.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/authz.h"
#include "core/status.h"
#include "core/token.h"
#include "http/request_handler.h"

namespace tokend::http {

struct Authenticated {
  core::Caller caller;
  // The caller's own token; null when authentication is off.
  core::SharedToken token;
};

// Shared, so that a connection's memo and its requests hold one copy.
using SharedAuthenticated = std::shared_ptr<const Authenticated>;

// What one connection remembers of the bearer it last authenticated, so
// that a keep-alive client presenting the same token on every request has
// it hashed and looked up once. Reused only while the service's
// ResolutionStamp, read before the lookup, is unchanged (no token revoked
// anywhere since, the change feed up) and the token is unexpired: a
// revocation still takes effect on the very next request. The secret is
// wiped when forgotten. One per connection; not thread-safe.
class BearerMemo {
 public:
  BearerMemo() = default;
  BearerMemo(const BearerMemo&) = delete;
  BearerMemo& operator=(const BearerMemo&) = delete;
  ~BearerMemo() { Forget(); }

  // The remembered authentication, when `secret` is the remembered secret
  // and `stamp` (the current ResolutionStamp) and `now` still allow it;
  // else null.
  SharedAuthenticated Recall(std::string_view secret, std::uint64_t stamp,
                             core::EpochMillis now) const;
  // Remembers `auth` for `secret`, resolved after reading `stamp`.
  void Remember(std::string_view secret, std::uint64_t stamp, SharedAuthenticated auth);
  void Forget();

 private:
  std::string secret_;
  std::uint64_t stamp_ = 0;
  SharedAuthenticated auth_;
};

// The secret a request presents: `Authorization: Bearer <secret>` (scheme
// case-insensitive) or the `access_token` query parameter. nullopt when there
// is none. InvalidArgument (1002) when both are given and differ, or the
// access_token parameter is repeated with different values; Unauthenticated
// when the Authorization header is not a usable Bearer credential.
// `raw_query` is the target's text after '?'. The secret is a view of the
// request, or of `storage` when it came percent-decoded from the query.
core::Result<std::optional<std::string_view>> PresentedSecret(const Request& req,
                                                              std::string_view raw_query,
                                                              std::string& storage);

// The active token `secret` belongs to, from the store (on env.blocking):
// for a secret env.service.ResolveCached could not answer (kMiss). Null for
// malformed, unknown, deleted or expired secrets; Unavailable when the store
// is.
asio::awaitable<core::Result<core::SharedToken>> ResolveFromStore(const HandlerEnv& env,
                                                                  std::string secret);

// The cache's answer for `secret` (never blocks): its active token, null when
// it is malformed or expired at `now`, nullopt when the store must be asked
// (ResolveFromStore).
std::optional<core::SharedToken> ResolveFromCache(const HandlerEnv& env, std::string_view secret,
                                                  core::EpochMillis now);

// Authentication for /api/v2 routes. Authentication off: the unrestricted
// caller. Otherwise Unauthenticated (401) when no secret is presented or it
// does not resolve to an active token, Unavailable when the store cannot
// tell, InvalidArgument for conflicting credentials. Records every failure in
// env.metrics. Messages never contain the secret. `memo` (may be null) is the
// connection's: it answers first, and keeps what the cache or store answer.
//
// In two steps, so that the common case costs no coroutine: StartAuthentication
// decides from the request, the memo and the cache alone (`result` set);
// otherwise (a cache miss) FinishAuthentication asks the store.
using AuthResult = core::Result<SharedAuthenticated>;
struct AuthAttempt {
  std::optional<AuthResult> result;
  std::string secret;                  // when `result` is unset: the secret to look up
  std::optional<std::uint64_t> stamp;  // ResolutionStamp, read before any lookup
};
AuthAttempt StartAuthentication(const HandlerEnv& env, const Request& req,
                                std::string_view raw_query, core::EpochMillis now,
                                BearerMemo* memo);
asio::awaitable<AuthResult> FinishAuthentication(const HandlerEnv& env, AuthAttempt attempt,
                                                 BearerMemo* memo);

}  // namespace tokend::http
