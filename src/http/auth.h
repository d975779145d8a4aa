// The authentication step: who is calling, from the presented secret.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "http/exchange.h"
#include "service/outcome.h"

namespace tokend::http {

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
// case-insensitive) or the `access_token` query parameter (its name matched
// after percent-decoding). nullopt when there is none. InvalidArgument when
// the Authorization header is given more than once (9015), when it and the
// parameter present different tokens, or the parameter is repeated with
// different values or malformed (1001); Unauthenticated when the
// Authorization header is not a usable Bearer credential. `raw_query` is
// the target's text after '?'. The secret is a view of the request, or of
// `storage` when it came percent-decoded from the query.
core::Result<std::optional<std::string_view>> PresentedSecret(const RequestHeaders& headers,
                                                              std::string_view raw_query,
                                                              std::string& storage);

using AuthResult = core::Result<SharedAuthenticated>;

// Authentication for /api/v2 routes, as an outcome: ready from the
// connection's memo or the cache, else a store lookup. Authentication off:
// the unrestricted caller (with the presented token, if it is valid, as its
// own, for /self). Otherwise Unauthenticated (401) when no secret is
// presented or it does not resolve to an active token, Unavailable when the
// store cannot tell. In either mode, InvalidArgument for conflicting
// credentials (PresentedSecret). Records every failure in env.metrics;
// messages never contain the secret.
service::Outcome<AuthResult> Authenticate(const HandlerEnv& env, Exchange& ex);

}  // namespace tokend::http
