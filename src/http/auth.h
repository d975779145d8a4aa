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
  // The caller's own token; nullopt when authentication is off.
  std::optional<core::Token> token;
};

// The secret a request presents: `Authorization: Bearer <secret>` (scheme
// case-insensitive) or the `access_token` query parameter. nullopt when there
// is none. InvalidArgument (1002) when both are given and differ, or the
// access_token parameter is repeated with different values; Unauthenticated
// when the Authorization header is not a usable Bearer credential.
// `raw_query` is the target's text after '?'.
core::Result<std::optional<std::string>> PresentedSecret(const Request& req,
                                                         std::string_view raw_query);

// The active token `secret` belongs to: the cache first (inline, no thread
// hop), the store on a miss (on env.blocking). nullopt for malformed,
// unknown, deleted or expired secrets; Unavailable when the store is.
asio::awaitable<core::Result<std::optional<core::Token>>> ResolveSecret(const HandlerEnv& env,
                                                                        std::string secret);

// Authentication for /api/v2 routes. Authentication off: the unrestricted
// caller. Otherwise Unauthenticated (401) when no secret is presented or it
// does not resolve to an active token, Unavailable when the store cannot
// tell, InvalidArgument for conflicting credentials. Records every failure in
// env.metrics. Messages never contain the secret.
asio::awaitable<core::Result<Authenticated>> Authenticate(const HandlerEnv& env, const Request& req,
                                                          std::string_view raw_query);

}  // namespace tokend::http
