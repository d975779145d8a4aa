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

bool HasNul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

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
    case TokenType::kGlobal: return {"admin", "operator"};
    case TokenType::kTeam: return {"owner", "editor", "reader"};
    default: return {};
  }
}

// Checks shared by every free-text field: encoding, NUL, length.
Status CheckText(std::string_view field, std::string_view value, std::size_t max_code_points) {
  if (!IsValidUtf8(value)) {
    return InvalidRequest("Field '" + std::string(field) + "' is not valid UTF-8.");
  }
  if (HasNul(value)) {
    return InvalidRequest("Field '" + std::string(field) + "' must not contain a NUL character.");
  }
  if (CountCodePoints(value) > max_code_points) {
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
    if (IsBlank(*request.principal)) {
      return InvalidRequest("Field 'principal' must not be blank.");
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
    return InvalidRequest(
        "Field 'expirationDate' must be before 10000-01-01T00:00:00.000+00:00.");
  }

  const bool has_permissions = request.permissions && !request.permissions->empty();
  const bool needs_permissions = type == TokenType::kGlobal || type == TokenType::kTeam ||
                                 type == TokenType::kWorkflow;
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
Result<std::vector<std::string>> ResolveActions(const CreateTokenRequest& request,
                                                TokenType type) {
  std::vector<std::string> actions;
  std::vector<std::string> expanded;
  if (request.role) {
    std::optional<std::vector<std::string>> role = ExpandRole(type, *request.role);
    if (!role) {
      const std::vector<std::string_view> names = RoleNames(type);
      std::string message = "Invalid Token request. Unknown role " + QuoteForMessage(*request.role) +
                            " for type '" + std::string(ToString(type)) + "'.";
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
        return InvalidPermission("Invalid Token request. Invalid permission " + QuoteForMessage(permission) +
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
  if (type == TokenType::kUser && actions.empty()) {
    // A user token without permissions acts as its user.
    actions.push_back("**/**");
  }
  return actions;
}

}  // namespace

Result<NewTokenSpec> ValidateCreate(const CreateTokenRequest& request, EpochMillis now) {
  if (request.type && *request.type == ToString(TokenType::kSession)) {
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

std::size_t CountCodePoints(std::string_view utf8) {
  return static_cast<std::size_t>(std::count_if(utf8.begin(), utf8.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

bool IsValidUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const unsigned char lead = *p;
    if (lead < 0x80) {
      ++p;
      continue;
    }
    std::size_t length;
    // The second byte's range excludes overlongs (E0, F0), surrogates (ED)
    // and code points above U+10FFFF (F4), per RFC 3629's table.
    unsigned char low = 0x80, high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    } else {
      return false;
    }
    if (static_cast<std::size_t>(end - p) < length) return false;
    if (p[1] < low || p[1] > high) return false;
    for (std::size_t i = 2; i < length; ++i) {
      if (p[i] < 0x80 || p[i] > 0xBF) return false;
    }
    p += length;
  }
  return true;
}

}  // namespace tokend::core
