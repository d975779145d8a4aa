// Absolute-form request targets (RFC 9112 section 3.2.2) over real sockets:
// served like their path, the authority ignored; an empty path is "/", so a
// target without one is a 404 for "/", never a 400, and what follows '?'
// is never taken for a path.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server_fixture.h"

namespace tokend::http::testing {
namespace {

int CodeOf(const HttpResponse& res) {
  const std::string code_field = "\"code\":";
  const auto at = res.body.find(code_field);
  if (at == std::string::npos) return 0;
  return std::stoi(res.body.substr(at + code_field.size()));
}

class AbsoluteFormTest : public ServerTest, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(StartServer(GetParam())); }
};

TEST_P(AbsoluteFormTest, TargetWithoutAPathIsTheRoot) {
  const std::vector<std::string> targets = {
      "http://host?x=1",
      "http://host?",
      "http://host",
      "http://host:7700?x=1",
      "https://host?x=1",
      "HTTP://HOST?x=1",
      "http://user@host?x=1",
      "http://127.0.0.1:80?a=b&c=d",
      // What follows '?' is the query, however it looks.
      "http://host?/health",
      "http://host?/api/v2/token/query",
      "http://host?access_token=x/api/v2/token/self",
  };
  auto client = Connect();
  for (const std::string& target : targets) {
    auto res = client->Request("GET", target, Admin());
    ASSERT_TRUE(res) << target;
    EXPECT_EQ(res->status, 404) << target << ": " << res->body;
    EXPECT_EQ(CodeOf(*res), 9002) << target << ": " << res->body;
  }
  // The same as the origin form "/".
  auto root = client->Request("GET", "/?x=1", Admin());
  ASSERT_TRUE(root);
  EXPECT_EQ(root->status, 404);
  EXPECT_EQ(CodeOf(*root), 9002);
  // The connection is kept.
  auto health = client->Request("GET", "/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST_P(AbsoluteFormTest, TargetWithAPathIsServedLikeIt) {
  auto client = Connect();
  for (const std::string& target :
       {"http://host/health?x=1", "http://host/health", "http://host:7700/health?",
        "HTTPS://example.com:8443/health?x=1&y=2", "http://host/health?/api/v2/token/query"}) {
    auto res = client->Request("GET", target);
    ASSERT_TRUE(res) << target;
    EXPECT_EQ(res->status, 200) << target << ": " << res->body;
    EXPECT_EQ(res->body, R"({"status":"UP"})") << target;
  }
  auto res = client->Request("GET", "http://host/api/v2/token/query?limit=1", Admin());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  res = client->Request("GET", "http://host/nothing?x=1");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(CodeOf(*res), 9002);
}

TEST_P(AbsoluteFormTest, RawRequestLines) {
  auto client = Connect();
  ASSERT_TRUE(
      client->WriteRaw("GET http://host?x=1 HTTP/1.1\r\nHost: host\r\n\r\n"
                       "GET http://host/health?x=1 HTTP/1.1\r\nHost: host\r\n\r\n"
                       "GET http://host HTTP/1.1\r\nHost: host\r\n\r\n"));
  auto first = client->ReadResponse();
  auto second = client->ReadResponse();
  auto third = client->ReadResponse();
  ASSERT_TRUE(first && second && third);
  EXPECT_EQ(first->status, 404) << first->body;
  EXPECT_EQ(CodeOf(*first), 9002);
  EXPECT_EQ(second->status, 200) << second->body;
  EXPECT_EQ(third->status, 404) << third->body;
  EXPECT_EQ(CodeOf(*third), 9002);
}

TEST_P(AbsoluteFormTest, OtherTargetsStay400) {
  for (const std::string& target : {"ftp://host/health", "host/health", "*", "health"}) {
    auto fresh = Connect();
    auto res = fresh->Request("GET", target);
    ASSERT_TRUE(res) << target;
    EXPECT_EQ(res->status, 400) << target << ": " << res->body;
    EXPECT_EQ(CodeOf(*res), 9015) << target;
  }
}

INSTANTIATE_TEST_SUITE_P(AuthOffAndRequired, AbsoluteFormTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "AuthRequired" : "AuthOff"; });

}  // namespace
}  // namespace tokend::http::testing
