// The authentication step over real sockets: 401 before routing on /api/v2,
// credentials from the header or the query, 403 for missing permissions.
#include "http/auth.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "core/authz.h"
#include "server_fixture.h"

namespace tokend::http::testing {
namespace {

int CodeOf(const HttpResponse& res) {
  const std::string code_field = "\"code\":";
  const auto at = res.body.find(code_field);
  if (at == std::string::npos) return 0;
  return std::stoi(res.body.substr(at + code_field.size()));
}

class AuthTest : public ServerTest {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(StartServer(true)); }
};

TEST_F(AuthTest, MissingTokenIs401OnEveryApiPath) {
  auto client = Connect();
  for (const char* target : {"/api/v2/token/query", "/api/v2/token/abc", "/api/v2/token/self",
                             "/api/v2", "/api/v2/unknown/path", "/api/v2/token/query?limit=1"}) {
    auto res = client->Request("GET", target);
    ASSERT_TRUE(res) << target;
    EXPECT_EQ(res->status, 401) << target;
    EXPECT_EQ(CodeOf(*res), 9008) << res->body;
    EXPECT_EQ(res->Header("WWW-Authenticate").value_or("").substr(0, 6), "Bearer");
    EXPECT_NE(res->body.find("Authorization: Bearer"), std::string::npos);
  }
  auto res = client->Request("POST", "/api/v2/token", {{"Content-Type", "application/json"}}, "{}");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  res = client->Request("PUT", "/api/v2/token/abc");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
}

TEST_F(AuthTest, BadTokensAre401WithoutEchoingThem) {
  auto client = Connect();
  const std::string unknown = "bfg_" + std::string(30, 'A') + "000000";
  for (const std::string& secret : {unknown, std::string("nonsense"), admin_secret() + "x"}) {
    auto res = client->Request("GET", "/api/v2/token/query", Bearer(secret));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401) << res->body;
    EXPECT_EQ(res->body.find(secret), std::string::npos);
    res = client->Request("GET", "/api/v2/nowhere?access_token=" + secret);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401) << res->body;
    EXPECT_EQ(res->body.find(secret), std::string::npos);
  }
  for (const char* header : {"Basic abc", "Bearer", "Bearer  ", "Bearer a b"}) {
    auto res = client->Request("GET", "/api/v2/token/query", {{"Authorization", header}});
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401) << header;
  }
}

TEST_F(AuthTest, SchemeIsCaseInsensitive) {
  auto client = Connect();
  auto res = client->Request("GET", "/api/v2/token/self",
                             {{"Authorization", "bEaReR   " + admin_secret()}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
}

TEST_F(AuthTest, UnknownApiPathWithTokenIs404) {
  auto client = Connect();
  auto res = client->Request("GET", "/api/v2/unknown", Admin());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(CodeOf(*res), 9002);
}

TEST_F(AuthTest, PublicRoutesNeedNoToken) {
  auto client = Connect();
  for (const char* target : {"/health", "/metrics", "/api/docs/spec"}) {
    auto res = client->Request("GET", target);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << target;
  }
  auto res = client->Request("GET", "/nothing/here");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(CodeOf(*res), 9002);
}

TEST_F(AuthTest, ConflictingCredentialsAre400) {
  auto client = Connect();
  auto res = client->Request("GET", "/api/v2/token/query?access_token=bfg_other", Admin());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(CodeOf(*res), 1001);
  EXPECT_EQ(res->body.find(admin_secret()), std::string::npos);
  // The same token twice is fine.
  res = client->Request("GET", "/api/v2/token/query?access_token=" + admin_secret(), Admin());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(AuthTest, MissingPermissionIs403) {
  auto client = Connect();
  const Created reader = CreateToken(
      *client, R"({"type":"team","name":"r","principal":"t1","permissions":["token/read"]})");
  const Created other = CreateToken(
      *client, R"({"type":"team","name":"w","principal":"t1","permissions":["workflow/read"]})");
  ASSERT_FALSE(reader.secret.empty());
  ASSERT_FALSE(other.secret.empty());

  Headers reader_json = Bearer(reader.secret);
  reader_json.emplace_back("Content-Type", "application/json");
  auto res = client->Request(
      "POST", "/api/v2/token", reader_json,
      R"({"type":"team","name":"x","principal":"t1","permissions":["token/read"]})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403) << res->body;
  EXPECT_EQ(CodeOf(*res), 9009);

  res = client->Request("DELETE", "/api/v2/token/" + other.id, Bearer(reader.secret));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403) << res->body;

  Headers other_json = Bearer(other.secret);
  other_json.emplace_back("Content-Type", "application/json");
  res = client->Request("POST", "/api/v2/token/introspect", other_json,
                        R"({"token":")" + reader.secret + R"("})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403) << res->body;

  // The reader may introspect (and sees its team's tokens).
  res = client->Request("POST", "/api/v2/token/introspect", reader_json,
                        R"({"token":")" + other.secret + R"("})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_NE(res->body.find("\"active\":true"), std::string::npos);
  // ... but not the global admin (no existence leak).
  res = client->Request("POST", "/api/v2/token/introspect", reader_json,
                        R"({"token":")" + admin_secret() + R"("})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, R"({"active":false})");
}

SharedAuthenticated AuthenticatedAs(std::optional<core::EpochMillis> expiration) {
  auto token = std::make_shared<core::Token>();
  token->id = "0123456789abcdef01234567";
  token->type = core::TokenType::kGlobal;
  token->actions = {"**/**"};
  token->expiration_date = expiration;
  return std::make_shared<const Authenticated>(
      Authenticated{core::Caller::FromToken(*token), std::move(token)});
}

TEST(BearerMemoTest, RecallsOnlyTheSameSecretAtTheSameStampUnexpired) {
  const std::string secret = "bfg_" + std::string(30, 'A') + "000000";
  BearerMemo memo;
  EXPECT_EQ(memo.Recall(secret, 7, 1000), nullptr) << "nothing remembered yet";
  const SharedAuthenticated auth = AuthenticatedAs(2000);
  memo.Remember(secret, 7, auth);
  EXPECT_EQ(memo.Recall(secret, 7, 1000), auth);
  EXPECT_EQ(memo.Recall(secret, 8, 1000), nullptr) << "a revocation moved the stamp";
  EXPECT_EQ(memo.Recall(secret, 7, 2000), nullptr) << "expired";
  std::string other = secret;
  other.back() = '1';
  EXPECT_EQ(memo.Recall(other, 7, 1000), nullptr);
  EXPECT_EQ(memo.Recall(secret.substr(1), 7, 1000), nullptr);
  memo.Forget();
  EXPECT_EQ(memo.Recall(secret, 7, 1000), nullptr);
}

// A connection remembers the bearer it last authenticated (BearerMemo); the
// memory must never outlive a revocation, nor answer for another bearer.
TEST_F(AuthTest, RevokedBearerIsRefusedOnTheConnectionThatUsedIt) {
  auto admin = Connect();
  const Created reader = CreateToken(
      *admin, R"({"type":"team","name":"r","principal":"t1","permissions":["token/read"]})");
  ASSERT_FALSE(reader.secret.empty());
  auto client = Connect();
  for (int i = 0; i < 3; ++i) {
    auto res = client->Request("GET", "/api/v2/token/self", Bearer(reader.secret));
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
  }
  auto res = admin->Request("DELETE", "/api/v2/token/" + reader.id, Admin());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  res = client->Request("GET", "/api/v2/token/self", Bearer(reader.secret));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401) << res->body;
}

TEST_F(AuthTest, EachRequestOnAConnectionIsJudgedByItsOwnBearer) {
  auto client = Connect();
  const Created reader = CreateToken(
      *client, R"({"type":"team","name":"r","principal":"t1","permissions":["workflow/read"]})");
  ASSERT_FALSE(reader.secret.empty());
  // A secret differing from the remembered admin one in its last character.
  std::string near = admin_secret();
  near.back() = near.back() == 'A' ? 'B' : 'A';
  const std::vector<std::pair<Headers, int>> requests = {
      {Admin(), 200},
      {Bearer(reader.secret), 403},
      {Bearer("bfg_" + std::string(30, 'A') + "000000"), 401},
      {Headers{}, 401},
      {Bearer(near), 401},
  };
  for (int round = 0; round < 2; ++round) {
    for (const auto& [headers, status] : requests) {
      auto res = client->Request("GET", "/api/v2/token/query", headers);
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, status) << res->body;
    }
  }
}

// The hot path answers from the memo and the cache; whatever they do not
// hold is asked of the store once, and counted once.
TEST_F(AuthTest, IntrospectionBeyondTheCacheAsksTheStoreOnce) {
  auto client = Connect();
  const Created target = CreateToken(
      *client, R"({"type":"team","name":"t","principal":"t1","permissions":["workflow/read"]})");
  ASSERT_FALSE(target.secret.empty());
  // A change-feed outage empties the cache and moves the resolution stamp.
  service().OnFeedHealthChanged(false);
  service().OnFeedHealthChanged(true);
  const std::uint64_t misses_before = service().cache_stats().misses;
  const std::string body = R"({"token":")" + target.secret + R"("})";
  for (int i = 0; i < 3; ++i) {
    auto res = client->Request("POST", "/api/v2/token/introspect", AdminJson(), body);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
    EXPECT_NE(res->body.find("\"active\":true"), std::string::npos) << res->body;
  }
  // The admin's secret and the introspected one, each looked up once.
  EXPECT_EQ(service().cache_stats().misses - misses_before, 2u);
}

}  // namespace
}  // namespace tokend::http::testing
