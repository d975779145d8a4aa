// The expiry policy over HTTP: GET /api/v2/token/policy, the create rules,
// the lifetimeBeyondPolicy filter and the Token-Expiration header.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "core/time.h"
#include "server_fixture.h"

namespace tokend::http::testing {
namespace {

constexpr std::int64_t kDayMillis = 86400 * 1000;

boost::json::value Json(std::string_view body) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(body, ec);
  EXPECT_FALSE(ec) << body;
  return value;
}

class ExpiryPolicyHttpTest : public ServerTest {
 protected:
  void StartWithPolicy(const std::vector<std::string>& max,
                       const std::vector<std::string>& defaults, bool auth_required = true) {
    auto policy = core::ExpiryPolicy::Parse(max, defaults);
    ASSERT_TRUE(policy.ok()) << policy.status().ToString();
    SetExpiryPolicy(*policy);
    StartServer(auth_required);
  }
};

TEST_F(ExpiryPolicyHttpTest, PolicyRouteListsOnlyTypesWithLimits) {
  StartWithPolicy({"team=90d", "user=1h"}, {"team=30d", "workflow=12h"});
  auto client = Connect();
  auto res = client->Request("GET", "/api/v2/token/policy", Admin());
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->Header("Content-Type"), "application/json");
  EXPECT_EQ(res->body,
            R"({"types":{"team":{"maxLifetimeSeconds":7776000,"defaultLifetimeSeconds":2592000},)"
            R"("workflow":{"defaultLifetimeSeconds":43200},"user":{"maxLifetimeSeconds":3600}},)"
            R"("lastUsedResolutionSeconds":5,"maxRotationOverlapSeconds":604800})");
}

TEST_F(ExpiryPolicyHttpTest, PolicyRouteWithoutPolicyHasNoTypes) {
  StartServer(/*auth_required=*/true);
  auto client = Connect();
  auto res = client->Request("GET", "/api/v2/token/policy", Admin());
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body,
            R"({"types":{},"lastUsedResolutionSeconds":5,"maxRotationOverlapSeconds":604800})");
}

TEST_F(ExpiryPolicyHttpTest, PolicyRouteNeedsAValidTokenButNoPermission) {
  StartWithPolicy({"2d"}, {});
  auto client = Connect();
  // A token with no token/* permission at all.
  const Created team = CreateToken(
      *client,
      R"({"type":"team","name":"n","principal":"team-a","permissions":["workflow/read"]})");
  auto res = client->Request("GET", "/api/v2/token/policy", Bearer(team.secret));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(Json(res->body).at("types").at("global").at("maxLifetimeSeconds").as_int64(),
            2 * 86400);

  auto anonymous = client->Request("GET", "/api/v2/token/policy");
  ASSERT_TRUE(anonymous.has_value());
  EXPECT_EQ(anonymous->status, 401);
  auto post = client->Request("POST", "/api/v2/token/policy", Admin());
  ASSERT_TRUE(post.has_value());
  EXPECT_EQ(post->status, 405);
}

TEST_F(ExpiryPolicyHttpTest, CreateBeyondTheMaximumIs400NamingTypeMaximumAndLatestDate) {
  StartWithPolicy({"team=90d"}, {});
  auto client = Connect();
  const std::int64_t far = core::NowMillis() + 91 * kDayMillis;
  const std::string body = R"({"type":"team","name":"n","principal":"team-a",)"
                           R"("permissions":["workflow/read"],"expirationDate":)" +
                           std::to_string(far) + "}";
  auto res = client->Request("POST", "/api/v2/token", AdminJson(), body);
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 400) << res->body;
  const boost::json::value error = Json(res->body);
  EXPECT_EQ(error.at("code").as_int64(), 1010);
  const std::string message(error.at("message").as_string());
  EXPECT_NE(message.find("type 'team'"), std::string::npos) << message;
  EXPECT_NE(message.find("(90d)"), std::string::npos) << message;
  EXPECT_NE(message.find("the latest date allowed is 20"), std::string::npos) << message;
  EXPECT_TRUE(message.ends_with("+00:00.")) << message;
}

TEST_F(ExpiryPolicyHttpTest, CreateEchoesTheAppliedDate) {
  StartWithPolicy({"team=90d"}, {"team=30d"});
  auto client = Connect();
  auto res = client->Request(
      "POST", "/api/v2/token", AdminJson(),
      R"({"type":"team","name":"n","principal":"team-a","permissions":["workflow/read"],)"
      R"("expirationDate":null})");
  ASSERT_TRUE(res.has_value());
  ASSERT_EQ(res->status, 200) << res->body;
  const std::string echoed = JsonField(res->body, "expirationDate");
  ASSERT_FALSE(echoed.empty()) << res->body;
  const std::string id = JsonField(res->body, "id");
  auto got = client->Request("GET", "/api/v2/token/" + id, Admin());
  ASSERT_TRUE(got.has_value());
  const boost::json::value token = Json(got->body);
  EXPECT_EQ(token.at("expirationDate").as_string(), echoed);
  const auto created = core::ParseDateString(token.at("creationDate").as_string());
  const auto expires = core::ParseDateString(echoed);
  ASSERT_TRUE(created && expires);
  EXPECT_EQ(*expires - *created, 30 * kDayMillis);
}

TEST_F(ExpiryPolicyHttpTest, LifetimeBeyondPolicyFiltersTheQuery) {
  // The admin token (exempt, never expires) is a global token; the policy
  // bounds team tokens only.
  StartWithPolicy({"team=1d"}, {});
  auto client = Connect();
  const Created bounded = CreateToken(
      *client,
      R"({"type":"team","name":"n","principal":"team-a","permissions":["workflow/read"]})");
  ASSERT_FALSE(bounded.id.empty());
  auto all = client->Request("GET", "/api/v2/token/query?lifetimeBeyondPolicy=false", Admin());
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(Json(all->body).at("totalElements").as_int64(), 2);
  auto beyond =
      client->Request("GET", "/api/v2/token/query?lifetimeBeyondPolicy=true&limit=5", Admin());
  ASSERT_TRUE(beyond.has_value());
  ASSERT_EQ(beyond->status, 200) << beyond->body;
  EXPECT_EQ(Json(beyond->body).at("totalElements").as_int64(), 0);

  auto bad = client->Request("GET", "/api/v2/token/query?lifetimeBeyondPolicy=maybe", Admin());
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(Json(bad->body).at("code").as_int64(), 1001);
  EXPECT_NE(bad->body.find("lifetimeBeyondPolicy"), std::string::npos);
}

TEST_F(ExpiryPolicyHttpTest, TokenExpirationHeaderOnEveryAnswerToAnExpiringCaller) {
  StartWithPolicy({}, {"team=30d"});
  auto client = Connect();
  auto created = client->Request(
      "POST", "/api/v2/token", AdminJson(),
      R"({"type":"team","name":"n","principal":"team-a","permissions":["token/read"]})");
  ASSERT_TRUE(created.has_value());
  ASSERT_EQ(created->status, 200);
  const std::string secret = JsonField(created->body, "token");
  const std::string expiry = JsonField(created->body, "expirationDate");
  ASSERT_FALSE(expiry.empty());
  // The admin's own token does not expire: no header, even on its create.
  EXPECT_FALSE(created->Header("Token-Expiration").has_value());

  const Headers bearer = Bearer(secret);
  for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/v2/token/self"},                         // 200
           {"GET", "/api/v2/token/policy"},                       // 200
           {"GET", "/api/v2/token/query?types=team"},             // 200
           {"GET", "/api/v2/token/0123456789abcdef01234567"},     // 404
           {"DELETE", "/api/v2/token/0123456789abcdef01234567"},  // 403
           {"GET", "/api/v2/nothing-here"},                       // 404
       }) {
    SCOPED_TRACE(method + " " + target);
    auto res = client->Request(method, target, bearer);
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->Header("Token-Expiration"), expiry);
  }
  // Not authenticated, or not /api/v2: no header.
  auto health = client->Request("GET", "/health", bearer);
  ASSERT_TRUE(health.has_value());
  EXPECT_FALSE(health->Header("Token-Expiration").has_value());
  auto unknown = client->Request("GET", "/api/v2/token/self", Bearer(secret + "x"));
  ASSERT_TRUE(unknown.has_value());
  EXPECT_EQ(unknown->status, 401);
  EXPECT_FALSE(unknown->Header("Token-Expiration").has_value());
}

TEST_F(ExpiryPolicyHttpTest, AuthOffAppliesThePolicyWithoutAHeader) {
  StartWithPolicy({"7d"}, {}, /*auth_required=*/false);
  auto client = Connect();
  auto created = client->Request("POST", "/api/v2/token", AdminJson(),
                                 R"({"type":"global","name":"n","permissions":["**/read"]})");
  ASSERT_TRUE(created.has_value());
  ASSERT_EQ(created->status, 200) << created->body;
  EXPECT_FALSE(JsonField(created->body, "expirationDate").empty());
  EXPECT_FALSE(created->Header("Token-Expiration").has_value());
  auto policy = client->Request("GET", "/api/v2/token/policy");
  ASSERT_TRUE(policy.has_value());
  EXPECT_EQ(policy->status, 200);
}

}  // namespace
}  // namespace tokend::http::testing
