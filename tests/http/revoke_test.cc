// POST /api/v2/token/revoke (by value, without authentication) and
// POST /api/v2/token/query/revoke (in bulk), over real sockets.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <vector>

#include "core/secret.h"
#include "server_fixture.h"

namespace tokend::http::testing {
namespace {

boost::json::value Parse(const std::string& body) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(body, ec);
  EXPECT_FALSE(ec) << body;
  return value;
}

std::int64_t Field(const std::string& body, std::string_view name) {
  boost::json::value value = Parse(body);
  if (!value.is_object() || !value.as_object().contains(name)) {
    ADD_FAILURE() << "no " << name << " in " << body;
    return -1;
  }
  return value.as_object().at(name).to_number<std::int64_t>();
}

Headers Json(Headers headers = {}) {
  headers.emplace_back("Content-Type", "application/json");
  return headers;
}

Headers Form(Headers headers = {}) {
  headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  return headers;
}

std::string SingleBody(std::string_view secret) {
  return R"({"token":")" + std::string(secret) + R"("})";
}

std::string ListBody(const std::vector<std::string>& secrets) {
  std::string body = R"({"tokens":[)";
  for (std::size_t i = 0; i < secrets.size(); ++i) {
    if (i > 0) body += ',';
    body += '"' + secrets[i] + '"';
  }
  return body + "]}";
}

std::string TeamToken(std::string_view team, std::string_view permissions) {
  return R"({"type":"team","name":"t","principal":")" + std::string(team) + R"(","permissions":[)" +
         std::string(permissions) + "]}";
}

class RevokeTest : public ServerTest {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(StartServer(/*auth_required=*/true)); }

  int SelfStatus(TestClient& client, std::string_view secret) {
    auto res = client.Request("GET", "/api/v2/token/self", Bearer(secret));
    EXPECT_TRUE(res);
    return res ? res->status : 0;
  }
};

TEST_F(RevokeTest, SingleFormAnswersTheSameEmptyBodyForKnownAndUnknownSecrets) {
  auto client = Connect();
  const Created created = CreateToken(*client, TeamToken("t1", R"("workflow/read")"));
  ASSERT_EQ(SelfStatus(*client, created.secret), 200);

  std::vector<HttpResponse> answers;
  for (const std::string& secret : {created.secret, core::GenerateSecret(core::TokenType::kTeam),
                                    std::string("nonsense"), std::string(""), created.secret}) {
    auto res = client->Request("POST", "/api/v2/token/revoke", Json(), SingleBody(secret));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(res->body, "");
    EXPECT_EQ(res->Header("Cache-Control"), "no-store");
    answers.push_back(*res);
  }
  for (const HttpResponse& answer : answers) {
    std::vector<std::pair<std::string, std::string>> headers = answer.headers;
    // The date and the request id differ from answer to answer, by design.
    const auto varies = [](const auto& h) {
      return h.first == "Date" || h.first == "X-Request-Id";
    };
    std::erase_if(headers, varies);
    std::vector<std::pair<std::string, std::string>> first = answers.front().headers;
    std::erase_if(first, varies);
    EXPECT_EQ(headers, first) << "no header tells a known secret from an unknown one";
  }
  EXPECT_EQ(SelfStatus(*client, created.secret), 401);
  auto get = client->Request("GET", "/api/v2/token/" + created.id, Admin());
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 404) << "gone like a deleted token";
}

TEST_F(RevokeTest, FormBodyRevokes) {
  auto client = Connect();
  const Created created = CreateToken(*client, TeamToken("t1", R"("workflow/read")"));
  auto res = client->Request("POST", "/api/v2/token/revoke", Form(), "token=" + created.secret);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->body, "");
  EXPECT_EQ(SelfStatus(*client, created.secret), 401);

  res = client->Request("POST", "/api/v2/token/revoke", Form(), "other=1");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400) << res->body;
}

TEST_F(RevokeTest, ListFormCountsWhatItRevoked) {
  auto client = Connect();
  const Created a = CreateToken(*client, TeamToken("t1", R"("workflow/read")"));
  const Created b = CreateToken(*client, TeamToken("t2", R"("workflow/read")"));
  const Created kept = CreateToken(*client, TeamToken("t3", R"("workflow/read")"));
  auto res = client->Request("POST", "/api/v2/token/revoke", Json(),
                             ListBody({a.secret, b.secret, a.secret, "junk",
                                       core::GenerateSecret(core::TokenType::kUser)}));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->Header("Content-Type"), "application/json");
  EXPECT_EQ(Field(res->body, "revoked"), 2);
  EXPECT_EQ(SelfStatus(*client, a.secret), 401);
  EXPECT_EQ(SelfStatus(*client, b.secret), 401);
  EXPECT_EQ(SelfStatus(*client, kept.secret), 200);

  res = client->Request("POST", "/api/v2/token/revoke", Json(), R"({"tokens":[]})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(Field(res->body, "revoked"), 0);
}

TEST_F(RevokeTest, AtMostAThousandSecrets) {
  auto client = Connect();
  const Created created = CreateToken(*client, TeamToken("t1", R"("workflow/read")"));
  std::vector<std::string> secrets(999, core::GenerateSecret(core::TokenType::kTeam));
  secrets.push_back(created.secret);
  auto res = client->Request("POST", "/api/v2/token/revoke", Json(),
                             ListBody(std::vector<std::string>(1001, "x")));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400) << res->body;
  EXPECT_NE(res->body.find("1000"), std::string::npos) << res->body;
  EXPECT_EQ(SelfStatus(*client, created.secret), 200);

  res = client->Request("POST", "/api/v2/token/revoke", Json(), ListBody(secrets),
                        std::chrono::seconds(30));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(Field(res->body, "revoked"), 1);
  EXPECT_EQ(SelfStatus(*client, created.secret), 401);
}

TEST_F(RevokeTest, MalformedBodiesAndMediaTypesAreRefused) {
  auto client = Connect();
  const Created created = CreateToken(*client, TeamToken("t1", R"("workflow/read")"));
  for (const std::string& body :
       {std::string("{"), std::string("[]"), std::string("{}"), std::string(R"({"token":1})"),
        std::string(R"({"tokens":"x"})"), std::string(R"({"tokens":[1]})"),
        R"({"token":")" + created.secret + R"(","tokens":[]})"}) {
    auto res = client->Request("POST", "/api/v2/token/revoke", Json(), body);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << body;
    EXPECT_EQ(res->body.find(created.secret), std::string::npos) << "never echoed";
  }
  auto res = client->Request("POST", "/api/v2/token/revoke", {{"Content-Type", "text/plain"}},
                             SingleBody(created.secret));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 415);
  res = client->Request("POST", "/api/v2/token/revoke", {}, SingleBody(created.secret));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 415);
  res = client->Request("GET", "/api/v2/token/revoke");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401) << "only POST is anonymous";
  EXPECT_EQ(SelfStatus(*client, created.secret), 200) << "nothing was revoked";
}

TEST_F(RevokeTest, CredentialsAreIgnoredNeverAnswered401) {
  auto client = Connect();
  const Created created = CreateToken(*client, TeamToken("t1", R"("workflow/read")"));
  const Created other = CreateToken(*client, TeamToken("t1", R"("workflow/read")"));
  const Headers bad_bearer = Json(Bearer("bft_not_a_valid_secret"));
  auto res = client->Request("POST", "/api/v2/token/revoke", bad_bearer,
                             SingleBody(core::GenerateSecret(core::TokenType::kTeam)));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  res = client->Request("POST", "/api/v2/token/revoke?access_token=garbage",
                        Json({{"Authorization", "Basic Zm9vOmJhcg=="}}), SingleBody("x"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  // A valid but different credential beside conflicting ones: still ignored.
  res = client->Request("POST", "/api/v2/token/revoke?access_token=" + other.secret,
                        Json(Bearer(admin_secret())), SingleBody(created.secret));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(SelfStatus(*client, created.secret), 401);
  EXPECT_EQ(SelfStatus(*client, other.secret), 200) << "a presented credential is not a target";
  EXPECT_EQ(SelfStatus(*client, admin_secret()), 200);
}

TEST_F(RevokeTest, RevokedBearerIsRefusedAtOnceOnItsKeepAliveConnection) {
  auto setup = Connect();
  const Created created = CreateToken(*setup, TeamToken("t1", R"("token/read")"));
  auto client = Connect();
  ASSERT_EQ(SelfStatus(*client, created.secret), 200);
  ASSERT_EQ(SelfStatus(*client, created.secret), 200);  // remembered by the connection
  auto res = client->Request("POST", "/api/v2/token/revoke", Json(Bearer(created.secret)),
                             SingleBody(created.secret));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(SelfStatus(*client, created.secret), 401);

  const Created other = CreateToken(*setup, TeamToken("t1", R"("token/read")"));
  ASSERT_EQ(SelfStatus(*client, other.secret), 200);
  res = setup->Request("POST", "/api/v2/token/revoke", Json(), ListBody({other.secret}));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(SelfStatus(*client, other.secret), 401) << "revoked from another connection";
}

class BulkRevokeTest : public RevokeTest {
 protected:
  std::optional<HttpResponse> Bulk(TestClient& client, std::string_view params,
                                   const Headers& headers) {
    return client.Request("POST", "/api/v2/token/query/revoke" + std::string(params), headers);
  }
  std::int64_t Total(TestClient& client, std::string_view params) {
    auto res = client.Request("GET", "/api/v2/token/query" + std::string(params), Admin());
    EXPECT_TRUE(res && res->status == 200);
    return res ? Field(res->body, "totalElements") : -1;
  }
};

TEST_F(BulkRevokeTest, FiltersDryRunAndRevocation) {
  auto client = Connect();
  std::vector<Created> t1;
  for (int i = 0; i < 3; ++i)
    t1.push_back(CreateToken(*client, TeamToken("t1", R"("workflow/read")")));
  const Created t2 = CreateToken(*client, TeamToken("t2", R"("workflow/read")"));
  const Created user = CreateToken(*client, R"({"type":"user","name":"u","principal":"u1"})");
  ASSERT_EQ(SelfStatus(*client, t1[0].secret), 200);

  auto res = Bulk(*client, "?types=team&principals=t1&dryRun=true", Admin());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(Field(res->body, "matched"), 3);
  EXPECT_EQ(Total(*client, "?types=team"), 4) << "a dry run revokes nothing";

  res = Bulk(*client, "?types=team&principals=t1", Admin());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->Header("Content-Type"), "application/json");
  EXPECT_EQ(Field(res->body, "revoked"), 3);
  EXPECT_EQ(SelfStatus(*client, t1[0].secret), 401) << "stops validating at once";
  EXPECT_EQ(Total(*client, "?types=team"), 1);
  EXPECT_EQ(SelfStatus(*client, t2.secret), 200);
  EXPECT_EQ(SelfStatus(*client, user.secret), 200);

  res = Bulk(*client, "?types=user,session&principals=u1", Admin());
  ASSERT_TRUE(res);
  EXPECT_EQ(Field(res->body, "revoked"), 1);
  res = Bulk(*client, "?toDate=0", Admin());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(Field(res->body, "revoked"), 0);
}

TEST_F(BulkRevokeTest, NeedsAFilterOrAllAndRefusesPagingAndOrder) {
  auto client = Connect();
  CreateToken(*client, TeamToken("t1", R"("workflow/read")"));
  for (std::string_view params :
       {"", "?all=false", "?types=", "?dryRun=true", "?types=team&limit=10", "?types=team&page=0",
        "?types=team&order=ASC", "?types=team&sort=name",
        "?types=team&limit=", "?types=team&l%69mit=5", "?all=yes", "?all=true&all=false",
        "?types=bogus", "?fromDate=5&toDate=1", "?dryRun=maybe&all=true"}) {
    auto res = Bulk(*client, params, Admin());
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << params << " " << res->body;
  }
  EXPECT_EQ(Total(*client, ""), 2) << "nothing was revoked";
  auto res = Bulk(*client, "?all=true&dryRun=true", Admin());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(Field(res->body, "matched"), 2);
}

TEST_F(BulkRevokeTest, NeedsTokenDeleteAndAuthentication) {
  auto client = Connect();
  const Created reader = CreateToken(
      *client, R"({"type":"global","name":"r","permissions":["token/read","token/write"]})");
  auto res = Bulk(*client, "?all=true", Bearer(reader.secret));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403) << res->body;
  res = Bulk(*client, "?limit=5", Bearer(reader.secret));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403) << "permission before validation";
  res = Bulk(*client, "?all=true", {});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  res = Bulk(*client, "?all=true", Bearer("bft_nope"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  EXPECT_EQ(Total(*client, ""), 2);
}

TEST_F(BulkRevokeTest, ScopedCallerRevokesOnlyWhatItCoversItselfIncluded) {
  auto client = Connect();
  const Created deleter = CreateToken(*client, TeamToken("t1", R"("token/delete")"));
  const Created mine = CreateToken(*client, TeamToken("t1", R"("workflow/read")"));
  const Created theirs = CreateToken(*client, TeamToken("t2", R"("workflow/read")"));
  const Created user = CreateToken(*client, R"({"type":"user","name":"u","principal":"t1"})");

  auto res = Bulk(*client, "?all=true&dryRun=true", Bearer(deleter.secret));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(Field(res->body, "matched"), 2);
  res = Bulk(*client, "?types=team,user&principals=t1,t2", Bearer(deleter.secret));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body << " (the caller's own token goes too; still 200)";
  EXPECT_EQ(Field(res->body, "revoked"), 2);
  EXPECT_EQ(SelfStatus(*client, deleter.secret), 401);
  EXPECT_EQ(SelfStatus(*client, mine.secret), 401);
  EXPECT_EQ(SelfStatus(*client, theirs.secret), 200) << "uncovered tokens are untouched";
  EXPECT_EQ(SelfStatus(*client, user.secret), 200);
}

TEST_F(BulkRevokeTest, RevokingEverythingIncludesTheCallerAndAnswersFirst) {
  auto client = Connect();
  CreateToken(*client, TeamToken("t1", R"("workflow/read")"));
  auto res = Bulk(*client, "?all=true", Admin());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(Field(res->body, "revoked"), 2);
  res = client->Request("GET", "/api/v2/token/query", Admin());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401) << "the admin revoked itself";
}

}  // namespace
}  // namespace tokend::http::testing
