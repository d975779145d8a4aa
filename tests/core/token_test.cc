#include "core/token.h"

#include <gtest/gtest.h>

namespace tokend::core {
namespace {

TEST(TokenTest, TypeNamesAndPrefixesRoundTrip) {
  struct Case {
    TokenType type;
    std::string_view name;
    std::string_view prefix;
  };
  constexpr Case kCases[] = {{TokenType::kGlobal, "global", "bfg"},
                             {TokenType::kTeam, "team", "bft"},
                             {TokenType::kWorkflow, "workflow", "bfw"},
                             {TokenType::kUser, "user", "bfu"},
                             {TokenType::kSession, "session", "bfs"}};
  for (const Case& c : kCases) {
    EXPECT_EQ(ToString(c.type), c.name);
    EXPECT_EQ(SecretPrefix(c.type), c.prefix);
    EXPECT_EQ(ParseTokenType(c.name), c.type);
  }
}

TEST(TokenTest, ParseTokenTypeIsExact) {
  EXPECT_EQ(ParseTokenType("Team"), std::nullopt);
  EXPECT_EQ(ParseTokenType(" team"), std::nullopt);
  EXPECT_EQ(ParseTokenType(""), std::nullopt);
  EXPECT_EQ(ParseTokenType("teams"), std::nullopt);
}

TEST(TokenTest, PermissionsOfTeamToken) {
  Token token;
  token.type = TokenType::kTeam;
  token.principal = "team-1";
  token.actions = {"token/read", "workflow/**"};
  EXPECT_EQ(token.Permissions(),
            (ResolvedPermissions{TokenType::kTeam, "team-1", {"token/read", "workflow/**"}}));
}

TEST(TokenTest, PermissionsOfGlobalTokenUseWildcardPrincipal) {
  Token token;
  token.type = TokenType::kGlobal;
  token.actions = {"**/**"};
  EXPECT_EQ(token.Permissions(), (ResolvedPermissions{TokenType::kGlobal, "**", {"**/**"}}));
}

TEST(TokenTest, ValidityFollowsExpiration) {
  Token token;
  EXPECT_TRUE(token.IsValidAt(1000));
  token.expiration_date = 1000;
  EXPECT_TRUE(token.IsValidAt(999));
  EXPECT_FALSE(token.IsValidAt(1000));
}

}  // namespace
}  // namespace tokend::core
