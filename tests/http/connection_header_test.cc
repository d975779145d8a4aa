// The Connection header over real sockets: a request's fields of that name
// form one list (RFC 9110 section 5.3), so a `close` in any of them closes
// the connection after its answer (RFC 9112 section 9.6), on HTTP/1.1 and
// HTTP/1.0 alike, and a pipelined request after it is not answered.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server_fixture.h"

namespace tokend::http::testing {
namespace {

constexpr std::string_view kNext = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";

TEST_F(ServerTest, CloseInALaterConnectionFieldClosesTheConnection) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  const std::vector<std::string> headers = {
      "Connection: keep-alive\r\nConnection: close\r\n",
      "Connection: te\r\nConnection: close\r\n",
      "Connection: Upgrade\r\nUpgrade: foo\r\nConnection: close\r\n",
      "Connection: keep-alive\r\nconnection: CLOSE\r\n",
      "Connection: keep-alive\r\nConnection: x, Close\r\n",
      "Connection: keep-alive, close\r\n",
  };
  for (const std::string& fields : headers) {
    for (const std::string version : {"1.1", "1.0"}) {
      SCOPED_TRACE(version + " " + fields);
      auto client = Connect();
      ASSERT_TRUE(client->WriteRaw("GET /health HTTP/" + version + "\r\nHost: x\r\n" + fields +
                                   "\r\n" + std::string(kNext)));
      auto res = client->ReadResponse();
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, 200);
      if (version == "1.1") EXPECT_EQ(res->Header("Connection"), "close");
      EXPECT_NE(res->Header("Connection"), "keep-alive");
      EXPECT_TRUE(client->WaitClosed());
    }
  }
}

// HTTP/1.0 is kept alive only when asked to, in any of its Connection fields.
TEST_F(ServerTest, KeepAliveInALaterConnectionFieldKeepsAnHttp10ConnectionOpen) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  auto client = Connect();
  ASSERT_TRUE(
      client->WriteRaw("GET /health HTTP/1.0\r\nConnection: te\r\nConnection: Keep-Alive\r\n\r\n" +
                       std::string(kNext)));
  auto res = client->ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->version, 10u);
  EXPECT_EQ(res->Header("Connection"), "keep-alive");
  auto next = client->ReadResponse();
  ASSERT_TRUE(next) << "the connection was not kept alive";
  EXPECT_EQ(next->status, 200);
}

// Fields that ask for nothing of the kind leave HTTP/1.1 kept alive.
TEST_F(ServerTest, OtherConnectionOptionsKeepAnHttp11ConnectionOpen) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  auto client = Connect();
  ASSERT_TRUE(client->WriteRaw(
      "GET /health HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nConnection: te\r\n\r\n" +
      std::string(kNext)));
  for (int i = 0; i < 2; ++i) {
    auto res = client->ReadResponse();
    ASSERT_TRUE(res) << i;
    EXPECT_EQ(res->status, 200);
    EXPECT_NE(res->Header("Connection"), "close");
  }
}

}  // namespace
}  // namespace tokend::http::testing
