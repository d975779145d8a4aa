#include "core/authz.h"

#include <gtest/gtest.h>

namespace tokend::core {
namespace {

Caller MakeCaller(TokenType scope, std::string principal, std::vector<std::string> actions,
                  std::optional<EpochMillis> expiration = std::nullopt) {
  Caller caller;
  caller.token_id = "0123456789abcdef01234567";
  caller.scope = scope;
  caller.principal = std::move(principal);
  caller.actions = std::move(actions);
  caller.expiration_date = expiration;
  return caller;
}

Token MakeToken(TokenType type, std::optional<std::string> principal) {
  Token token;
  token.id = "aaaaaaaaaaaaaaaaaaaaaaaa";
  token.type = type;
  token.principal = std::move(principal);
  token.actions = {"token/read"};
  return token;
}

NewTokenSpec MakeSpec(TokenType type, std::optional<std::string> principal,
                      std::vector<std::string> actions,
                      std::optional<EpochMillis> expiration = std::nullopt) {
  NewTokenSpec spec;
  spec.type = type;
  spec.name = "new";
  spec.principal = std::move(principal);
  spec.actions = std::move(actions);
  spec.expiration_date = expiration;
  return spec;
}

TEST(AuthzTest, FromTokenUsesTheTokensPermissions) {
  Token token = MakeToken(TokenType::kTeam, "team-x");
  token.id = "bbbbbbbbbbbbbbbbbbbbbbbb";
  token.expiration_date = 99;
  const Caller caller = Caller::FromToken(token);
  EXPECT_EQ(caller.token_id, token.id);
  EXPECT_EQ(caller.scope, TokenType::kTeam);
  EXPECT_EQ(caller.principal, "team-x");
  EXPECT_EQ(caller.actions, token.actions);
  EXPECT_EQ(caller.expiration_date, 99);

  const Caller global = Caller::FromToken(MakeToken(TokenType::kGlobal, std::nullopt));
  EXPECT_EQ(global.principal, "**");
}

TEST(AuthzTest, UnrestrictedCallerMayDoEverything) {
  const Caller caller = Caller::Unrestricted();
  EXPECT_TRUE(caller.token_id.empty());
  EXPECT_EQ(caller.scope, TokenType::kGlobal);
  EXPECT_FALSE(caller.expiration_date.has_value());
  EXPECT_TRUE(CheckOperation(caller, TokenOperation::kDelete).ok());
  EXPECT_TRUE(CheckCreate(caller, MakeSpec(TokenType::kGlobal, std::nullopt, {"**/**"})).ok());
}

TEST(AuthzTest, RequiredPermissions) {
  EXPECT_EQ(RequiredPermission(TokenOperation::kRead), "token/read");
  EXPECT_EQ(RequiredPermission(TokenOperation::kCreate), "token/write");
  EXPECT_EQ(RequiredPermission(TokenOperation::kDelete), "token/delete");
}

TEST(AuthzTest, Coverage) {
  struct Case {
    Caller caller;
    TokenType type;
    std::optional<std::string> principal;
    bool covers;
  };
  const Case cases[] = {
      {MakeCaller(TokenType::kGlobal, "**", {}), TokenType::kGlobal, std::nullopt, true},
      {MakeCaller(TokenType::kGlobal, "**", {}), TokenType::kTeam, "y", true},
      {MakeCaller(TokenType::kGlobal, "**", {}), TokenType::kSession, "u", true},
      {MakeCaller(TokenType::kTeam, "x", {}), TokenType::kTeam, "x", true},
      {MakeCaller(TokenType::kTeam, "x", {}), TokenType::kTeam, "y", false},
      {MakeCaller(TokenType::kTeam, "x", {}), TokenType::kWorkflow, "x", false},
      {MakeCaller(TokenType::kTeam, "**", {}), TokenType::kGlobal, std::nullopt, false},
      {MakeCaller(TokenType::kTeam, "**", {}), TokenType::kTeam, "y", false},
      {MakeCaller(TokenType::kUser, "alice", {}), TokenType::kUser, "alice", true},
      {MakeCaller(TokenType::kUser, "alice", {}), TokenType::kSession, "alice", true},
      {MakeCaller(TokenType::kUser, "alice", {}), TokenType::kSession, "bob", false},
      {MakeCaller(TokenType::kUser, "alice", {}), TokenType::kTeam, "alice", false},
      {MakeCaller(TokenType::kSession, "alice", {}), TokenType::kUser, "alice", false},
      {MakeCaller(TokenType::kSession, "alice", {}), TokenType::kSession, "alice", true},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Covers(c.caller, c.type, c.principal), c.covers)
        << ToString(c.caller.scope) << "/" << c.caller.principal << " -> " << ToString(c.type)
        << "/" << c.principal.value_or("(null)");
  }
}

TEST(AuthzTest, CheckOperation) {
  const Caller reader = MakeCaller(TokenType::kTeam, "x", {"token/read"});
  EXPECT_TRUE(CheckOperation(reader, TokenOperation::kRead).ok());
  const Status denied = CheckOperation(reader, TokenOperation::kDelete);
  EXPECT_EQ(denied.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.api_error(), ApiError::kPermissionDenied);
  EXPECT_NE(denied.message().find("'token/delete'"), std::string::npos);

  const Caller wildcard = MakeCaller(TokenType::kTeam, "x", {"**/delete"});
  EXPECT_TRUE(CheckOperation(wildcard, TokenOperation::kDelete).ok());
  EXPECT_FALSE(CheckOperation(wildcard, TokenOperation::kRead).ok());
}

TEST(AuthzTest, CheckAccessDecisions) {
  struct Case {
    std::string_view label;
    Caller caller;
    TokenOperation operation;
    Token target;
    StatusCode expected;
  };
  const Case cases[] = {
      {"global admin deletes any token", MakeCaller(TokenType::kGlobal, "**", {"**/**"}),
       TokenOperation::kDelete, MakeToken(TokenType::kTeam, "y"), StatusCode::kOk},
      {"team owner reads own team token", MakeCaller(TokenType::kTeam, "x", {"**/**"}),
       TokenOperation::kRead, MakeToken(TokenType::kTeam, "x"), StatusCode::kOk},
      {"team owner of X, token of team Y", MakeCaller(TokenType::kTeam, "x", {"**/**"}),
       TokenOperation::kDelete, MakeToken(TokenType::kTeam, "y"), StatusCode::kNotFound},
      {"team owner, global token", MakeCaller(TokenType::kTeam, "x", {"**/**"}),
       TokenOperation::kRead, MakeToken(TokenType::kGlobal, std::nullopt), StatusCode::kNotFound},
      {"read-only caller deletes", MakeCaller(TokenType::kTeam, "x", {"token/read"}),
       TokenOperation::kDelete, MakeToken(TokenType::kTeam, "x"), StatusCode::kPermissionDenied},
      {"uncovered beats missing action", MakeCaller(TokenType::kTeam, "x", {"token/read"}),
       TokenOperation::kDelete, MakeToken(TokenType::kTeam, "y"), StatusCode::kNotFound},
      {"user deletes own session", MakeCaller(TokenType::kUser, "alice", {"**/**"}),
       TokenOperation::kDelete, MakeToken(TokenType::kSession, "alice"), StatusCode::kOk},
      {"user reads another user's session", MakeCaller(TokenType::kUser, "alice", {"**/**"}),
       TokenOperation::kRead, MakeToken(TokenType::kSession, "bob"), StatusCode::kNotFound},
  };
  for (const Case& c : cases) {
    const Status status = CheckAccess(c.caller, c.operation, c.target);
    EXPECT_EQ(status.code(), c.expected) << c.label << ": " << status.ToString();
    if (status.code() == StatusCode::kNotFound) {
      EXPECT_EQ(status.message(), core::TokenNotFound().message());
    }
  }
}

TEST(AuthzTest, CheckCreateDecisions) {
  constexpr EpochMillis kExpiry = 1'000'000;
  struct Case {
    std::string_view label;
    Caller caller;
    NewTokenSpec spec;
    bool allowed;
    std::string_view mentions;
  };
  const Case cases[] = {
      {"global admin creates global", MakeCaller(TokenType::kGlobal, "**", {"**/**"}),
       MakeSpec(TokenType::kGlobal, std::nullopt, {"**/**"}), true, ""},
      {"global admin creates team", MakeCaller(TokenType::kGlobal, "**", {"**/**"}),
       MakeSpec(TokenType::kTeam, "y", {"token/read"}), true, ""},
      {"no token/write", MakeCaller(TokenType::kGlobal, "**", {"token/read", "**/delete"}),
       MakeSpec(TokenType::kTeam, "y", {"token/read"}), false, "'token/write'"},
      {"team owner creates in own team", MakeCaller(TokenType::kTeam, "x", {"**/**"}),
       MakeSpec(TokenType::kTeam, "x", {"workflow/read", "**/**"}), true, ""},
      {"wider scope: global", MakeCaller(TokenType::kTeam, "x", {"**/**"}),
       MakeSpec(TokenType::kGlobal, std::nullopt, {"token/read"}), false, "'global'"},
      {"other team", MakeCaller(TokenType::kTeam, "x", {"**/**"}),
       MakeSpec(TokenType::kTeam, "y", {"token/read"}), false, "'y'"},
      {"other type, same principal", MakeCaller(TokenType::kTeam, "x", {"**/**"}),
       MakeSpec(TokenType::kWorkflow, "x", {"token/read"}), false, "'workflow'"},
      {"wider action **/** by holder of token/**", MakeCaller(TokenType::kTeam, "x", {"token/**"}),
       MakeSpec(TokenType::kTeam, "x", {"token/read", "**/**"}), false, "'**/**'"},
      {"wider action **/read by holder of token/**",
       MakeCaller(TokenType::kTeam, "x", {"token/**"}),
       MakeSpec(TokenType::kTeam, "x", {"**/read"}), false, "'**/read'"},
      {"narrower actions", MakeCaller(TokenType::kTeam, "x", {"token/**", "**/read"}),
       MakeSpec(TokenType::kTeam, "x", {"token/delete", "workflow/read"}), true, ""},
      {"non-expiring from expiring caller",
       MakeCaller(TokenType::kGlobal, "**", {"**/**"}, kExpiry),
       MakeSpec(TokenType::kTeam, "y", {"token/read"}), false, "never expires"},
      {"later expiry", MakeCaller(TokenType::kGlobal, "**", {"**/**"}, kExpiry),
       MakeSpec(TokenType::kTeam, "y", {"token/read"}, kExpiry + 1), false, "later"},
      {"equal expiry", MakeCaller(TokenType::kGlobal, "**", {"**/**"}, kExpiry),
       MakeSpec(TokenType::kTeam, "y", {"token/read"}, kExpiry), true, ""},
      {"earlier expiry", MakeCaller(TokenType::kGlobal, "**", {"**/**"}, kExpiry),
       MakeSpec(TokenType::kTeam, "y", {"token/read"}, kExpiry - 1), true, ""},
      {"expiring token from non-expiring caller", MakeCaller(TokenType::kGlobal, "**", {"**/**"}),
       MakeSpec(TokenType::kTeam, "y", {"token/read"}, kExpiry), true, ""},
      {"user creates own session-free user token", MakeCaller(TokenType::kUser, "alice", {"**/**"}),
       MakeSpec(TokenType::kUser, "alice", {"**/**"}), true, ""},
      {"user creates token of another user", MakeCaller(TokenType::kUser, "alice", {"**/**"}),
       MakeSpec(TokenType::kUser, "bob", {"token/read"}), false, "'bob'"},
  };
  for (const Case& c : cases) {
    const Status status = CheckCreate(c.caller, c.spec);
    EXPECT_EQ(status.ok(), c.allowed) << c.label << ": " << status.ToString();
    if (!c.allowed) {
      EXPECT_EQ(status.code(), StatusCode::kPermissionDenied) << c.label;
      EXPECT_NE(status.message().find(c.mentions), std::string::npos)
          << c.label << ": " << status.message();
    }
  }
}

TEST(AuthzTest, VisibilityOfEachScope) {
  EXPECT_EQ(Visibility::Of(MakeCaller(TokenType::kGlobal, "**", {})), Visibility{});
  EXPECT_EQ(Visibility::Of(MakeCaller(TokenType::kUser, "alice", {})),
            (Visibility{false, {TokenType::kUser, TokenType::kSession}, "alice"}));
  EXPECT_EQ(Visibility::Of(MakeCaller(TokenType::kTeam, "x", {})),
            (Visibility{false, {TokenType::kTeam}, "x"}));
  EXPECT_EQ(Visibility::Of(MakeCaller(TokenType::kWorkflow, "w", {})),
            (Visibility{false, {TokenType::kWorkflow}, "w"}));
}

}  // namespace
}  // namespace tokend::core
