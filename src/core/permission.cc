#include "core/permission.h"

#include <algorithm>

namespace tokend::core {
namespace {

constexpr std::string_view kWildcard = "**";

// The grammar's character class ([0-9a-zA-Z-]+) admits only what is in these
// lists anyway, so an exact membership test is the whole check of a half.
// Every authorization decision splits each permission the caller holds, so
// the lists are searched among the names of the same length only.
template <std::size_t N>
bool IsOneOf(std::string_view word, const std::string_view (&names)[N]) {
  for (const std::string_view name : names) {
    if (name == word) return true;
  }
  return false;
}

bool IsResource(std::string_view word) {
  switch (word.size()) {
    case 2:
      return word == "**";
    case 4:
      return IsOneOf(word, {"user", "team", "task"});
    case 5:
      return word == "token";
    case 6:
      return IsOneOf(word, {"system", "action"});
    case 7:
      return IsOneOf(word, {"taskrun", "webhook"});
    case 8:
      return IsOneOf(word, {"workflow", "schedule", "insights"});
    case 9:
      return word == "parameter";
    case 11:
      return IsOneOf(word, {"workflowrun", "integration"});
    case 16:
      return word == "workflowtemplate";
    default:
      return false;
  }
}

bool IsAction(std::string_view word) {
  switch (word.size()) {
    case 2:
      return word == "**";
    case 4:
      return word == "read";
    case 5:
      return word == "write";
    case 6:
      return IsOneOf(word, {"action", "delete"});
    default:
      return false;
  }
}

struct Halves {
  std::string_view resource;
  std::string_view action;
};

// Splits a valid permission at its one '/'; nullopt for anything invalid.
std::optional<Halves> Split(std::string_view permission) {
  const std::size_t slash = permission.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  Halves halves{permission.substr(0, slash), permission.substr(slash + 1)};
  if (!IsResource(halves.resource) || !IsAction(halves.action)) return std::nullopt;
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
