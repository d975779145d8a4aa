#include "core/authz.h"

#include <algorithm>

#include "core/permission.h"
#include "core/text.h"

namespace tokend::core {

Caller Caller::FromToken(const Token& token) {
  // What token.Permissions() holds, copied once.
  Caller caller;
  caller.token_id = token.id;
  caller.scope = token.type;
  caller.principal = token.principal.value_or("**");
  caller.actions = token.actions;
  caller.expiration_date = token.expiration_date;
  return caller;
}

Caller Caller::Unrestricted() {
  Caller caller;
  caller.actions = {"**/**"};
  return caller;
}

std::string_view RequiredPermission(TokenOperation operation) {
  switch (operation) {
    case TokenOperation::kRead:
      return "token/read";
    case TokenOperation::kCreate:
      return "token/write";
    case TokenOperation::kDelete:
      return "token/delete";
  }
  // Unknown operations need something no real permission names.
  return "token/-";
}

bool Covers(const Caller& caller, TokenType type, const std::optional<std::string>& principal) {
  if (caller.scope == TokenType::kGlobal) return true;
  // Only a global scope reaches tokens that have no principal.
  if (!principal || *principal != caller.principal) return false;
  if (type == caller.scope) return true;
  return caller.scope == TokenType::kUser && type == TokenType::kSession;
}

Status TokenNotFound() {
  return Status::NotFound("No token with this id exists or is visible to the caller.");
}

Status CheckOperation(const Caller& caller, TokenOperation operation) {
  const std::string_view needed = RequiredPermission(operation);
  if (AnyGrants(caller.actions, needed)) return Status::Ok();
  return Status::PermissionDenied("The token lacks the '" + std::string(needed) + "' permission.");
}

Status CheckAccess(const Caller& caller, TokenOperation operation, const Token& target) {
  // Same answer as for a missing id, so scopes cannot probe for other tokens.
  if (!Covers(caller, target.type, target.principal)) {
    return TokenNotFound();
  }
  return CheckOperation(caller, operation);
}

Status CheckCreate(const Caller& caller, const NewTokenSpec& spec) {
  if (Status s = CheckOperation(caller, TokenOperation::kCreate); !s.ok()) return s;
  if (!Covers(caller, spec.type, spec.principal)) {
    std::string message =
        "The token may not create a '" + std::string(ToString(spec.type)) + "' token";
    if (spec.principal) message += " for principal " + QuoteForMessage(*spec.principal);
    message +=
        ": it is outside the token's own scope ('" + std::string(ToString(caller.scope)) + "'";
    if (caller.scope != TokenType::kGlobal) {
      message += " of principal " + QuoteForMessage(caller.principal);
    }
    message += ").";
    return Status::PermissionDenied(std::move(message));
  }
  for (const std::string& action : spec.actions) {
    if (!AnyGrants(caller.actions, action)) {
      return Status::PermissionDenied("The token may not grant " + QuoteForMessage(action) +
                                      ": it does not hold that permission itself.");
    }
  }
  if (caller.expiration_date) {
    if (!spec.expiration_date) {
      return Status::PermissionDenied(
          "The token expires, so it may not create a token that never expires; set an "
          "expirationDate no later than its own.");
    }
    if (*spec.expiration_date > *caller.expiration_date) {
      return Status::PermissionDenied(
          "The new token's expirationDate is later than the creating token's own (" +
          FormatSpringDate(*caller.expiration_date) + ").");
    }
  }
  return Status::Ok();
}

Status CheckSelfRotation(const Token& own, const NewTokenSpec& spec, EpochMillis now) {
  if (!own.expiration_date) return Status::Ok();
  const EpochMillis lifetime = std::max<EpochMillis>(0, *own.expiration_date - own.creation_date);
  const EpochMillis latest = std::min(now + lifetime, kMaxExpirationDate);
  if (!spec.expiration_date) {
    return Status::PermissionDenied(
        "The token expires, so rotating itself may not make a token that never expires.");
  }
  if (*spec.expiration_date > latest) {
    return Status::PermissionDenied(
        "A token rotating itself may not get a longer life than its own: the new "
        "expirationDate may be at most " +
        FormatSpringDate(latest) + " (now plus the token's lifetime).");
  }
  return Status::Ok();
}

Visibility Visibility::Of(const Caller& caller) {
  Visibility visibility;
  if (caller.scope == TokenType::kGlobal) return visibility;
  visibility.everything = false;
  visibility.principal = caller.principal;
  visibility.types = {caller.scope};
  if (caller.scope == TokenType::kUser) visibility.types.push_back(TokenType::kSession);
  return visibility;
}

}  // namespace tokend::core
