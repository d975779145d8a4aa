#include "http/auth.h"

#include <openssl/crypto.h>

#include <utility>

#include "core/secret.h"
#include "core/text.h"
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

// The access_token parameter of a raw query string (an empty occurrence counts
// as absent, beside another or alone).
// Each parameter is decoded on its own, so that a malformed parameter of
// another name neither hides a credential nor keeps one from being seen (the
// route reports it); a malformed access_token value, or two different ones,
// are refused (400).
core::Result<std::optional<std::string>> QueryCredential(std::string_view raw_query) {
  std::optional<std::string> credential;
  while (!raw_query.empty()) {
    const auto amp = raw_query.find('&');
    const std::string_view pair = raw_query.substr(0, amp);
    raw_query.remove_prefix(amp == std::string_view::npos ? raw_query.size() : amp + 1);
    const auto equals = pair.find('=');
    const auto name = core::PercentDecode(pair.substr(0, equals), /*plus_is_space=*/true);
    if (!name || *name != "access_token") continue;
    auto value = core::PercentDecode(
        equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1),
        /*plus_is_space=*/true);
    if (!value || !core::IsValidUtf8(*value) || core::HasNul(*value)) {
      return core::Status::InvalidArgument("The access_token parameter is malformed.",
                                           core::ApiError::kQueryInvalidFilters);
    }
    if (value->empty()) continue;  // an empty occurrence counts as absent
    if (credential && *credential != *value) {
      return core::Status::InvalidArgument(
          "The access_token parameter is given more than once with different values.",
          core::ApiError::kQueryInvalidFilters);
    }
    credential = std::move(*value);
  }
  return credential;
}

}  // namespace

core::Result<std::optional<std::string_view>> PresentedSecret(const RequestHeaders& headers,
                                                              std::string_view raw_query,
                                                              std::string& storage) {
  std::optional<std::string_view> from_header;
  if (headers.authorization) {
    // Before the first one is read: two of them are a 400 whichever comes
    // first and whatever either holds.
    if (headers.authorization_count > 1) {
      return core::Status::InvalidArgument("The Authorization header is given more than once.",
                                           core::ApiError::kBadHttpRequest);
    }
    const auto credential = BearerCredential(*headers.authorization);
    if (!credential) {
      return core::Status::Unauthenticated(
          "The Authorization header must be of the form: Bearer <token>.");
    }
    from_header = *credential;
  }

  // The name may be percent-encoded (access%5Ftoken), so names are compared
  // once decoded; scanned whenever one could be there.
  std::optional<std::string> from_query;
  if (raw_query.find("access") != std::string_view::npos ||
      raw_query.find('%') != std::string_view::npos) {
    auto found = QueryCredential(raw_query);
    if (!found.ok()) return found.status();
    from_query = std::move(*found);
  }

  if (from_header && from_query && *from_header != *from_query) {
    return core::Status::InvalidArgument(
        "The Authorization header and the access_token parameter present different tokens.",
        core::ApiError::kQueryInvalidFilters);
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
    // Whatever the store's fault, the token cannot be checked: 503, with the
    // store's own text kept for the log (the error mapping logs it and
    // answers clients with the fixed message).
    env.metrics.RecordAuthFailure("unavailable");
    return core::Status::Unavailable(resolved.status().message());
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

// Authentication off: everyone is unrestricted, and a valid `presented`
// token is still the caller's own (GET /self names it).
service::Outcome<AuthResult> AuthenticationOff(const HandlerEnv& env, const Exchange& ex,
                                               std::optional<std::string_view> presented) {
  if (!presented) return AuthResult(Unrestricted());
  return env.service.Resolve(core::HashedSecret::Of(*presented), ex.now)
      .Then([](service::Resolution resolved) -> service::Outcome<AuthResult> {
        if (!resolved.ok() || *resolved == nullptr) return AuthResult(Unrestricted());
        core::Caller caller = core::Caller::Unrestricted();
        caller.presented = *resolved;
        return AuthResult(std::make_shared<const Authenticated>(
            Authenticated{std::move(caller), std::move(*resolved)}));
      });
}

}  // namespace

service::Outcome<AuthResult> Authenticate(const HandlerEnv& env, Exchange& ex) {
  auto presented = PresentedSecret(ex.headers, ex.credential_query, ex.decoded_credential);
  // Conflicting credentials are refused whatever the mode: which one the
  // client meant cannot be known, and with authentication off a valid one
  // still names the caller (GET /self, the actor of a change). An unusable
  // Authorization header is, with authentication off, no credential at all.
  const bool required = env.service.auth_required();
  if (!presented.ok() &&
      (required || presented.status().code() != core::StatusCode::kUnauthenticated)) {
    env.metrics.RecordAuthFailure("malformed");
    return AuthResult(presented.status());
  }
  if (!required) {
    return AuthenticationOff(env, ex, presented.ok() ? *presented : std::nullopt);
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
      .Then([&env, secret, stamp,
             memo = ex.memo](service::Resolution resolved) -> service::Outcome<AuthResult> {
        return AuthOutcome(env, secret, resolved, stamp, memo);
      });
}

}  // namespace tokend::http
