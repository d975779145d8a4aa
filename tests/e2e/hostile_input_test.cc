// Hostile input against the real binary: one table of raw requests, each sent
// on a fresh connection, run with authentication off and required; then slow,
// silent and bulky clients. The server must answer every request with the
// documented status (never a 500), carry the error body on every 4xx, and stay
// alive and responsive throughout.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "e2e_helpers.h"
#include "tokend_process.h"

namespace tokend::e2e {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
using Clock = std::chrono::steady_clock;

// Expected statuses that are not a single number.
constexpr int kAny4xx = -4;      // the contract is silent: any 4xx with an error body
constexpr int kOkOrAny4xx = -2;  // HTTP itself allows both (see the row's comment)

// Replaced by "Authorization: Bearer <secret>\r\n" when authentication is
// required, by nothing when it is off.
constexpr std::string_view kAuth = "{AUTH}";

struct Case {
  std::string name;
  std::string raw;       // bytes sent as they are, in one write
  int status;            // expected status, or kAny4xx / kOkOrAny4xx
  bool error_body;       // a 4xx/5xx must carry {timestamp, code, reason, message, status}
  int code = 0;          // expected error code; 0: not checked
  int then_status = 0;   // a second response expected on the same connection; 0: none
  bool interim = false;  // a "100 Continue" must precede the response
};

std::string Get(std::string_view target, std::string_view version = "HTTP/1.1") {
  return "GET " + std::string(target) + " " + std::string(version) + "\r\nHost: x\r\n" +
         std::string(kAuth) + "\r\n";
}

std::string Post(std::string_view target, std::string_view body,
                 std::string_view content_type = "application/json",
                 std::string_view extra_headers = "") {
  return "POST " + std::string(target) + " HTTP/1.1\r\nHost: x\r\n" + std::string(kAuth) +
         "Content-Type: " + std::string(content_type) + "\r\n" + std::string(extra_headers) +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

std::string PostHeaderOnly(std::string_view extra_headers) {
  return "POST /api/v2/token HTTP/1.1\r\nHost: x\r\n" + std::string(kAuth) +
         "Content-Type: application/json\r\n" + std::string(extra_headers) + "\r\n";
}

std::string Create(std::string_view fields_after_type) {
  return Post("/api/v2/token", R"({"type":"team",)" + std::string(fields_after_type) + "}");
}

constexpr std::string_view kValid =
    R"({"type":"team","name":"ok","principal":"p","permissions":["workflow/read"]})";
constexpr std::string_view kTeamFields =
    R"("name":"ok","principal":"p","permissions":["workflow/read"])";

std::string Hex(std::size_t n) {
  char out[32];
  std::snprintf(out, sizeof out, "%zx", n);
  return out;
}

std::string ManyHeaders(int count) {
  std::string out;
  for (int i = 0; i < count; ++i) out += "X-Header-" + std::to_string(i) + ": value-value\r\n";
  return out;
}

std::vector<Case> Cases() {
  const std::string valid(kValid);
  const std::string team(kTeamFields);
  std::vector<Case> cases = {
      // Text encoding.
      {"invalid UTF-8 in a JSON string",
       Create("\"name\":\"\xff\xfe\",\"principal\":\"p\",\"permissions\":[\"workflow/read\"]"), 400,
       true, 1002},
      {"overlong UTF-8 in a JSON string",
       Create("\"name\":\"\xc0\xaf\",\"principal\":\"p\",\"permissions\":[\"workflow/read\"]"), 400,
       true, 1002},
      {"UTF-8 surrogate in a JSON string",
       Create("\"name\":\"\xed\xa0\x80\",\"principal\":\"p\",\"permissions\":[\"workflow/read\"]"),
       400, true, 1002},
      {"invalid UTF-8 in introspection", Post("/api/v2/token/introspect", "{\"token\":\"\xff\"}"),
       400, true, 1002},
      {"invalid UTF-8 in a query parameter (%FF)", Get("/api/v2/token/query?principals=%FF"), 400,
       true, 1001},
      {"raw invalid UTF-8 byte in the query", Get("/api/v2/token/query?principals=\xff"), 400, true,
       1001},
      // Percent-encoding.
      {"bad escape %ZZ", Get("/api/v2/token/query?order=%ZZ"), 400, true, 1001},
      {"truncated escape %4", Get("/api/v2/token/query?order=%4"), 400, true, 1001},
      {"trailing %", Get("/api/v2/token/query?order=%"), 400, true, 1001},
      // A bad escape in the path is malformed HTTP (docs: 9015 covers request-target encoding).
      {"bad escape in the path", Get("/api/v2/token/%ZZ"), 400, true, 9015},
      {"bad form escape in introspection",
       Post("/api/v2/token/introspect", "token=%ZZ", "application/x-www-form-urlencoded"), 400,
       true, 1002},
      // Huge numbers.
      {"limit beyond 64 bits", Get("/api/v2/token/query?limit=99999999999999999999"), 400, true,
       1001},
      {"page beyond Spring's int", Get("/api/v2/token/query?limit=10&page=2147483648"), 400, true,
       1001},
      {"fromDate beyond 64 bits", Get("/api/v2/token/query?fromDate=99999999999999999999"), 400,
       true, 1001},
      {"expirationDate 1e400", Create(team + ",\"expirationDate\":1e400"), 400, true, 1010},
      {"expirationDate beyond 64 bits", Create(team + ",\"expirationDate\":99999999999999999999"),
       400, true, 1010},
      {"expirationDate far below zero", Create(team + ",\"expirationDate\":-99999999999999999999"),
       400, true, 1010},
      {"expirationDate as a string beyond 64 bits",
       Create(team + ",\"expirationDate\":\"99999999999999999999\""), 400, true, 1010},
      {"expirationDate int64 max (past year 9999)",
       Create(team + ",\"expirationDate\":9223372036854775807"), 400, true, 1010},
      {"expirationDate NaN (not JSON)", Create(team + ",\"expirationDate\":NaN"), 400, true, 1002},
      // Nulls where strings belong (docs: null counts as absent; a wrong type is 1010).
      {"name null", Create(R"("name":null,"principal":"p","permissions":["workflow/read"])"), 400,
       true, 1010},
      {"type null",
       Post("/api/v2/token",
            R"({"type":null,"name":"n","principal":"p","permissions":["workflow/read"]})"),
       400, true, 1010},
      {"permissions [null]", Create(R"("name":"n","principal":"p","permissions":[null])"), 400,
       true, 1010},
      // Duplicate keys: the last one wins (docs 2).
      {"duplicate key, last valid",
       Create(R"("name":"first","name":"last","principal":"p","permissions":["workflow/read"])"),
       200, false},
      {"duplicate key, last of the wrong type",
       Create(R"("name":"first","name":5,"principal":"p","permissions":["workflow/read"])"), 400,
       true, 1010},
      // The session rule comes first (1011), whatever else is wrong (docs 7.2).
      {"session, name of the wrong type", Post("/api/v2/token", R"({"type":"session","name":5})"),
       400, true, 1011},
      {"session, permissions a string",
       Post("/api/v2/token", R"({"permissions":"token/read","type":"session"})"), 400, true, 1011},
      {"session, role a number", Post("/api/v2/token", R"({"type":"session","role":7})"), 400, true,
       1011},
      {"session, expirationDate not a date",
       Post("/api/v2/token", R"({"expirationDate":"garbage","type":"session","name":"n"})"), 400,
       true, 1011},
      {"session, description an object",
       Post("/api/v2/token", R"({"type":"session","description":{}})"), 400, true, 1011},
      {"type of the wrong type before a bad name", Post("/api/v2/token", R"({"type":5,"name":5})"),
       400, true, 1010},
      // NUL.
      {"\\u0000 in name",
       Create(R"("name":"a\u0000b","principal":"p","permissions":["workflow/read"])"), 400, true,
       1010},
      {"raw NUL inside a JSON string",
       Create("\"name\":\"a\0b\",\"principal\":\"p\",\"permissions\":[\"workflow/read\"]"s), 400,
       true, 1002},
      {"raw NUL after the JSON body", Post("/api/v2/token", valid + "\0"s), 400, true, 1002},
      {"%00 in the query", Get("/api/v2/token/query?principals=a%00b"), 400, true, 1001},
      {"raw NUL in the request target", "GET /health\0 HTTP/1.1\r\nHost: x\r\n\r\n"s, 400, true,
       9015},
      {"raw NUL in a header value", "GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n"s, 400,
       true, 9015},
      // HTTP versions and framing.
      {"HTTP/1.0 without Host", "GET /health HTTP/1.0\r\n\r\n", 200, false},
      {"HTTP/1.0 API request without Host", Get("/api/v2/token/query?limit=1", "HTTP/1.0"), 200,
       false},
      {"HTTP/2.0 request line", "GET /health HTTP/2.0\r\nHost: x\r\n\r\n", 400, true, 9015},
      {"pipelined: two requests in one write, answered in order",
       Get("/api/v2/token/000000000000000000000000") + "GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
       404, true, 9001, /*then_status=*/200},
      {"pipelined after a POST",
       Post("/api/v2/token", kValid) + "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", 200, false, 0,
       /*then_status=*/200},
      // The body came with the header, so no 100 Continue is owed (RFC 9110
      // section 10.1.1); a client that waits for it is in protocol_test.cc.
      {"Expect: 100-continue, body sent at once",
       PostHeaderOnly("Expect: 100-continue\r\nContent-Length: " + std::to_string(valid.size()) +
                      "\r\n") +
           valid,
       200, false, 0, 0, /*interim=*/false},
      {"Expect: 100-continue with a body over the limit",
       PostHeaderOnly("Expect: 100-continue\r\nContent-Length: 100000\r\n"), 413, true, 9005},
      {"chunked body",
       PostHeaderOnly("Transfer-Encoding: chunked\r\n") + Hex(10) + "\r\n" + valid.substr(0, 10) +
           "\r\n" + Hex(valid.size() - 10) + ";ext=1\r\n" + valid.substr(10) + "\r\n0\r\n\r\n",
       200, false},
      {"chunk size not hex", PostHeaderOnly("Transfer-Encoding: chunked\r\n") + "zz\r\n", 400, true,
       9015},
      {"chunk size overflowing 64 bits",
       PostHeaderOnly("Transfer-Encoding: chunked\r\n") + "ffffffffffffffffffff\r\n", 400, true,
       9015},
      {"chunk size over the body limit",
       PostHeaderOnly("Transfer-Encoding: chunked\r\n") + "7fffffffffffffff\r\nabc", 413, true,
       9005},
      {"chunk data without its CRLF",
       PostHeaderOnly("Transfer-Encoding: chunked\r\n") + Hex(valid.size()) + "\r\n" + valid +
           "XX0\r\n\r\n",
       400, true, 9015},
      {"Content-Length and Transfer-Encoding together",
       PostHeaderOnly("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n") + "0\r\n\r\n", 400,
       true, 9015},
      {"two different Content-Length",
       PostHeaderOnly("Content-Length: 2\r\nContent-Length: 3\r\n") + "{}x", 400, true, 9015},
      {"Content-Length shorter than the body", PostHeaderOnly("Content-Length: 10\r\n") + valid,
       400, true, 1002},
      {"Content-Length longer than the body (eats the next request)",
       PostHeaderOnly("Content-Length: " + std::to_string(valid.size() + 10) + "\r\n") + valid +
           "GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
       400, true, 1002},
      {"negative Content-Length", PostHeaderOnly("Content-Length: -1\r\n"), 400, true, 9015},
      {"non-numeric Content-Length", PostHeaderOnly("Content-Length: abc\r\n"), 400, true, 9015},
      // Limits (docs 7.7).
      {"body over the limit", PostHeaderOnly("Content-Length: 70000\r\n") + std::string(70000, ' '),
       413, true, 9005},
      {"one header over the limit",
       "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n", 431,
       true, 9006},
      {"URL over the limit", Get("/api/v2/token/query?x=" + std::string(9000, 'a')), 414, true,
       9007},
      {"very many headers within the limit",
       "GET /health HTTP/1.1\r\nHost: x\r\n" + ManyHeaders(400) + "\r\n", 200, false},
      // About 20 KiB of small header fields: over the 16 KiB header block.
      {"very many headers over the limit",
       "GET /health HTTP/1.1\r\nHost: x\r\n" + ManyHeaders(760) + "\r\n", 431, true, 9006},
      // JSON shape.
      {"deeply nested JSON",
       Create(team + ",\"x\":" + std::string(100, '[') + std::string(100, ']')), 400, true, 1002},
      {"very deeply nested JSON", Post("/api/v2/token", std::string(60000, '[')), 400, true, 1002},
      {"JSON string over the string limit",
       Create(team + ",\"x\":\"" + std::string(17000, 'a') + "\""), 400, true, 1002},
      {"body not a JSON object", Post("/api/v2/token", "[]"), 400, true, 1002},
      {"wrong Content-Type", Post("/api/v2/token", kValid, "text/plain"), 415, true, 9004},
      {"garbage Content-Type", Post("/api/v2/token", kValid, ";;;"), 415, true, 9004},
      // Methods: the route exists, the method does not (docs 6, 9003). Methods are
      // case-sensitive (RFC 9110 9.1), so "get" is an unknown method.
      {"unknown method BREW",
       "BREW /api/v2/token/query HTTP/1.1\r\nHost: x\r\n" + std::string(kAuth) + "\r\n", 405, true,
       9003},
      {"lowercase method", "get /health HTTP/1.1\r\nHost: x\r\n\r\n", 405, true, 9003},
      // Request targets. RFC 9112 3.2.2: a server accepts absolute-form like
      // origin-form (docs/API.md 7.9); the contract is silent on "*".
      {"absolute-form target",
       "GET http://x/api/v2/token/query HTTP/1.1\r\nHost: x\r\n" + std::string(kAuth) + "\r\n", 200,
       false},
      {"HTTP/1.1 without Host", "GET /health HTTP/1.1\r\n\r\n", 400, true, 9015},
      {"HTTP/1.1 with two Host headers", "GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
       true, 9015},
      {"asterisk target", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", kAny4xx, true},
      // No normalization: ".." is a path segment like any other, never /health.
      {"path traversal", Get("/api/v2/token/../../health"), 404, true, 9002},
      {"encoded path traversal", Get("/api/v2/token/%2e%2e"), 404, true, 9001},
      // Header syntax.
      {"header without colon", "GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400, true,
       9015},
      {"space before the colon", "GET /health HTTP/1.1\r\nHost : x\r\n\r\n", 400, true, 9015},
      // RFC 9112 5.2: a server either rejects obs-fold with 400 or replaces it
      // with spaces; tokend rejects it, as a proxy may fold otherwise.
      {"obs-fold header", "GET /health HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n", 400, true,
       9015},
      {"obs-fold with a tab", "GET /health HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n\tb\r\n\r\n", 400,
       true, 9015},
      {"folded Transfer-Encoding",
       "POST /api/v2/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
       400, true, 9015},
      {"a body line starting with a space is no fold",
       "POST /api/v2/token/revoke HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
       "Content-Length: 16\r\n\r\n{\r\n \"token\":\"x\"}",
       200, false},
      {"bare LF line endings", "GET /health HTTP/1.1\nHost: x\n\n", kAny4xx, true},
      // A few empty lines before a request line are skipped (RFC 9112
      // section 2.2); more than a request may begin with are malformed.
      {"empty lines only, past what is skipped", "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n", 400, true,
       9015},
      {"request line without method", " /health HTTP/1.1\r\n\r\n", 400, true, 9015},
  };
  return cases;
}

std::string Expand(std::string raw, const std::string& secret) {
  const std::string auth = secret.empty() ? "" : "Authorization: Bearer " + secret + "\r\n";
  for (auto at = raw.find(kAuth); at != std::string::npos; at = raw.find(kAuth, at)) {
    raw.replace(at, kAuth.size(), auth);
    at += auth.size();
  }
  return raw;
}

// Reads the next final (non-1xx) response; `interim` tells whether a 1xx came first.
std::optional<HttpResponse> ReadFinal(TestClient& client, bool* interim) {
  for (int i = 0; i < 3; ++i) {
    auto res = client.ReadResponse(5s);
    if (!res || res->status >= 200) return res;
    *interim = true;
  }
  return std::nullopt;
}

// Checks status and body of one answer; `context` names the row.
void CheckAnswer(const HttpResponse& res, int expected, bool error_body, int code,
                 const std::string& context) {
  SCOPED_TRACE(context);
  EXPECT_LT(res.status, 500) << res.body;
  if (expected == kAny4xx) {
    EXPECT_TRUE(res.status >= 400 && res.status < 500) << res.status << " " << res.body;
  } else if (expected == kOkOrAny4xx) {
    EXPECT_TRUE(res.status == 200 || (res.status >= 400 && res.status < 500))
        << res.status << " " << res.body;
  } else {
    EXPECT_EQ(res.status, expected) << res.body;
  }
  if (res.status < 400 || !error_body) return;
  EXPECT_EQ(res.Header("Content-Type"), "application/json");
  const boost::json::value json = ParseJson(res.body);
  ASSERT_TRUE(json.is_object()) << "no JSON error body: " << res.body;
  const boost::json::object& body = json.as_object();
  for (const char* field : {"timestamp", "reason", "message", "status"}) {
    EXPECT_TRUE(body.contains(field) && body.at(field).is_string()) << field << ": " << res.body;
  }
  ASSERT_TRUE(body.contains("code") && body.at("code").is_int64()) << res.body;
  if (code != 0) {
    EXPECT_EQ(body.at("code").as_int64(), code) << res.body;
  }
  if (body.contains("status") && body.at("status").is_string()) {
    const std::string status(body.at("status").as_string());
    EXPECT_EQ(status.substr(0, 4), std::to_string(res.status) + " ") << res.body;
  }
}

void ExpectHealthy(std::uint16_t port, const std::string& context) {
  TestClient client(port);
  ASSERT_TRUE(client.connected()) << context;
  auto health = client.Request("GET", "/health", {}, {}, 5s);
  ASSERT_TRUE(health.has_value()) << "no answer to /health after: " << context;
  EXPECT_EQ(health->status, 200) << context;
  EXPECT_EQ(health->body, R"({"status":"UP"})") << context;
}

std::vector<std::string> ServeArgs(const TempDir& dir, std::string_view auth) {
  return {"serve",  "--listen",       "127.0.0.1:0", "--store", "sqlite:" + dir.File("tokend.db"),
          "--auth", std::string(auth)};
}

class HostileInputTest : public ::testing::TestWithParam<std::string> {};

TEST_P(HostileInputTest, EveryRawRequestGetsItsDocumentedAnswer) {
  const bool auth_required = GetParam() == "required";
  TempDir dir;
  auto tokend = TokendProcess::Start(ServeArgs(dir, GetParam()));
  ASSERT_NE(tokend, nullptr);
  std::string secret;
  if (auth_required) {
    std::ifstream file(dir.File("bootstrap-token"));
    std::getline(file, secret);
    ASSERT_FALSE(secret.empty()) << "no bootstrap token";
  }

  for (const Case& row : Cases()) {
    SCOPED_TRACE("case: " + row.name);
    {
      TestClient client(tokend->port());
      ASSERT_TRUE(client.connected());
      ASSERT_TRUE(client.WriteRaw(Expand(row.raw, secret)));
      bool interim = false;
      auto res = ReadFinal(client, &interim);
      ASSERT_TRUE(res.has_value()) << "no response";
      CheckAnswer(*res, row.status, row.error_body, row.code, row.name);
      EXPECT_EQ(interim, row.interim);
      if (row.then_status != 0) {
        auto second = ReadFinal(client, &interim);
        ASSERT_TRUE(second.has_value()) << "no second response";
        CheckAnswer(*second, row.then_status, row.error_body, 0, row.name + " (second)");
      }
    }
    ASSERT_NO_FATAL_FAILURE(ExpectHealthy(tokend->port(), row.name));
  }
  EXPECT_FALSE(tokend->WaitExit(0ms).has_value()) << "tokend exited";
  EXPECT_EQ(tokend->Log().find("unexpected"), std::string::npos) << tokend->Log();
}

INSTANTIATE_TEST_SUITE_P(Hostile, HostileInputTest, ::testing::Values("off", "required"),
                         [](const auto& info) { return "Auth_" + info.param; });

// A raw client socket, for clients that misbehave below HTTP.
class RawSocket {
 public:
  explicit RawSocket(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ =
        fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    const int one = 1;
    if (connected_) ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~RawSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool connected() const { return connected_; }
  bool Send(std::string_view bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // True when something (data or end of stream) can be read within `timeout`.
  bool Readable(std::chrono::milliseconds timeout) {
    pollfd entry{fd_, POLLIN, 0};
    return ::poll(&entry, 1, static_cast<int>(timeout.count())) > 0;
  }
  // Everything the server sends until it closes, or until `timeout`.
  std::string ReadToEnd(std::chrono::milliseconds timeout) {
    std::string out;
    const auto deadline = Clock::now() + timeout;
    char chunk[4096];
    while (Clock::now() < deadline) {
      if (!Readable(
              std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()))) {
        break;
      }
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) break;
      out.append(chunk, static_cast<std::size_t>(n));
    }
    return out;
  }

 private:
  int fd_;
  bool connected_ = false;
};

// One GET /health on a fresh connection; its latency, or nullopt when not 200.
std::optional<std::chrono::milliseconds> TimedHealth(std::uint16_t port) {
  const auto start = Clock::now();
  TestClient client(port);
  auto res = client.Request("GET", "/health", {}, {}, 5s);
  if (!res || res->status != 200) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// Slowloris: a header trickled one byte every 500 ms is cut off by the header
// timeout (10 s by default) with a 408, while other clients are served.
TEST(HostileInputTest, TricklingClientIsCutOffWhileOthersAreServed) {
  TempDir dir;
  auto tokend = TokendProcess::Start(ServeArgs(dir, "off"));
  ASSERT_NE(tokend, nullptr);

  std::atomic<bool> done{false};
  std::string answer;
  Clock::duration cut_after{};
  std::thread slow([&] {
    RawSocket socket(tokend->port());
    const std::string header = "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(64, 'a');
    const auto start = Clock::now();
    // At most 32 bytes, 16 s: well past the 10 s header timeout.
    for (std::size_t i = 0; i < 32 && socket.connected(); ++i) {
      if (!socket.Send(header.substr(i, 1))) break;
      if (socket.Readable(500ms)) {
        answer = socket.ReadToEnd(3s);
        break;
      }
    }
    cut_after = Clock::now() - start;
    done = true;
  });

  int served = 0;
  std::chrono::milliseconds slowest{0};
  for (int i = 0; i < 100 && !done; ++i) {  // about 20 s at most
    const auto latency = TimedHealth(tokend->port());
    EXPECT_TRUE(latency.has_value()) << "a normal client was not served";
    if (latency) {
      ++served;
      slowest = std::max(slowest, *latency);
    }
    std::this_thread::sleep_for(200ms);
  }
  slow.join();

  EXPECT_GE(served, 20);
  EXPECT_LT(slowest, 1000ms);
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 408") << answer;
  EXPECT_NE(answer.find("\"code\":9012"), std::string::npos) << answer;
  EXPECT_GE(cut_after, 9s);
  EXPECT_LE(cut_after, 14s);
  ExpectHealthy(tokend->port(), "slowloris");
}

// Many connections that never send a byte do not delay a new client.
TEST(HostileInputTest, SilentConnectionsDoNotBlockNewClients) {
  TempDir dir;
  auto tokend = TokendProcess::Start(ServeArgs(dir, "off"));
  ASSERT_NE(tokend, nullptr);

  std::vector<std::unique_ptr<RawSocket>> silent;
  for (int i = 0; i < 200; ++i) {
    silent.push_back(std::make_unique<RawSocket>(tokend->port()));
    ASSERT_TRUE(silent.back()->connected()) << i;
  }
  std::this_thread::sleep_for(200ms);

  for (int i = 0; i < 5; ++i) {
    const auto latency = TimedHealth(tokend->port());
    ASSERT_TRUE(latency.has_value());
    EXPECT_LT(*latency, 1000ms);
  }
  TestClient client(tokend->port());
  auto created = CreateToken(client, "", kValid);
  EXPECT_TRUE(created.has_value());
  auto page = client.Request("GET", "/api/v2/token/query");
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->status, 200);

  // The silent ones are still open (the header timeout has not passed), and
  // closing them all at once leaves the server healthy.
  EXPECT_FALSE(silent.front()->Readable(0ms));
  silent.clear();
  ExpectHealthy(tokend->port(), "silent connections");
}

// Connections that arrive together on a fresh server, spread over its I/O
// threads, are all admitted: the first reading of the descriptor limit, made
// by one thread, is never seen half-done (a room of zero) by another.
TEST(HostileInputTest, ConnectionsArrivingTogetherAtStartAreAllAdmitted) {
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    TempDir dir;
    auto args = ServeArgs(dir, "off");
    args.insert(args.end(), {"--threads", "4"});
    auto tokend = TokendProcess::Start(args);
    ASSERT_NE(tokend, nullptr);

    // Four clients connect at once, so that the threads accept together.
    std::vector<std::unique_ptr<RawSocket>> waiting(64);
    std::vector<std::thread> clients;
    for (std::size_t client = 0; client < 4; ++client) {
      clients.emplace_back([&, client] {
        for (std::size_t i = client; i < waiting.size(); i += 4) {
          waiting[i] = std::make_unique<RawSocket>(tokend->port());
        }
      });
    }
    for (std::thread& client : clients) client.join();
    for (std::size_t i = 0; i < waiting.size(); ++i) ASSERT_TRUE(waiting[i]->connected()) << i;
    std::this_thread::sleep_for(300ms);
    for (std::size_t i = 0; i < waiting.size(); ++i) {
      EXPECT_FALSE(waiting[i]->Readable(0ms))
          << "connection " << i
          << " was answered before it sent a byte: " << waiting[i]->ReadToEnd(100ms);
    }
  }
}

// 50 bodies of 60 KiB on parallel connections: every one answered, the server
// healthy after.
TEST(HostileInputTest, FloodOfLargeBodiesIsAnswered) {
  TempDir dir;
  auto tokend = TokendProcess::Start(ServeArgs(dir, "off"));
  ASSERT_NE(tokend, nullptr);

  constexpr int kClients = 50;
  // Four unknown fields of 15,300 characters (each under the 16 KiB string
  // limit): about 60 KiB, under the 64 KiB body limit.
  std::string padding;
  for (int i = 0; i < 4; ++i) {
    padding += ",\"pad" + std::to_string(i) + "\":\"" + std::string(15300, 'x') + "\"";
  }
  std::atomic<int> ready{0};
  std::vector<int> statuses(kClients, 0);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      const std::string body = R"({"type":"team","name":"flood-)" + std::to_string(c) +
                               R"(","principal":"flood","permissions":["workflow/read"])" +
                               padding + "}";
      TestClient client(tokend->port());
      ready.fetch_add(1);
      for (int spin = 0; spin < 2000 && ready.load() < kClients; ++spin) {
        std::this_thread::sleep_for(1ms);
      }
      auto res = client.Request("POST", "/api/v2/token", JsonWithBearer(""), body, 30s);
      statuses[c] = res ? res->status : -1;
    });
  }
  for (auto& thread : clients) thread.join();

  for (int c = 0; c < kClients; ++c) EXPECT_EQ(statuses[c], 200) << "client " << c;
  ExpectHealthy(tokend->port(), "flood");
  TestClient client(tokend->port());
  auto page = client.Request("GET", "/api/v2/token/query?principals=flood&limit=1");
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->status, 200);
  EXPECT_EQ(ParseJson(page->body).at("totalElements").as_int64(), kClients);
}

}  // namespace
}  // namespace tokend::e2e
