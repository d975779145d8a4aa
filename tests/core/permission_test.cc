#include "core/permission.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace tokend::core {
namespace {

TEST(PermissionTest, ValidPermissions) {
  constexpr std::string_view kValid[] = {
      "token/read",
      "token/write",
      "token/action",
      "token/delete",
      "token/**",
      "**/**",
      "**/read",
      "system/read",
      "workflow/write",
      "workflowrun/action",
      "workflowtemplate/read",
      "taskrun/read",
      "task/read",
      "action/read",
      "user/read",
      "team/read",
      "parameter/write",
      "schedule/delete",
      "insights/read",
      "integration/write",
      "webhook/**",
  };
  for (std::string_view p : kValid) EXPECT_TRUE(IsValidPermission(p)) << p;
}

TEST(PermissionTest, InvalidPermissions) {
  constexpr std::string_view kInvalid[] = {
      "",
      "/read",
      "token/",
      "token",
      "/",
      "Token/read",
      "token/READ",
      "token/Read",
      "a/b/c",
      "token/read/",
      "tokens/read",
      "foo/read",
      "*/read",
      "token/*",
      "***/read",
      "token/list",
      " token/read",
      "token/read ",
      "token//read",
      "-/read",
      std::string_view("token/read\0", 11),
  };
  for (std::string_view p : kInvalid) EXPECT_FALSE(IsValidPermission(p)) << p;
}

// Every resource with every action, and every near miss of each name: one
// character changed, one dropped, one added (names that turn into another
// name excepted).
TEST(PermissionTest, EveryResourceAndActionAndNoNearMiss) {
  const std::vector<std::string> resources = {
      "system",   "workflow",    "workflowrun", "workflowtemplate",
      "taskrun",  "task",        "action",      "user",
      "team",     "token",       "parameter",   "schedule",
      "insights", "integration", "webhook",     "**"};
  const std::vector<std::string> actions = {"**", "read", "write", "action", "delete"};
  for (const std::string& resource : resources) {
    for (const std::string& action : actions) {
      EXPECT_TRUE(IsValidPermission(resource + "/" + action)) << resource << "/" << action;
    }
  }
  auto near_misses = [](const std::string& name) {
    std::vector<std::string> misses;
    for (std::size_t i = 0; i < name.size(); ++i) {
      std::string changed = name;
      changed[i] = changed[i] == 'x' ? 'y' : 'x';
      misses.push_back(changed);
      misses.push_back(name.substr(0, i) + name.substr(i + 1));
    }
    misses.push_back(name + "s");
    misses.push_back("x" + name);
    return misses;
  };
  auto contains = [](const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  for (const std::string& resource : resources) {
    for (const std::string& miss : near_misses(resource)) {
      if (contains(resources, miss)) continue;
      EXPECT_FALSE(IsValidPermission(miss + "/read")) << miss;
    }
  }
  for (const std::string& action : actions) {
    for (const std::string& miss : near_misses(action)) {
      if (contains(actions, miss)) continue;
      EXPECT_FALSE(IsValidPermission("token/" + miss)) << miss;
    }
  }
}

TEST(PermissionTest, RoleExpansion) {
  using Actions = std::vector<std::string>;
  EXPECT_EQ(ExpandRole(TokenType::kGlobal, "admin"), Actions{"**/**"});
  EXPECT_EQ(ExpandRole(TokenType::kGlobal, "operator"),
            (Actions{"**/read", "**/write", "**/action"}));
  EXPECT_EQ(ExpandRole(TokenType::kTeam, "owner"), Actions{"**/**"});
  EXPECT_EQ(ExpandRole(TokenType::kTeam, "editor"), (Actions{"**/read", "**/write", "**/action"}));
  EXPECT_EQ(ExpandRole(TokenType::kTeam, "reader"), Actions{"**/read"});
}

TEST(PermissionTest, RolesThatDoNotExistForTheType) {
  EXPECT_EQ(ExpandRole(TokenType::kGlobal, "owner"), std::nullopt);
  EXPECT_EQ(ExpandRole(TokenType::kGlobal, "reader"), std::nullopt);
  EXPECT_EQ(ExpandRole(TokenType::kTeam, "admin"), std::nullopt);
  EXPECT_EQ(ExpandRole(TokenType::kTeam, "Owner"), std::nullopt);
  EXPECT_EQ(ExpandRole(TokenType::kTeam, ""), std::nullopt);
  EXPECT_EQ(ExpandRole(TokenType::kWorkflow, "owner"), std::nullopt);
  EXPECT_EQ(ExpandRole(TokenType::kUser, "admin"), std::nullopt);
  EXPECT_EQ(ExpandRole(TokenType::kSession, "admin"), std::nullopt);
}

TEST(PermissionTest, Grants) {
  struct Case {
    std::string_view held;
    std::string_view wanted;
    bool grants;
  };
  constexpr Case kCases[] = {
      {"token/read", "token/read", true},     {"**/read", "token/read", true},
      {"**/read", "**/read", true},           {"token/**", "token/delete", true},
      {"token/**", "token/**", true},         {"**/**", "**/**", true},
      {"**/**", "workflow/write", true},      {"token/read", "token/write", false},
      {"token/read", "token/**", false},      {"token/**", "**/read", false},
      {"token/**", "**/**", false},           {"**/read", "**/**", false},
      {"workflow/read", "token/read", false}, {"bogus", "token/read", false},
      {"**/**", "bogus/read", false},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(PermissionGrants(c.held, c.wanted), c.grants) << c.held << " -> " << c.wanted;
  }
}

TEST(PermissionTest, AnyGrants) {
  const std::vector<std::string> held = {"workflow/read", "token/read"};
  EXPECT_TRUE(AnyGrants(held, "token/read"));
  EXPECT_FALSE(AnyGrants(held, "token/delete"));
  EXPECT_FALSE(AnyGrants({}, "token/read"));
}

}  // namespace
}  // namespace tokend::core
