#include "core/create_request.h"

#include <algorithm>
#include <string_view>

#include "core/permission.h"
#include "core/text.h"

namespace tokend::core {
namespace {

// Boomerang's own 1010 text; clients match on it, so every 1010 starts with it.
constexpr std::string_view kInvalidRequestPrefix =
    "Invalid Token request. Token type, name, and permissions are required. Principal is "
    "required for all but Global types.";

bool IsBlank(std::string_view text) { return TrimAsciiSpace(text).empty(); }

Status InvalidRequest(std::string_view detail) {
  std::string message(kInvalidRequestPrefix);
  message += ' ';
  message += detail;
  return Status::InvalidArgument(std::move(message), ApiError::kTokenInvalidRequest);
}

Status InvalidPermission(std::string message) {
  return Status::InvalidArgument(std::move(message), ApiError::kTokenInvalidPermission);
}

std::vector<std::string_view> RoleNames(TokenType type) {
  switch (type) {
    case TokenType::kGlobal:
      return {"admin", "operator"};
    case TokenType::kTeam:
      return {"owner", "editor", "reader"};
    default:
      return {};
  }
}

// Checks shared by every free-text field: encoding, NUL, length.
Status CheckText(std::string_view field, std::string_view value, std::size_t max_code_points) {
  const Utf8Scan utf8 = ScanUtf8(value);
  if (!utf8.valid()) {
    return InvalidRequest("Field '" + std::string(field) + "' is not valid UTF-8.");
  }
  if (HasNul(value)) {
    return InvalidRequest("Field '" + std::string(field) + "' must not contain a NUL character.");
  }
  if (utf8.code_points > max_code_points) {
    return InvalidRequest("Field '" + std::string(field) + "' must be at most " +
                          std::to_string(max_code_points) + " characters.");
  }
  return Status::Ok();
}

Status CheckRequiredFields(const CreateTokenRequest& request, TokenType type, EpochMillis now) {
  if (!request.name) return InvalidRequest("Field 'name' is required.");
  if (Status s = CheckText("name", *request.name, kMaxNameCodePoints); !s.ok()) return s;
  if (IsBlank(*request.name)) return InvalidRequest("Field 'name' must not be blank.");

  if (type != TokenType::kGlobal) {
    if (request.principal_not_a_string) {
      return InvalidRequest("Field 'principal' must be a string.");
    }
    if (!request.principal) {
      return InvalidRequest("Field 'principal' is required for type '" +
                            std::string(ToString(type)) + "'.");
    }
    if (request.principal->size() > kMaxPrincipalBytes) {
      return InvalidRequest("Field 'principal' must be at most " +
                            std::to_string(kMaxPrincipalBytes) + " bytes.");
    }
    if (Status s = CheckText("principal", *request.principal, kMaxPrincipalBytes); !s.ok()) {
      return s;
    }
    if (const std::optional<std::string_view> problem =
            NonGlobalPrincipalProblem(*request.principal)) {
      return InvalidRequest("Field 'principal' " + std::string(*problem) + ".");
    }
  }

  if (request.description) {
    if (Status s = CheckText("description", *request.description, kMaxDescriptionCodePoints);
        !s.ok()) {
      return s;
    }
  }

  if (request.expiration_date && *request.expiration_date <= now) {
    return InvalidRequest("Field 'expirationDate' must be in the future.");
  }
  if (request.expiration_date && *request.expiration_date > kMaxExpirationDate) {
    return InvalidRequest("Field 'expirationDate' must be before 10000-01-01T00:00:00.000+00:00.");
  }

  const bool has_permissions = request.permissions && !request.permissions->empty();
  const bool needs_permissions =
      type == TokenType::kGlobal || type == TokenType::kTeam || type == TokenType::kWorkflow;
  if (needs_permissions && !has_permissions && !request.role) {
    return InvalidRequest("Field 'permissions' is required and must not be empty for type '" +
                          std::string(ToString(type)) + "' unless a role is given.");
  }
  if (request.permissions && request.permissions->size() > kMaxPermissions) {
    return InvalidRequest("Field 'permissions' must have at most " +
                          std::to_string(kMaxPermissions) + " entries.");
  }
  return Status::Ok();
}

// Role expansion first, then the permissions, each string once.
Result<std::vector<std::string>> ResolveActions(const CreateTokenRequest& request, TokenType type) {
  std::vector<std::string> actions;
  std::vector<std::string> expanded;
  if (request.role) {
    std::optional<std::vector<std::string>> role = ExpandRole(type, *request.role);
    if (!role) {
      const std::vector<std::string_view> names = RoleNames(type);
      std::string message = "Invalid Token request. Unknown role " +
                            QuoteForMessage(*request.role) + " for type '" +
                            std::string(ToString(type)) + "'.";
      if (names.empty()) {
        message += " Type '" + std::string(ToString(type)) + "' has no roles.";
      } else {
        message += " Valid roles:";
        for (std::size_t i = 0; i < names.size(); ++i) {
          message += i == 0 ? " " : ", ";
          message += names[i];
        }
        message += ".";
      }
      return InvalidPermission(std::move(message));
    }
    expanded = std::move(*role);
  }
  if (request.permissions) {
    for (const std::string& permission : *request.permissions) {
      if (!IsValidPermission(permission)) {
        return InvalidPermission("Invalid Token request. Invalid permission " +
                                 QuoteForMessage(permission) +
                                 ": expected 'resource/action' with a known resource and an "
                                 "action of read, write, action, delete or **.");
      }
    }
  }
  actions.reserve(expanded.size() + (request.permissions ? request.permissions->size() : 0));
  auto add = [&](const std::string& action) {
    if (std::find(actions.begin(), actions.end(), action) == actions.end()) {
      actions.push_back(action);
    }
  };
  for (const std::string& action : expanded) add(action);
  if (request.permissions) {
    for (const std::string& action : *request.permissions) add(action);
  }
  // The bound is on what the token holds, which every authorization check
  // walks: a role adds to the listed permissions.
  if (actions.size() > kMaxPermissions) {
    return InvalidRequest(
        "The token's permissions (its role's and the listed ones) must be at most " +
        std::to_string(kMaxPermissions) + ".");
  }
  if (type == TokenType::kUser && actions.empty()) {
    // A user token without permissions acts as its user.
    actions.push_back("**/**");
  }
  return actions;
}

}  // namespace

bool IsListablePrincipal(std::string_view principal) {
  return principal.find(',') == std::string_view::npos && TrimAsciiSpace(principal) == principal;
}

std::optional<std::string_view> NonGlobalPrincipalProblem(std::string_view principal) {
  if (IsBlank(principal)) return "must not be blank";
  if (!IsListablePrincipal(principal)) return kUnlistablePrincipal;
  // What a global token's permissions name as their principal.
  if (principal == kGlobalPrincipal) return "'**' is for global tokens only";
  return std::nullopt;
}

bool AsksForSessionToken(const CreateTokenRequest& request) {
  return request.type && *request.type == ToString(TokenType::kSession);
}

Result<NewTokenSpec> ValidateCreate(const CreateTokenRequest& request, EpochMillis now) {
  if (AsksForSessionToken(request)) {
    return Status::InvalidArgument(
        "Invalid Token request. Session tokens are created by sign-in, not through this API.",
        ApiError::kTokenInvalidSessionRequest);
  }
  if (!request.type) return InvalidRequest("Field 'type' is required.");
  const std::optional<TokenType> type = ParseTokenType(*request.type);
  if (!type) {
    return InvalidRequest("Unknown type " + QuoteForMessage(*request.type) +
                          "; expected one of global, team, workflow, user.");
  }
  if (Status s = CheckRequiredFields(request, *type, now); !s.ok()) return s;

  Result<std::vector<std::string>> actions = ResolveActions(request, *type);
  if (!actions.ok()) return actions.status();

  NewTokenSpec spec;
  spec.type = *type;
  spec.name = *request.name;
  spec.description = request.description;
  if (*type != TokenType::kGlobal) spec.principal = request.principal;
  spec.expiration_date = request.expiration_date;
  spec.actions = std::move(actions).value();
  return spec;
}

Status InvalidCreateRequest(std::string_view detail) { return InvalidRequest(detail); }

}  // namespace tokend::core
