// Permission strings ("resource/action"), roles, and how one permission
// covers another. Pure functions, no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/token.h"

namespace tokend::core {

// True when `permission` matches (\*\*|[0-9a-zA-Z-]+)/(\*\*|read|write|action|delete)
// in full and its resource is one of: system workflow workflowrun
// workflowtemplate taskrun task action user team token parameter schedule
// insights integration webhook **.
bool IsValidPermission(std::string_view permission);

// The permissions a role expands to for tokens of `type`, or nullopt when the
// role does not exist for that type. global: admin = **/**, operator =
// **/read **/write **/action; team: owner = **/**, editor = **/read **/write
// **/action, reader = **/read. Other types have no roles.
std::optional<std::vector<std::string>> ExpandRole(TokenType type, std::string_view role);

// True when holding `held` grants `wanted`: each half is equal, or `held`'s
// half is "**". ("**/read" grants "token/read" and "**/read"; "token/**" does
// not grant "**/read".) Both must be valid permissions.
bool PermissionGrants(std::string_view held, std::string_view wanted);

// True when any of `held` grants `wanted`.
bool AnyGrants(const std::vector<std::string>& held, std::string_view wanted);

}  // namespace tokend::core
