// Authorization: every decision about what a caller may do with tokens is
// made here, by pure functions. Handlers and the service only ask.
//
// A caller acts with one ResolvedPermissions scope {scope S, principal P} and
// a list of actions. A global scope covers every token; any other scope
// covers only tokens of type S with principal P, and a user scope also covers
// that user's session tokens.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/create_request.h"
#include "core/status.h"
#include "core/token.h"

namespace tokend::core {

struct Caller {
  std::string token_id;  // empty for the unrestricted caller
  TokenType scope = TokenType::kGlobal;
  std::string principal = "**";
  std::vector<std::string> actions;
  std::optional<EpochMillis> expiration_date;
  // The TCP peer the request came from, for audit events; null when the
  // caller is not a request (first start, commands).
  std::optional<std::string> remote_address;
  // `--auth off`: the valid token the request presented, if any. It grants
  // nothing (the caller is unrestricted) but is named as the actor of the
  // changes the request makes.
  SharedToken presented;

  // The caller a token acts as.
  static Caller FromToken(const Token& token);
  // `--auth off`: a global `**/**` caller that never expires.
  static Caller Unrestricted();
};

enum class TokenOperation {
  kRead,    // query, get, introspect: token/read
  kCreate,  // token/write
  kDelete,  // token/delete
};

// The permission string an operation needs ("token/read", ...).
std::string_view RequiredPermission(TokenOperation operation);

// True when the caller's scope covers a token of `type` owned by `principal`.
bool Covers(const Caller& caller, TokenType type, const std::optional<std::string>& principal);

// The one answer for a token the caller may not learn of, whether its id is
// malformed, absent or outside the caller's scope: NotFound (404) with a
// fixed message that echoes nothing.
Status TokenNotFound();

// PermissionDenied (403) when the caller holds no permission granting the
// operation at all; ok otherwise. Checked before any store lookup.
Status CheckOperation(const Caller& caller, TokenOperation operation);

// For get/delete/introspect of an existing token: NotFound (404, no existence
// leak) when the caller's scope does not cover it, PermissionDenied when it
// does but the operation is not granted, ok otherwise.
Status CheckAccess(const Caller& caller, TokenOperation operation, const Token& target);

// No escalation: PermissionDenied, naming the reason, when the caller lacks
// token/write, when the new token's type/principal is outside the caller's
// scope, when any of its actions is not granted by the caller's, or when it
// would outlive the caller (no expiry, or a later one). Never narrows.
Status CheckCreate(const Caller& caller, const NewTokenSpec& spec);

// Self-rotation (API 7.3) needs no permission, and its new token has the
// bearer's own type, principal and permissions; what it may not have is a
// longer life than the bearer was given. For a bearer that expires, the new
// token must expire too, at most its lifetime (expirationDate - creationDate)
// from `now`: the inherited default. PermissionDenied naming the bound
// otherwise. So a leaked token that rotates itself never outlives the
// lifetime its creator chose for it.
Status CheckSelfRotation(const Token& own, const NewTokenSpec& spec, EpochMillis now);

// What a caller may see, for filtering inside the store query.
struct Visibility {
  bool everything = true;
  std::vector<TokenType> types;  // when !everything: type IN types
  std::string principal;         // ... AND principal = principal

  static Visibility Of(const Caller& caller);
  bool operator==(const Visibility&) const = default;
};

}  // namespace tokend::core
