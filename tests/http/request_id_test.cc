// X-Request-Id on refusals over real sockets: a request refused for its
// body framing once its whole header arrived (413 for a Content-Length over
// the body limit; 400 for Transfer-Encoding with Content-Length, two
// Content-Lengths, a Content-Length that is no number) or for a malformed
// header line is answered with its own id when acceptable, wherever the
// field stands in the header.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server_fixture.h"

namespace tokend::http::testing {
namespace {

struct Refusal {
  std::string fields;  // the framing fields refused
  int status;
};

const std::vector<Refusal>& Refusals() {
  static const std::vector<Refusal> refusals = {
      {"Content-Length: 70000\r\n", 413},
      {"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", 400},
      {"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", 400},
      {"Content-Length: 5\r\nContent-Length: 6\r\n", 400},
      {"Content-Length: abc\r\n", 400},
      {"Content-Length: 5, 6\r\n", 400},
      {"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 400},
      // Lines refused as malformed: a name with a space, a control byte in
      // a value, a folded line.
      {"Bad Field: x\r\n", 400},
      {"X-Other: a\x01b\r\n", 400},
      {"X-Folded: a\r\n b\r\n", 400},
  };
  return refusals;
}

HttpResponse Send(TestClient& client, const std::string& header) {
  EXPECT_TRUE(client.WriteRaw(header));
  auto res = client.ReadResponse();
  EXPECT_TRUE(res);
  return res ? *res : HttpResponse{};
}

TEST_F(ServerTest, FramingRefusalsKeepTheRequestsOwnId) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  const std::string id_field = "X-Request-Id: req-0f1e2d3c\r\n";
  for (const Refusal& refusal : Refusals()) {
    for (const bool id_first : {true, false}) {
      SCOPED_TRACE(refusal.fields + (id_first ? "(id first)" : "(id last)"));
      const std::string fields =
          id_first ? id_field + refusal.fields : refusal.fields + "Accept: */*\r\n" + id_field;
      auto client = Connect();
      const HttpResponse res =
          Send(*client, "POST /api/v2/token HTTP/1.1\r\nHost: x\r\n" + fields + "\r\n");
      EXPECT_EQ(res.status, refusal.status) << res.body;
      EXPECT_EQ(res.Header("X-Request-Id"), "req-0f1e2d3c");
      EXPECT_EQ(res.Header("Connection"), "close");
      EXPECT_TRUE(client->WaitClosed());
    }
  }
}

// An id whose field goes on in a folded line is no id: its value would be a
// guess, so the answer gets one of tokend's.
TEST_F(ServerTest, AFoldedRequestIdIsReplaced) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  auto client = Connect();
  const HttpResponse res = Send(
      *client, "POST /api/v2/token HTTP/1.1\r\nHost: x\r\nX-Request-Id: req-1\r\n more\r\n\r\n");
  EXPECT_EQ(res.status, 400) << res.body;
  ASSERT_TRUE(res.Header("X-Request-Id"));
  EXPECT_NE(res.Header("X-Request-Id"), "req-1");
}

// The same rule as for every answer: an id tokend would not pass back is
// replaced, and only the first X-Request-Id counts.
TEST_F(ServerTest, FramingRefusalsReplaceAnUnacceptableId) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  for (const Refusal& refusal : Refusals()) {
    SCOPED_TRACE(refusal.fields);
    for (const std::string& id :
         {std::string("has space"), std::string("semi;colon"), std::string(129, 'a')}) {
      auto client = Connect();
      const HttpResponse res =
          Send(*client, "POST /api/v2/token HTTP/1.1\r\nHost: x\r\n" + refusal.fields +
                            "X-Request-Id: " + id + "\r\n\r\n");
      EXPECT_EQ(res.status, refusal.status) << res.body;
      ASSERT_TRUE(res.Header("X-Request-Id")) << id;
      EXPECT_NE(res.Header("X-Request-Id"), id);
      EXPECT_NE(res.Header("X-Request-Id")->find('-'), std::string::npos);
    }
    auto client = Connect();
    const HttpResponse res =
        Send(*client, "POST /api/v2/token HTTP/1.1\r\nHost: x\r\n" + refusal.fields +
                          "x-request-id:  first-id \r\nX-Request-Id: second-id\r\n\r\n");
    EXPECT_EQ(res.Header("X-Request-Id"), "first-id");
  }
}

// A refusal made before the header's end arrived cannot know the id.
TEST_F(ServerTest, AFramingRefusalBeforeTheHeaderEndedGetsAGeneratedId) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  auto client = Connect();
  ASSERT_TRUE(client->WriteRaw(
      "POST /api/v2/token HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\nX-Request-Id: early\r\n"));
  auto res = client->ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  ASSERT_TRUE(res->Header("X-Request-Id"));
  EXPECT_NE(res->Header("X-Request-Id"), "early");
}

}  // namespace
}  // namespace tokend::http::testing
