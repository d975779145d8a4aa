// GET /api/v2/token/audit (API 8.1) over real sockets: every change writes
// its event, and a caller sees only the events of tokens it covers.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <vector>

#include "server_fixture.h"

namespace tokend::http::testing {
namespace {

namespace json = boost::json;

json::object ParseObject(const std::string& body) {
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  EXPECT_FALSE(ec) << body;
  if (!value.is_object()) {
    ADD_FAILURE() << "not an object: " << body;
    return {};
  }
  return value.as_object();
}

std::string TeamToken(std::string_view team, std::string_view permissions) {
  return R"({"type":"team","name":"t","principal":")" + std::string(team) + R"(","permissions":[)" +
         std::string(permissions) + "]}";
}

class AuditTest : public ServerTest {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(StartServer(/*auth_required=*/true)); }

  // The events of an audit request, checking that it answers 200.
  json::array Events(TestClient& client, const std::string& query, const Headers& headers) {
    auto res = client.Request("GET", "/api/v2/token/audit" + query, headers);
    EXPECT_TRUE(res);
    if (!res) return {};
    EXPECT_EQ(res->status, 200) << res->body;
    json::object page = ParseObject(res->body);
    if (!page.contains("content")) return {};
    return page.at("content").as_array();
  }

  static std::vector<std::string> Actions(const json::array& events) {
    std::vector<std::string> actions;
    for (const json::value& event : events) {
      actions.emplace_back(event.at("action").as_string());
    }
    return actions;
  }
};

TEST_F(AuditTest, CreateAndDeleteWriteEventsWithActorAndAddress) {
  auto client = Connect();
  const Created created = CreateToken(*client, TeamToken("team-a", R"("workflow/read")"));
  auto del = client->Request("DELETE", "/api/v2/token/" + created.id, Admin());
  ASSERT_TRUE(del);
  ASSERT_EQ(del->status, 200) << del->body;

  const json::array events = Events(*client, "?tokenId=" + created.id, Admin());
  ASSERT_EQ(Actions(events), (std::vector<std::string>{"token.deleted", "token.created"}))
      << "newest first by default";
  for (const json::value& value : events) {
    const json::object& event = value.as_object();
    EXPECT_EQ(event.at("id").as_string().size(), 24u);
    EXPECT_EQ(event.at("hash").as_string().size(), 64u);
    const json::object& subject = event.at("subject").as_object();
    EXPECT_EQ(subject.at("id").as_string(), created.id);
    EXPECT_EQ(subject.at("type").as_string(), "team");
    EXPECT_EQ(subject.at("principal").as_string(), "team-a");
    EXPECT_EQ(subject.at("name").as_string(), "t");
    const json::object& actor = event.at("actor").as_object();
    EXPECT_EQ(actor.at("type").as_string(), "global");
    EXPECT_TRUE(actor.at("principal").is_null());
    EXPECT_EQ(event.at("remoteAddress").as_string(), "127.0.0.1");
    EXPECT_FALSE(event.contains("reason"));
    // Never a secret or a hash of one, under any name.
    const std::string text = json::serialize(event);
    EXPECT_EQ(text.find(created.secret), std::string::npos);
    EXPECT_EQ(text.find("secret"), std::string::npos);
  }
}

TEST_F(AuditTest, RevocationByValueIsASystemEventWithReasonReported) {
  auto client = Connect();
  const Created created = CreateToken(*client, TeamToken("team-a", R"("workflow/read")"));
  Headers json_headers{{"Content-Type", "application/json"}};
  auto res = client->Request("POST", "/api/v2/token/revoke", json_headers,
                             R"({"token":")" + created.secret + R"("})");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  const json::array events =
      Events(*client, "?tokenId=" + created.id + "&actions=token.revoked", Admin());
  ASSERT_EQ(events.size(), 1u);
  const json::object& event = events[0].as_object();
  EXPECT_EQ(event.at("reason").as_string(), "reported");
  EXPECT_FALSE(event.contains("actor"));
  EXPECT_FALSE(event.contains("remoteAddress"));
}

TEST_F(AuditTest, BulkRevocationWritesOneEventPerToken) {
  auto client = Connect();
  const Created a = CreateToken(*client, TeamToken("bulk-team", R"("workflow/read")"));
  const Created b = CreateToken(*client, TeamToken("bulk-team", R"("workflow/read")"));
  auto res = client->Request("POST", "/api/v2/token/query/revoke?principals=bulk-team", Admin());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json::array events =
      Events(*client, "?principals=bulk-team&actions=token.revoked&order=asc", Admin());
  ASSERT_EQ(events.size(), 2u);
  std::vector<std::string> subjects;
  for (const json::value& event : events) {
    EXPECT_EQ(event.at("reason").as_string(), "bulk");
    EXPECT_TRUE(event.as_object().contains("actor"));
    subjects.emplace_back(event.at("subject").at("id").as_string());
  }
  std::sort(subjects.begin(), subjects.end());
  std::vector<std::string> expected{a.id, b.id};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(subjects, expected);
}

TEST_F(AuditTest, RotationWritesRotatedAndCreatedWithLinks) {
  auto client = Connect();
  const Created old = CreateToken(*client, TeamToken("team-r", R"("workflow/read")"));
  auto res = client->Request("POST", "/api/v2/token/" + old.id + "/rotate", AdminJson(), "{}");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const std::string new_id = JsonField(res->body, "id");

  json::array rotated = Events(*client, "?tokenId=" + old.id + "&actions=token.rotated", Admin());
  ASSERT_EQ(rotated.size(), 1u);
  EXPECT_EQ(rotated[0].at("details").at("rotatedTo").as_string(), new_id);
  json::array created = Events(*client, "?tokenId=" + new_id, Admin());
  ASSERT_EQ(Actions(created), std::vector<std::string>{"token.created"});
  EXPECT_EQ(created[0].at("details").at("rotatedFrom").as_string(), old.id);
}

TEST_F(AuditTest, ReuseOfARotatedAwaySecretIsRecordedOnceWithTheFamilyRevocations) {
  auto client = Connect();
  const Created old = CreateToken(*client, TeamToken("team-reuse", R"("token/read")"));
  auto res = client->Request("POST", "/api/v2/token/" + old.id + "/rotate", Admin());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const std::string new_id = JsonField(res->body, "id");
  for (int i = 0; i < 2; ++i) {
    res = client->Request("GET", "/api/v2/token/self", Bearer(old.secret));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401);
  }
  const json::array reuse = Events(*client, "?actions=token.reuse_detected", Admin());
  ASSERT_EQ(reuse.size(), 1u) << "once per retired secret";
  const json::object& event = reuse[0].as_object();
  EXPECT_EQ(event.at("subject").at("id").as_string(), old.id);
  EXPECT_EQ(event.at("subject").at("principal").as_string(), "team-reuse");
  EXPECT_FALSE(event.contains("actor"));
  EXPECT_FALSE(event.contains("remoteAddress"));
  const json::array revoked =
      Events(*client, "?tokenId=" + new_id + "&actions=token.revoked", Admin());
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked[0].at("reason").as_string(), "reuse");
}

TEST_F(AuditTest, AScopedReaderSeesOnlyTheEventsOfTokensItCovers) {
  auto client = Connect();
  const Created reader = CreateToken(*client, TeamToken("team-a", R"("token/read","token/write")"));
  const Created mine = CreateToken(*client, TeamToken("team-a", R"("workflow/read")"));
  const Created theirs = CreateToken(*client, TeamToken("team-b", R"("workflow/read")"));
  const json::array events = Events(*client, "", Bearer(reader.secret));
  std::vector<std::string> subjects;
  for (const json::value& event : events) {
    subjects.emplace_back(event.at("subject").at("id").as_string());
    EXPECT_EQ(event.at("subject").at("principal").as_string(), "team-a");
  }
  EXPECT_NE(std::find(subjects.begin(), subjects.end(), mine.id), subjects.end());
  EXPECT_EQ(std::find(subjects.begin(), subjects.end(), theirs.id), subjects.end());
  EXPECT_TRUE(Events(*client, "?tokenId=" + theirs.id, Bearer(reader.secret)).empty());

  const Created writer_only = CreateToken(*client, TeamToken("team-a", R"("workflow/read")"));
  auto res = client->Request("GET", "/api/v2/token/audit", Bearer(writer_only.secret));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403) << res->body;
  res = client->Request("GET", "/api/v2/token/audit");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401) << res->body;
}

TEST_F(AuditTest, PagesFiltersAndRefusals) {
  auto client = Connect();
  for (int i = 0; i < 5; ++i) CreateToken(*client, TeamToken("paged", R"("workflow/read")"));
  auto res = client->Request("GET", "/api/v2/token/audit?principals=paged&limit=2&page=1", Admin());
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json::object page = ParseObject(res->body);
  EXPECT_EQ(page.at("totalElements").as_int64(), 5);
  EXPECT_EQ(page.at("totalPages").as_int64(), 3);
  EXPECT_EQ(page.at("content").as_array().size(), 2u);
  EXPECT_EQ(page.at("sort").as_array()[0].at("property").as_string(), "time");
  EXPECT_EQ(page.at("sort").as_array()[0].at("direction").as_string(), "DESC");

  EXPECT_TRUE(Events(*client, "?principals=paged&actions=token.deleted", Admin()).empty());
  EXPECT_TRUE(Events(*client, "?principals=paged&types=user", Admin()).empty());
  EXPECT_EQ(Events(*client, "?principals=paged&fromDate=0&toDate=99999999999999", Admin()).size(),
            5u);
  EXPECT_TRUE(Events(*client, "?principals=paged&toDate=1", Admin()).empty());

  for (const char* bad : {"?actions=token.nope", "?limit=0", "?order=sideways", "?fromDate=x",
                          "?tokenId=a&tokenId=b", "?fromDate=5&toDate=4"}) {
    res = client->Request("GET", std::string("/api/v2/token/audit") + bad, Admin());
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << bad << ": " << res->body;
  }
}

}  // namespace
}  // namespace tokend::http::testing
