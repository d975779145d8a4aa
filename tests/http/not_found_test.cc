// Not-found answers reveal nothing: GET and DELETE of an id outside the
// caller's scope, of a well-formed absent ObjectId and of a malformed id all
// answer the same 404 (9001), byte for byte apart from the timestamp, and no
// answer echoes the id.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "server_fixture.h"

namespace tokend::http::testing {
namespace {

constexpr std::string_view kNotFoundMessage =
    "No token with this id exists or is visible to the caller.";
constexpr std::string_view kIdPrefix = "/api/v2/token/";

// The body without its timestamp, which is all that may differ.
std::string WithoutTimestamp(const std::string& body) {
  static const std::regex timestamp(R"re("timestamp":"[^"]*")re");
  return std::regex_replace(body, timestamp, R"("timestamp":"")");
}

struct Id {
  std::string name;     // for failure messages
  std::string in_path;  // as written in the request target
};

// Ids that name no token for anyone: well-formed and absent, or malformed.
std::vector<Id> AbsentAndMalformedIds(std::size_t max_target_bytes) {
  const std::size_t longest = max_target_bytes - kIdPrefix.size();
  std::string escaped_long;
  while (escaped_long.size() + 3 <= longest) escaped_long += "%41";
  return {
      {"zero ObjectId", "000000000000000000000000"},
      {"all-f ObjectId", "ffffffffffffffffffffffff"},
      {"plausible ObjectId", "65f1a2b3c4d5e6f708192a3b"},
      {"ObjectId written with escapes", "%36%35f1a2b3c4d5e6f708192a3b"},
      {"short", "abc"},
      {"23 hex characters", "0123456789abcdef0123456"},
      {"25 hex characters", "0123456789abcdef012345678"},
      {"upper-case hex", "0123456789ABCDEF01234567"},
      {"not hex", "zzzzzzzzzzzzzzzzzzzzzzzz"},
      {"word", "tokens"},
      {"dot-dot", "%2e%2e"},
      {"NUL", "%00"},
      {"NUL inside an ObjectId", "0123456789ab%00cdef01234567"},
      {"CRLF and a header", "abc%0d%0aX-Injected:%20yes"},
      {"escape sequence", "%1b%5b31mred%1b%5b0m"},
      {"DEL", "%7f"},
      {"quote and brace", "%22%7d%2c%22code%22%3a200"},
      {"UTF-8", "%c3%a9t%c3%a9"},
      {"invalid UTF-8", "%ff%fe"},
      {"space and plus", "a%20b+c"},
      {"slash escaped", "a%2fb"},
      {"8 KB id", std::string(longest, 'a')},
      {"8 KB of escapes", escaped_long},
  };
}

class NotFoundTest : public ServerTest {
 protected:
  // One request's 404; its body without the timestamp.
  std::string NotFound(TestClient& client, std::string_view method, const Id& id,
                       const Headers& headers) {
    SCOPED_TRACE(std::string(method) + " " + id.name);
    auto res = client.Request(method, std::string(kIdPrefix) + id.in_path, headers);
    EXPECT_TRUE(res.has_value());
    if (!res) return {};
    EXPECT_EQ(res->status, 404) << res->body;
    EXPECT_EQ(res->Header("Content-Type"), "application/json");
    EXPECT_EQ(JsonField(res->body, "message"), kNotFoundMessage) << res->body;
    EXPECT_EQ(JsonField(res->body, "reason"), "TOKEN_NOT_FOUND") << res->body;
    EXPECT_NE(res->body.find("\"code\":9001,"), std::string::npos) << res->body;
    if (id.in_path.size() >= 8) {
      EXPECT_EQ(res->body.find(id.in_path), std::string::npos) << "the id is echoed";
    }
    EXPECT_EQ(res->body.find("X-Injected"), std::string::npos);
    EXPECT_FALSE(res->Header("X-Injected").has_value());
    return WithoutTimestamp(res->body);
  }
};

TEST_F(NotFoundTest, OutOfScopeAbsentAndMalformedIdsAnswerAlike) {
  ASSERT_NO_FATAL_FAILURE(StartServer(true));
  auto admin = Connect();
  const Created other_team = CreateToken(
      *admin, R"({"type":"team","name":"b","principal":"b","permissions":["token/read"]})");
  const Created user = CreateToken(
      *admin, R"({"type":"user","name":"u","principal":"u1","permissions":["token/read"]})");
  const Created scoped = CreateToken(
      *admin,
      R"({"type":"team","name":"a","principal":"a","permissions":["token/read","token/delete"]})");
  const Created deleted = CreateToken(
      *admin, R"({"type":"team","name":"gone","principal":"a","permissions":["token/read"]})");
  ASSERT_FALSE(scoped.secret.empty());
  auto self = admin->Request("GET", "/api/v2/token/self", Admin());
  ASSERT_TRUE(self);
  const std::string admin_id = JsonField(self->body, "id");
  ASSERT_EQ(admin_id.size(), 24u);
  auto removed = admin->Request("DELETE", "/api/v2/token/" + deleted.id, Admin());
  ASSERT_TRUE(removed);
  ASSERT_EQ(removed->status, 200);

  // Ids the scoped caller may not see: another team's, a user's, the admin's.
  const std::vector<Id> out_of_scope = {
      {"another team's token", other_team.id},
      {"a user's token", user.id},
      {"the global admin's token", admin_id},
  };
  std::vector<Id> absent = AbsentAndMalformedIds(8 * 1024);
  absent.push_back({"a deleted token", deleted.id});

  auto client = Connect();
  const Headers as_scoped = Bearer(scoped.secret);
  const std::string reference = NotFound(*client, "GET", absent.front(), Admin());
  ASSERT_FALSE(reference.empty());
  for (const char* method : {"GET", "DELETE"}) {
    for (const Id& id : out_of_scope) {
      EXPECT_EQ(NotFound(*client, method, id, as_scoped), reference)
          << method << " " << id.name << " as a scoped caller";
    }
    for (const Id& id : absent) {
      EXPECT_EQ(NotFound(*client, method, id, as_scoped), reference)
          << method << " " << id.name << " as a scoped caller";
      EXPECT_EQ(NotFound(*client, method, id, Admin()), reference)
          << method << " " << id.name << " as the admin";
    }
  }

  // Literal route names taken as ids where no literal route has the method.
  for (const char* word : {"self", "query", "introspect"}) {
    EXPECT_EQ(NotFound(*client, "DELETE", {word, word}, as_scoped), reference) << word;
  }
  EXPECT_EQ(NotFound(*client, "GET", {"introspect", "introspect"}, as_scoped), reference);

  // The scoped caller's deletions changed nothing it could not see.
  for (const Id& id : out_of_scope) {
    auto res = admin->Request("GET", "/api/v2/token/" + id.in_path, Admin());
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << id.name << " was deleted by a caller who cannot see it";
  }
}

TEST_F(NotFoundTest, AuthenticationOffAnswersAlike) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  auto client = Connect();
  const std::vector<Id> ids = AbsentAndMalformedIds(8 * 1024);
  const std::string reference = NotFound(*client, "GET", ids.front(), {});
  ASSERT_FALSE(reference.empty());
  for (const char* method : {"GET", "DELETE"}) {
    for (const Id& id : ids) {
      EXPECT_EQ(NotFound(*client, method, id, {}), reference) << method << " " << id.name;
    }
  }
}

// The answers are alike on the wire too: same status line, same header
// fields, same length.
TEST_F(NotFoundTest, HeadersAndLengthAreAlike) {
  ASSERT_NO_FATAL_FAILURE(StartServer(true));
  auto admin = Connect();
  const Created other_team = CreateToken(
      *admin, R"({"type":"team","name":"b","principal":"b","permissions":["token/read"]})");
  const Created scoped = CreateToken(
      *admin,
      R"({"type":"team","name":"a","principal":"a","permissions":["token/read","token/delete"]})");
  auto client = Connect();
  for (const char* method : {"GET", "DELETE"}) {
    std::vector<std::pair<std::string, std::string>> reference;
    for (const std::string& id : {other_team.id, std::string("000000000000000000000000"),
                                  std::string("%00"), std::string(2000, 'x')}) {
      auto res = client->Request(method, "/api/v2/token/" + id, Bearer(scoped.secret));
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, 404);
      // Every answer has its own request id; nothing else may differ.
      std::erase_if(res->headers, [](const auto& h) { return h.first == "X-Request-Id"; });
      if (reference.empty()) {
        reference = res->headers;
      } else {
        EXPECT_EQ(res->headers, reference) << method << " " << id.substr(0, 40);
      }
    }
  }
}

}  // namespace
}  // namespace tokend::http::testing
