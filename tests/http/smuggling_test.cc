// Request smuggling (RFC 9112 section 6.3), over raw sockets: a request whose
// body framing a proxy in front could read differently (a transfer coding
// other than exactly `chunked`, Transfer-Encoding with Content-Length, or
// Transfer-Encoding on HTTP/1.0) is answered 400 (9015) and the connection
// closed, so that a request hidden in its body is never answered or run.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "server_fixture.h"

namespace tokend::http::testing {
namespace {

using Clock = std::chrono::steady_clock;

int CodeOf(const std::string& body) {
  const std::string code_field = "\"code\":";
  const auto at = body.find(code_field);
  if (at == std::string::npos) return 0;
  return std::stoi(body.substr(at + code_field.size()));
}

// A plain client socket: writes bytes as given and reads everything the
// server sends until it closes the connection.
class RawConnection {
 public:
  explicit RawConnection(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ =
        fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    const int one = 1;
    if (connected_) ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }

  bool Send(std::string_view bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }

  // Everything received until the server closes (`closed` is then true) or
  // `timeout` passes.
  std::string ReadToEnd(std::chrono::milliseconds timeout, bool* closed) {
    std::string out;
    *closed = false;
    const auto deadline = Clock::now() + timeout;
    char chunk[4096];
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return out;
      pollfd entry{fd_, POLLIN, 0};
      if (::poll(&entry, 1, static_cast<int>(left.count())) <= 0) return out;
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) {
        *closed = true;
        return out;
      }
      out.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
  bool connected_ = false;
};

// The number of complete HTTP responses in `bytes`, parsed one after the
// other; -1 when something other than a response follows them.
int CountResponses(std::string_view bytes) {
  int count = 0;
  while (!bytes.empty()) {
    boost::beast::http::response_parser<boost::beast::http::string_body> parser;
    parser.eager(true);
    boost::system::error_code ec;
    const std::size_t used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
    if (ec || !parser.is_done()) return -1;
    bytes.remove_prefix(used);
    ++count;
  }
  return count;
}

std::string Hex(std::size_t n) {
  char out[32];
  std::snprintf(out, sizeof out, "%zx", n);
  return out;
}

class SmugglingTest : public ServerTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartServer(true));
    auto client = Connect();
    victim_ = CreateToken(
        *client,
        R"({"type":"team","name":"victim","principal":"t1","permissions":["token/read"]})");
    ASSERT_EQ(victim_.id.size(), 24u);
  }

  std::string AuthLine() const { return "Authorization: Bearer " + admin_secret() + "\r\n"; }

  // Requests a front end would forward as part of the smuggling request's
  // body: a query with a valid bearer, and a deletion of the victim.
  std::string Hidden() const {
    return "GET /api/v2/token/query HTTP/1.1\r\nHost: x\r\n" + AuthLine() + "\r\n" +
           "DELETE /api/v2/token/" + victim_.id + " HTTP/1.1\r\nHost: x\r\n" + AuthLine() + "\r\n";
  }

  // Sends `raw` on a fresh connection and checks the one answer: 400 (9015),
  // `Connection: close`, the connection closed, nothing else answered.
  void ExpectRefusedAndClosed(const std::string& raw, const std::string& context) {
    SCOPED_TRACE(context);
    RawConnection connection(port());
    ASSERT_TRUE(connection.connected());
    ASSERT_TRUE(connection.Send(raw));
    bool closed = false;
    const std::string answer = connection.ReadToEnd(std::chrono::seconds(5), &closed);
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 400") << answer;
    EXPECT_EQ(CodeOf(answer), 9015) << answer;
    EXPECT_NE(answer.find("\r\nConnection: close\r\n"), std::string::npos) << answer;
    EXPECT_TRUE(closed) << "the connection was left open after a refused framing";
    EXPECT_EQ(CountResponses(answer), 1) << "a request hidden in the body was answered:\n"
                                         << answer;
    EXPECT_EQ(answer.find("\"content\""), std::string::npos) << "the hidden query was answered";
  }

  // The hidden deletion never ran, and the server still serves.
  void ExpectVictimIntact() {
    auto client = Connect();
    auto res = client->Request("GET", "/api/v2/token/" + victim_.id, Admin());
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << "the hidden DELETE was run: " << res->body;
  }

  Created victim_;
};

// Bodies that smuggle Hidden() under the usual readings of the framing: no
// body at all (the hidden bytes are the next request), a chunked body ended
// at once, and a body of Content-Length bytes.
std::vector<std::string> SmugglingBodies(const std::string& hidden) {
  return {hidden, "0\r\n\r\n" + hidden, Hex(hidden.size()) + "\r\n" + hidden + "\r\n0\r\n\r\n"};
}

TEST_F(SmugglingTest, TransferCodingOtherThanChunkedIsRefused) {
  const std::vector<std::string> codings = {
      "gzip",
      "identity",
      "deflate",
      "compress",
      "x-custom",
      "chunked, gzip",
      "gzip, chunked",
      "identity, chunked",
      "chunked, identity",
      "chunked, chunked",
      "chunked,chunked",
      "\"chunked\"",
      "'chunked'",
      "chunked;q=1",
      "chunked,",
      ", chunked",
      "chunk",
      "chunkedx",
      "xchunked",
      "",
  };
  for (const std::string& coding : codings) {
    for (const std::string& method :
         {std::string("POST /api/v2/token"), std::string("GET /health")}) {
      const auto bodies = SmugglingBodies(Hidden());
      for (std::size_t b = 0; b < bodies.size(); ++b) {
        ExpectRefusedAndClosed(
            method + " HTTP/1.1\r\nHost: x\r\n" + AuthLine() +
                "Content-Type: application/json\r\nTransfer-Encoding: " + coding + "\r\n\r\n" +
                bodies[b],
            "Transfer-Encoding: [" + coding + "] on " + method + ", body " + std::to_string(b));
      }
    }
  }
  ExpectVictimIntact();
}

// Field names are case-insensitive: every spelling is the same field.
TEST_F(SmugglingTest, FieldNameCaseDoesNotMatter) {
  for (const std::string& name :
       {std::string("transfer-encoding"), std::string("TRANSFER-ENCODING"),
        std::string("Transfer-encoding"), std::string("tRaNsFeR-eNcOdInG")}) {
    for (const std::string& coding :
         {std::string("gzip"), std::string("chunked, gzip"), std::string("gzip, chunked")}) {
      const auto bodies = SmugglingBodies(Hidden());
      for (std::size_t b = 0; b < bodies.size(); ++b) {
        ExpectRefusedAndClosed("POST /api/v2/token HTTP/1.1\r\nHost: x\r\n" + AuthLine() +
                                   "Content-Type: application/json\r\n" + name + ": " + coding +
                                   "\r\n\r\n" + bodies[b],
                               name + ": " + coding + ", body " + std::to_string(b));
      }
    }
    // Chunked in one spelling, Content-Length beside it.
    ExpectRefusedAndClosed("POST /api/v2/token HTTP/1.1\r\nHost: x\r\n" + AuthLine() +
                               "Content-Type: application/json\r\n" + name +
                               ": chunked\r\ncontent-LENGTH: 5\r\n\r\n0\r\n\r\n" + Hidden(),
                           name + ": chunked with content-LENGTH");
  }
  ExpectVictimIntact();
}

TEST_F(SmugglingTest, TransferEncodingGivenAsSeveralFieldsIsRefused) {
  const std::vector<std::vector<std::string>> fields = {
      {"chunked", "chunked"},  {"gzip", "chunked"},
      {"chunked", "gzip"},     {"identity", "chunked"},
      {"chunked", "identity"}, {"chunked", ""},
      {"", "chunked"},         {"chunked", "chunked", "chunked"},
  };
  for (const auto& values : fields) {
    std::string header;
    std::string context = "Transfer-Encoding fields:";
    for (const std::string& value : values) {
      header += "Transfer-Encoding: " + value + "\r\n";
      context += " [" + value + "]";
    }
    const auto bodies = SmugglingBodies(Hidden());
    for (std::size_t b = 0; b < bodies.size(); ++b) {
      ExpectRefusedAndClosed("POST /api/v2/token HTTP/1.1\r\nHost: x\r\n" + AuthLine() +
                                 "Content-Type: application/json\r\n" + header + "\r\n" + bodies[b],
                             context + ", body " + std::to_string(b));
    }
  }
  ExpectVictimIntact();
}

TEST_F(SmugglingTest, TransferEncodingWithContentLengthIsRefusedInEitherOrder) {
  const std::string hidden = Hidden();
  for (const std::string& coding : {std::string("chunked"), std::string("gzip"),
                                    std::string("identity"), std::string("gzip, chunked")}) {
    const auto bodies = SmugglingBodies(hidden);
    for (std::size_t b = 0; b < bodies.size(); ++b) {
      // Lengths that end the body before, inside and after the hidden bytes.
      for (const std::size_t length : {std::size_t{0}, std::size_t{5}, bodies[b].size()}) {
        const std::string te = "Transfer-Encoding: " + coding + "\r\n";
        const std::string cl = "Content-Length: " + std::to_string(length) + "\r\n";
        const std::string context = "[" + coding + "] with Content-Length " +
                                    std::to_string(length) + ", body " + std::to_string(b);
        const std::string start = "POST /api/v2/token HTTP/1.1\r\nHost: x\r\n" + AuthLine() +
                                  "Content-Type: application/json\r\n";
        ExpectRefusedAndClosed(start + te + cl + "\r\n" + bodies[b], context + ", TE first");
        ExpectRefusedAndClosed(start + cl + te + "\r\n" + bodies[b], context + ", CL first");
        ExpectRefusedAndClosed(start + te + "X-Between: 1\r\n" + cl + "\r\n" + bodies[b],
                               context + ", TE first, apart");
      }
    }
  }
  ExpectVictimIntact();
}

TEST_F(SmugglingTest, TransferEncodingOnHttp10IsRefused) {
  for (const std::string& coding : {std::string("chunked"), std::string("gzip")}) {
    for (const std::string& connection :
         {std::string(""), std::string("Connection: keep-alive\r\n")}) {
      const auto bodies = SmugglingBodies(Hidden());
      for (std::size_t b = 0; b < bodies.size(); ++b) {
        ExpectRefusedAndClosed(
            "POST /api/v2/token HTTP/1.0\r\nHost: x\r\n" + AuthLine() + connection +
                "Content-Type: application/json\r\nTransfer-Encoding: " + coding + "\r\n\r\n" +
                bodies[b],
            "HTTP/1.0 with [" + coding + "] " + connection + "body " + std::to_string(b));
      }
    }
  }
  ExpectVictimIntact();
}

// The same framing checks hold for the second request of a keep-alive
// connection: the first is answered, the smuggling one refused, the hidden
// one never.
TEST_F(SmugglingTest, RefusalOnALaterRequestOfAConnection) {
  RawConnection connection(port());
  ASSERT_TRUE(connection.connected());
  const std::string first = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string second = "POST /api/v2/token HTTP/1.1\r\nHost: x\r\n" + AuthLine() +
                             "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                             "Content-Length: 5\r\n\r\n0\r\n\r\n" +
                             Hidden();
  ASSERT_TRUE(connection.Send(first + second));
  bool closed = false;
  const std::string answer = connection.ReadToEnd(std::chrono::seconds(5), &closed);
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 200") << answer;
  EXPECT_EQ(CountResponses(answer), 2) << answer;
  const auto refusal = answer.find("HTTP/1.1 400");
  ASSERT_NE(refusal, std::string::npos) << answer;
  EXPECT_EQ(CodeOf(answer.substr(refusal)), 9015) << answer;
  EXPECT_TRUE(closed);
  ExpectVictimIntact();
}

// A well-formed chunked POST is still read, in whatever chunks it comes,
// and the connection goes on with the request that follows it.
TEST_F(SmugglingTest, WellFormedChunkedPostStillWorks) {
  const std::string body =
      R"({"type":"team","name":"chunked","principal":"t1","permissions":["token/read"]})";
  std::vector<std::pair<std::string, std::string>> encodings;
  encodings.emplace_back("one chunk", Hex(body.size()) + "\r\n" + body + "\r\n0\r\n\r\n");
  std::string bytewise;
  for (char c : body) bytewise += "1\r\n" + std::string(1, c) + "\r\n";
  encodings.emplace_back("one-byte chunks", bytewise + "0\r\n\r\n");
  encodings.emplace_back("chunk extensions", Hex(10) + ";name=value\r\n" + body.substr(0, 10) +
                                                 "\r\n" + Hex(body.size() - 10) + ";x\r\n" +
                                                 body.substr(10) + "\r\n0;last\r\n\r\n");
  encodings.emplace_back("a trailer field",
                         Hex(body.size()) + "\r\n" + body + "\r\n0\r\nX-Trailer: 1\r\n\r\n");
  encodings.emplace_back("leading zeros in the chunk size",
                         "00" + Hex(body.size()) + "\r\n" + body + "\r\n0\r\n\r\n");
  for (const auto& [name, chunked] : encodings) {
    SCOPED_TRACE(name);
    for (const std::string& te : {std::string("Transfer-Encoding: chunked\r\n"),
                                  std::string("transfer-encoding:   chunked  \r\n")}) {
      auto client = Connect();
      ASSERT_TRUE(client->WriteRaw("POST /api/v2/token HTTP/1.1\r\nHost: x\r\n" + AuthLine() +
                                   "Content-Type: application/json\r\n" + te + "\r\n" + chunked +
                                   "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
      auto created = client->ReadResponse();
      ASSERT_TRUE(created);
      EXPECT_EQ(created->status, 200) << created->body;
      EXPECT_EQ(JsonField(created->body, "type"), "team") << created->body;
      EXPECT_NE(created->Header("Connection"), "close");
      auto next = client->ReadResponse();
      ASSERT_TRUE(next) << "the request after the chunked body was not answered";
      EXPECT_EQ(next->status, 200);
      EXPECT_EQ(next->body, R"({"status":"UP"})");
    }
  }
  // Chunked introspection, form-encoded.
  auto client = Connect();
  const std::string form = "token=" + admin_secret();
  ASSERT_TRUE(client->WriteRaw(
      "POST /api/v2/token/introspect HTTP/1.1\r\nHost: x\r\n" + AuthLine() +
      "Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n" +
      Hex(form.size()) + "\r\n" + form + "\r\n0\r\n\r\n"));
  auto res = client->ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_NE(res->body.find("\"active\":true"), std::string::npos) << res->body;
}

}  // namespace
}  // namespace tokend::http::testing
