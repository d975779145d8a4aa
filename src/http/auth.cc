#include "http/auth.h"

#include <openssl/crypto.h>

#include <utility>

#include "core/query.h"
#include "core/secret.h"
#include "http/metrics.h"
#include "service/token_service.h"

namespace tokend::http {
namespace {

constexpr std::string_view kMissingMessage =
    "Authentication required: send Authorization: Bearer <token>.";
constexpr std::string_view kInvalidMessage =
    "The presented token is not valid: it is malformed, unknown, expired or revoked.";

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// The credential of "Bearer <secret>"; nullopt when the header is not one.
std::optional<std::string_view> BearerCredential(std::string_view header) {
  while (!header.empty() && IsBlank(header.front())) header.remove_prefix(1);
  while (!header.empty() && IsBlank(header.back())) header.remove_suffix(1);
  constexpr std::string_view kScheme = "bearer";
  if (header.size() <= kScheme.size() || !IEquals(header.substr(0, kScheme.size()), kScheme) ||
      !IsBlank(header[kScheme.size()])) {
    return std::nullopt;
  }
  std::string_view credential = header.substr(kScheme.size());
  while (!credential.empty() && IsBlank(credential.front())) credential.remove_prefix(1);
  if (credential.empty()) return std::nullopt;
  for (char c : credential) {
    if (IsBlank(c)) return std::nullopt;
  }
  return credential;
}

}  // namespace

core::Result<std::optional<std::string_view>> PresentedSecret(const Request& req,
                                                              std::string_view raw_query,
                                                              std::string& storage) {
  std::optional<std::string_view> from_header;
  const auto headers = req.equal_range(beast_http::field::authorization);
  for (auto it = headers.first; it != headers.second; ++it) {
    if (from_header) {
      return core::Status::InvalidArgument("The Authorization header is given more than once.");
    }
    const auto credential = BearerCredential(it->value());
    if (!credential) {
      return core::Status::Unauthenticated(
          "The Authorization header must be of the form: Bearer <token>.");
    }
    from_header = *credential;
  }

  std::optional<std::string> from_query;
  // The name may be percent-encoded (access%5Ftoken): parse whenever it could
  // be there, since names are compared only once decoded.
  if (raw_query.find("access") != std::string_view::npos ||
      raw_query.find('%') != std::string_view::npos) {
    auto params = core::ParseQueryString(raw_query);
    if (!params.ok()) {
      // A malformed query string is the handler's to report when the header
      // already authenticates the request, and names no credential unless
      // its text says access_token.
      if (from_header) return from_header;
      if (raw_query.find("access_token") == std::string_view::npos) {
        return std::optional<std::string_view>();
      }
      return params.status();
    }
    for (const auto& [name, value] : *params) {
      if (name != "access_token") continue;
      if (from_query && *from_query != value) {
        return core::Status::InvalidArgument(
            "The access_token parameter is given more than once with different values.");
      }
      from_query = value;
    }
    if (from_query && from_query->empty()) from_query.reset();
  }

  if (from_header && from_query && *from_header != *from_query) {
    return core::Status::InvalidArgument(
        "The Authorization header and the access_token parameter present different tokens.");
  }
  if (from_header) return from_header;
  if (!from_query) return std::optional<std::string_view>();
  storage = std::move(*from_query);
  return std::optional<std::string_view>(storage);
}

SharedAuthenticated BearerMemo::Recall(std::string_view secret, std::uint64_t stamp,
                                       core::EpochMillis now) const {
  if (!auth_ || stamp != stamp_ || secret.size() != secret_.size() ||
      CRYPTO_memcmp(secret.data(), secret_.data(), secret.size()) != 0 ||
      !auth_->token->IsValidAt(now)) {
    return nullptr;
  }
  return auth_;
}

void BearerMemo::Remember(std::string_view secret, std::uint64_t stamp, SharedAuthenticated auth) {
  Forget();
  secret_.assign(secret);
  stamp_ = stamp;
  auth_ = std::move(auth);
}

void BearerMemo::Forget() {
  if (!secret_.empty()) OPENSSL_cleanse(secret_.data(), secret_.size());
  secret_.clear();
  auth_.reset();
}

namespace {

// The outcome of authenticating with `secret`, once resolved to `resolved`;
// kept in `memo` (when given) if the lookup began at `stamp`.
AuthResult AuthOutcome(const HandlerEnv& env, std::string_view secret,
                       const service::Resolution& resolved, std::optional<std::uint64_t> stamp,
                       BearerMemo* memo) {
  if (!resolved.ok()) {
    env.metrics.RecordAuthFailure("unavailable");
    return core::Status::Unavailable(
        "The token store is unavailable; the token cannot be checked. Retry later.");
  }
  if (*resolved == nullptr) {
    env.metrics.RecordAuthFailure(core::ParseSecret(secret) ? "unknown" : "malformed");
    return core::Status::Unauthenticated(std::string(kInvalidMessage));
  }
  auto auth = std::make_shared<const Authenticated>(
      Authenticated{core::Caller::FromToken(**resolved), *resolved});
  if (memo != nullptr && stamp) memo->Remember(secret, *stamp, auth);
  return auth;
}

const SharedAuthenticated& Unrestricted() {
  static const SharedAuthenticated unrestricted =
      std::make_shared<const Authenticated>(Authenticated{core::Caller::Unrestricted(), nullptr});
  return unrestricted;
}

// Authentication off: everyone is unrestricted, and a valid presented token
// is still the caller's own (GET /self names it).
service::Outcome<AuthResult> AuthenticationOff(const HandlerEnv& env, Exchange& ex) {
  auto presented = PresentedSecret(ex.req, ex.query, ex.decoded_credential);
  if (!presented.ok() || !presented->has_value()) return AuthResult(Unrestricted());
  return env.service.Resolve(core::HashedSecret::Of(**presented), ex.now)
      .Then([](service::Resolution resolved) -> service::Outcome<AuthResult> {
        if (!resolved.ok() || *resolved == nullptr) return AuthResult(Unrestricted());
        return AuthResult(std::make_shared<const Authenticated>(
            Authenticated{core::Caller::Unrestricted(), std::move(*resolved)}));
      });
}

}  // namespace

service::Outcome<AuthResult> Authenticate(const HandlerEnv& env, Exchange& ex) {
  if (!env.service.auth_required()) return AuthenticationOff(env, ex);
  auto presented = PresentedSecret(ex.req, ex.query, ex.decoded_credential);
  if (!presented.ok()) {
    env.metrics.RecordAuthFailure("malformed");
    return AuthResult(presented.status());
  }
  if (!presented->has_value()) {
    env.metrics.RecordAuthFailure("missing");
    return AuthResult(core::Status::Unauthenticated(std::string(kMissingMessage)));
  }
  const std::string_view secret = **presented;
  // Read before any lookup, so that a revocation racing with it moves the
  // stamp away from what the memo keeps.
  const std::optional<std::uint64_t> stamp = env.service.ResolutionStamp();
  if (ex.memo != nullptr && stamp) {
    if (auto remembered = ex.memo->Recall(secret, *stamp, ex.now)) {
      return AuthResult(std::move(remembered));
    }
  }
  return env.service.Resolve(core::HashedSecret::Of(secret), ex.now)
      .Then([&env, secret, stamp, memo = ex.memo](
                service::Resolution resolved) -> service::Outcome<AuthResult> {
        return AuthOutcome(env, secret, resolved, stamp, memo);
      });
}

}  // namespace tokend::http
