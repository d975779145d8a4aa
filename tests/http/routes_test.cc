// Every route's happy path over real sockets, with authentication off and
// required.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <set>
#include <string>

#include "server_fixture.h"

namespace tokend::http::testing {
namespace {

constexpr std::string_view kTeamToken =
    R"({"type":"team","name":"ci","principal":"t1","permissions":["token/read"]})";

boost::json::object ParseObject(const std::string& body) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(body, ec);
  EXPECT_FALSE(ec) << body;
  EXPECT_TRUE(value.is_object()) << body;
  return value.is_object() ? value.as_object() : boost::json::object();
}

class RoutesTest : public ServerTest, public ::testing::WithParamInterface<bool> {};

TEST_P(RoutesTest, EveryRouteAnswers) {
  const bool auth = GetParam();
  ASSERT_NO_FATAL_FAILURE(StartServer(auth));
  auto client = Connect();

  // POST /api/v2/token
  auto res = client->Request("POST", "/api/v2/token", AdminJson(), kTeamToken);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->Header("Cache-Control"), "no-store");
  EXPECT_EQ(res->Header("Server"), "tokend");
  EXPECT_EQ(res->Header("Content-Type"), "application/json");
  const std::string id = JsonField(res->body, "id");
  const std::string secret = JsonField(res->body, "token");
  ASSERT_EQ(id.size(), 24u);
  ASSERT_FALSE(secret.empty());

  // GET /api/v2/token/{id}
  res = client->Request("GET", "/api/v2/token/" + id, Admin());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(JsonField(res->body, "name"), "ci");
  EXPECT_EQ(res->body.find(secret), std::string::npos);

  // GET /api/v2/token/query
  res = client->Request("GET", "/api/v2/token/query?types=team", Admin());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(ParseObject(res->body)["totalElements"].to_number<int>(), 1);

  // POST /api/v2/token/introspect, JSON and form
  res = client->Request("POST", "/api/v2/token/introspect", AdminJson(),
                        R"({"token":")" + secret + R"("})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->Header("Cache-Control"), "no-store");
  EXPECT_EQ(ParseObject(res->body)["active"], true);
  EXPECT_EQ(JsonField(res->body, "id"), id);
  Headers form = Admin();
  form.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  res = client->Request("POST", "/api/v2/token/introspect", form, "token=" + secret);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(ParseObject(res->body)["active"], true);

  // GET /api/v2/token/self with the new token's own secret
  res = client->Request("GET", "/api/v2/token/self", Bearer(secret));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(JsonField(res->body, "id"), id);
  res = client->Request("GET", "/api/v2/token/self");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401) << res->body;

  // DELETE /api/v2/token/{id}: empty 200, then 404
  res = client->Request("DELETE", "/api/v2/token/" + id, Admin());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->body, "");
  EXPECT_EQ(res->Header("Content-Length"), "0");
  res = client->Request("DELETE", "/api/v2/token/" + id, Admin());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404) << res->body;
  EXPECT_EQ(ParseObject(res->body)["code"].to_number<int>(), 9001);

  // Introspecting the deleted secret: inactive, nothing else.
  res = client->Request("POST", "/api/v2/token/introspect", AdminJson(),
                        R"({"token":")" + secret + R"("})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, R"({"active":false})");

  // Routes without authentication.
  res = client->Request("GET", "/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, R"({"status":"UP"})");
  res = client->Request("GET", "/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->Header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(res->body.find("GET /api/v2/token/{id}"), std::string::npos);
  EXPECT_EQ(res->body.find(id), std::string::npos);
  res = client->Request("GET", "/api/docs/spec");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->Header("Content-Type"), "application/json");
  EXPECT_TRUE(ParseObject(res->body).contains("openapi"));
}

INSTANTIATE_TEST_SUITE_P(AuthOffAndRequired, RoutesTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "AuthRequired" : "AuthOff"; });

TEST_F(ServerTest, SelfIsTheCallersToken) {
  ASSERT_NO_FATAL_FAILURE(StartServer(true));
  auto client = Connect();
  auto res = client->Request("GET", "/api/v2/token/self", Admin());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(JsonField(res->body, "type"), "global");
}

TEST_F(ServerTest, AccessTokenQueryParameterAuthenticates) {
  ASSERT_NO_FATAL_FAILURE(StartServer(true));
  auto client = Connect();
  auto res = client->Request("GET", "/api/v2/token/query?limit=5&access_token=" + admin_secret());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  res = client->Request("GET", "/api/v2/token/self?access_token=" + admin_secret(), Admin());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
}

TEST_F(ServerTest, DeletedSecretIsRefusedOnTheNextRequest) {
  ASSERT_NO_FATAL_FAILURE(StartServer(true));
  auto client = Connect();
  const Created created = CreateToken(
      *client, R"({"type":"user","name":"me","principal":"u1","permissions":["token/read"]})");
  ASSERT_FALSE(created.secret.empty());
  auto res = client->Request("GET", "/api/v2/token/self", Bearer(created.secret));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;

  res = client->Request("DELETE", "/api/v2/token/" + created.id, Admin());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;

  res = client->Request("GET", "/api/v2/token/self", Bearer(created.secret));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401) << res->body;
  res = client->Request("POST", "/api/v2/token/introspect", AdminJson(),
                        R"({"token":")" + created.secret + R"("})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, R"({"active":false})");
}

TEST_F(ServerTest, QueryPagesEndToEnd) {
  ASSERT_NO_FATAL_FAILURE(StartServer(true));
  auto client = Connect();
  for (int i = 0; i < 25; ++i) {
    CreateToken(*client, R"({"type":"team","name":"t)" + std::to_string(i) +
                             R"(","principal":"p","permissions":["token/read"]})");
  }
  std::set<std::string> seen;
  for (int page = 0; page < 3; ++page) {
    auto res = client->Request(
        "GET",
        "/api/v2/token/query?types=team&limit=10&sort=name&order=desc&page=" + std::to_string(page),
        Admin());
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    auto page_json = ParseObject(res->body);
    EXPECT_EQ(page_json["totalElements"].to_number<int>(), 25);
    EXPECT_EQ(page_json["totalPages"].to_number<int>(), 3);
    EXPECT_EQ(page_json["number"].to_number<int>(), page);
    const auto& content = page_json["content"].as_array();
    EXPECT_EQ(content.size(), page < 2 ? 10u : 5u);
    for (const auto& token : content) seen.insert(std::string(token.at("id").as_string()));
  }
  EXPECT_EQ(seen.size(), 25u);

  auto res = client->Request("GET", "/api/v2/token/query?limit=abc", Admin());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400) << res->body;
  EXPECT_EQ(ParseObject(res->body)["code"].to_number<int>(), 1001);

  // Unpaged: everything, the admin included.
  res = client->Request("GET", "/api/v2/token/query", Admin());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(ParseObject(res->body)["totalElements"].to_number<int>(), 26);
}

}  // namespace
}  // namespace tokend::http::testing
