// Where a credential comes from: the access_token query parameter is
// recognised by its decoded name (access%5Ftoken, %61ccess_token), alone or
// against a Bearer header; and with authentication off, GET
// /api/v2/token/self still needs a presented, valid token, and two different
// credentials are refused as with authentication required.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdio>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/secret.h"
#include "server_fixture.h"

namespace tokend::http::testing {
namespace {

int CodeOf(const HttpResponse& res) {
  const std::string code_field = "\"code\":";
  const auto at = res.body.find(code_field);
  if (at == std::string::npos) return 0;
  return std::stoi(res.body.substr(at + code_field.size()));
}

// Every byte as %XX.
std::string EscapeAll(std::string_view text) {
  std::string out;
  for (const unsigned char c : text) {
    char escaped[4];
    std::snprintf(escaped, sizeof escaped, "%%%02X", c);
    out += escaped;
  }
  return out;
}

// Spellings of the parameter name "access_token" in a query string.
const std::vector<std::string>& EncodedNames() {
  static const std::vector<std::string> names = {
      "access%5Ftoken", "access%5ftoken", "%61ccess_token",          "%61ccess%5Ftoken",
      "acces%73_token", "access_toke%6E", EscapeAll("access_token"),
  };
  return names;
}

class CredentialsTest : public ServerTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartServer(true));
    auto client = Connect();
    reader_ = CreateToken(
        *client, R"({"type":"team","name":"r","principal":"t1","permissions":["token/read"]})");
    ASSERT_FALSE(reader_.secret.empty());
  }

  Created reader_;
};

TEST_F(CredentialsTest, EncodedAccessTokenNameIsTheCredential) {
  for (const std::string& name : EncodedNames()) {
    SCOPED_TRACE(name);
    for (const std::string& value : {reader_.secret, EscapeAll(reader_.secret)}) {
      auto client = Connect();
      // Alone, it authenticates: /self names the presented token.
      auto res = client->Request("GET", "/api/v2/token/self?" + name + "=" + value);
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, 200) << res->body;
      EXPECT_EQ(JsonField(res->body, "id"), reader_.id) << res->body;
      // Among other parameters, on another route.
      res = client->Request("GET", "/api/v2/token/query?limit=1&" + name + "=" + value + "&page=0");
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, 200) << res->body;
      // Its holder's permissions apply: token/read grants no create.
      res = client->Request("POST", "/api/v2/token?" + name + "=" + value,
                            {{"Content-Type", "application/json"}}, "{}");
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, 403) << res->body;
    }
    // An unusable secret under that name is refused, not ignored.
    auto client = Connect();
    const std::string unknown = core::GenerateSecret(core::TokenType::kTeam);
    for (const std::string& secret : {unknown, std::string("nonsense")}) {
      auto res = client->Request("GET", "/api/v2/token/self?" + name + "=" + secret);
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, 401) << res->body;
      EXPECT_EQ(CodeOf(*res), 9008) << res->body;
      EXPECT_EQ(res->body.find(secret), std::string::npos) << "the secret is echoed";
    }
  }
}

TEST_F(CredentialsTest, EncodedAccessTokenNameAgainstADifferentBearerIs400) {
  for (const std::string& name : EncodedNames()) {
    SCOPED_TRACE(name);
    auto client = Connect();
    // The header and the parameter name two different valid tokens, either way round.
    for (const auto& [header, parameter] :
         {std::pair{admin_secret(), reader_.secret}, std::pair{reader_.secret, admin_secret()}}) {
      for (const char* target : {"/api/v2/token/self", "/api/v2/token/query"}) {
        auto res = client->Request("GET", std::string(target) + "?" + name + "=" + parameter,
                                   Bearer(header));
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 400) << target << ": " << res->body;
        EXPECT_EQ(CodeOf(*res), 1001) << res->body;
        EXPECT_EQ(res->body.find(header), std::string::npos) << "a secret is echoed";
        EXPECT_EQ(res->body.find(parameter), std::string::npos) << "a secret is echoed";
      }
    }
    // A valid header against an unknown or malformed parameter.
    for (const std::string& parameter :
         {core::GenerateSecret(core::TokenType::kGlobal), std::string("bfg_other")}) {
      auto res = client->Request("GET", "/api/v2/token/query?" + name + "=" + parameter, Admin());
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, 400) << res->body;
    }
    // The same token both ways is one credential.
    auto res = client->Request("GET", "/api/v2/token/self?" + name + "=" + reader_.secret,
                               Bearer(reader_.secret));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(JsonField(res->body, "id"), reader_.id);
    // An empty one counts as absent.
    res = client->Request("GET", "/api/v2/token/self?" + name + "=", Bearer(reader_.secret));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
  }
}

TEST_F(CredentialsTest, PlainAndEncodedNamesWithDifferentTokensAre400) {
  auto client = Connect();
  for (const std::string& name : EncodedNames()) {
    auto res = client->Request("GET", "/api/v2/token/self?access_token=" + reader_.secret + "&" +
                                          name + "=" + admin_secret());
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << name << ": " << res->body;
    EXPECT_EQ(CodeOf(*res), 1001) << res->body;
    res = client->Request("GET", "/api/v2/token/self?access_token=" + reader_.secret + "&" + name +
                                     "=" + reader_.secret);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << name << ": " << res->body;
  }
}

// An empty occurrence counts as absent beside a real one, in either order,
// on the API and on the forward-auth check (its own query and the original URI's).
TEST_F(CredentialsTest, AnEmptyAccessTokenBesideAnotherCountsAsAbsent) {
  auto client = Connect();
  for (const std::string& query :
       {"access_token=" + reader_.secret + "&access_token=",
        "access_token=&access_token=" + reader_.secret,
        "access_token=&access_token=" + reader_.secret + "&access_token"}) {
    SCOPED_TRACE(query);
    auto res = client->Request("GET", "/api/v2/token/self?" + query);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(JsonField(res->body, "id"), reader_.id) << res->body;
    res = client->Request("GET", "/api/v2/token/check?" + query);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 204) << res->body;
    res = client->Request("GET", "/api/v2/token/check", {{"X-Original-URI", "/app?" + query}});
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 204) << res->body;
  }
}

// A secret sent where no secret belongs is never part of the answer, in the
// body (the error message) or in a header (the request id passed back).
TEST_F(CredentialsTest, ASecretInAnyOtherPlaceIsNeverEchoed) {
  const std::string secret = reader_.secret;
  const std::string legacy = "bft_0f8fad5b-d9cb-469f-a165-70867728950e";
  auto client = Connect();
  for (const std::string& value : {secret, legacy, "team," + secret, secret + "/read"}) {
    SCOPED_TRACE(value);
    std::vector<std::tuple<std::string, std::string, std::string>> requests;
    for (const char* parameter : {"types", "sort", "order", "limit", "page", "fromDate",
                                  "lastUsedBefore", "lifetimeBeyondPolicy"}) {
      requests.emplace_back("GET", "/api/v2/token/query?" + std::string(parameter) + "=" + value,
                            "");
    }
    requests.emplace_back("GET", "/api/v2/token/audit?actions=" + value, "");
    for (const char* field : {"type", "role", "expirationDate"}) {
      requests.emplace_back(
          "POST", "/api/v2/token",
          R"({"type":"team","name":"n","principal":"t1","permissions":["token/read"],")" +
              std::string(field) + R"(":")" + value + R"("})");
    }
    requests.emplace_back(
        "POST", "/api/v2/token",
        R"({"type":"team","name":"n","principal":"t1","permissions":[")" + value + R"("]})");
    requests.emplace_back("POST", "/api/v2/token/" + reader_.id + "/rotate",
                          R"({"expirationDate":")" + value + R"("})");
    for (const auto& [method, target, body] : requests) {
      Headers headers = Admin();
      headers.emplace_back("X-Request-Id", value);
      if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
      auto res = client->Request(method, target, headers, body);
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, 400) << target << " " << body << ": " << res->body;
      for (const std::string& shown : {secret, legacy}) {
        EXPECT_EQ(res->body.find(shown), std::string::npos) << target << ": " << res->body;
        EXPECT_NE(res->Header("X-Request-Id"), shown);
      }
    }
  }
}

// Names are decoded once: a doubly encoded name is some other parameter.
// Two Authorization fields are refused (400), whichever comes first and
// whatever either holds.
TEST_F(CredentialsTest, ARepeatedAuthorizationHeaderIsRefused) {
  auto client = Connect();
  const std::string bearer = "Bearer " + reader_.secret;
  const std::vector<std::tuple<std::string, std::string, int>> cases = {
      {bearer, bearer, 400}, {bearer, "Basic abc", 400}, {"Basic abc", bearer, 400},
      {"", bearer, 400},     {bearer, "", 400},          {"Basic abc", "Basic def", 400},
  };
  for (const auto& [first, second, status] : cases) {
    auto res = client->Request("GET", "/api/v2/token/query",
                               {{"Authorization", first}, {"authorization", second}});
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, status) << first << " then " << second << ": " << res->body;
    EXPECT_EQ(CodeOf(*res), 9015) << res->body;
  }
  auto once = client->Request("GET", "/api/v2/token/query", {{"authorization", bearer}});
  ASSERT_TRUE(once);
  EXPECT_EQ(once->status, 200) << once->body;
}

TEST_F(CredentialsTest, DoublyEncodedNameIsNoCredential) {
  auto client = Connect();
  for (const std::string& name : {std::string("access%255Ftoken"), std::string("%2561ccess_token"),
                                  std::string("access_token%00")}) {
    auto res = client->Request("GET", "/api/v2/token/self?" + name + "=" + reader_.secret);
    ASSERT_TRUE(res);
    EXPECT_TRUE(res->status == 401 || res->status == 400) << name << ": " << res->body;
    EXPECT_NE(res->status, 200) << name;
  }
  auto res =
      client->Request("GET", "/api/v2/token/self?access%255Ftoken=" + reader_.secret, Admin());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_NE(JsonField(res->body, "id"), reader_.id) << "the doubly encoded name was taken";
}

// Another token in access_token is a second credential even when some other
// parameter of the query string cannot be decoded: the request is refused,
// never answered for the header's token alone.
TEST_F(CredentialsTest, DifferentAccessTokenBesideAMalformedParameterIs400) {
  auto admin = Connect();
  const Created victim = CreateToken(
      *admin, R"({"type":"team","name":"v","principal":"t1","permissions":["token/read"]})");
  ASSERT_FALSE(victim.id.empty());
  const std::vector<std::string> queries = {
      "access_token=" + reader_.secret + "&x=%ZZ",   "x=%ZZ&access_token=" + reader_.secret,
      "access%5Ftoken=" + reader_.secret + "&x=%ZZ", "access_token=" + reader_.secret + "&x=%FF",
      "access_token=" + reader_.secret + "&x=a%00b", "access_token=" + reader_.secret + "&x=%",
  };
  auto client = Connect();
  Headers json = Admin();
  json.emplace_back("Content-Type", "application/json");
  for (const std::string& query : queries) {
    SCOPED_TRACE(query);
    const std::vector<std::tuple<std::string, std::string, Headers, std::string>> requests = {
        {"GET", "/api/v2/token/self", Admin(), ""},
        {"GET", "/api/v2/token/" + victim.id, Admin(), ""},
        {"GET", "/api/v2/token/query", Admin(), ""},
        {"POST", "/api/v2/token/introspect", json, R"({"token":")" + victim.secret + R"("})"},
        {"POST", "/api/v2/token", json,
         R"({"type":"team","name":"x","principal":"t1","permissions":["token/read"]})"},
        {"DELETE", "/api/v2/token/" + victim.id, Admin(), ""},
    };
    for (const auto& [method, path, headers, body] : requests) {
      auto res = client->Request(method, path + "?" + query, headers, body);
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, 400) << method << " " << path
                                  << " answered for the header's token: " << res->body;
      EXPECT_EQ(res->body.find(reader_.secret), std::string::npos) << "a secret is echoed";
    }
  }
  auto res = admin->Request("GET", "/api/v2/token/" + victim.id, Admin());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << "a DELETE carrying two credentials was run";
}

// With --auth off every caller is unrestricted, but /self describes the
// presented token, so it needs one that is valid.
class AuthOffSelfTest : public ServerTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartServer(false));
    auto client = Connect();
    first_ = CreateToken(
        *client, R"({"type":"team","name":"one","principal":"t1","permissions":["token/read"]})");
    second_ = CreateToken(
        *client, R"({"type":"user","name":"two","principal":"u1","permissions":["token/read"]})");
    ASSERT_FALSE(first_.secret.empty());
    ASSERT_FALSE(second_.secret.empty());
  }

  Created first_;
  Created second_;
};

TEST_F(AuthOffSelfTest, AnswersThePresentedValidToken) {
  auto client = Connect();
  // Alternating on one connection: each request is answered for its own token.
  for (int round = 0; round < 2; ++round) {
    for (const Created* token : {&first_, &second_}) {
      auto res = client->Request("GET", "/api/v2/token/self", Bearer(token->secret));
      ASSERT_TRUE(res);
      EXPECT_EQ(res->status, 200) << res->body;
      EXPECT_EQ(JsonField(res->body, "id"), token->id) << res->body;
      EXPECT_EQ(res->body.find(token->secret), std::string::npos) << "the secret is echoed";
    }
  }
  for (const std::string& query :
       {"access_token=" + second_.secret, "access%5Ftoken=" + second_.secret,
        "%61ccess_token=" + EscapeAll(second_.secret)}) {
    auto res = client->Request("GET", "/api/v2/token/self?" + query);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << query << ": " << res->body;
    EXPECT_EQ(JsonField(res->body, "id"), second_.id) << query;
  }
  auto res = client->Request("GET", "/api/v2/token/self",
                             {{"Authorization", "bearer   " + first_.secret}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(JsonField(res->body, "id"), first_.id);
}

// A change made with a valid token under --auth off names that token as
// its actor; without one, the event has none.
TEST_F(AuthOffSelfTest, TheActorOfAChangeIsThePresentedValidToken) {
  auto client = Connect();
  const auto create = [&client](std::string_view name, Headers headers) {
    headers.emplace_back("Content-Type", "application/json");
    auto res = client->Request("POST", "/api/v2/token", headers,
                               R"({"type":"team","name":")" + std::string(name) +
                                   R"(","principal":"t1","permissions":["token/read"]})");
    EXPECT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
    return res ? JsonField(res->body, "id") : std::string();
  };
  const std::string with = create("with", Bearer(first_.secret));
  const std::string without = create("without", {});
  auto res = client->Request("GET", "/api/v2/token/audit?actions=token.created");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const boost::json::value page = boost::json::parse(res->body);
  int seen = 0;
  for (const boost::json::value& event : page.at("content").as_array()) {
    const boost::json::object& object = event.as_object();
    const auto id = object.at("subject").at("id").as_string();
    if (id == with) {
      ++seen;
      ASSERT_TRUE(object.contains("actor")) << event;
      EXPECT_EQ(object.at("actor").at("id").as_string(), first_.id) << event;
      EXPECT_EQ(object.at("actor").at("principal").as_string(), "t1") << event;
    } else if (id == without) {
      ++seen;
      EXPECT_FALSE(object.contains("actor")) << event;
    }
  }
  EXPECT_EQ(seen, 2) << res->body;
}

// Two different credentials in one request are refused as with
// authentication required: which one was meant cannot be known.
TEST_F(AuthOffSelfTest, ConflictingCredentialsAre400AsWithAuthRequired) {
  auto client = Connect();
  const std::string first = "Bearer " + first_.secret;
  const std::string second = "Bearer " + second_.secret;
  struct Case {
    std::string name;
    std::string query;
    Headers headers;
    int code;
  };
  const std::vector<Case> cases = {
      {"two Authorization fields", "", {{"Authorization", first}, {"Authorization", second}}, 9015},
      {"the same Authorization twice",
       "",
       {{"Authorization", first}, {"authorization", first}},
       9015},
      {"a valid and a malformed Authorization",
       "",
       {{"Authorization", first}, {"Authorization", "Basic abc"}},
       9015},
      {"header and parameter", "access_token=" + second_.secret, {{"Authorization", first}}, 1001},
      {"header and encoded parameter",
       "access%5Ftoken=" + second_.secret,
       {{"Authorization", first}},
       1001},
      {"two parameters",
       "access_token=" + first_.secret + "&access_token=" + second_.secret,
       {},
       1001},
      {"a malformed parameter", "access_token=%ZZ", {}, 1001},
  };
  for (const Case& c : cases) {
    for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
             {"GET", "/api/v2/token/query"},
             {"GET", "/api/v2/token/self"},
             {"DELETE", "/api/v2/token/" + first_.id}}) {
      const std::string target = c.query.empty() ? path : path + "?" + c.query;
      auto res = client->Request(method, target, c.headers);
      ASSERT_TRUE(res) << c.name;
      EXPECT_EQ(res->status, 400) << c.name << ": " << method << " " << path << ": " << res->body;
      EXPECT_EQ(CodeOf(*res), c.code) << c.name << ": " << res->body;
    }
  }
  auto kept = client->Request("GET", "/api/v2/token/" + first_.id);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->status, 200) << "a DELETE carrying two credentials was run";
  // One token given both ways is one credential.
  auto res = client->Request("GET", "/api/v2/token/self?access_token=" + first_.secret,
                             {{"Authorization", first}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(JsonField(res->body, "id"), first_.id);
}

TEST_F(AuthOffSelfTest, NoOrAnInvalidTokenIs401) {
  auto client = Connect();
  const Created deleted = CreateToken(
      *client, R"({"type":"team","name":"gone","principal":"t1","permissions":["token/read"]})");
  auto removed = client->Request("DELETE", "/api/v2/token/" + deleted.id);
  ASSERT_TRUE(removed);
  ASSERT_EQ(removed->status, 200);

  std::string mistyped = first_.secret;
  mistyped.back() = mistyped.back() == 'A' ? 'B' : 'A';
  const std::vector<std::pair<std::string, Headers>> requests = {
      {"no token", {}},
      {"malformed", Bearer("nonsense")},
      {"a bad checksum", Bearer(mistyped)},
      {"unknown, well-formed", Bearer(core::GenerateSecret(core::TokenType::kTeam))},
      {"unknown, legacy form", Bearer("bft_0d8e2a1c-5b7f-4c3e-9a1d-2f6b8c4e7a90")},
      {"deleted", Bearer(deleted.secret)},
      {"a valid token with a suffix", Bearer(first_.secret + "x")},
      {"not a Bearer header", {{"Authorization", "Basic " + first_.secret}}},
      {"an empty Bearer header", {{"Authorization", "Bearer"}}},
  };
  for (const auto& [name, headers] : requests) {
    auto res = client->Request("GET", "/api/v2/token/self", headers);
    ASSERT_TRUE(res) << name;
    EXPECT_EQ(res->status, 401) << name << ": " << res->body;
    EXPECT_EQ(CodeOf(*res), 9008) << name << ": " << res->body;
    EXPECT_EQ(res->Header("WWW-Authenticate").value_or("").substr(0, 6), "Bearer") << name;
  }
  for (const std::string& query :
       {std::string("access_token="), "access_token=" + deleted.secret,
        std::string("access%5Ftoken=nonsense"),
        "access_token=" + core::GenerateSecret(core::TokenType::kUser)}) {
    auto res = client->Request("GET", "/api/v2/token/self?" + query);
    ASSERT_TRUE(res) << query;
    EXPECT_EQ(res->status, 401) << query << ": " << res->body;
  }
  // A token used on a connection, then deleted, no longer names a self.
  const Created used = CreateToken(
      *client, R"({"type":"team","name":"used","principal":"t1","permissions":["token/read"]})");
  auto res = client->Request("GET", "/api/v2/token/self", Bearer(used.secret));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  removed = client->Request("DELETE", "/api/v2/token/" + used.id);
  ASSERT_TRUE(removed);
  ASSERT_EQ(removed->status, 200);
  res = client->Request("GET", "/api/v2/token/self", Bearer(used.secret));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401) << res->body;
  // The other routes stay open to everyone, whatever is presented.
  for (const auto& [name, headers] : requests) {
    auto res = client->Request("GET", "/api/v2/token/query?limit=1", headers);
    ASSERT_TRUE(res) << name;
    EXPECT_EQ(res->status, 200) << name << ": " << res->body;
  }
}

}  // namespace
}  // namespace tokend::http::testing
