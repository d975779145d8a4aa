// Chunk extensions over real sockets: they count toward the body limit with
// the data they come with, so that a body of a few bytes cannot carry
// megabytes of them; over the limit, 413 and the connection closed.
#include <gtest/gtest.h>

#include <string>

#include "server_fixture.h"

namespace tokend::http::testing {
namespace {

constexpr std::string_view kHeader =
    "POST /api/v2/token/introspect HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    "Transfer-Encoding: chunked\r\n\r\n";
constexpr std::string_view kBody = R"({"token":"x"})";

// kBody in chunks of one byte, each with `extension` (";name=value").
std::string ChunkedBody(const std::string& extension) {
  std::string chunks;
  for (const char c : kBody) chunks += "1" + extension + "\r\n" + c + "\r\n";
  return chunks + "0" + extension + "\r\n\r\n";
}

TEST_F(ServerTest, ChunkExtensionsCountTowardTheBodyLimit) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false, [](ServerOptions& o) { o.max_body_bytes = 1024; }));
  // 14 chunks and the last one: 15 extensions of 100 bytes and 13 bytes of
  // data are more than 1024 bytes, though the data alone is far less.
  const std::string extension = ";e=" + std::string(97, 'x');
  auto client = Connect();
  ASSERT_TRUE(client->WriteRaw(std::string(kHeader) + ChunkedBody(extension)));
  auto res = client->ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413) << res->body;
  EXPECT_NE(res->body.find("9005"), std::string::npos) << res->body;
  EXPECT_EQ(res->Header("Connection"), "close");
  EXPECT_TRUE(client->WaitClosed());
}

// One long extension on the last chunk of an empty body is refused too.
TEST_F(ServerTest, AnExtensionOfTheLastChunkCountsTowardTheBodyLimit) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false, [](ServerOptions& o) { o.max_body_bytes = 1024; }));
  auto client = Connect();
  ASSERT_TRUE(
      client->WriteRaw(std::string(kHeader) + "0;e=" + std::string(2000, 'x') + "\r\n\r\n"));
  auto res = client->ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413) << res->body;
}

TEST_F(ServerTest, ChunkExtensionsWithinTheBodyLimitAreIgnored) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false, [](ServerOptions& o) { o.max_body_bytes = 1024; }));
  auto client = Connect();
  // 15 extensions of 60 bytes and 13 bytes of data: 913 bytes in all.
  const std::string extension = ";e=" + std::string(57, 'x');
  for (int i = 0; i < 2; ++i) {  // the count starts again with each request
    ASSERT_TRUE(client->WriteRaw(std::string(kHeader) + ChunkedBody(extension)));
    auto res = client->ReadResponse();
    ASSERT_TRUE(res) << i;
    EXPECT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(res->body, R"({"active":false})");
  }
}

// A chunk line is parsed once it is whole in the connection's read buffer
// (the header limit and 16 KiB more). One that does not fit there, whether
// for its extensions, for leading zeros or blanks before its size, or a
// trailer section too long, is answered as a body over its limit (413,
// 9005), never as a header over its own (431): the header was complete and
// small.
TEST_F(ServerTest, AChunkLineTooLongToReadIsABodyOverItsLimit) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  const std::string data = R"({"token":"abc"})";
  const std::string x(40000, 'x');
  const std::string zeros(40000, '0');
  const std::string blanks(40000, ' ');
  for (const std::string& chunks : {
           "f;e=" + x + "\r\n" + data + "\r\n0\r\n\r\n",
           zeros + "f\r\n" + data + "\r\n0\r\n\r\n",
           blanks + "f\r\n" + data + "\r\n0\r\n\r\n",
           "f\r\n" + data + "\r\n" + zeros + "\r\n\r\n",
           "f\r\n" + data + "\r\n0\r\nX-Trailer: " + x + "\r\n\r\n",
       }) {
    SCOPED_TRACE(chunks.substr(0, 8) + "... " + std::to_string(chunks.size()) + " bytes");
    auto client = Connect();
    ASSERT_TRUE(client->WriteRaw(std::string(kHeader) + chunks));
    auto res = client->ReadResponse();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 413) << res->body;
    EXPECT_NE(res->body.find("9005"), std::string::npos) << res->body;
    // The message names the body limit, and the chunk line's.
    EXPECT_NE(res->body.find("65536 bytes"), std::string::npos) << res->body;
    EXPECT_NE(res->body.find("chunk line"), std::string::npos) << res->body;
    EXPECT_EQ(res->Header("Connection"), "close");
    EXPECT_TRUE(client->WaitClosed());
  }
}

// A long chunk line that fits in the read buffer is read as any other: leading
// zeros of its size are not counted toward the body limit, and extensions
// are, within it.
TEST_F(ServerTest, ALongChunkLineThatCanBeReadIsServed) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  const std::string data = R"({"token":"abc"})";
  for (const std::string& chunks : {
           std::string(20000, '0') + "f\r\n" + data + "\r\n0\r\n\r\n",
           "f;e=" + std::string(20000, 'x') + "\r\n" + data + "\r\n0\r\n\r\n",
       }) {
    SCOPED_TRACE(chunks.substr(0, 8));
    auto client = Connect();
    ASSERT_TRUE(client->WriteRaw(std::string(kHeader) + chunks));
    auto res = client->ReadResponse();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(res->body, R"({"active":false})");
  }
}

}  // namespace
}  // namespace tokend::http::testing
