#include "core/permission.h"

#include <gtest/gtest.h>

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
