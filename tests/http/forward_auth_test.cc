// GET /api/v2/token/check, the forward-auth route gateways call before
// letting a request through, over real sockets.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "core/secret.h"
#include "server_fixture.h"

namespace tokend::http::testing {
namespace {

constexpr std::string_view kCheck = "/api/v2/token/check";

Headers BearerOf(std::string_view secret) {
  return {{"Authorization", "Bearer " + std::string(secret)}};
}

class ForwardAuthTest : public ServerTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartServer(/*auth_required=*/true));
    client_ = Connect();
    team_ = CreateToken(*client_, R"({"type":"team","name":"ci","principal":"team-7",
        "permissions":["workflow/read","workflow/action"]})");
  }

  HttpResponse Check(std::string_view target, const Headers& headers) {
    auto res = client_->Request("GET", target, headers);
    EXPECT_TRUE(res);
    return res ? *res : HttpResponse{};
  }

  std::unique_ptr<TestClient> client_;
  Created team_;
};

TEST_F(ForwardAuthTest, AnActiveTokenIs204WithItsIdentityInHeadersAndNoBody) {
  const HttpResponse res = Check(kCheck, BearerOf(team_.secret));
  EXPECT_EQ(res.status, 204);
  EXPECT_EQ(res.body, "");
  EXPECT_EQ(res.Header("Tokend-Token-Id"), team_.id);
  EXPECT_EQ(res.Header("Tokend-Token-Type"), "team");
  EXPECT_EQ(res.Header("Tokend-Principal"), "team-7");
  EXPECT_EQ(res.Header("Tokend-Permissions"), "workflow/read,workflow/action");
  EXPECT_FALSE(res.Header("Content-Type"));
}

TEST_F(ForwardAuthTest, AGlobalTokenHasNoPrincipalHeader) {
  const HttpResponse res = Check(kCheck, Admin());
  EXPECT_EQ(res.status, 204);
  EXPECT_EQ(res.Header("Tokend-Token-Type"), "global");
  EXPECT_FALSE(res.Header("Tokend-Principal"));
  EXPECT_EQ(res.Header("Tokend-Permissions"), "**/**");
}

TEST_F(ForwardAuthTest, MissingUnknownAndMalformedCredentialsAre401BearerWithoutBody) {
  for (const Headers& headers :
       {Headers{}, BearerOf(core::GenerateSecret(core::TokenType::kTeam)), BearerOf("nonsense"),
        Headers{{"Authorization", "Basic dXNlcjpwYXNz"}}}) {
    const HttpResponse res = Check(kCheck, headers);
    EXPECT_EQ(res.status, 401);
    EXPECT_EQ(res.body, "");
    EXPECT_EQ(res.Header("WWW-Authenticate"), "Bearer");
    EXPECT_FALSE(res.Header("Tokend-Token-Id"));
  }
}

TEST_F(ForwardAuthTest, EveryPermissionAskedForMustBeHeld) {
  EXPECT_EQ(Check(std::string(kCheck) + "?permission=workflow/read", BearerOf(team_.secret)).status,
            204);
  EXPECT_EQ(Check(std::string(kCheck) + "?permission=workflow/read&permission=workflow/action",
                  BearerOf(team_.secret))
                .status,
            204);
  const HttpResponse missing =
      Check(std::string(kCheck) + "?permission=workflow/read&permission=workflow/delete",
            BearerOf(team_.secret));
  EXPECT_EQ(missing.status, 403);
  EXPECT_EQ(missing.body, "");
  // A wildcard held grants what it covers.
  EXPECT_EQ(Check(std::string(kCheck) + "?permission=workflow/delete", Admin()).status, 204);
}

TEST_F(ForwardAuthTest, ThePrincipalAskedForMustBeTheTokensUnlessItIsGlobal) {
  EXPECT_EQ(Check(std::string(kCheck) + "?principal=team-7", BearerOf(team_.secret)).status, 204);
  EXPECT_EQ(Check(std::string(kCheck) + "?principal=team-8", BearerOf(team_.secret)).status, 403);
  EXPECT_EQ(Check(std::string(kCheck) + "?principal=team-8", Admin()).status, 204);
}

TEST_F(ForwardAuthTest, BadDemandsAre400WithoutBody) {
  for (std::string_view query : {"?permission=nope", "?permission=", "?principal=",
                                 "?principal=a&principal=b", "?permission=%ZZ"}) {
    const HttpResponse res =
        Check(std::string(kCheck) + std::string(query), BearerOf(team_.secret));
    EXPECT_EQ(res.status, 400) << query;
    EXPECT_EQ(res.body, "") << query;
  }
}

TEST_F(ForwardAuthTest, TheCredentialMayComeFromTheOriginalUri) {
  for (std::string_view header : {"X-Original-URI", "X-Forwarded-Uri"}) {
    const Headers forwarded = {
        {std::string(header), "/orders/42?x=1&access_token=" + team_.secret + "#frag"}};
    const HttpResponse res = Check(kCheck, forwarded);
    EXPECT_EQ(res.status, 204) << header;
    EXPECT_EQ(res.Header("Tokend-Token-Id"), team_.id) << header;
  }
  // The original URI without a credential: nothing to check.
  EXPECT_EQ(Check(kCheck, {{"X-Original-URI", "/orders/42?x=1"}}).status, 401);
}

// Two forwarded URIs with different queries: which credential the gateway
// meant cannot be known. The same query twice is one.
TEST_F(ForwardAuthTest, ForwardedUrisWithDifferentQueriesAre400) {
  const Created other = CreateToken(*client_, R"({"type":"team","name":"other",
      "principal":"team-8","permissions":["workflow/read"]})");
  const std::string mine = "/orders/42?access_token=" + team_.secret;
  const std::string theirs = "/orders/42?access_token=" + other.secret;
  for (const Headers& headers :
       {Headers{{"X-Original-URI", mine}, {"X-Original-URI", theirs}},
        Headers{{"X-Original-URI", mine}, {"X-Forwarded-Uri", theirs}},
        Headers{{"X-Forwarded-Uri", theirs}, {"X-Original-URI", mine}},
        Headers{{"X-Original-URI", mine}, {"X-Forwarded-Uri", "/orders/42"}}}) {
    const HttpResponse res = Check(kCheck, headers);
    EXPECT_EQ(res.status, 400) << headers[0].second << " / " << headers[1].second;
    EXPECT_TRUE(res.body.empty());
  }
  const HttpResponse same = Check(kCheck, {{"X-Original-URI", mine}, {"X-Forwarded-Uri", mine}});
  EXPECT_EQ(same.status, 204);
  EXPECT_EQ(same.Header("Tokend-Token-Id"), team_.id);
}

TEST_F(ForwardAuthTest, ARevokedTokenIsCutOffOnTheNextCheck) {
  ASSERT_EQ(Check(kCheck, BearerOf(team_.secret)).status, 204);
  auto deleted = client_->Request("DELETE", "/api/v2/token/" + team_.id, Admin());
  ASSERT_TRUE(deleted);
  ASSERT_EQ(deleted->status, 200);
  EXPECT_EQ(Check(kCheck, BearerOf(team_.secret)).status, 401);
}

TEST_F(ForwardAuthTest, APrincipalIsPercentEncodedInItsHeader) {
  const Created odd = CreateToken(
      *client_,
      R"({"type":"team","name":"odd","principal":"a b\r\nX-Injected: 1%é","permissions":["workflow/read"]})");
  const HttpResponse res = Check(kCheck, BearerOf(odd.secret));
  EXPECT_EQ(res.status, 204);
  EXPECT_EQ(res.Header("Tokend-Principal"), "a%20b%0D%0AX-Injected:%201%25%C3%A9");
  EXPECT_FALSE(res.Header("X-Injected"));
}

TEST_F(ForwardAuthTest, OtherMethodsAre405) {
  auto res = client_->Request("POST", std::string(kCheck), BearerOf(team_.secret), "");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  // DELETE stays allowed: /api/v2/token/check also reads as /api/v2/token/{id}.
  EXPECT_EQ(res->Header("Allow"), "GET, DELETE");
  // No answer on the check's path has a body, a 405 included.
  EXPECT_TRUE(res->body.empty()) << res->body;
}

// Envoy's HTTP ext_authz: the original method, the original path and query
// after the check's path, the demands as headers it adds. Every method and
// every path below the check's is the check, which answers 200 there (Envoy
// lets a request through on 200 only), still without a body.
TEST_F(ForwardAuthTest, UnderItsPathTheCheckTakesAnyMethodAndDemandsFromHeaders) {
  const std::string under = std::string(kCheck) + "/orders/42?x=1";
  const Headers demands = {{"Authorization", "Bearer " + team_.secret},
                           {"Tokend-Check-Permission", "workflow/read, workflow/action"}};
  for (std::string_view method : {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"}) {
    auto res = client_->Request(method, under, demands, "");
    ASSERT_TRUE(res) << method;
    EXPECT_EQ(res->status, 200) << method << ": " << res->body;
    EXPECT_EQ(res->Header("Tokend-Token-Id"), team_.id) << method;
    EXPECT_TRUE(res->body.empty()) << method;
  }
  // A demand header the token does not meet, in either header.
  Headers missing = BearerOf(team_.secret);
  missing.emplace_back("Tokend-Check-Permission", "workflow/read");
  missing.emplace_back("Tokend-Check-Permission", "workflow/delete");
  auto denied = client_->Request("POST", under, missing, "");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 403);
  EXPECT_TRUE(denied->body.empty());
  Headers other_principal = BearerOf(team_.secret);
  other_principal.emplace_back("Tokend-Check-Principal", "team-8");
  EXPECT_EQ(Check(under, other_principal).status, 403);
  other_principal.back().second = "team-7";
  EXPECT_EQ(Check(under, other_principal).status, 200);
  EXPECT_EQ(Check(std::string(kCheck) + "/", BearerOf(team_.secret)).status, 200);
  EXPECT_EQ(Check(kCheck, other_principal).status, 204) << "the check itself answers 204";
  // Bad demands are 400, an empty item among them (as `permission=` is);
  // a header never loosens the query's demands.
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"Tokend-Check-Permission", "nope"},
           {"Tokend-Check-Permission", ""},
           {"Tokend-Check-Permission", "workflow/read,"},
           {"Tokend-Check-Permission", "workflow/read, ,workflow/action"},
           {"Tokend-Check-Principal", ""}}) {
    Headers bad = BearerOf(team_.secret);
    bad.emplace_back(name, value);
    EXPECT_EQ(Check(under, bad).status, 400) << name << ": " << value;
  }
  Headers on_plain = BearerOf(team_.secret);
  on_plain.emplace_back("Tokend-Check-Permission", "workflow/delete");
  EXPECT_EQ(Check(std::string(kCheck) + "?permission=workflow/read", on_plain).status, 403);
  EXPECT_EQ(
      Check(std::string(kCheck) + "/x?permission=workflow/delete", BearerOf(team_.secret)).status,
      403);
  // The credential may come in the original query, which follows the path.
  auto in_uri =
      client_->Request("PUT", std::string(kCheck) + "/a/b?access_token=" + team_.secret, {}, "");
  ASSERT_TRUE(in_uri);
  EXPECT_EQ(in_uri->status, 200);
  EXPECT_EQ(in_uri->Header("Tokend-Token-Id"), team_.id);
  // A forwarded URI whose query is not the one after the check's path names
  // another credential: which one was meant cannot be known.
  const Created other = CreateToken(*client_, R"({"type":"team","name":"other2",
      "principal":"team-8","permissions":["workflow/read"]})");
  for (std::string_view header : {"X-Original-URI", "X-Forwarded-Uri"}) {
    for (const std::string& forwarded :
         {"/a/b?access_token=" + other.secret, std::string("/a/b"), std::string("/a/b?x=1")}) {
      const HttpResponse res = Check(std::string(kCheck) + "/a/b?access_token=" + team_.secret,
                                     {{std::string(header), forwarded}});
      EXPECT_EQ(res.status, 400) << header << ": " << forwarded;
      EXPECT_TRUE(res.body.empty());
    }
  }
  const HttpResponse same = Check(std::string(kCheck) + "/a/b?access_token=" + team_.secret,
                                  {{"X-Original-URI", "/a/b?access_token=" + team_.secret}});
  EXPECT_EQ(same.status, 200);
  EXPECT_EQ(same.Header("Tokend-Token-Id"), team_.id);
  auto none = client_->Request("POST", under, {}, "");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_TRUE(none->body.empty());
}

}  // namespace
}  // namespace tokend::http::testing
