// The HTTP version of a request line over real sockets: a later minor
// version of HTTP/1 is served as HTTP/1.1 (RFC 9112 section 2.3); other
// majors and malformed versions are refused.
#include <gtest/gtest.h>

#include <string>

#include "server_fixture.h"

namespace tokend::http::testing {
namespace {

TEST_F(ServerTest, ALaterHttp1MinorVersionIsAnsweredAsHttp11) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  for (const char minor : {'2', '5', '9'}) {
    SCOPED_TRACE(minor);
    auto client = Connect();
    const std::string request =
        std::string("GET /health HTTP/1.") + minor + "\r\nHost: x\r\nX-Request-Id: v1x\r\n\r\n";
    // Pipelined behind itself: served with HTTP/1.1's keep-alive.
    ASSERT_TRUE(client->WriteRaw(request + request));
    for (int i = 0; i < 2; ++i) {
      auto res = client->ReadResponse();
      ASSERT_TRUE(res) << i;
      EXPECT_EQ(res->status, 200) << res->body;
      EXPECT_EQ(res->version, 11u);
      EXPECT_EQ(res->body, R"({"status":"UP"})");
      EXPECT_EQ(res->Header("X-Request-Id"), "v1x");
    }
  }
}

// Served as HTTP/1.1, such a request needs its Host as one of 1.1 does.
TEST_F(ServerTest, ALaterHttp1MinorVersionFollowsTheRulesOfHttp11) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  auto client = Connect();
  ASSERT_TRUE(client->WriteRaw("GET /health HTTP/1.2\r\n\r\n"));
  auto res = client->ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_NE(res->body.find("Host"), std::string::npos) << res->body;
}

TEST_F(ServerTest, OtherHttpVersionsAreRefused) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  for (const char* version : {"HTTP/2.0", "HTTP/0.9", "HTTP/3.1", "HTTP/1.12", "HTTP/1.",
                              "http/1.2", "HTTP/1.a", "HTTP/11.1", "HTTP/1.2 "}) {
    SCOPED_TRACE(version);
    auto client = Connect();
    ASSERT_TRUE(client->WriteRaw(std::string("GET /health ") + version + "\r\nHost: x\r\n\r\n"));
    auto res = client->ReadResponse();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400);
    EXPECT_TRUE(client->WaitClosed());
  }
}

}  // namespace
}  // namespace tokend::http::testing
