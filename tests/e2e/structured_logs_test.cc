// --log-format json, --access-log and X-Request-Id, through the real binary:
// every log line parses on its own, every request has its access line, and
// no line holds a secret, a query string or a body.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "e2e_helpers.h"
#include "tokend_process.h"

namespace tokend::e2e {
namespace {

using namespace std::chrono_literals;

const std::regex kGeneratedId(R"([0-9a-f]{16}-[0-9a-f]+)");

std::string AdminSecret(const TempDir& dir) {
  std::ifstream file(dir.File("bootstrap-token"));
  std::string secret;
  std::getline(file, secret);
  return secret;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class StructuredLogsTest : public ::testing::Test {
 protected:
  std::unique_ptr<TokendProcess> Start(std::vector<std::string> extra) {
    std::vector<std::string> args = {"serve", "--listen", "127.0.0.1:0", "--store",
                                     "sqlite:" + dir_.File("tokend.db")};
    args.insert(args.end(), extra.begin(), extra.end());
    return TokendProcess::Start(args);
  }
  TempDir dir_;
};

TEST_F(StructuredLogsTest, JsonLinesWithAnAccessLinePerRequestAndNoSecret) {
  auto tokend = Start({"--log-format", "json", "--access-log"});
  ASSERT_NE(tokend, nullptr);
  const std::string admin = AdminSecret(dir_);
  ASSERT_FALSE(admin.empty());
  TestClient client(tokend->port());
  auto created =
      CreateToken(client, admin,
                  R"({"type":"team","name":"n","principal":"p","permissions":["workflow/read"]})");
  ASSERT_TRUE(created);
  const std::string team = std::string(created->at("token").as_string());
  const std::string team_id = std::string(created->at("id").as_string());

  auto self = client.Request("GET", "/api/v2/token/self?access_token=" + team + "&q=visible-query",
                             {{"X-Request-Id", "trace.42_A-b"}});
  ASSERT_TRUE(self);
  EXPECT_EQ(self->status, 200);
  EXPECT_EQ(self->Header("X-Request-Id"), "trace.42_A-b");
  auto unknown = client.Request("GET", "/api/v2/token/" + team_id + "?leak=" + team,
                                {{"X-Request-Id", "not acceptable!"}});
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 401);
  const std::string generated = unknown->Header("X-Request-Id").value_or("");
  EXPECT_TRUE(std::regex_match(generated, kGeneratedId)) << generated;
  auto introspect = client.Request("POST", "/api/v2/token/introspect", JsonWithBearer(admin),
                                   R"({"token":")" + team + R"("})");
  ASSERT_TRUE(introspect);
  EXPECT_EQ(introspect->status, 200);

  tokend->Signal(SIGTERM);
  ASSERT_EQ(tokend->WaitExit(15s), 0);
  const std::string log = tokend->Log();
  std::vector<boost::json::object> access;
  for (const std::string& line : Lines(log)) {
    const boost::json::value value = ParseJson(line);
    ASSERT_TRUE(value.is_object()) << "not a JSON object: " << line;
    const boost::json::object& object = value.as_object();
    for (const char* member : {"time", "level", "message"}) {
      EXPECT_TRUE(object.contains(member)) << line;
    }
    EXPECT_TRUE(std::regex_match(std::string(object.at("time").as_string()),
                                 std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
        << line;
    if (object.at("message") == "request") access.push_back(object);
    EXPECT_EQ(line.find(team), std::string::npos) << "a secret in " << line;
    EXPECT_EQ(line.find(admin), std::string::npos) << "a secret in " << line;
    EXPECT_EQ(line.find("visible-query"), std::string::npos) << "a query string in " << line;
  }
  ASSERT_EQ(access.size(), 4u) << log;
  const boost::json::object& create = access[0];
  EXPECT_EQ(create.at("method"), "POST");
  EXPECT_EQ(create.at("route"), "/api/v2/token");
  EXPECT_EQ(create.at("status"), 200);
  EXPECT_TRUE(create.at("remoteAddress").as_string().starts_with("127.0.0.1:"));
  EXPECT_TRUE(create.at("durationMs").is_number());
  EXPECT_TRUE(create.contains("tokenId"));
  EXPECT_EQ(access[1].at("route"), "/api/v2/token/self");
  EXPECT_EQ(access[1].at("requestId"), "trace.42_A-b");
  EXPECT_EQ(std::string(access[1].at("tokenId").as_string()), team_id);
  EXPECT_EQ(access[2].at("route"), "/api/v2/token/{id}");
  EXPECT_EQ(access[2].at("status"), 401);
  EXPECT_EQ(std::string(access[2].at("requestId").as_string()), generated);
  EXPECT_FALSE(access[2].contains("tokenId"));
  EXPECT_EQ(access[3].at("route"), "/api/v2/token/introspect");
}

// A request refused before it was routed (a body over the limit, framing
// that could be read two ways, no Host) is answered, so it has its access
// line too: route "unmatched", its own request id, no token.
TEST_F(StructuredLogsTest, RefusalsBeforeRoutingHaveTheirAccessLine) {
  auto tokend = Start({"--log-format", "json", "--access-log"});
  ASSERT_NE(tokend, nullptr);
  const std::vector<std::pair<std::string, int>> refused = {
      {"POST /api/v2/token HTTP/1.1\r\nHost: x\r\nX-Request-Id: rid-413\r\n"
       "Content-Length: 70000\r\n\r\n",
       413},
      {"POST /api/v2/token HTTP/1.1\r\nHost: x\r\nX-Request-Id: rid-400\r\n"
       "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
       400},
      {"GET /health HTTP/1.1\r\nX-Request-Id: rid-host\r\n\r\n", 400},
  };
  for (const auto& [raw, status] : refused) {
    TestClient client(tokend->port());
    ASSERT_TRUE(client.WriteRaw(raw));
    auto res = client.ReadResponse();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, status) << raw;
  }
  tokend->Signal(SIGTERM);
  ASSERT_EQ(tokend->WaitExit(15s), 0);
  std::vector<boost::json::object> access;
  for (const std::string& line : Lines(tokend->Log())) {
    const boost::json::value value = ParseJson(line);
    ASSERT_TRUE(value.is_object()) << line;
    if (value.as_object().at("message") == "request") access.push_back(value.as_object());
  }
  ASSERT_EQ(access.size(), refused.size()) << tokend->Log();
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"rid-413", "POST"}, {"rid-400", "POST"}, {"rid-host", "GET"}};
  for (std::size_t i = 0; i < refused.size(); ++i) {
    EXPECT_EQ(std::string(access[i].at("requestId").as_string()), expected[i].first);
    EXPECT_EQ(std::string(access[i].at("method").as_string()), expected[i].second);
    EXPECT_EQ(access[i].at("route"), "unmatched");
    EXPECT_EQ(access[i].at("status"), refused[i].second);
    EXPECT_FALSE(access[i].contains("tokenId"));
    EXPECT_TRUE(access[i].at("remoteAddress").as_string().starts_with("127.0.0.1:"));
  }
}

TEST_F(StructuredLogsTest, TextAccessLinesAndNoneWithoutTheFlag) {
  auto tokend = Start({"--access-log", "--auth", "off"});
  ASSERT_NE(tokend, nullptr);
  TestClient client(tokend->port());
  auto health = client.Request("GET", "/health?secret=hidden", {{"X-Request-Id", "r1"}});
  ASSERT_TRUE(health);
  // A method of the client's own text is not written out.
  auto odd = client.Request("HIDDENMETHODTEXT", "/health", {{"X-Request-Id", "r2"}});
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->status, 405);
  tokend->Signal(SIGTERM);
  ASSERT_EQ(tokend->WaitExit(15s), 0);
  const std::string log = tokend->Log();
  EXPECT_TRUE(std::regex_search(
      log,
      std::regex(R"( info access 127\.0\.0\.1:\d+ GET /health 200 \d+\.\d{3}ms id=r1 token=-)")))
      << log;
  EXPECT_TRUE(std::regex_search(
      log, std::regex(R"( info access 127\.0\.0\.1:\d+ UNKNOWN \S+ 405 .* id=r2 )")))
      << log;
  EXPECT_EQ(log.find("hidden"), std::string::npos);
  EXPECT_EQ(log.find("HIDDENMETHODTEXT"), std::string::npos);

  TempDir quiet_dir;
  auto quiet = TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store",
                                     "sqlite:" + quiet_dir.File("tokend.db"), "--auth", "off"});
  ASSERT_NE(quiet, nullptr);
  TestClient quiet_client(quiet->port());
  ASSERT_TRUE(quiet_client.Request("GET", "/health"));
  quiet->Signal(SIGTERM);
  ASSERT_EQ(quiet->WaitExit(15s), 0);
  EXPECT_EQ(quiet->Log().find(" access "), std::string::npos) << quiet->Log();
}

TEST_F(StructuredLogsTest, RequestIdsAreKeptOnlyWithinTheirGrammar) {
  auto tokend = Start({"--auth", "off"});
  ASSERT_NE(tokend, nullptr);
  TestClient client(tokend->port());
  const std::string longest(128, 'a');
  for (const std::string& id : {std::string("a"), longest, std::string("A.b_c-9")}) {
    auto res = client.Request("GET", "/health", {{"X-Request-Id", id}});
    ASSERT_TRUE(res);
    EXPECT_EQ(res->Header("X-Request-Id"), id);
  }
  std::set<std::string> generated;
  for (const std::string& id :
       {longest + "a", std::string("a b"), std::string("a/b"), std::string("é"), std::string("")}) {
    auto res = client.Request("GET", "/health", {{"X-Request-Id", id}});
    ASSERT_TRUE(res);
    const std::string answer = res->Header("X-Request-Id").value_or("");
    EXPECT_TRUE(std::regex_match(answer, kGeneratedId)) << id << " -> " << answer;
    generated.insert(answer);
  }
  EXPECT_EQ(generated.size(), 5u) << "generated ids repeat";
  // Answers the server gives before any route, and a refused request, carry one too.
  auto missing = client.Request("GET", "/nowhere");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_TRUE(missing->Header("X-Request-Id"));
  TestClient raw(tokend->port());
  ASSERT_TRUE(
      raw.WriteRaw("GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\nX-Request-Id: dup\r\n\r\n"));
  auto refused = raw.ReadResponse();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400);
  EXPECT_EQ(refused->Header("X-Request-Id"), "dup");
}

// Reuse detection's warning carries the token and its family as fields: JSON
// members beside "message", or name=value after the text line's message.
TEST_F(StructuredLogsTest, ApplicationLinesCarryTheirIdsAsFields) {
  for (const std::string format : {"json", "text"}) {
    SCOPED_TRACE(format);
    TempDir dir;
    auto tokend = TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store",
                                        "sqlite:" + dir.File("tokend.db"), "--log-format", format});
    ASSERT_NE(tokend, nullptr);
    const std::string admin = AdminSecret(dir);
    TestClient client(tokend->port());
    auto created = CreateToken(
        client, admin,
        R"({"type":"team","name":"n","principal":"p","permissions":["workflow/read"]})");
    ASSERT_TRUE(created);
    const std::string old_secret = std::string(created->at("token").as_string());
    const std::string old_id = std::string(created->at("id").as_string());
    auto rotated = client.Request("POST", "/api/v2/token/" + old_id + "/rotate",
                                  JsonWithBearer(admin), R"({"overlapSeconds":0})");
    ASSERT_TRUE(rotated);
    ASSERT_EQ(rotated->status, 200) << rotated->body;
    const std::string new_id = std::string(ParseJson(rotated->body).at("id").as_string());
    auto reused =
        client.Request("GET", "/api/v2/token/self", {{"Authorization", "Bearer " + old_secret}});
    ASSERT_TRUE(reused);
    EXPECT_EQ(reused->status, 401);
    tokend->Signal(SIGTERM);
    ASSERT_EQ(tokend->WaitExit(15s), 0);

    const std::string log = tokend->Log();
    std::optional<std::string> warning;
    for (const std::string& line : Lines(log)) {
      if (line.find("reuse of a retired secret") != std::string::npos) warning = line;
    }
    ASSERT_TRUE(warning) << log;
    if (format == "json") {
      const boost::json::object line = ParseJson(*warning).as_object();
      EXPECT_EQ(line.at("level"), "warning");
      EXPECT_EQ(line.at("message"), "reuse of a retired secret: its rotation family revoked");
      EXPECT_EQ(std::string(line.at("token_id").as_string()), old_id);
      EXPECT_TRUE(line.at("family_id").is_string());
      EXPECT_EQ(line.at("revoked"), "1") << "the successor " << new_id;
    } else {
      EXPECT_TRUE(std::regex_search(
          *warning, std::regex(" warning reuse of a retired secret: its rotation family revoked "
                               "token_id=" +
                               old_id + " family_id=[0-9a-f]+ revoked=1$")))
          << *warning;
    }
    EXPECT_EQ(log.find(old_secret), std::string::npos);
  }
}

TEST_F(StructuredLogsTest, CheckConfigRefusesAnUnknownLogFormat) {
  RunResult run = RunTokend({"serve", "--check-config", "--log-format", "xml"}, 15s);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--log-format"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace tokend::e2e
