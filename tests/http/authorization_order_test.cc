// Authorization before validation, on every route: a caller who may not use
// a route at all gets 403 (9009) whatever is wrong with the request, and the
// 403s it gets are all alike, so it learns nothing about what would have
// been wrong. Callers who may use the route get the 400/415 as a control.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "server_fixture.h"

namespace tokend::http::testing {
namespace {

using namespace std::string_literals;

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kForm = "application/x-www-form-urlencoded";

std::string WithoutTimestamp(const std::string& body) {
  static const std::regex timestamp(R"re("timestamp":"[^"]*")re");
  return std::regex_replace(body, timestamp, R"("timestamp":"")");
}

int CodeOf(const HttpResponse& res) {
  const std::string code_field = "\"code\":";
  const auto at = res.body.find(code_field);
  if (at == std::string::npos) return 0;
  return std::stoi(res.body.substr(at + code_field.size()));
}

// A request body and its Content-Type (none when empty).
struct Body {
  std::string name;
  std::string content_type;
  std::string text;
};

std::vector<Body> BadCreateBodies() {
  return {
      {"invalid JSON", std::string(kJson), "{"},
      {"empty body", std::string(kJson), ""},
      {"empty body, no Content-Type", "", ""},
      {"wrong Content-Type", "text/plain",
       R"({"type":"team","name":"x","principal":"t1","permissions":["token/read"]})"},
      {"form Content-Type", std::string(kForm), "type=team&name=x"},
      {"no Content-Type", "",
       R"({"type":"team","name":"x","principal":"t1","permissions":["token/read"]})"},
      {"garbage Content-Type", ";;;", "{}"},
      {"not an object", std::string(kJson), "[]"},
      {"empty object", std::string(kJson), "{}"},
      {"session type", std::string(kJson),
       R"({"type":"session","name":"x","principal":"u1","permissions":["token/read"]})"},
      {"bad permission", std::string(kJson),
       R"({"type":"team","name":"x","principal":"t1","permissions":["token/fly"]})"},
      {"unknown role", std::string(kJson),
       R"({"type":"team","name":"x","principal":"t1","role":"king"})"},
      {"wrong field type", std::string(kJson), R"({"type":"team","name":5})"},
      {"past expiration", std::string(kJson),
       R"({"type":"team","name":"x","principal":"t1","permissions":["token/read"],)"
       R"("expirationDate":1})"},
      {"deep nesting", std::string(kJson), std::string(100, '[') + std::string(100, ']')},
      {"invalid UTF-8", std::string(kJson), "{\"type\":\"team\",\"name\":\"\xff\"}"},
      {"NUL in JSON", std::string(kJson), "{\"name\":\"a\0b\"}"s},
      {"string over the limit", std::string(kJson),
       R"({"type":"team","name":")" + std::string(17000, 'a') + R"("})"},
      {"valid request", std::string(kJson),
       R"({"type":"team","name":"x","principal":"t1","permissions":["token/read"]})"},
  };
}

std::vector<Body> BadIntrospectBodies(const std::string& secret) {
  return {
      {"valid JSON", std::string(kJson), R"({"token":")" + secret + R"("})"},
      {"valid form", std::string(kForm), "token=" + secret},
      {"invalid JSON", std::string(kJson), "{"},
      {"empty JSON body", std::string(kJson), ""},
      {"empty form body", std::string(kForm), ""},
      {"no Content-Type", "", R"({"token":")" + secret + R"("})"},
      {"wrong Content-Type", "text/plain", "token=" + secret},
      {"token of the wrong type", std::string(kJson), R"({"token":5})"},
      {"no token field", std::string(kJson), R"({"other":"x"})"},
      {"form without token", std::string(kForm), "other=1"},
      {"form with a bad escape", std::string(kForm), "token=%ZZ"},
      {"form with two tokens", std::string(kForm), "token=a&token=b"},
      {"invalid UTF-8", std::string(kJson), "{\"token\":\"\xff\"}"},
  };
}

std::vector<std::string> BadQueries() {
  return {
      "limit=abc",
      "limit=0",
      "limit=1001",
      "page=-1&limit=1",
      "order=sideways",
      "sort=secret",
      "types=bogus",
      "types=Team",
      "fromDate=2&toDate=1",
      "fromDate=x",
      "limit=1&limit=2",
      "principals=%ZZ",
      "principals=%FF",
      "principals=a%00b",
      "order=%",
      "limit=99999999999999999999",
      "",
      "limit=5",
  };
}

class AuthorizationOrderTest : public ServerTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartServer(true));
    auto client = Connect();
    reader_ = CreateToken(
        *client, R"({"type":"team","name":"r","principal":"t1","permissions":["token/read"]})");
    workflow_ = CreateToken(
        *client, R"({"type":"team","name":"w","principal":"t1","permissions":["workflow/read"]})");
    ASSERT_FALSE(reader_.secret.empty());
    ASSERT_FALSE(workflow_.secret.empty());
  }

  static Headers With(const std::string& secret, const std::string& content_type) {
    Headers headers = Bearer(secret);
    if (!content_type.empty()) headers.emplace_back("Content-Type", content_type);
    return headers;
  }

  // Sends the request and expects 403 (9009); the body without its
  // timestamp, which must be the same as `*first` (set by the first call).
  void ExpectForbidden(TestClient& client, std::string_view method, const std::string& target,
                       const Headers& headers, const std::string& body, std::string* first,
                       const std::string& context) {
    SCOPED_TRACE(context);
    auto res = client.Request(method, target, headers, body);
    ASSERT_TRUE(res.has_value());
    EXPECT_EQ(res->status, 403) << res->body;
    EXPECT_EQ(CodeOf(*res), 9009) << res->body;
    const std::string normalized = WithoutTimestamp(res->body);
    if (first->empty()) {
      *first = normalized;
    } else {
      EXPECT_EQ(normalized, *first) << "403 answers differ with what was wrong";
    }
  }

  Created reader_;
  Created workflow_;
};

TEST_F(AuthorizationOrderTest, CreateWithoutTokenWriteIs403WhateverTheBody) {
  for (const Created* caller : {&reader_, &workflow_}) {
    std::string first;
    auto client = Connect();
    for (const Body& body : BadCreateBodies()) {
      ExpectForbidden(
          *client, "POST", "/api/v2/token", With(caller->secret, body.content_type), body.text,
          &first,
          (caller == &reader_ ? "token/read caller, " : "workflow/read caller, ") + body.name);
    }
    // On a fresh connection too (the bearer not remembered).
    for (const Body& body : BadCreateBodies()) {
      auto fresh = Connect();
      ExpectForbidden(*fresh, "POST", "/api/v2/token", With(caller->secret, body.content_type),
                      body.text, &first, "fresh connection, " + body.name);
    }
    // Credentials in the query string instead of the header.
    for (const Body& body : BadCreateBodies()) {
      Headers headers;
      if (!body.content_type.empty()) headers.emplace_back("Content-Type", body.content_type);
      ExpectForbidden(*client, "POST", "/api/v2/token?access_token=" + caller->secret, headers,
                      body.text, &first, "access_token, " + body.name);
    }
  }
  // Control: the admin gets the validation errors.
  auto client = Connect();
  for (const Body& body : BadCreateBodies()) {
    if (body.name == "valid request") continue;
    auto res = client->Request("POST", "/api/v2/token", With(admin_secret(), body.content_type),
                               body.text);
    ASSERT_TRUE(res);
    EXPECT_TRUE(res->status == 400 || res->status == 415) << body.name << ": " << res->body;
  }
}

TEST_F(AuthorizationOrderTest, IntrospectWithoutTokenReadIs403WhateverTheBody) {
  std::string first;
  auto client = Connect();
  for (const std::string& secret : {reader_.secret, admin_secret(), std::string("nonsense")}) {
    for (const Body& body : BadIntrospectBodies(secret)) {
      ExpectForbidden(*client, "POST", "/api/v2/token/introspect",
                      With(workflow_.secret, body.content_type), body.text, &first, body.name);
    }
  }
  // Control: the reader gets the validation errors.
  for (const Body& body : BadIntrospectBodies(reader_.secret)) {
    if (body.name.rfind("valid", 0) == 0) continue;
    auto res = client->Request("POST", "/api/v2/token/introspect",
                               With(reader_.secret, body.content_type), body.text);
    ASSERT_TRUE(res);
    EXPECT_TRUE(res->status == 400 || res->status == 415) << body.name << ": " << res->body;
  }
}

TEST_F(AuthorizationOrderTest, QueryWithoutTokenReadIs403BeforeItsParameters) {
  std::string first;
  auto client = Connect();
  for (const std::string& query : BadQueries()) {
    ExpectForbidden(*client, "GET", "/api/v2/token/query?" + query, Bearer(workflow_.secret), "",
                    &first, "query " + query);
  }
  // Control: the reader gets 400 for every malformed one.
  for (const std::string& query : BadQueries()) {
    if (query.empty() || query == "limit=5") continue;
    auto res = client->Request("GET", "/api/v2/token/query?" + query, Bearer(reader_.secret));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << query << ": " << res->body;
  }
}

TEST_F(AuthorizationOrderTest, GetAndDeleteWithoutThePermissionAre403WhateverTheId) {
  const std::vector<std::string> ids = {
      reader_.id,   "000000000000000000000000", "abc", "0123456789ABCDEF01234567", "%00",
      "abc%0d%0ax", std::string(4000, 'a'),
  };
  std::string get_first;
  std::string delete_first;
  auto client = Connect();
  for (const std::string& id : ids) {
    // workflow/read holds no token/read; token/read holds no token/delete.
    ExpectForbidden(*client, "GET", "/api/v2/token/" + id, Bearer(workflow_.secret), "", &get_first,
                    "GET " + id.substr(0, 30));
    ExpectForbidden(*client, "DELETE", "/api/v2/token/" + id, Bearer(reader_.secret), "",
                    &delete_first, "DELETE " + id.substr(0, 30));
    ExpectForbidden(*client, "DELETE", "/api/v2/token/" + id, Bearer(workflow_.secret), "",
                    &delete_first, "DELETE as workflow/read " + id.substr(0, 30));
  }
  auto res = client->Request("GET", "/api/v2/token/" + reader_.id, Admin());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << "a refused DELETE deleted the token";
}

}  // namespace
}  // namespace tokend::http::testing
