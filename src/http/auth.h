// The authentication step: who is calling, from the presented secret.
#pragma once

#include <boost/asio/awaitable.hpp>
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

// The secret a request presents: `Authorization: Bearer <secret>` (scheme
// case-insensitive) or the `access_token` query parameter. nullopt when there
// is none. InvalidArgument (1002) when both are given and differ, or the
// access_token parameter is repeated with different values; Unauthenticated
// when the Authorization header is not a usable Bearer credential.
// `raw_query` is the target's text after '?'.
core::Result<std::optional<std::string>> PresentedSecret(const Request& req,
                                                         std::string_view raw_query);

// The active token `secret` belongs to, from the store (on env.blocking):
// for a secret env.service.ResolveCached could not answer (kMiss). Null for
// malformed, unknown, deleted or expired secrets; Unavailable when the store
// is.
asio::awaitable<core::Result<core::SharedToken>> ResolveFromStore(const HandlerEnv& env,
                                                                  std::string secret);

// The cache's answer for `secret` (never blocks): its active token, null when
// it is malformed or expired, nullopt when the store must be asked
// (ResolveFromStore).
std::optional<core::SharedToken> ResolveFromCache(const HandlerEnv& env, std::string_view secret);

// Authentication for /api/v2 routes. Authentication off: the unrestricted
// caller. Otherwise Unauthenticated (401) when no secret is presented or it
// does not resolve to an active token, Unavailable when the store cannot
// tell, InvalidArgument for conflicting credentials. Records every failure in
// env.metrics. Messages never contain the secret.
//
// In two steps, so that the common case costs no coroutine: StartAuthentication
// decides from the request and the cache alone (`result` set); otherwise
// (a cache miss) FinishAuthentication asks the store.
struct AuthAttempt {
  std::optional<core::Result<Authenticated>> result;
  std::string secret;  // when `result` is unset: the secret to look up
};
AuthAttempt StartAuthentication(const HandlerEnv& env, const Request& req,
                                std::string_view raw_query);
asio::awaitable<core::Result<Authenticated>> FinishAuthentication(const HandlerEnv& env,
                                                                  std::string secret);

}  // namespace tokend::http
