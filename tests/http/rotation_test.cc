// POST /api/v2/token/{id}/rotate and POST /api/v2/token/self/rotate, and
// reuse detection on the authenticated routes, over real sockets.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <string>

#include "server_fixture.h"

namespace tokend::http::testing {
namespace {

boost::json::object Object(const std::string& body) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(body, ec);
  EXPECT_FALSE(ec) << body;
  if (ec || !value.is_object()) return {};
  return value.as_object();
}

Headers Json(Headers headers) {
  headers.emplace_back("Content-Type", "application/json");
  return headers;
}

std::string TeamToken(std::string_view team, std::string_view permissions) {
  return R"({"type":"team","name":"t","principal":")" + std::string(team) + R"(","permissions":[)" +
         std::string(permissions) + "]}";
}

class RotationHttpTest : public ServerTest {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(StartServer(/*auth_required=*/true)); }

  int Status(TestClient& client, std::string_view method, const std::string& target,
             const Headers& headers, std::string_view body = {}) {
    auto res = client.Request(method, target, headers, body);
    EXPECT_TRUE(res);
    return res ? res->status : 0;
  }
  int SelfStatus(TestClient& client, std::string_view secret) {
    return Status(client, "GET", "/api/v2/token/self", Bearer(secret));
  }
  static std::string RotatePath(const std::string& id) { return "/api/v2/token/" + id + "/rotate"; }
};

TEST_F(RotationHttpTest, RotateAnswersTheNewTokenWithRotatedFrom) {
  auto client = Connect();
  const Created old = CreateToken(*client, TeamToken("t1", R"("workflow/read")"));
  auto res = client->Request("POST", RotatePath(old.id), Admin());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->Header("Cache-Control"), "no-store");
  boost::json::object answer = Object(res->body);
  EXPECT_EQ(answer.at("type").as_string(), "team");
  EXPECT_EQ(answer.at("rotatedFrom").as_string(), old.id);
  const std::string id(answer.at("id").as_string());
  const std::string secret(answer.at("token").as_string());
  EXPECT_FALSE(answer.contains("expirationDate"));

  EXPECT_EQ(SelfStatus(*client, secret), 200);
  auto shown = client->Request("GET", "/api/v2/token/" + id, Admin());
  ASSERT_TRUE(shown);
  EXPECT_EQ(Object(shown->body).at("rotatedFrom").as_string(), old.id);
  EXPECT_FALSE(Object(shown->body).contains("familyId"));
  EXPECT_EQ(Status(*client, "GET", "/api/v2/token/" + old.id, Admin()), 404);
}

TEST_F(RotationHttpTest, WithAnOverlapTheOldTokenShowsRotatedTo) {
  auto client = Connect();
  const Created old = CreateToken(*client, TeamToken("t1", R"("workflow/read")"));
  auto res = client->Request("POST", RotatePath(old.id), AdminJson(), R"({"overlapSeconds":60})");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const std::string id(Object(res->body).at("id").as_string());
  auto shown = client->Request("GET", "/api/v2/token/" + old.id, Admin());
  ASSERT_TRUE(shown);
  boost::json::object token = Object(shown->body);
  EXPECT_EQ(token.at("rotatedTo").as_string(), id);
  EXPECT_TRUE(token.contains("expirationDate"));
  EXPECT_EQ(SelfStatus(*client, old.secret), 200) << "valid during the overlap";

  auto again = client->Request("POST", RotatePath(old.id), Admin());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 409) << again->body;
  EXPECT_EQ(Object(again->body).at("code").to_number<int>(), 9018);
}

TEST_F(RotationHttpTest, BadBodiesAreRefusedNamingTheField) {
  auto client = Connect();
  const Created old = CreateToken(*client, TeamToken("t1", R"("workflow/read")"));
  const Created uncovering =
      CreateToken(*client, TeamToken("t2", R"("token/write","token/delete","workflow/read")"));
  struct Case {
    std::string body;
    std::string field;
  };
  for (const Case& c : {Case{R"({"overlapSeconds":-1})", "overlapSeconds"},
                        Case{R"({"overlapSeconds":604801})", "overlapSeconds"},
                        Case{R"({"overlapSeconds":1.5})", "overlapSeconds"},
                        Case{R"({"overlapSeconds":"10"})", "overlapSeconds"},
                        Case{R"({"expirationDate":"tomorrow"})", "expirationDate"},
                        Case{R"({"expirationDate":1})", "expirationDate"}, Case{R"([1])", ""},
                        Case{R"({"overlapSeconds":)", ""}}) {
    auto res = client->Request("POST", RotatePath(old.id), AdminJson(), c.body);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << c.body << " -> " << res->body;
    EXPECT_NE(res->body.find(c.field), std::string::npos) << res->body;
    // The token is found first: a missing or uncovered one is the one 404.
    EXPECT_EQ(Status(*client, "POST", RotatePath("65f0a1b2c3d4e5f607182930"), AdminJson(), c.body),
              404)
        << c.body;
    Headers other_team = Bearer(uncovering.secret);
    other_team.emplace_back("Content-Type", "application/json");
    EXPECT_EQ(Status(*client, "POST", RotatePath(old.id), other_team, c.body), 404) << c.body;
  }
  auto plain = client->Request(
      "POST", RotatePath(old.id),
      [&] {
        Headers headers = Admin();
        headers.emplace_back("Content-Type", "text/plain");
        return headers;
      }(),
      "{}");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 415);
  // Unknown fields are ignored, as on create.
  EXPECT_EQ(Status(*client, "POST", RotatePath(old.id), AdminJson(), R"({"colour":"red"})"), 200);
}

TEST_F(RotationHttpTest, UncoveredIsTheOne404AndEscalationIsRefused) {
  auto client = Connect();
  const Created target =
      CreateToken(*client, TeamToken("t1", R"("workflow/read","workflow/action")"));
  const Created other_team =
      CreateToken(*client, TeamToken("t2", R"("token/write","token/delete","workflow/read")"));
  const Created weaker =
      CreateToken(*client, TeamToken("t1", R"("token/write","token/delete","workflow/read")"));
  const Created no_delete =
      CreateToken(*client, TeamToken("t1", R"("token/write","workflow/read","workflow/action")"));
  const Created able = CreateToken(
      *client,
      TeamToken("t1", R"("token/write","token/delete","workflow/read","workflow/action")"));

  EXPECT_EQ(Status(*client, "POST", RotatePath(target.id), Bearer(other_team.secret)), 404);
  EXPECT_EQ(Status(*client, "POST", RotatePath("65f0a1b2c3d4e5f607182930"), Bearer(able.secret)),
            404);
  EXPECT_EQ(Status(*client, "POST", RotatePath(target.id), Bearer(weaker.secret)), 403);
  EXPECT_EQ(Status(*client, "POST", RotatePath(target.id), Bearer(no_delete.secret)), 403);
  EXPECT_EQ(Status(*client, "POST", RotatePath(target.id), {}), 401);
  EXPECT_EQ(Status(*client, "POST", RotatePath(target.id), Bearer(able.secret)), 200);
}

TEST_F(RotationHttpTest, SelfRotateWorksForAScopedTokenWithoutPermissions) {
  auto client = Connect();
  const Created own = CreateToken(*client, TeamToken("t1", R"("workflow/read")"));
  auto res = client->Request("POST", "/api/v2/token/self/rotate", Json(Bearer(own.secret)),
                             R"({"overlapSeconds":30})");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  boost::json::object answer = Object(res->body);
  EXPECT_EQ(answer.at("rotatedFrom").as_string(), own.id);
  const std::string secret(answer.at("token").as_string());
  EXPECT_EQ(SelfStatus(*client, secret), 200);
  EXPECT_EQ(SelfStatus(*client, own.secret), 200) << "its overlap runs";
  EXPECT_EQ(Status(*client, "POST", "/api/v2/token/self/rotate", Bearer(own.secret)), 409);
  EXPECT_EQ(Status(*client, "POST", "/api/v2/token/self/rotate", {}), 401);
}

TEST_F(RotationHttpTest, ASecretRotatedAwayRevokesItsFamilyOnAnyRoute) {
  auto client = Connect();
  const Created old = CreateToken(*client, TeamToken("t1", R"("token/read")"));
  auto res = client->Request("POST", RotatePath(old.id), Admin());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  const std::string secret(Object(res->body).at("token").as_string());
  ASSERT_EQ(SelfStatus(*client, secret), 200);

  auto query = client->Request("GET", "/api/v2/token/query", Bearer(old.secret));
  ASSERT_TRUE(query);
  EXPECT_EQ(query->status, 401);
  EXPECT_EQ(SelfStatus(*client, secret), 401) << "the family is revoked";
  auto metrics = client->Request("GET", "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("tokend_reuse_detected_total 1"), std::string::npos)
      << metrics->body;
}

TEST_F(RotationHttpTest, IntrospectingASecretRotatedAwayAnswersInactiveAndRevokes) {
  auto client = Connect();
  const Created old = CreateToken(*client, TeamToken("t1", R"("token/read")"));
  auto res = client->Request("POST", "/api/v2/token/self/rotate", Bearer(old.secret));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const std::string secret(Object(res->body).at("token").as_string());
  auto seen = client->Request("POST", "/api/v2/token/introspect", AdminJson(),
                              R"({"token":")" + old.secret + R"("})");
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->status, 200);
  EXPECT_EQ(seen->body, R"({"active":false})");
  EXPECT_EQ(SelfStatus(*client, secret), 401);
}

class RotationAuthOffTest : public ServerTest {};

TEST_F(RotationAuthOffTest, SelfRotateWithoutATokenIs401) {
  ASSERT_NO_FATAL_FAILURE(StartServer(/*auth_required=*/false));
  auto client = Connect();
  auto res = client->Request("POST", "/api/v2/token/self/rotate");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401) << res->body;
}

}  // namespace
}  // namespace tokend::http::testing
