// HTTP framing, limits, timeouts, keep-alive and shutdown, over real sockets
// (authentication off unless a test says otherwise).
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "server_fixture.h"

namespace tokend::http::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kTeamToken =
    R"({"type":"team","name":"ci","principal":"t1","permissions":["token/read"]})";

int CodeOf(const HttpResponse& res) {
  const std::string code_field = "\"code\":";
  const auto at = res.body.find(code_field);
  if (at == std::string::npos) return 0;
  return std::stoi(res.body.substr(at + code_field.size()));
}

std::string PostHeader(std::string_view target, std::size_t length) {
  return "POST " + std::string(target) +
         " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(length) + "\r\n\r\n";
}

TEST_F(ServerTest, WrongMethodIs405WithAllow) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  auto client = Connect();
  auto res = client->Request("PUT", "/api/v2/token/abc");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->Header("Allow"), "GET, DELETE");
  EXPECT_EQ(CodeOf(*res), 9003);
  res = client->Request("GET", "/api/v2/token");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->Header("Allow"), "POST");
  res = client->Request("POST", "/health", {}, "x");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->Header("Allow"), "GET");
}

TEST_F(ServerTest, DeleteOfQueryIsAnIdLookup) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  auto client = Connect();
  auto res = client->Request("DELETE", "/api/v2/token/query");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(CodeOf(*res), 9001);
}

TEST_F(ServerTest, UnknownPathIs404) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  auto client = Connect();
  for (const char* target :
       {"/", "/nothing", "/api/v2/token//", "/api/v2/tokens", "/api/v2/tokens/", "/health/"}) {
    auto res = client->Request("GET", target);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 404) << target;
    EXPECT_EQ(CodeOf(*res), 9002) << target;
    EXPECT_EQ(res->Header("Content-Type"), "application/json");
  }
}

// Spring's trailing-slash match, which Boomerang clients may rely on: one
// slash at the end of an API path is the path without it.
TEST_F(ServerTest, OneTrailingSlashOnTheApiIsThePathWithoutIt) {
  ASSERT_NO_FATAL_FAILURE(StartServer(true));
  auto client = Connect();
  auto created = client->Request(
      "POST", "/api/v2/token/", AdminJson(),
      R"({"type":"team","name":"slash","principal":"t1","permissions":["workflow/read"]})");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 200) << created->body;
  const std::string id = JsonField(created->body, "id");
  auto got = client->Request("GET", "/api/v2/token/" + id + "/", Admin());
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200) << got->body;
  auto listed = client->Request("GET", "/api/v2/token/query/?principals=t1", Admin());
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->status, 200) << listed->body;
  EXPECT_NE(listed->body.find(id), std::string::npos);
  auto deleted = client->Request("DELETE", "/api/v2/token/" + id + "/", Admin());
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->status, 200) << deleted->body;
}

TEST_F(ServerTest, CreateNeedsJsonContentType) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  auto client = Connect();
  auto res = client->Request("POST", "/api/v2/token", {{"Content-Type", "text/plain"}}, kTeamToken);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 415);
  EXPECT_EQ(CodeOf(*res), 9004);
  res = client->Request("POST", "/api/v2/token", {}, kTeamToken);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 415);
  res = client->Request("POST", "/api/v2/token/introspect", {{"Content-Type", "text/plain"}},
                        "token=x");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 415);
  res = client->Request("POST", "/api/v2/token",
                        {{"Content-Type", "Application/JSON; charset=UTF-8"}}, kTeamToken);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
}

TEST_F(ServerTest, MalformedJsonIs400) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  auto client = Connect();
  auto res = client->Request("POST", "/api/v2/token", {{"Content-Type", "application/json"}}, "{");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(CodeOf(*res), 1002);
  res = client->Request("POST", "/api/v2/token/introspect",
                        {{"Content-Type", "application/x-www-form-urlencoded"}}, "other=1");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(CodeOf(*res), 1002);
  // The connection is still usable after a 400 from a handler.
  res = client->Request("GET", "/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

// An answer to HEAD has no body, whatever it says (a 405 with its error
// body on GET, a 401): the next answer on the connection follows its header.
TEST_F(ServerTest, AnswersToHeadEndWithTheirHeader) {
  ASSERT_NO_FATAL_FAILURE(StartServer(true));
  for (std::string_view target : {"/health", "/api/v2/token/query", "/nowhere"}) {
    SCOPED_TRACE(target);
    auto client = Connect();
    ASSERT_TRUE(client->WriteRaw("HEAD " + std::string(target) +
                                 " HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: "
                                 "x\r\n\r\n"));
    const std::string read = client->ReadUntil("HTTP/1.1 200");
    const std::size_t header_end = read.find("\r\n\r\n");
    ASSERT_NE(header_end, std::string::npos) << read;
    EXPECT_EQ(read.substr(0, 9), "HTTP/1.1 ") << read;
    EXPECT_NE(read.substr(0, 12), "HTTP/1.1 200") << "HEAD is not a route's method: " << read;
    EXPECT_EQ(read.substr(header_end + 4, 12), "HTTP/1.1 200") << read;
  }
}

// RFC 9112 section 2.2: empty lines before a request line are ignored (a
// few; more are malformed), also when they arrive on their own.
TEST_F(ServerTest, EmptyLinesBeforeARequestAreSkipped) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  auto client = Connect();
  ASSERT_TRUE(client->WriteRaw("\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto res = client->ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  ASSERT_TRUE(client->WriteRaw("\r"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(client->WriteRaw("\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  res = client->ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;

  auto flooded = Connect();
  std::string many;
  for (int i = 0; i < 20; ++i) many += "\r\n";
  ASSERT_TRUE(flooded->WriteRaw(many + "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  res = flooded->ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(CodeOf(*res), 9015);
}

// An extra CRLF after a body (the case RFC 9112 section 2.2 names) is idle
// time, not the start of a request that times out: no 408 is sent on a
// connection kept for the next request.
TEST_F(ServerTest, AnEmptyLineAfterARequestLeavesTheConnectionIdle) {
  ASSERT_NO_FATAL_FAILURE(
      StartServer(false, [](ServerOptions& o) { o.header_timeout = std::chrono::seconds(1); }));
  auto client = Connect();
  ASSERT_TRUE(
      client->WriteRaw("POST /api/v2/token/introspect HTTP/1.1\r\nHost: x\r\nContent-Type: "
                       "application/json\r\nContent-Length: 11\r\n\r\n{\"token\":1}\r\n"));
  auto res = client->ReadResponse();
  ASSERT_TRUE(res);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  res = client->Request("GET", "/health");
  ASSERT_TRUE(res) << "the connection was closed";
  EXPECT_EQ(res->status, 200) << res->body;
}

// The header limit counts the header block, not the empty lines before it.
TEST_F(ServerTest, EmptyLinesBeforeARequestDoNotCountTowardItsHeaderLimit) {
  constexpr std::size_t kLimit = 1024;
  ASSERT_NO_FATAL_FAILURE(
      StartServer(false, [](ServerOptions& o) { o.max_header_bytes = kLimit; }));
  auto header_of = [](std::size_t size) {
    const std::string start = "GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: ";
    return start + std::string(size - start.size() - 4, 'p') + "\r\n\r\n";
  };
  for (const std::string& lead : {std::string(), std::string("\r\n")}) {
    auto client = Connect();
    ASSERT_TRUE(client->WriteRaw(lead + header_of(kLimit)));
    auto res = client->ReadResponse();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << lead.size() << " bytes before: " << res->body;
    auto over = Connect();
    ASSERT_TRUE(over->WriteRaw(lead + header_of(kLimit + 1)));
    res = over->ReadResponse();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 431);
  }
}

// Refusals made before routing end with their header on a HEAD too.
TEST_F(ServerTest, RefusalsOfAHeadEndWithTheirHeader) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  for (const std::string& raw :
       {std::string("HEAD /health HTTP/1.1\r\n\r\n"),
        std::string("HEAD /health HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n"),
        "HEAD /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n"}) {
    SCOPED_TRACE(raw.substr(0, 40));
    auto client = Connect();
    ASSERT_TRUE(client->WriteRaw(raw));
    const std::string header = client->ReadUntil("\r\n\r\n");
    EXPECT_EQ(header.substr(0, 10), "HTTP/1.1 4") << header;
    EXPECT_NE(header.find("Content-Length"), std::string::npos) << header;
    EXPECT_EQ(client->ReadUntil("{", std::chrono::milliseconds(500)), "") << "a body follows";
  }
}

TEST_F(ServerTest, MalformedHttpIs400AndCloses) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  auto client = Connect();
  ASSERT_TRUE(client->WriteRaw("GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"));
  auto res = client->ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(CodeOf(*res), 9015);
  EXPECT_EQ(res->Header("Connection"), "close");
  EXPECT_TRUE(client->WaitClosed());

  auto second = Connect();
  ASSERT_TRUE(second->WriteRaw(
      "POST /api/v2/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"));
  res = second->ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
}

// RFC 9112 section 3.2: a Host that is not a host and optional port is 400
// (9015), on HTTP/1.1 and 1.0 alike; every form of a host is served.
TEST_F(ServerTest, AHostThatIsNoHostIs400) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  for (const std::string host : {"a b", "x/y", "x@y", "[::1", "h:8o", "h:80:80", "%zz", "é"}) {
    for (const std::string version : {"1.1", "1.0"}) {
      SCOPED_TRACE(host + " over HTTP/" + version);
      auto client = Connect();
      ASSERT_TRUE(
          client->WriteRaw("GET /health HTTP/" + version + "\r\nHost: " + host + "\r\n\r\n"));
      auto res = client->ReadResponse();
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, 400) << res->body;
      EXPECT_EQ(CodeOf(*res), 9015) << res->body;
    }
  }
  auto client = Connect();
  for (const std::string host : {"", "tokend.example", "127.0.0.1:7700", "[::1]:7700",
                                 "[v1.fe80::a+en1]", "xn--bcher-kva.example:", "a%41b", "_x~"}) {
    SCOPED_TRACE(host);
    ASSERT_TRUE(client->WriteRaw("GET /health HTTP/1.1\r\nHost: " + host + "\r\n\r\n"));
    auto res = client->ReadResponse();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
  }
}

// RFC 9110 section 8.4: tokend decodes no content coding, so a coded body
// is refused (415, 9004) before it is read; identity is no coding, and a
// request without a body (a gateway's check carrying a client's fields) is
// served.
TEST_F(ServerTest, AContentCodedBodyIs415) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  const std::string body = R"({"token":"abc"})";
  auto post = [&](const std::string& coding) {
    return "POST /api/v2/token/introspect HTTP/1.1\r\nHost: x\r\nContent-Type: "
           "application/json\r\nContent-Encoding: " +
           coding + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  for (const std::string coding : {"gzip", "GZIP", "identity, gzip", "br"}) {
    SCOPED_TRACE(coding);
    auto client = Connect();
    ASSERT_TRUE(client->WriteRaw(post(coding)));
    auto res = client->ReadResponse();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 415) << res->body;
    EXPECT_EQ(CodeOf(*res), 9004) << res->body;
  }
  auto client = Connect();
  for (const std::string& raw :
       {post("identity"), post("Identity"),
        std::string("GET /health HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n\r\n")}) {
    SCOPED_TRACE(raw);
    ASSERT_TRUE(client->WriteRaw(raw));
    auto res = client->ReadResponse();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
  }
}

// Content-Type is a singleton field: given twice (in either order, with the
// same value, or with its name in another case) it is 400 (9015) on every
// request, whether or not its route reads a body, and the connection is
// closed before the body is read. One is served as before.
TEST_F(ServerTest, ARepeatedContentTypeIs400) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  const std::string body = R"({"token":"abc"})";
  const std::string json = "Content-Type: application/json\r\n";
  const std::string text = "content-type: text/plain\r\n";
  auto post = [&](const std::string& fields) {
    return "POST /api/v2/token/introspect HTTP/1.1\r\nHost: x\r\n" + fields +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  for (const std::string& raw : {
           post(json + text),
           post(text + json),
           post(json + json),
           post(json + "X-Other: 1\r\n" + json),
           "GET /health HTTP/1.1\r\nHost: x\r\n" + json + text + "\r\n",
           "GET /api/v2/token/query HTTP/1.1\r\nHost: x\r\n" + text + text + "\r\n",
       }) {
    SCOPED_TRACE(raw);
    auto client = Connect();
    ASSERT_TRUE(client->WriteRaw(raw));
    auto res = client->ReadResponse();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << res->body;
    EXPECT_EQ(CodeOf(*res), 9015) << res->body;
    EXPECT_NE(res->body.find("Content-Type header is given more than once"), std::string::npos)
        << res->body;
    EXPECT_EQ(res->Header("Connection"), "close");
    EXPECT_TRUE(client->WaitClosed());
  }
  auto client = Connect();
  for (int i = 0; i < 2; ++i) {  // kept alive
    ASSERT_TRUE(client->WriteRaw(post(json)));
    auto res = client->ReadResponse();
    ASSERT_TRUE(res) << i;
    EXPECT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(res->body, R"({"active":false})");
  }
}

TEST_F(ServerTest, ContentLengthOverTheLimitIs413WithoutReadingTheBody) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false, [](ServerOptions& o) { o.max_body_bytes = 1024; }));
  auto client = Connect();
  ASSERT_TRUE(client->WriteRaw(PostHeader("/api/v2/token", 100000)));
  auto res = client->ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(CodeOf(*res), 9005);
  EXPECT_TRUE(client->WaitClosed());
}

// Trailer fields after a chunked body are dropped, never read as header
// fields: a credential or a check's demand in a trailer counts for nothing.
TEST_F(ServerTest, TrailerFieldsOfAChunkedBodyAreNotHeaderFields) {
  ASSERT_NO_FATAL_FAILURE(StartServer(true));
  auto client = Connect();
  const std::string body =
      R"({"type":"team","name":"t","principal":"p","permissions":["workflow/read"]})";
  auto chunked = [&](std::string_view target, const std::string& headers,
                     const std::string& payload, const std::string& trailers) {
    std::ostringstream hex;
    hex << std::hex << payload.size();
    std::string raw = "POST " + std::string(target) +
                      " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + headers +
                      "Transfer-Encoding: chunked\r\n\r\n";
    if (!payload.empty()) raw += hex.str() + "\r\n" + payload + "\r\n";
    raw += "0\r\n" + trailers + "\r\n";
    auto conn = Connect();
    EXPECT_TRUE(conn->WriteRaw(raw));
    auto res = conn->ReadResponse();
    EXPECT_TRUE(res);
    return res ? *res : HttpResponse{};
  };
  const std::string bearer = "Authorization: Bearer " + admin_secret() + "\r\n";
  // A create with its credential in a trailer only is unauthenticated.
  EXPECT_EQ(chunked("/api/v2/token", "", body, bearer).status, 401);
  EXPECT_EQ(chunked("/api/v2/token", bearer, body, "").status, 200);
  // A trailer of a header's name leaves the header's own field as it was.
  EXPECT_EQ(chunked("/api/v2/token", bearer, body, "Content-Type: text/plain\r\n").status, 200);
  // A check's credential or demand in a trailer counts for nothing.
  EXPECT_EQ(chunked("/api/v2/token/check/x", "", "", bearer).status, 401);
  EXPECT_EQ(
      chunked("/api/v2/token/check/x", bearer, "", "Tokend-Check-Permission: workflow/delete\r\n")
          .status,
      200);
  // A trailer that differs from the header is no conflict: it is not read.
  EXPECT_EQ(chunked("/api/v2/token/check/x", bearer, "",
                    "Authorization: Bearer bft_000000000000000000000000000000000000\r\n")
                .status,
            200);
}

// Answers given before a request could be routed (413, 414, 431, 408) have
// no body on the forward-auth check's path either, as every answer there.
TEST_F(ServerTest, EarlyRefusalsOnTheCheckPathHaveNoBody) {
  ASSERT_NO_FATAL_FAILURE(StartServer(true, [](ServerOptions& o) { o.max_body_bytes = 1024; }));
  const std::string long_target(9000, 'a');
  const std::string long_field(20000, 'b');
  struct Case {
    std::string raw;
    int status;
  };
  for (const std::string& path :
       {std::string("/api/v2/token/check"), std::string("/api/v2/token/check/orders/1"),
        std::string("http://gw/api/v2/token/check/x")}) {
    for (const Case& c : std::vector<Case>{
             {"POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n", 413},
             {"GET " + path + "?" + long_target + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
             {"GET " + path + " HTTP/1.1\r\nHost: x\r\nX-Big: " + long_field + "\r\n\r\n", 431}}) {
      auto client = Connect();
      ASSERT_TRUE(client->WriteRaw(c.raw));
      auto res = client->ReadResponse();
      ASSERT_TRUE(res) << path << " " << c.status;
      EXPECT_EQ(res->status, c.status) << path;
      EXPECT_TRUE(res->body.empty()) << path << " " << c.status << ": " << res->body;
    }
  }
  // Elsewhere they keep their error body.
  auto client = Connect();
  ASSERT_TRUE(
      client->WriteRaw("POST /api/v2/token HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n"));
  auto res = client->ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_FALSE(res->body.empty());
}

TEST_F(ServerTest, ChunkedBodyOverTheLimitIs413) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false, [](ServerOptions& o) { o.max_body_bytes = 1024; }));
  auto client = Connect();
  std::string request =
      "POST /api/v2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 4; ++i) request += "200\r\n" + std::string(512, ' ') + "\r\n";
  request += "0\r\n\r\n";
  ASSERT_TRUE(client->WriteRaw(request));
  auto res = client->ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_TRUE(client->WaitClosed());
}

TEST_F(ServerTest, ChunkedBodyWithinTheLimitIsAccepted) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  auto client = Connect();
  const std::string body(kTeamToken);
  const std::string first = body.substr(0, 10), rest = body.substr(10);
  char sizes[64];
  std::snprintf(sizes, sizeof sizes, "%zx", first.size());
  std::string request =
      "POST /api/v2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n" +
      std::string(sizes) + "\r\n" + first + "\r\n";
  std::snprintf(sizes, sizeof sizes, "%zx", rest.size());
  request += std::string(sizes) + "\r\n" + rest + "\r\n0\r\n\r\n";
  ASSERT_TRUE(client->WriteRaw(request));
  auto res = client->ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
}

TEST_F(ServerTest, HeaderOverTheLimitIs431) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  auto client = Connect();
  ASSERT_TRUE(client->WriteRaw(
      "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n"));
  auto res = client->ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 431);
  EXPECT_EQ(CodeOf(*res), 9006);
  EXPECT_TRUE(client->WaitClosed());
}

TEST_F(ServerTest, TargetOverTheLimitIs414) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  // Longer than the target limit, within the header limit.
  auto client = Connect();
  auto res = client->Request("GET", "/health?x=" + std::string(10000, 'a'));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 414);
  EXPECT_EQ(CodeOf(*res), 9007);
  // Longer than the whole header limit.
  auto second = Connect();
  res = second->Request("GET", "/health?x=" + std::string(40000, 'a'));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 414);
  // A request line still unfinished past the target limit: 414 at once, not
  // the header timeout's 408.
  auto third = Connect();
  ASSERT_TRUE(third->WriteRaw("GET /health?x=" + std::string(9000, 'a')));
  const auto start = std::chrono::steady_clock::now();
  const std::string answer = third->ReadUntil("\r\n\r\n");
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 414") << answer;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(ServerTest, ExpectContinue) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  auto client = Connect();
  const std::string body(kTeamToken);
  ASSERT_TRUE(client->WriteRaw(
      "POST /api/v2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Expect: 100-continue\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n"));
  const std::string interim = client->ReadUntil("\r\n\r\n");
  EXPECT_EQ(interim.substr(0, 21), "HTTP/1.1 100 Continue");
  ASSERT_TRUE(client->WriteRaw(body));
  auto res = client->ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
}

TEST_F(ServerTest, Http10ClosesAfterTheResponse) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  auto client = Connect();
  ASSERT_TRUE(client->WriteRaw("GET /health HTTP/1.0\r\n\r\n"));
  auto res = client->ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->version, 10u);
  EXPECT_EQ(res->body, R"({"status":"UP"})");
  EXPECT_TRUE(client->WaitClosed());

  auto keep = Connect();
  ASSERT_TRUE(keep->WriteRaw("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  res = keep->ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  res = keep->Request("GET", "/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  auto client = Connect();
  ASSERT_TRUE(
      client->WriteRaw("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /api/v2/token/nope HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /api/docs/spec HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto first = client->ReadResponse();
  auto second = client->ReadResponse();
  auto third = client->ReadResponse();
  ASSERT_TRUE(first && second && third);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->body, R"({"status":"UP"})");
  EXPECT_EQ(second->status, 404);
  EXPECT_EQ(third->status, 200);
  EXPECT_NE(third->body.find("openapi"), std::string::npos);
}

TEST_F(ServerTest, KeepAliveReusesTheConnection) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  auto client = Connect();
  for (int i = 0; i < 5; ++i) {
    auto res = client->Request("GET", "/health");
    ASSERT_TRUE(res) << i;
    EXPECT_EQ(res->status, 200);
    EXPECT_NE(res->Header("Connection"), "close");
  }
}

TEST_F(ServerTest, TricklingHeaderIsCutOffAtTheDeadline) {
  ASSERT_NO_FATAL_FAILURE(
      StartServer(false, [](ServerOptions& o) { o.header_timeout = seconds(1); }));
  auto client = Connect();
  const auto start = Clock::now();
  ASSERT_TRUE(client->WriteRaw("GET /health HTTP/1.1\r\n"));
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(milliseconds(250));
    client->WriteRaw("X-Slow: 1\r\n");
  }
  auto res = client->ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 408);
  EXPECT_EQ(CodeOf(*res), 9012);
  EXPECT_TRUE(client->WaitClosed());
  EXPECT_LT(Clock::now() - start, seconds(4));
}

TEST_F(ServerTest, IdleConnectionIsClosed) {
  ASSERT_NO_FATAL_FAILURE(
      StartServer(false, [](ServerOptions& o) { o.idle_timeout = seconds(1); }));
  auto client = Connect();
  auto res = client->Request("GET", "/health");
  ASSERT_TRUE(res);
  const auto start = Clock::now();
  EXPECT_TRUE(client->WaitClosed(seconds(4)));
  EXPECT_GE(Clock::now() - start, milliseconds(800));
}

TEST_F(ServerTest, ConnectionsOverTheLimitGet503) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false, [](ServerOptions& o) { o.max_connections = 2; }));
  auto first = Connect();
  auto second = Connect();
  ASSERT_TRUE(first->Request("GET", "/health"));
  ASSERT_TRUE(second->Request("GET", "/health"));
  auto third = Connect();
  ASSERT_TRUE(third->WriteRaw("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto res = third->ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(CodeOf(*res), 9016);
  EXPECT_TRUE(third->WaitClosed());
  // Closing one makes room again.
  first.reset();
  std::this_thread::sleep_for(milliseconds(200));
  auto fourth = Connect();
  res = fourth->Request("GET", "/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(ServerTest, StopAnswersTheRequestInFlight) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  auto idle = Connect();
  ASSERT_TRUE(idle->Request("GET", "/health"));
  auto busy = Connect();
  const std::string body(kTeamToken);
  ASSERT_TRUE(busy->WriteRaw(PostHeader("/api/v2/token", body.size()) + body.substr(0, 5)));
  std::this_thread::sleep_for(milliseconds(200));

  server().Stop();
  server().Stop();  // idempotent
  EXPECT_TRUE(idle->WaitClosed(seconds(2)));
  TestClient refused(port());
  EXPECT_FALSE(refused.connected() && refused.Request("GET", "/health").has_value());

  ASSERT_TRUE(busy->WriteRaw(body.substr(5)));
  auto res = busy->ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->Header("Connection"), "close");
  EXPECT_TRUE(busy->WaitClosed());
  server().Wait();
}

TEST_F(ServerTest, StopForceClosesAfterTheShutdownTimeout) {
  ASSERT_NO_FATAL_FAILURE(
      StartServer(false, [](ServerOptions& o) { o.shutdown_timeout = seconds(1); }));
  auto busy = Connect();
  ASSERT_TRUE(busy->WriteRaw(PostHeader("/api/v2/token", 100)));
  std::this_thread::sleep_for(milliseconds(200));
  const auto start = Clock::now();
  server().Stop();
  server().Wait();
  EXPECT_LT(Clock::now() - start, seconds(4));
  EXPECT_TRUE(busy->WaitClosed(seconds(1)));
}

TEST_F(ServerTest, SecondServerOnTheSamePortIsUnavailable) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  ServerOptions options;
  options.port = port();
  options.io_threads = 1;
  options.handle_signals = false;
  Metrics metrics;
  Server other(options, service(), metrics);
  auto started = other.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_TRUE(started.status().IsUnavailable());
  EXPECT_NE(started.status().message().find("in use"), std::string::npos);
}

}  // namespace
}  // namespace tokend::http::testing
