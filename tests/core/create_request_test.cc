#include "core/create_request.h"

#include <gtest/gtest.h>

#include <functional>

namespace tokend::core {
namespace {

constexpr EpochMillis kNow = 1'772'341'200'000;
constexpr std::string_view kBoomerangText =
    "Invalid Token request. Token type, name, and permissions are required. Principal is "
    "required for all but Global types.";

CreateTokenRequest TeamRequest() {
  CreateTokenRequest request;
  request.type = "team";
  request.name = "ci token";
  request.principal = "team-1";
  request.permissions = std::vector<std::string>{"token/read"};
  return request;
}

struct RejectCase {
  std::string_view label;
  std::function<void(CreateTokenRequest&)> change;
  ApiError error;
  std::string_view mentions;  // the message must contain this
};

TEST(CreateRequestTest, RejectsEveryBrokenRule) {
  const std::vector<RejectCase> cases = {
      {"session type", [](auto& r) { r.type = "session"; }, ApiError::kTokenInvalidSessionRequest,
       "Session tokens"},
      {"session before other errors",
       [](auto& r) {
         r.type = "session";
         r.name.reset();
       },
       ApiError::kTokenInvalidSessionRequest, "sign-in"},
      {"type missing", [](auto& r) { r.type.reset(); }, ApiError::kTokenInvalidRequest, "'type'"},
      {"type unknown", [](auto& r) { r.type = "foo"; }, ApiError::kTokenInvalidRequest,
       "Unknown type 'foo'"},
      {"type wrong case", [](auto& r) { r.type = "Team"; }, ApiError::kTokenInvalidRequest,
       "'Team'"},
      {"name missing", [](auto& r) { r.name.reset(); }, ApiError::kTokenInvalidRequest, "'name'"},
      {"name empty", [](auto& r) { r.name = ""; }, ApiError::kTokenInvalidRequest, "'name'"},
      {"name blank", [](auto& r) { r.name = " \t\n"; }, ApiError::kTokenInvalidRequest, "'name'"},
      {"name too long", [](auto& r) { r.name = std::string(257, 'n'); },
       ApiError::kTokenInvalidRequest, "'name'"},
      {"name with NUL", [](auto& r) { r.name = std::string("a\0b", 3); },
       ApiError::kTokenInvalidRequest, "'name'"},
      {"name invalid UTF-8", [](auto& r) { r.name = "a\xFF"; }, ApiError::kTokenInvalidRequest,
       "'name'"},
      {"principal missing", [](auto& r) { r.principal.reset(); }, ApiError::kTokenInvalidRequest,
       "'principal'"},
      {"principal blank", [](auto& r) { r.principal = "  "; }, ApiError::kTokenInvalidRequest,
       "'principal'"},
      {"principal of a global token on a team token", [](auto& r) { r.principal = "**"; },
       ApiError::kTokenInvalidRequest, "global tokens only"},
      {"principal of a global token on a user token",
       [](auto& r) {
         r.type = "user";
         r.principal = "**";
       },
       ApiError::kTokenInvalidRequest, "global tokens only"},
      {"principal not a string",
       [](auto& r) {
         r.principal.reset();
         r.principal_not_a_string = true;
       },
       ApiError::kTokenInvalidRequest, "'principal'"},
      {"principal with NUL", [](auto& r) { r.principal = std::string("t\0", 2); },
       ApiError::kTokenInvalidRequest, "'principal'"},
      {"principal with a comma", [](auto& r) { r.principal = "c1,c2"; },
       ApiError::kTokenInvalidRequest, "'principal'"},
      {"principal with a leading space", [](auto& r) { r.principal = " pw"; },
       ApiError::kTokenInvalidRequest, "'principal'"},
      {"principal with a trailing tab", [](auto& r) { r.principal = "pw\t"; },
       ApiError::kTokenInvalidRequest, "'principal'"},
      {"principal too long",
       [](auto& r) { r.principal = std::string(kMaxPrincipalBytes + 1, 'p'); },
       ApiError::kTokenInvalidRequest, "'principal'"},
      {"description too long", [](auto& r) { r.description = std::string(1025, 'd'); },
       ApiError::kTokenInvalidRequest, "'description'"},
      {"description with NUL", [](auto& r) { r.description = std::string("\0", 1); },
       ApiError::kTokenInvalidRequest, "'description'"},
      {"expiration now", [](auto& r) { r.expiration_date = kNow; }, ApiError::kTokenInvalidRequest,
       "'expirationDate' must be in the future"},
      {"expiration past", [](auto& r) { r.expiration_date = 0; }, ApiError::kTokenInvalidRequest,
       "'expirationDate'"},
      {"expiration past year 9999", [](auto& r) { r.expiration_date = kMaxExpirationDate + 1; },
       ApiError::kTokenInvalidRequest, "'expirationDate' must be before 10000"},
      {"permissions missing", [](auto& r) { r.permissions.reset(); },
       ApiError::kTokenInvalidRequest, "'permissions'"},
      {"permissions empty", [](auto& r) { r.permissions = std::vector<std::string>{}; },
       ApiError::kTokenInvalidRequest, "'permissions'"},
      {"workflow without permissions",
       [](auto& r) {
         r.type = "workflow";
         r.permissions.reset();
       },
       ApiError::kTokenInvalidRequest, "'permissions'"},
      {"global without permissions",
       [](auto& r) {
         r.type = "global";
         r.permissions.reset();
       },
       ApiError::kTokenInvalidRequest, "'permissions'"},
      {"too many permissions",
       [](auto& r) { r.permissions = std::vector<std::string>(kMaxPermissions + 1, "token/read"); },
       ApiError::kTokenInvalidRequest, "'permissions'"},
      {"bad permission", [](auto& r) { r.permissions->push_back("token/READ"); },
       ApiError::kTokenInvalidPermission, "'token/READ'"},
      {"unknown resource", [](auto& r) { r.permissions = std::vector<std::string>{"foo/read"}; },
       ApiError::kTokenInvalidPermission, "'foo/read'"},
      {"empty permission", [](auto& r) { r.permissions = std::vector<std::string>{""}; },
       ApiError::kTokenInvalidPermission, "''"},
      {"unknown team role", [](auto& r) { r.role = "admin"; }, ApiError::kTokenInvalidPermission,
       "owner, editor, reader"},
      {"unknown global role",
       [](auto& r) {
         r.type = "global";
         r.role = "owner";
       },
       ApiError::kTokenInvalidPermission, "admin, operator"},
      {"role for workflow",
       [](auto& r) {
         r.type = "workflow";
         r.role = "owner";
       },
       ApiError::kTokenInvalidPermission, "'workflow'"},
      {"role for user",
       [](auto& r) {
         r.type = "user";
         r.role = "owner";
       },
       ApiError::kTokenInvalidPermission, "'user'"},
      {"1010 before 1012",
       [](auto& r) {
         r.name.reset();
         r.permissions = std::vector<std::string>{"bad"};
       },
       ApiError::kTokenInvalidRequest, "'name'"},
  };
  for (const RejectCase& c : cases) {
    SCOPED_TRACE(c.label);
    CreateTokenRequest request = TeamRequest();
    c.change(request);
    const Result<NewTokenSpec> result = ValidateCreate(request, kNow);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(result.status().api_error(), c.error);
    EXPECT_NE(result.status().message().find(c.mentions), std::string::npos)
        << result.status().message();
    if (c.error == ApiError::kTokenInvalidRequest) {
      EXPECT_EQ(result.status().message().rfind(kBoomerangText, 0), 0u);
    }
  }
}

TEST(CreateRequestTest, LongPermissionIsCutInTheMessage) {
  CreateTokenRequest request = TeamRequest();
  request.permissions = std::vector<std::string>{std::string(500, '~')};
  const Result<NewTokenSpec> result = ValidateCreate(request, kNow);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().api_error(), ApiError::kTokenInvalidPermission);
  EXPECT_EQ(result.status().message().find(std::string(65, '~')), std::string::npos);
  EXPECT_NE(result.status().message().find(std::string(64, '~')), std::string::npos);
}

TEST(CreateRequestTest, AcceptsTeamRequestAsGiven) {
  CreateTokenRequest request = TeamRequest();
  request.name = "  padded name ";
  request.description = "";
  request.expiration_date = kNow + 1;
  const Result<NewTokenSpec> result = ValidateCreate(request, kNow);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->type, TokenType::kTeam);
  EXPECT_EQ(result->name, "  padded name ");
  EXPECT_EQ(result->description, "");
  EXPECT_EQ(result->principal, "team-1");
  EXPECT_EQ(result->expiration_date, kNow + 1);
  EXPECT_EQ(result->actions, std::vector<std::string>{"token/read"});
}

// Inside a principal any character but a comma is kept: only the ends and
// commas would escape a principals filter.
TEST(CreateRequestTest, APrincipalWithInnerSpacesAndPunctuationIsKept) {
  CreateTokenRequest request = TeamRequest();
  request.principal = "team a/b;c=d";
  const Result<NewTokenSpec> result = ValidateCreate(request, kNow);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->principal, "team a/b;c=d");
}

TEST(CreateRequestTest, LimitsCountCodePointsNotBytes) {
  CreateTokenRequest request = TeamRequest();
  std::string name;
  for (int i = 0; i < 256; ++i) name += "\xC3\xA9";  // 256 code points, 512 bytes
  request.name = name;
  EXPECT_TRUE(ValidateCreate(request, kNow).ok());
  std::string description;
  for (int i = 0; i < 1024; ++i) description += "\xE2\x82\xAC";
  request.description = description;
  EXPECT_TRUE(ValidateCreate(request, kNow).ok());
}

TEST(CreateRequestTest, GlobalIgnoresPrincipalOfAnyKind) {
  CreateTokenRequest request = TeamRequest();
  request.type = "global";
  request.principal = "**";
  Result<NewTokenSpec> result = ValidateCreate(request, kNow);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->principal, std::nullopt);

  request.principal.reset();
  request.principal_not_a_string = true;
  result = ValidateCreate(request, kNow);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->principal, std::nullopt);
}

TEST(CreateRequestTest, RoleFirstThenPermissionsWithoutDuplicates) {
  CreateTokenRequest request = TeamRequest();
  request.role = "editor";
  request.permissions =
      std::vector<std::string>{"token/delete", "**/read", "token/delete", "token/read"};
  const Result<NewTokenSpec> result = ValidateCreate(request, kNow);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->actions, (std::vector<std::string>{"**/read", "**/write", "**/action",
                                                       "token/delete", "token/read"}));
}

TEST(CreateRequestTest, RoleAloneIsEnough) {
  CreateTokenRequest request = TeamRequest();
  request.type = "global";
  request.permissions.reset();
  request.role = "admin";
  const Result<NewTokenSpec> result = ValidateCreate(request, kNow);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->actions, std::vector<std::string>{"**/**"});
}

TEST(CreateRequestTest, UserWithoutPermissionsActsAsTheUser) {
  CreateTokenRequest request = TeamRequest();
  request.type = "user";
  request.principal = "alice";
  for (const auto& permissions :
       {std::optional<std::vector<std::string>>{}, std::optional(std::vector<std::string>{})}) {
    request.permissions = permissions;
    const Result<NewTokenSpec> result = ValidateCreate(request, kNow);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_EQ(result->actions, std::vector<std::string>{"**/**"});
    EXPECT_EQ(result->principal, "alice");
  }
}

TEST(CreateRequestTest, UserWithPermissionsKeepsThem) {
  CreateTokenRequest request = TeamRequest();
  request.type = "user";
  request.permissions = std::vector<std::string>{"workflow/read"};
  const Result<NewTokenSpec> result = ValidateCreate(request, kNow);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->actions, std::vector<std::string>{"workflow/read"});
}

// `count` distinct valid permissions (at most 75), none of them **/something.
std::vector<std::string> DistinctPermissions(std::size_t count) {
  std::vector<std::string> permissions;
  for (const char* resource :
       {"system", "workflow", "workflowrun", "workflowtemplate", "taskrun", "task", "action",
        "user", "team", "token", "parameter", "schedule", "insights", "integration", "webhook"}) {
    for (const char* action : {"read", "write", "action", "delete", "**"}) {
      if (permissions.size() < count) permissions.push_back(std::string(resource) + "/" + action);
    }
  }
  return permissions;
}

// The bound is on the token's permissions: a role's count with the listed ones.
TEST(CreateRequestTest, ARoleAndItsListedPermissionsTogetherHaveTheBound) {
  CreateTokenRequest request = TeamRequest();
  request.role = "editor";  // **/read **/write **/action
  request.permissions = DistinctPermissions(kMaxPermissions - 3);
  Result<NewTokenSpec> result = ValidateCreate(request, kNow);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->actions.size(), kMaxPermissions);

  request.permissions = DistinctPermissions(kMaxPermissions - 2);
  result = ValidateCreate(request, kNow);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().api_error(), ApiError::kTokenInvalidRequest);
  EXPECT_NE(result.status().message().find("at most 64"), std::string::npos)
      << result.status().message();
  // A listed permission the role already holds counts once.
  request.permissions->back() = "**/read";
  EXPECT_TRUE(ValidateCreate(request, kNow).ok());
}

TEST(CreateRequestTest, MaxPermissionsIsAllowed) {
  CreateTokenRequest request = TeamRequest();
  request.permissions = std::vector<std::string>(kMaxPermissions, "token/read");
  const Result<NewTokenSpec> result = ValidateCreate(request, kNow);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->actions, std::vector<std::string>{"token/read"});
}

}  // namespace
}  // namespace tokend::core

namespace tokend::core {
namespace {

TEST(CreateRequestTest, LastDateOfYear9999IsAccepted) {
  CreateTokenRequest request = TeamRequest();
  request.expiration_date = kMaxExpirationDate;
  Result<NewTokenSpec> spec = ValidateCreate(request, kNow);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->expiration_date, kMaxExpirationDate);
  EXPECT_EQ(FormatSpringDate(kMaxExpirationDate), "9999-12-31T23:59:59.999+00:00");
}

}  // namespace
}  // namespace tokend::core
