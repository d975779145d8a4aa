#include "core/permission.h"

#include <algorithm>

namespace tokend::core {
namespace {

constexpr std::string_view kWildcard = "**";

// The grammar's character class ([0-9a-zA-Z-]+) admits only what is in this
// list anyway, so an exact membership test is the whole resource check.
constexpr std::string_view kResources[] = {
    "system",  "workflow", "workflowrun", "workflowtemplate", "taskrun",  "task",     "action",
    "user",    "team",     "token",       "parameter",        "schedule", "insights", "integration",
    "webhook", "**",
};
constexpr std::string_view kActions[] = {"**", "read", "write", "action", "delete"};

struct Halves {
  std::string_view resource;
  std::string_view action;
};

// Splits a valid permission at its one '/'; nullopt for anything invalid.
std::optional<Halves> Split(std::string_view permission) {
  const std::size_t slash = permission.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  Halves halves{permission.substr(0, slash), permission.substr(slash + 1)};
  if (std::find(std::begin(kResources), std::end(kResources), halves.resource) ==
          std::end(kResources) ||
      std::find(std::begin(kActions), std::end(kActions), halves.action) == std::end(kActions)) {
    return std::nullopt;
  }
  return halves;
}

bool HalfGrants(std::string_view held, std::string_view wanted) {
  return held == kWildcard || held == wanted;
}

}  // namespace

bool IsValidPermission(std::string_view permission) { return Split(permission).has_value(); }

std::optional<std::vector<std::string>> ExpandRole(TokenType type, std::string_view role) {
  using Actions = std::vector<std::string>;
  switch (type) {
    case TokenType::kGlobal:
      if (role == "admin") return Actions{"**/**"};
      if (role == "operator") return Actions{"**/read", "**/write", "**/action"};
      return std::nullopt;
    case TokenType::kTeam:
      if (role == "owner") return Actions{"**/**"};
      if (role == "editor") return Actions{"**/read", "**/write", "**/action"};
      if (role == "reader") return Actions{"**/read"};
      return std::nullopt;
    case TokenType::kWorkflow:
    case TokenType::kUser:
    case TokenType::kSession:
      return std::nullopt;
  }
  return std::nullopt;
}

bool PermissionGrants(std::string_view held, std::string_view wanted) {
  const std::optional<Halves> h = Split(held);
  const std::optional<Halves> w = Split(wanted);
  if (!h || !w) return false;
  return HalfGrants(h->resource, w->resource) && HalfGrants(h->action, w->action);
}

bool AnyGrants(const std::vector<std::string>& held, std::string_view wanted) {
  return std::any_of(held.begin(), held.end(),
                     [wanted](const std::string& h) { return PermissionGrants(h, wanted); });
}

}  // namespace tokend::core
