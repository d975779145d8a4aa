#include "core/access_demand.h"

#include <gtest/gtest.h>

namespace tokend::core {
namespace {

Caller TeamCaller() {
  Token token;
  token.id = "65e1a2b3c4d5e6f708192a3b";
  token.type = TokenType::kTeam;
  token.principal = "team-7";
  token.actions = {"workflow/read", "token/**"};
  return Caller::FromToken(token);
}

TEST(ParseAccessDemandTest, ReadsRepeatedPermissionsAndOnePrincipalIgnoringTheRest) {
  auto demand = ParseAccessDemand({{"permission", "workflow/read"},
                                   {"x", "y"},
                                   {"permission", "token/delete"},
                                   {"principal", "team-7"}});
  ASSERT_TRUE(demand.ok()) << demand.status().message();
  EXPECT_EQ(demand->permissions, (std::vector<std::string>{"workflow/read", "token/delete"}));
  EXPECT_EQ(demand->principal, "team-7");
}

TEST(ParseAccessDemandTest, RefusesWhatCannotBeAPermissionOrPrincipal) {
  for (const QueryParams& params :
       {QueryParams{{"permission", ""}}, QueryParams{{"permission", "workflow"}},
        QueryParams{{"permission", "nothing/read"}}, QueryParams{{"permission", "workflow/fly"}},
        QueryParams{{"principal", ""}}, QueryParams{{"principal", "a"}, {"principal", "a"}}}) {
    auto demand = ParseAccessDemand(params);
    ASSERT_FALSE(demand.ok());
    EXPECT_EQ(demand.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(demand.status().message().find(params.front().first), std::string::npos);
  }
}

TEST(CheckDemandTest, EveryPermissionMustBeGranted) {
  const Caller caller = TeamCaller();
  EXPECT_TRUE(CheckDemand(caller, {{"workflow/read"}, std::nullopt}).ok());
  EXPECT_TRUE(CheckDemand(caller, {{"workflow/read", "token/delete"}, std::nullopt}).ok());
  const Status missing = CheckDemand(caller, {{"workflow/read", "workflow/write"}, std::nullopt});
  EXPECT_EQ(missing.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(missing.message().find("workflow/write"), std::string::npos);
  EXPECT_TRUE(CheckDemand(caller, {}).ok());
}

TEST(CheckDemandTest, ThePrincipalMustBeTheCallersUnlessItIsGlobal) {
  EXPECT_TRUE(CheckDemand(TeamCaller(), {{}, "team-7"}).ok());
  EXPECT_EQ(CheckDemand(TeamCaller(), {{}, "team-8"}).code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(CheckDemand(Caller::Unrestricted(), {{"team/delete"}, "team-8"}).ok());
}

}  // namespace
}  // namespace tokend::core
