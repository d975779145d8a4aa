// Last used over HTTP: what counts as a use, lastUsedDate in the answers, the
// lastUsedBefore/lastUsedAfter filters and sort=lastUsedDate on the query and
// on the bulk revocation, and the policy route's resolution.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "core/time.h"
#include "server_fixture.h"

namespace tokend::http::testing {
namespace {

constexpr core::EpochMillis kBase = 1'780'000'000'000;

boost::json::value Json(std::string_view body) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(body, ec);
  EXPECT_FALSE(ec) << body;
  return value;
}

Headers JsonBody(Headers headers) {
  headers.emplace_back("Content-Type", "application/json");
  return headers;
}

Headers Form(Headers headers = {}) {
  headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  return headers;
}

class LastUsedTest : public ServerTest {
 protected:
  void SetUp() override { StartServer(/*auth_required=*/true); }

  Created Team(TestClient& client, const std::string& team, const std::string& name = "n") {
    return CreateToken(client, R"({"type":"team","name":")" + name + R"(","principal":")" + team +
                                   R"(","permissions":["token/read","token/delete"]})");
  }

  // The token's lastUsedDate as GET /api/v2/token/{id} answers it ("" when
  // absent), after writing every pending use.
  std::string LastUsed(TestClient& client, const std::string& id) {
    EXPECT_TRUE(service().FlushUses().ok());
    auto res = client.Request("GET", "/api/v2/token/" + id, Admin());
    EXPECT_TRUE(res.has_value());
    if (!res) return "";
    EXPECT_EQ(res->status, 200) << res->body;
    return JsonField(res->body, "lastUsedDate");
  }

  // Uses at chosen times, written at once.
  void Use(const std::string& id, core::EpochMillis at) {
    service().RecordUse(id, at);
    ASSERT_TRUE(service().FlushUses().ok());
  }

  std::vector<std::string> QueryIds(TestClient& client, const std::string& params,
                                    std::int64_t* total = nullptr) {
    auto res = client.Request("GET", "/api/v2/token/query?" + params, Admin());
    EXPECT_TRUE(res.has_value());
    std::vector<std::string> ids;
    if (!res) return ids;
    EXPECT_EQ(res->status, 200) << params << ": " << res->body;
    if (res->status != 200) return ids;
    const boost::json::value page = Json(res->body);
    for (const auto& token : page.at("content").as_array()) {
      ids.emplace_back(token.at("id").as_string());
    }
    if (total != nullptr) *total = page.at("totalElements").as_int64();
    return ids;
  }
};

TEST_F(LastUsedTest, NeverUsedTokensHaveNoLastUsedDate) {
  auto client = Connect();
  const Created token = Team(*client, "team-a");
  EXPECT_EQ(LastUsed(*client, token.id), "");
  auto res = client->Request("GET", "/api/v2/token/" + token.id, Admin());
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->body.find("lastUsedDate"), std::string::npos) << "omitted while null";
}

TEST_F(LastUsedTest, PassingAuthenticationIsAUseWhateverTheAnswer) {
  auto client = Connect();
  const Created bearer = Team(*client, "team-a");
  const Created by_query = Team(*client, "team-a");
  const Created forbidden = Team(*client, "team-a");
  const core::EpochMillis before = core::NowMillis();
  // 404 after authentication: still a use.
  auto res =
      client->Request("GET", "/api/v2/token/65f0a1b2c3d4e5f600000000", Bearer(bearer.secret));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 404);
  // access_token instead of the header.
  res = client->Request("GET", "/api/v2/token/query?access_token=" + by_query.secret);
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 200);
  // 403: authenticated, then refused (no token/write to create).
  res = client->Request("POST", "/api/v2/token", JsonBody(Bearer(forbidden.secret)),
                        R"({"type":"team","name":"x","principal":"team-a","permissions":[]})");
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 403) << res->body;
  for (const Created* token : {&bearer, &by_query, &forbidden}) {
    const std::string used = LastUsed(*client, token->id);
    ASSERT_FALSE(used.empty()) << token->id;
    EXPECT_GE(used, core::FormatSpringDate(before)) << "ISO dates compare as text";
  }
}

TEST_F(LastUsedTest, FailedAuthenticationIsNoUse) {
  auto client = Connect();
  const Created token = Team(*client, "team-a");
  // Conflicting credentials: the request never authenticates.
  auto res = client->Request("GET", "/api/v2/token/query?access_token=" + admin_secret(),
                             Bearer(token.secret));
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(LastUsed(*client, token.id), "");
}

TEST_F(LastUsedTest, SelfShowsTheUseItIs) {
  auto client = Connect();
  const Created token = Team(*client, "team-a");
  const core::EpochMillis before = core::NowMillis();
  auto res = client->Request("GET", "/api/v2/token/self", Bearer(token.secret));
  ASSERT_TRUE(res.has_value());
  ASSERT_EQ(res->status, 200) << res->body;
  const std::string used = JsonField(res->body, "lastUsedDate");
  ASSERT_FALSE(used.empty()) << res->body;
  EXPECT_GE(used, core::FormatSpringDate(before));
}

TEST_F(LastUsedTest, ActiveIntrospectionIsAUseOfTheIntrospectedToken) {
  auto client = Connect();
  const Created caller = Team(*client, "team-a");
  const Created target = Team(*client, "team-a");
  const Created elsewhere = Team(*client, "team-b");
  auto res = client->Request("POST", "/api/v2/token/introspect", JsonBody(Bearer(caller.secret)),
                             R"({"token":")" + target.secret + R"("})");
  ASSERT_TRUE(res.has_value());
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(Json(res->body).at("active"), true);
  EXPECT_FALSE(JsonField(res->body, "lastUsedDate").empty()) << "the answer is itself a use";
  // Inactive for this caller (another team's token): no use of it.
  res = client->Request("POST", "/api/v2/token/introspect", JsonBody(Bearer(caller.secret)),
                        R"({"token":")" + elsewhere.secret + R"("})");
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->body, R"({"active":false})");
  EXPECT_FALSE(LastUsed(*client, target.id).empty());
  EXPECT_FALSE(LastUsed(*client, caller.id).empty()) << "the caller authenticated";
  EXPECT_EQ(LastUsed(*client, elsewhere.id), "");
}

TEST_F(LastUsedTest, RevocationByValueIsNoUseOfAnySecretThere) {
  auto client = Connect();
  const Created in_header = Team(*client, "team-a");
  const Created in_body = Team(*client, "team-a");
  const Created unrelated = Team(*client, "team-a");
  auto res = client->Request("POST", "/api/v2/token/revoke", Form(Bearer(in_header.secret)),
                             "token=" + in_body.secret);
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 200);
  res = client->Request("POST", "/api/v2/token/revoke?access_token=" + unrelated.secret,
                        JsonBody({}), R"({"tokens":["bft_nothing"]})");
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(LastUsed(*client, in_header.id), "");
  EXPECT_EQ(LastUsed(*client, unrelated.id), "");
}

TEST_F(LastUsedTest, FiltersSortAndExactTotals) {
  auto client = Connect();
  const Created never = Team(*client, "team-a", "never");
  const Created old_use = Team(*client, "team-a", "old");
  const Created mid_use = Team(*client, "team-b", "mid");
  const Created new_use = Team(*client, "team-b", "new");
  Use(old_use.id, kBase);
  Use(mid_use.id, kBase + 1000);
  Use(new_use.id, kBase + 2000);
  const std::string team = "types=team&";  // leaves the admin's own (global) token out

  std::int64_t total = -1;
  EXPECT_EQ(QueryIds(*client, team + "lastUsedBefore=" + std::to_string(kBase + 1000), &total),
            (std::vector{never.id, old_use.id}))
      << "never used, or used before T";
  EXPECT_EQ(total, 2);
  EXPECT_EQ(QueryIds(*client, team + "lastUsedAfter=" + std::to_string(kBase + 1000), &total),
            (std::vector{mid_use.id, new_use.id}))
      << "used at or after T";
  EXPECT_EQ(total, 2);
  QueryIds(*client, team + "limit=1&lastUsedAfter=" + std::to_string(kBase), &total);
  EXPECT_EQ(total, 3) << "the total of a page is exact";
  QueryIds(*client,
           "principals=team-b&limit=1&page=1&lastUsedBefore=" + std::to_string(kBase + 2000),
           &total);
  EXPECT_EQ(total, 1);

  EXPECT_EQ(QueryIds(*client, team + "sort=lastUsedDate&order=ASC"),
            (std::vector{never.id, old_use.id, mid_use.id, new_use.id}))
      << "nulls first ascending";
  EXPECT_EQ(QueryIds(*client, team + "sort=lastUsedDate&order=DESC"),
            (std::vector{new_use.id, mid_use.id, old_use.id, never.id}))
      << "nulls last descending";
  EXPECT_EQ(QueryIds(*client, team + "sort=lastUsedDate&order=DESC&limit=2&page=1", &total),
            (std::vector{old_use.id, never.id}));
  EXPECT_EQ(total, 4);

  // The query answers carry the stored dates.
  auto res = client->Request("GET", "/api/v2/token/query?" + team + "sort=lastUsedDate", Admin());
  ASSERT_TRUE(res.has_value());
  EXPECT_NE(res->body.find(R"("lastUsedDate":")" + core::FormatSpringDate(kBase) + "\""),
            std::string::npos)
      << res->body;
}

TEST_F(LastUsedTest, BadFilterValuesAre400NamingTheParameter) {
  auto client = Connect();
  for (std::string params :
       {"lastUsedBefore=abc", "lastUsedAfter=1.5", "lastUsedBefore=1&lastUsedBefore=2",
        "lastUsedAfter=9223372036854775808", "lastUsedAfter=10&lastUsedBefore=5",
        "sort=lastused"}) {
    auto res = client->Request("GET", "/api/v2/token/query?" + params, Admin());
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->status, 400) << params;
    const boost::json::value error = Json(res->body);
    EXPECT_EQ(error.at("code").as_int64(), 1001) << params;
    const std::string name = params.substr(0, params.find('='));
    EXPECT_NE(res->body.find("'" + name + "'"), std::string::npos) << params << ": " << res->body;
  }
  // Empty values count as absent.
  auto res = client->Request("GET", "/api/v2/token/query?lastUsedBefore=&lastUsedAfter=", Admin());
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 200) << res->body;
}

TEST_F(LastUsedTest, BulkRevocationTakesTheLastUsedFilters) {
  auto client = Connect();
  const Created never = Team(*client, "team-a");
  const Created stale = Team(*client, "team-a");
  const Created fresh = Team(*client, "team-a");
  Use(stale.id, kBase);
  Use(fresh.id, kBase + 5000);
  const std::string cutoff = std::to_string(kBase + 1000);

  auto res = client->Request(
      "POST", "/api/v2/token/query/revoke?types=team&dryRun=true&lastUsedAfter=" + cutoff, Admin());
  ASSERT_TRUE(res.has_value());
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->body, R"({"matched":1})");
  // A last-used filter alone is enough of a filter.
  res = client->Request("POST", "/api/v2/token/query/revoke?lastUsedBefore=" + cutoff, Admin());
  ASSERT_TRUE(res.has_value());
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->body, R"({"revoked":2})") << "never used, or used before the cutoff";
  EXPECT_EQ(client->Request("GET", "/api/v2/token/" + never.id, Admin())->status, 404);
  EXPECT_EQ(client->Request("GET", "/api/v2/token/" + stale.id, Admin())->status, 404);
  EXPECT_EQ(client->Request("GET", "/api/v2/token/" + fresh.id, Admin())->status, 200);

  res = client->Request("POST", "/api/v2/token/query/revoke?lastUsedBefore=x", Admin());
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 400);
  EXPECT_NE(res->body.find("lastUsedBefore"), std::string::npos);
  res = client->Request("POST", "/api/v2/token/query/revoke?lastUsedAfter=1&sort=lastUsedDate",
                        Admin());
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 400);
}

class LastUsedPolicyTest : public ServerTest {};

TEST_F(LastUsedPolicyTest, PolicyRouteReportsTheResolutionInForce) {
  SetLastUsedResolution(7);
  StartServer(/*auth_required=*/true);
  auto client = Connect();
  auto res = client->Request("GET", "/api/v2/token/policy", Admin());
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(Json(res->body).at("lastUsedResolutionSeconds").as_int64(), 7) << res->body;
}

TEST_F(LastUsedPolicyTest, UsesReachTheStoreWithinTheResolution) {
  SetLastUsedResolution(1);
  StartServer(/*auth_required=*/true);
  auto client = Connect();
  const Created token = CreateToken(
      *client, R"({"type":"team","name":"n","principal":"t","permissions":["token/read"]})");
  auto res = client->Request("GET", "/api/v2/token/self", Bearer(token.secret));
  ASSERT_TRUE(res.has_value());
  std::string used;
  for (int i = 0; i < 40 && used.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    res = client->Request("GET", "/api/v2/token/" + token.id, Admin());
    ASSERT_TRUE(res.has_value());
    used = JsonField(res->body, "lastUsedDate");
  }
  EXPECT_FALSE(used.empty()) << "not written within 4 s at a 1 s resolution";
}

TEST_F(LastUsedPolicyTest, BulkRevocationAppliesThePolicyToLifetimeBeyondPolicy) {
  auto policy = core::ExpiryPolicy::Parse({"30d"}, {});
  ASSERT_TRUE(policy.ok());
  SetExpiryPolicy(*policy);
  StartServer(/*auth_required=*/true);
  auto client = Connect();
  CreateToken(*client,
              R"({"type":"team","name":"n","principal":"t","permissions":["token/read"]})");
  // The bootstrap admin never expires: beyond a 30-day maximum. The team
  // token got the maximum as its lifetime: within it.
  auto res = client->Request(
      "POST", "/api/v2/token/query/revoke?lifetimeBeyondPolicy=true&dryRun=true", Admin());
  ASSERT_TRUE(res.has_value());
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->body, R"({"matched":1})");
  res = client->Request("POST", "/api/v2/token/query/revoke?types=team&lifetimeBeyondPolicy=true",
                        Admin());
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->body, R"({"revoked":0})");
  res = client->Request("POST", "/api/v2/token/query/revoke?lifetimeBeyondPolicy=false", Admin());
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, 400) << "false is no filter";
}

}  // namespace
}  // namespace tokend::http::testing
