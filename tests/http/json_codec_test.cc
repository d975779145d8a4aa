#include "http/json_codec.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace tokend::http {
namespace {

namespace json = boost::json;

using core::ApiError;
using core::StatusCode;

constexpr std::string_view kBoomerangText =
    "Invalid Token request. Token type, name, and permissions are required. Principal is "
    "required for all but Global types.";

// 2026-03-01T05:00:00.000Z
constexpr core::EpochMillis kMarch1 = 1772341200000;

json::value ParseBack(const std::string& text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  EXPECT_FALSE(ec) << "not valid JSON: " << text;
  return value;
}

std::vector<std::string> KeysOf(const json::object& object) {
  std::vector<std::string> keys;
  for (const auto& member : object) keys.emplace_back(member.key());
  return keys;
}

core::CreateTokenRequest ParseOk(std::string_view body) {
  auto result = ParseCreateTokenRequest(body);
  EXPECT_TRUE(result.ok()) << body << " -> " << result.status().ToString();
  return result.ok() ? *result : core::CreateTokenRequest{};
}

core::Status ParseError(std::string_view body) {
  auto result = ParseCreateTokenRequest(body);
  EXPECT_FALSE(result.ok()) << body;
  return result.status();
}

void ExpectRequestInvalid(std::string_view body) {
  const core::Status status = ParseError(body);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << body;
  EXPECT_EQ(status.api_error(), ApiError::kRequestInvalidParams) << body;
}

void ExpectTokenInvalid(std::string_view body, std::string_view field) {
  const core::Status status = ParseError(body);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << body;
  EXPECT_EQ(status.api_error(), ApiError::kTokenInvalidRequest) << body;
  EXPECT_EQ(status.message().rfind(kBoomerangText, 0), 0u) << status.message();
  EXPECT_NE(status.message().find(field), std::string::npos) << status.message();
}

core::Token SampleToken() {
  core::Token token;
  token.id = "65e1a2b3c4d5e6f708192a3b";
  token.type = core::TokenType::kTeam;
  token.name = "deploy bot";
  token.description = "CI";
  token.principal = "team-42";
  token.creation_date = kMarch1;
  token.expiration_date = kMarch1 + 86'400'000;
  token.actions = {"workflow/read", "workflow/action"};
  token.secret_hash = std::string(64, 'a');
  return token;
}

// ---------------------------------------------------------------------------
// ParseCreateTokenRequest

TEST(ParseCreateTokenRequestTest, ReadsEveryField) {
  const auto request = ParseOk(R"({"type":"team","name":"deploy","principal":"team-1",
      "description":"d","expirationDate":1772341200000,
      "permissions":["workflow/read","team/**"],"role":"editor"})");
  EXPECT_EQ(request.type, "team");
  EXPECT_EQ(request.name, "deploy");
  EXPECT_EQ(request.principal, "team-1");
  EXPECT_FALSE(request.principal_not_a_string);
  EXPECT_EQ(request.description, "d");
  EXPECT_EQ(request.expiration_date, kMarch1);
  ASSERT_TRUE(request.permissions.has_value());
  EXPECT_EQ(*request.permissions, (std::vector<std::string>{"workflow/read", "team/**"}));
  EXPECT_EQ(request.role, "editor");
}

TEST(ParseCreateTokenRequestTest, EmptyObjectLeavesEverythingAbsent) {
  const auto request = ParseOk("{}");
  EXPECT_FALSE(request.type);
  EXPECT_FALSE(request.name);
  EXPECT_FALSE(request.principal);
  EXPECT_FALSE(request.principal_not_a_string);
  EXPECT_FALSE(request.description);
  EXPECT_FALSE(request.expiration_date);
  EXPECT_FALSE(request.permissions);
  EXPECT_FALSE(request.role);
}

TEST(ParseCreateTokenRequestTest, NullMeansAbsent) {
  const auto request = ParseOk(R"({"type":null,"name":null,"principal":null,
      "description":null,"expirationDate":null,"permissions":null,"role":null})");
  EXPECT_FALSE(request.type);
  EXPECT_FALSE(request.name);
  EXPECT_FALSE(request.principal);
  EXPECT_FALSE(request.principal_not_a_string);
  EXPECT_FALSE(request.description);
  EXPECT_FALSE(request.expiration_date);
  EXPECT_FALSE(request.permissions);
  EXPECT_FALSE(request.role);
}

TEST(ParseCreateTokenRequestTest, EmptyStringsAreKept) {
  const auto request = ParseOk(R"({"name":"","description":"","principal":""})");
  EXPECT_EQ(request.name, "");
  EXPECT_EQ(request.description, "");
  EXPECT_EQ(request.principal, "");
}

TEST(ParseCreateTokenRequestTest, StringFieldOfWrongTypeIs1010NamingFieldAndType) {
  const std::vector<std::pair<std::string, std::string>> wrong = {
      {"5", "number"}, {"-1.5", "number"}, {"true", "boolean"},
      {"[]", "array"}, {"{}", "object"},   {"[\"a\"]", "array"},
  };
  for (const std::string field : {"type", "name", "description", "role"}) {
    for (const auto& [value, kind] : wrong) {
      const std::string body = "{\"" + field + "\":" + value + "}";
      ExpectTokenInvalid(body, "'" + field + "'");
      EXPECT_NE(ParseError(body).message().find(kind), std::string::npos) << body;
    }
  }
}

TEST(ParseCreateTokenRequestTest, PrincipalOfAnyOtherTypeSetsTheFlag) {
  for (const std::string value :
       {"5", "1.5", "true", "false", "[]", "{}", "[\"x\"]", "{\"a\":1}", "18446744073709551615"}) {
    const auto request = ParseOk("{\"type\":\"global\",\"principal\":" + value + "}");
    EXPECT_TRUE(request.principal_not_a_string) << value;
    EXPECT_FALSE(request.principal) << value;
  }
  EXPECT_EQ(ParseOk(R"({"principal":"**"})").principal, "**");
}

TEST(ParseCreateTokenRequestTest, ExpirationDateForms) {
  EXPECT_EQ(ParseOk(R"({"expirationDate":1772341200000})").expiration_date, kMarch1);
  EXPECT_EQ(ParseOk(R"({"expirationDate":"1772341200000"})").expiration_date, kMarch1);
  EXPECT_EQ(ParseOk(R"({"expirationDate":"2026-03-01T05:00:00Z"})").expiration_date, kMarch1);
  EXPECT_EQ(ParseOk(R"({"expirationDate":"2026-03-01T05:00:00.123456+01:00"})").expiration_date,
            kMarch1 - 3'600'000 + 123);
  EXPECT_EQ(ParseOk(R"({"expirationDate":1772341200000.0})").expiration_date, kMarch1);
  EXPECT_EQ(ParseOk(R"({"expirationDate":1.7723412E12})").expiration_date, kMarch1);
  EXPECT_EQ(ParseOk(R"({"expirationDate":-5})").expiration_date, -5);
  EXPECT_EQ(ParseOk(R"({"expirationDate":0})").expiration_date, 0);
  EXPECT_FALSE(ParseOk(R"({"expirationDate":null})").expiration_date);
}

TEST(ParseCreateTokenRequestTest, ExpirationDateRejects) {
  for (const std::string value :
       {"1.5", "1e400", "-1e400", "99999999999999999999", "18446744073709551615",
        "9007199254740994.0", "1e20", "true", "[]", "{}", "\"\"", "\"tomorrow\"",
        "\"2026-13-01T00:00:00Z\"", "\"2026-03-01T05:00:00Zjunk\""}) {
    ExpectTokenInvalid("{\"expirationDate\":" + value + "}", "expirationDate");
  }
  const core::Status status = ParseError(R"({"expirationDate":"tomorrow"})");
  EXPECT_NE(status.message().find("is not a date"), std::string::npos) << status.message();
}

TEST(ParseCreateTokenRequestTest, ExpirationDateIsEchoedQuoted) {
  const core::Status status = ParseError(R"({"expirationDate":"tomorrow"})");
  EXPECT_EQ(status.message(), std::string(kBoomerangText) +
                                  " Field 'expirationDate' 'tomorrow' is not a date (expected "
                                  "epoch milliseconds or an ISO-8601 date-time).");
}

TEST(ParseCreateTokenRequestTest, ExpirationDateLongGarbageIsCut) {
  const std::string garbage(8192, '~');
  const core::Status status = ParseError("{\"expirationDate\":\"" + garbage + "\"}");
  EXPECT_EQ(status.api_error(), ApiError::kTokenInvalidRequest);
  EXPECT_NE(status.message().find("'" + std::string(64, '~') + "'... is not a date"),
            std::string::npos)
      << status.message();
  EXPECT_LT(status.message().size(), 512u);
}

TEST(ParseCreateTokenRequestTest, ExpirationDateControlCharactersAreEscaped) {
  const core::Status status =
      ParseError(R"({"expirationDate":"2026\n\r\t\u001b[0m\u0085\u2028\"'\\"})");
  const std::string& message = status.message();
  EXPECT_NE(message.find(R"('2026\n\r\t\u001B[0m\u0085\u2028\"\'\\')"), std::string::npos)
      << message;
  for (const char c : message) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << message;
}

TEST(ParseCreateTokenRequestTest, Permissions) {
  EXPECT_EQ(ParseOk(R"({"permissions":[]})").permissions, std::vector<std::string>{});
  EXPECT_FALSE(ParseOk(R"({"permissions":null})").permissions);
  ExpectTokenInvalid(R"({"permissions":"**/**"})", "'permissions'");
  ExpectTokenInvalid(R"({"permissions":{}})", "'permissions'");
  ExpectTokenInvalid(R"({"permissions":5})", "'permissions'");
  ExpectTokenInvalid(R"({"permissions":true})", "'permissions'");
  ExpectTokenInvalid(R"({"permissions":["a/read",5]})", "'permissions[1]'");
  ExpectTokenInvalid(R"({"permissions":[null]})", "'permissions[0]'");
  ExpectTokenInvalid(R"({"permissions":[["a/read"]]})", "'permissions[0]'");
}

TEST(ParseCreateTokenRequestTest, DuplicateKeyLastWins) {
  EXPECT_EQ(ParseOk(R"({"name":"a","name":"b"})").name, "b");
  EXPECT_EQ(ParseOk(R"({"name":5,"type":"team","name":"b"})").name, "b");
  EXPECT_FALSE(ParseOk(R"({"name":"a","name":null})").name);
  ExpectTokenInvalid(R"({"name":"a","name":5})", "'name'");
  const auto flagged = ParseOk(R"({"principal":"x","principal":5})");
  EXPECT_TRUE(flagged.principal_not_a_string);
  EXPECT_FALSE(flagged.principal);
  const auto cleared = ParseOk(R"({"principal":5,"principal":"x"})");
  EXPECT_FALSE(cleared.principal_not_a_string);
  EXPECT_EQ(cleared.principal, "x");
  EXPECT_EQ(ParseOk(R"({"permissions":["a/read"],"permissions":["b/read"]})").permissions,
            std::vector<std::string>{"b/read"});
}

TEST(ParseCreateTokenRequestTest, UnknownFieldsIgnored) {
  const auto request =
      ParseOk(R"({"name":"n","extra":{"deep":[1,2,{"x":null}]},"Name":5,"id":"x"})");
  EXPECT_EQ(request.name, "n");
}

TEST(ParseCreateTokenRequestTest, UnicodeEscapesDecoded) {
  const auto request = ParseOk(R"({"name":"caf\u00e9 \ud83d\ude00 \"q\""})");
  EXPECT_EQ(request.name, "caf\xC3\xA9 \xF0\x9F\x98\x80 \"q\"");
}

TEST(ParseCreateTokenRequestTest, BodyMustBeAnObject) {
  for (const std::string body : {"[]", "[{\"name\":\"a\"}]", "null", "5", "\"str\"", "true"}) {
    const core::Status status = ParseError(body);
    EXPECT_EQ(status.api_error(), ApiError::kRequestInvalidParams) << body;
    EXPECT_EQ(status.message(), "Request body must be a JSON object.") << body;
  }
}

TEST(ParseCreateTokenRequestTest, MalformedJsonIs1002WithoutEchoingTheBody) {
  for (const std::string body :
       {"", "   ", "{", "{\"name\":\"secret-value\"", "{\"name\" \"secret-value\"}",
        "{\"name\":\"secret-value\"} trailing", "{\"name\":'secret-value'}",
        "{\"name\":\"secret-value\",}", "{\"name\":NaN}", "{/*c*/}"}) {
    ExpectRequestInvalid(body);
    EXPECT_EQ(ParseError(body).message().find("secret-value"), std::string::npos) << body;
  }
  const core::Status status = ParseError("{\"name\" 1}");
  EXPECT_NE(status.message().find("byte 8"), std::string::npos) << status.message();
}

// Jackson, which Boomerang's clients were written against, skips one; a
// byte named in a message still counts from the first byte sent.
TEST(ParseCreateTokenRequestTest, OneLeadingByteOrderMarkIsSkipped) {
  const std::string bom = "\xEF\xBB\xBF";
  auto request = ParseCreateTokenRequest(bom + R"({"name":"n","principal":"p"})");
  ASSERT_TRUE(request.ok()) << request.status().message();
  EXPECT_EQ(request->name, "n");
  EXPECT_EQ(request->principal, "p");

  ExpectRequestInvalid(bom + bom + "{}");
  ExpectRequestInvalid(" " + bom + "{}");
  ExpectRequestInvalid(bom);
  const core::Status status = ParseError(bom + "{\"name\" 1}");
  EXPECT_NE(status.message().find("byte 11"), std::string::npos) << status.message();
  const core::Status utf8 = ParseError(bom + "{\"name\":\"\xFF\"}");
  EXPECT_NE(utf8.message().find("UTF-8 (byte 12)"), std::string::npos) << utf8.message();

  auto secret = ParseIntrospectJson(bom + R"({"token":"bft_abc"})");
  ASSERT_TRUE(secret.ok()) << secret.status().message();
  EXPECT_EQ(*secret, "bft_abc");
}

TEST(ParseCreateTokenRequestTest, InvalidUtf8Is1002) {
  for (const std::string& body :
       {std::string("{\"name\":\"a\xFF\"}"), std::string("{\"name\":\"\xC0\xAF\"}"),
        std::string("{\"name\":\"\xED\xA0\x80\"}"), std::string("{\"na\xFEme\":\"a\"}"),
        std::string("{\"name\":\"\xE2\x82\"}")}) {
    ExpectRequestInvalid(body);
    EXPECT_NE(ParseError(body).message().find("UTF-8"), std::string::npos)
        << ParseError(body).message();
  }
}

std::string Nested(int depth) {
  // `depth` levels in total, counting the outer object.
  std::string body = "{\"x\":";
  for (int i = 1; i < depth; ++i) body += "[";
  body += "1";
  for (int i = 1; i < depth; ++i) body += "]";
  return body + ",\"name\":\"n\"}";
}

TEST(ParseCreateTokenRequestTest, DepthLimit) {
  EXPECT_EQ(ParseOk(Nested(kMaxJsonDepth)).name, "n");
  ExpectRequestInvalid(Nested(kMaxJsonDepth + 1));
  ExpectRequestInvalid(Nested(1000));
  ExpectRequestInvalid(std::string(100000, '['));
}

TEST(ParseCreateTokenRequestTest, StringLengthLimit) {
  const std::string limit(kMaxJsonStringBytes, 'a');
  EXPECT_EQ(ParseOk("{\"name\":\"" + limit + "\"}").name, limit);
  ExpectRequestInvalid("{\"name\":\"" + limit + "a\"}");
  ExpectRequestInvalid("{\"other\":[\"" + limit + "a\"]}");
  ExpectRequestInvalid("{\"" + limit + "a\":1}");
}

// ---------------------------------------------------------------------------
// ParseIntrospectJson

TEST(ParseIntrospectJsonTest, ReadsTheToken) {
  auto secret = ParseIntrospectJson(R"({"token":"bft_abc","extra":1})");
  ASSERT_TRUE(secret.ok());
  EXPECT_EQ(*secret, "bft_abc");
  auto last = ParseIntrospectJson(R"({"token":"first","token":"second"})");
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, "second");
  auto empty = ParseIntrospectJson(R"({"token":""})");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");
}

// The canonical body is read without the full parser; near misses must
// still be read (or refused) exactly as the full parser does.
TEST(ParseIntrospectJsonTest, CanonicalAndNearCanonicalBodiesAgree) {
  const std::string secret = "bft_sQwFIU2jPYgSUHRFS4WWBdot3fxFGO0UgXha";
  const std::vector<std::pair<std::string, std::string>> read = {
      {R"({"token":")" + secret + R"("})", secret},
      {R"({ "token":")" + secret + R"("})", secret},
      {R"({"token":")" + secret + R"(" })", secret},
      {R"({"token":"bft_\u0041"})", "bft_A"},
      {R"({"token":"bft_\"x"})", "bft_\"x"},
      {R"({"token":")" + secret + R"(","token":"x"})", "x"},
  };
  for (const auto& [body, expected] : read) {
    auto parsed = ParseIntrospectJson(body);
    ASSERT_TRUE(parsed.ok()) << body;
    EXPECT_EQ(*parsed, expected) << body;
  }
  for (const std::string& body :
       {R"({"token":")" + secret + R"("}x)", R"({"token":")" + secret + R"("}})",
        std::string(R"({"token":"a"b"})"),
        R"({"token":")" + std::string(kMaxJsonStringBytes + 1, 'a') + R"("})"}) {
    EXPECT_FALSE(ParseIntrospectJson(body).ok()) << body.substr(0, 40);
  }
}

TEST(ParseIntrospectJsonTest, RejectsOtherShapesWithoutEchoing) {
  for (const std::string body : {"{}", "{\"token\":null}", "{\"token\":5}",
                                 "{\"token\":[\"bfg_hush\"]}", "{\"Token\":\"bfg_hush\"}"}) {
    auto result = ParseIntrospectJson(body);
    ASSERT_FALSE(result.ok()) << body;
    EXPECT_EQ(result.status().api_error(), ApiError::kRequestInvalidParams);
    EXPECT_EQ(result.status().message(), "Introspection body must be {\"token\": \"<secret>\"}.");
  }
}

// A body that is no JSON object says what is wrong with it, as for every
// body, and never echoes it.
TEST(ParseIntrospectJsonTest, NamesWhatIsWrongWithTheJsonWithoutEchoing) {
  const std::string deep = std::string(17, '[') + std::string(17, ']');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "it is empty"},
      {"[\"bfg_hush\"]", "JSON object"},
      {"\"bfg_hush\"", "JSON object"},
      {"{\"token\":\"bfg_hush\"", "not valid JSON"},
      {"token=bfg_hush", "not valid JSON"},
      {"{\"token\":\"bfg_hush\xFF\"}", "not valid UTF-8"},
      {"{\"x\":" + deep + ",\"token\":\"bfg_hush\"}", "nested deeper than"},
      {"{\"token\":\"bfg_hush" + std::string(kMaxJsonStringBytes, 'a') + "\"}", "longer than"},
  };
  for (const auto& [body, named] : cases) {
    auto result = ParseIntrospectJson(body);
    ASSERT_FALSE(result.ok()) << body.substr(0, 40);
    EXPECT_EQ(result.status().api_error(), ApiError::kRequestInvalidParams);
    EXPECT_NE(result.status().message().find(named), std::string::npos)
        << body.substr(0, 40) << ": " << result.status().message();
    EXPECT_EQ(result.status().message().find("hush"), std::string::npos)
        << result.status().message();
  }
}

// ---------------------------------------------------------------------------
// Serializers

TEST(SerializeCreatedTokenTest, ExactFieldsAndOrder) {
  service::CreatedToken created;
  created.token = SampleToken();
  created.secret = "bft_0123456789abcdefghijABCDEFGHIJ0aZ3fQ";
  EXPECT_EQ(SerializeCreatedToken(created),
            "{\"id\":\"65e1a2b3c4d5e6f708192a3b\",\"type\":\"team\","
            "\"token\":\"bft_0123456789abcdefghijABCDEFGHIJ0aZ3fQ\","
            "\"expirationDate\":\"2026-03-02T05:00:00.000+00:00\"}");
  created.token.expiration_date.reset();
  EXPECT_EQ(SerializeCreatedToken(created),
            "{\"id\":\"65e1a2b3c4d5e6f708192a3b\",\"type\":\"team\","
            "\"token\":\"bft_0123456789abcdefghijABCDEFGHIJ0aZ3fQ\"}");
}

TEST(SerializeTokenTest, ExactOutput) {
  EXPECT_EQ(SerializeToken(SampleToken(), kMarch1),
            "{\"id\":\"65e1a2b3c4d5e6f708192a3b\",\"type\":\"team\",\"name\":\"deploy bot\","
            "\"description\":\"CI\",\"creationDate\":\"2026-03-01T05:00:00.000+00:00\","
            "\"expirationDate\":\"2026-03-02T05:00:00.000+00:00\",\"valid\":true,"
            "\"principal\":\"team-42\",\"permissions\":[{\"scope\":\"team\","
            "\"principal\":\"team-42\",\"actions\":[\"workflow/read\",\"workflow/action\"]}]}");
}

TEST(SerializeTokenTest, LastUsedDateAfterExpirationDate) {
  core::Token token = SampleToken();
  token.last_used_date = kMarch1 + 1;
  EXPECT_EQ(SerializeToken(token, kMarch1),
            "{\"id\":\"65e1a2b3c4d5e6f708192a3b\",\"type\":\"team\",\"name\":\"deploy bot\","
            "\"description\":\"CI\",\"creationDate\":\"2026-03-01T05:00:00.000+00:00\","
            "\"expirationDate\":\"2026-03-02T05:00:00.000+00:00\","
            "\"lastUsedDate\":\"2026-03-01T05:00:00.001+00:00\",\"valid\":true,"
            "\"principal\":\"team-42\",\"permissions\":[{\"scope\":\"team\","
            "\"principal\":\"team-42\",\"actions\":[\"workflow/read\",\"workflow/action\"]}]}");
}

TEST(SerializeTokenTest, AUseOfTheAnswerItselfShowsWhenNewer) {
  core::Token token = SampleToken();
  auto last_used = [&](std::optional<core::EpochMillis> used_at) {
    return ParseBack(SerializeToken(token, kMarch1, used_at)).as_object().at("lastUsedDate");
  };
  EXPECT_EQ(last_used(kMarch1 + 5), "2026-03-01T05:00:00.005+00:00") << "never used before";
  token.last_used_date = kMarch1 + 9;
  EXPECT_EQ(last_used(kMarch1 + 5), "2026-03-01T05:00:00.009+00:00") << "the stored is newer";
  EXPECT_EQ(last_used(std::nullopt), "2026-03-01T05:00:00.009+00:00");
  EXPECT_EQ(ParseBack(SerializeIntrospection(&token, kMarch1, kMarch1 + 20))
                .as_object()
                .at("lastUsedDate"),
            "2026-03-01T05:00:00.020+00:00");
}

TEST(SerializeTokenTest, NullsOmittedEmptyDescriptionKept) {
  core::Token token = SampleToken();
  token.type = core::TokenType::kGlobal;
  token.principal.reset();
  token.expiration_date.reset();
  token.description = "";
  token.creation_date = kMarch1 + 7;
  token.actions = {};
  const json::value value = ParseBack(SerializeToken(token, kMarch1));
  const json::object& object = value.as_object();
  EXPECT_EQ(KeysOf(object), (std::vector<std::string>{"id", "type", "name", "description",
                                                      "creationDate", "valid", "permissions"}));
  EXPECT_EQ(object.at("description"), "");
  EXPECT_EQ(object.at("creationDate"), "2026-03-01T05:00:00.007+00:00");
  EXPECT_EQ(object.at("valid"), true);
  EXPECT_EQ(object.at("type"), "global");
  const json::object& permission = object.at("permissions").as_array().at(0).as_object();
  EXPECT_EQ(permission.at("scope"), "global");
  EXPECT_EQ(permission.at("principal"), "**");
  EXPECT_TRUE(permission.at("actions").as_array().empty());

  token.description.reset();
  const json::value without = ParseBack(SerializeToken(token, kMarch1));
  EXPECT_FALSE(without.as_object().contains("description"));
}

TEST(SerializeTokenTest, ValidIsComputedAtNow) {
  const core::Token token = SampleToken();
  const core::EpochMillis expiry = *token.expiration_date;
  EXPECT_EQ(ParseBack(SerializeToken(token, expiry - 1)).as_object().at("valid"), true);
  EXPECT_EQ(ParseBack(SerializeToken(token, expiry)).as_object().at("valid"), false);
  EXPECT_EQ(ParseBack(SerializeToken(token, expiry + 1)).as_object().at("valid"), false);
}

TEST(SerializeTokenTest, NeverContainsTheSecretHash) {
  core::Token token = SampleToken();
  token.secret_hash = "f00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeed";
  EXPECT_EQ(SerializeToken(token, kMarch1).find(token.secret_hash), std::string::npos);
  EXPECT_EQ(SerializeIntrospection(&token, kMarch1).find(token.secret_hash), std::string::npos);
}

TEST(SerializeTokenTest, EscapesStrings) {
  core::Token token = SampleToken();
  const std::string name =
      std::string("q\"uote back\\slash nl\n cr\r tab\t bs\b ff\f nul") + '\0' +
      " one\x01 us\x1F del\x7F caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 </script>";
  token.name = name;
  token.description = "\xE2\x80\xA8 line separator";
  token.principal = "p\"1";
  const std::string text = SerializeToken(token, kMarch1);
  EXPECT_NE(text.find("q\\\"uote back\\\\slash nl\\n cr\\r tab\\t bs\\b ff\\f nul\\u0000 "
                      "one\\u0001 us\\u001f"),
            std::string::npos)
      << text;
  const json::object object = ParseBack(text).as_object();
  EXPECT_EQ(object.at("name").as_string(), name);
  EXPECT_EQ(object.at("description").as_string(), *token.description);
  EXPECT_EQ(object.at("principal").as_string(), "p\"1");
  EXPECT_EQ(object.at("permissions").as_array().at(0).as_object().at("principal").as_string(),
            "p\"1");
}

// Strings are scanned eight bytes at a time, then byte by byte: every byte
// that needs care is tried at every offset of strings long enough to fill
// two words and a tail.
TEST(SerializeTokenTest, EscapesEveryByteThatNeedsItWhereverItStands) {
  struct Case {
    std::string raw;
    std::string written;
  };
  const std::vector<Case> cases = {
      {"\"", "\\\""},
      {"\\", "\\\\"},
      {std::string(1, '\0'), "\\u0000"},
      {"\x01", "\\u0001"},
      {"\x1F", "\\u001f"},
      {"\n", "\\n"},
      {"\x7F", "\x7F"},
      {"\x80", "\\ufffd"},
      {"\xFF", "\\ufffd"},
      {"\xC3\xA9", "\xC3\xA9"},
      {"\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"},
  };
  core::Token token = SampleToken();
  for (const Case& c : cases) {
    for (std::size_t length = 0; length <= 20; ++length) {
      for (std::size_t at = 0; at <= length; ++at) {
        token.name = std::string(at, 'a') + c.raw + std::string(length - at, 'z');
        const std::string expected =
            "\"name\":\"" + std::string(at, 'a') + c.written + std::string(length - at, 'z') + "\"";
        const std::string text = SerializeToken(token, kMarch1);
        EXPECT_NE(text.find(expected), std::string::npos) << text;
      }
    }
  }
}

TEST(SerializeIntrospectionTest, ScopeEscapesEachActionAndJoinsThemBySpaces) {
  core::Token token = SampleToken();
  token.actions = {"a\"b", "c\\d", "e"};
  const json::object object = ParseBack(SerializeIntrospection(&token, kMarch1)).as_object();
  EXPECT_EQ(object.at("scope"), "a\"b c\\d e");
  token.actions = {};
  EXPECT_EQ(ParseBack(SerializeIntrospection(&token, kMarch1)).as_object().at("scope"), "");
}

TEST(SerializeTokenTest, InvalidUtf8BecomesReplacementCharacter) {
  core::Token token = SampleToken();
  token.name = std::string(
      "a\xFF"
      "b\xC3");
  const json::object object = ParseBack(SerializeToken(token, kMarch1)).as_object();
  EXPECT_EQ(object.at("name").as_string(),
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD");
}

TEST(SerializeIntrospectionTest, InactiveIsExactlyActiveFalse) {
  EXPECT_EQ(SerializeIntrospection(nullptr, kMarch1), "{\"active\":false}");
}

TEST(SerializeIntrospectionTest, ActiveThenTokenFieldsThenRfc7662Members) {
  const core::Token token = SampleToken();
  const std::string text = SerializeIntrospection(&token, kMarch1);
  const std::string plain = SerializeToken(token, kMarch1);
  EXPECT_EQ(text.rfind("{\"active\":true," + plain.substr(1, plain.size() - 2) + ",", 0), 0u)
      << text;
  const json::object object = ParseBack(text).as_object();
  EXPECT_EQ(KeysOf(object),
            (std::vector<std::string>{"active", "id", "type", "name", "description", "creationDate",
                                      "expirationDate", "valid", "principal", "permissions",
                                      "scope", "sub", "iat", "exp", "token_type"}));
  EXPECT_EQ(object.at("active"), true);
  EXPECT_EQ(object.at("scope"), "workflow/read workflow/action");
  EXPECT_EQ(object.at("sub"), "team-42");
  EXPECT_EQ(object.at("iat"), kMarch1 / 1000);
  EXPECT_EQ(object.at("exp"), kMarch1 / 1000 + 86'400);
  EXPECT_EQ(object.at("token_type"), "Bearer");
}

TEST(SerializeIntrospectionTest, Rfc7662MembersOfAGlobalTokenThatNeverExpires) {
  core::Token token = SampleToken();
  token.type = core::TokenType::kGlobal;
  token.principal.reset();
  token.expiration_date.reset();
  token.creation_date = 1'772'323'200'999;  // rounds down to the second
  token.actions = {};
  const json::object object = ParseBack(SerializeIntrospection(&token, kMarch1)).as_object();
  EXPECT_FALSE(object.contains("sub"));
  EXPECT_FALSE(object.contains("exp"));
  EXPECT_EQ(object.at("scope"), "");
  EXPECT_EQ(object.at("iat"), 1'772'323'200);
}

// ---------------------------------------------------------------------------
// SerializePage

service::QueryPage MakePage(int count, std::int64_t total) {
  service::QueryPage page;
  for (int i = 0; i < count; ++i) {
    core::Token token = SampleToken();
    token.id = std::string(23, '0') + static_cast<char>('a' + i % 6);
    token.name = "t" + std::to_string(i);
    page.tokens.push_back(token);
  }
  page.total = total;
  return page;
}

core::TokenQuery Paged(int limit, std::int64_t page) {
  core::TokenQuery query;
  query.limit = limit;
  query.page = page;
  return query;
}

struct PageExpectation {
  std::int64_t total_pages;
  std::int64_t total_elements;
  bool first;
  bool last;
  std::int64_t size;
  std::int64_t number;
  std::int64_t number_of_elements;
  bool empty;
};

json::object CheckPage(const service::QueryPage& page, const core::TokenQuery& query,
                       const PageExpectation& want) {
  const json::object object = ParseBack(SerializePage(page, query, kMarch1)).as_object();
  EXPECT_EQ(KeysOf(object), (std::vector<std::string>{
                                "content", "pageable", "totalPages", "totalElements", "first",
                                "last", "size", "number", "sort", "numberOfElements", "empty"}));
  EXPECT_EQ(object.at("totalPages"), want.total_pages);
  EXPECT_EQ(object.at("totalElements"), want.total_elements);
  EXPECT_EQ(object.at("first"), want.first);
  EXPECT_EQ(object.at("last"), want.last);
  EXPECT_EQ(object.at("size"), want.size);
  EXPECT_EQ(object.at("number"), want.number);
  EXPECT_EQ(object.at("numberOfElements"), want.number_of_elements);
  EXPECT_EQ(object.at("empty"), want.empty);
  EXPECT_EQ(object.at("content").as_array().size(), page.tokens.size());
  for (std::size_t i = 0; i < page.tokens.size(); ++i) {
    EXPECT_EQ(object.at("content").as_array()[i],
              ParseBack(SerializeToken(page.tokens[i], kMarch1)));
  }
  return object;
}

TEST(SerializePageTest, MiddlePageAsInTheContract) {
  const json::object object =
      CheckPage(MakePage(10, 43), Paged(10, 2), {5, 43, false, false, 10, 2, 10, false});
  const json::object& pageable = object.at("pageable").as_object();
  EXPECT_EQ(KeysOf(pageable), (std::vector<std::string>{"sort", "offset", "pageNumber", "pageSize",
                                                        "paged", "unpaged"}));
  EXPECT_EQ(pageable.at("offset"), 20);
  EXPECT_EQ(pageable.at("pageNumber"), 2);
  EXPECT_EQ(pageable.at("pageSize"), 10);
  EXPECT_EQ(pageable.at("paged"), true);
  EXPECT_EQ(pageable.at("unpaged"), false);
  const json::value sort =
      ParseBack(R"([{"direction":"ASC","property":"creationDate","ignoreCase":false,)"
                R"("nullHandling":"NATIVE","ascending":true}])");
  EXPECT_EQ(pageable.at("sort"), sort);
  EXPECT_EQ(object.at("sort"), sort);
  EXPECT_EQ(KeysOf(object.at("sort").as_array()[0].as_object()),
            (std::vector<std::string>{"direction", "property", "ignoreCase", "nullHandling",
                                      "ascending"}));
}

TEST(SerializePageTest, FirstAndLastPages) {
  CheckPage(MakePage(10, 43), Paged(10, 0), {5, 43, true, false, 10, 0, 10, false});
  CheckPage(MakePage(3, 43), Paged(10, 4), {5, 43, false, true, 10, 4, 3, false});
  CheckPage(MakePage(10, 10), Paged(10, 0), {1, 10, true, true, 10, 0, 10, false});
  CheckPage(MakePage(1, 1), Paged(1000, 0), {1, 1, true, true, 1000, 0, 1, false});
}

TEST(SerializePageTest, PastTheLastPage) {
  const json::object object =
      CheckPage(MakePage(0, 43), Paged(10, 9), {5, 43, false, true, 10, 9, 0, true});
  EXPECT_EQ(object.at("pageable").as_object().at("offset"), 90);
}

TEST(SerializePageTest, PagedWithNoMatches) {
  CheckPage(MakePage(0, 0), Paged(10, 0), {0, 0, true, true, 10, 0, 0, true});
  CheckPage(MakePage(0, 0), Paged(10, 3), {0, 0, false, true, 10, 3, 0, true});
}

TEST(SerializePageTest, LargestPageOffsetDoesNotOverflow) {
  const json::object object = CheckPage(MakePage(0, 5), Paged(1000, core::kMaxPage),
                                        {1, 5, false, true, 1000, core::kMaxPage, 0, true});
  EXPECT_EQ(object.at("pageable").as_object().at("offset"), core::kMaxPage * 1000);
}

TEST(SerializePageTest, Unpaged) {
  core::TokenQuery query;
  query.sort = core::SortField::kName;
  query.order = core::SortOrder::kDesc;
  const json::object object = CheckPage(MakePage(3, 3), query, {1, 3, true, true, 3, 0, 3, false});
  EXPECT_EQ(object.at("pageable"), "INSTANCE");
  EXPECT_EQ(object.at("sort"),
            ParseBack(R"([{"direction":"DESC","property":"name","ignoreCase":false,)"
                      R"("nullHandling":"NATIVE","ascending":false}])"));
}

TEST(SerializePageTest, UnpagedEmpty) {
  const json::object object =
      CheckPage(MakePage(0, 0), core::TokenQuery{}, {1, 0, true, true, 0, 0, 0, true});
  EXPECT_EQ(object.at("pageable"), "INSTANCE");
}

TEST(SerializePageTest, UnpagedIgnoresPageNumber) {
  core::TokenQuery query;
  query.page = 7;
  CheckPage(MakePage(2, 2), query, {1, 2, true, true, 2, 0, 2, false});
}

TEST(SerializePageTest, SortFieldsAreNamed) {
  for (const auto& [field, name] : std::vector<std::pair<core::SortField, std::string>>{
           {core::SortField::kCreationDate, "creationDate"},
           {core::SortField::kExpirationDate, "expirationDate"},
           {core::SortField::kName, "name"},
           {core::SortField::kType, "type"},
           {core::SortField::kPrincipal, "principal"}}) {
    core::TokenQuery query = Paged(5, 0);
    query.sort = field;
    const json::object object =
        ParseBack(SerializePage(MakePage(0, 0), query, kMarch1)).as_object();
    EXPECT_EQ(object.at("sort").as_array()[0].as_object().at("property"), name.c_str());
  }
}

// ---------------------------------------------------------------------------
// SerializeError

TEST(SerializeErrorTest, BoomerangShape) {
  const core::Status status =
      core::Status::InvalidArgument(std::string(kBoomerangText), ApiError::kTokenInvalidRequest);
  const std::string text = SerializeError(status, kMarch1);
  EXPECT_EQ(text,
            "{\"timestamp\":\"2026-03-01T05:00:00.000+00:00\",\"code\":1010,"
            "\"reason\":\"TOKEN_INVALID_REQ\",\"message\":\"" +
                std::string(kBoomerangText) + "\",\"status\":\"400 BAD_REQUEST\"}");
}

TEST(SerializeErrorTest, StatusTextFollowsTheApiError) {
  const json::object not_found =
      ParseBack(SerializeError(core::Status::NotFound("No token \"x\"\n"), kMarch1 + 1))
          .as_object();
  EXPECT_EQ(KeysOf(not_found),
            (std::vector<std::string>{"timestamp", "code", "reason", "message", "status"}));
  EXPECT_EQ(not_found.at("timestamp"), "2026-03-01T05:00:00.001+00:00");
  EXPECT_EQ(not_found.at("code"), 9001);
  EXPECT_EQ(not_found.at("reason"), "TOKEN_NOT_FOUND");
  EXPECT_EQ(not_found.at("message"), "No token \"x\"\n");
  EXPECT_EQ(not_found.at("status"), "404 NOT_FOUND");

  const json::object unavailable =
      ParseBack(SerializeError(core::Status::Unavailable("down"), kMarch1)).as_object();
  EXPECT_EQ(unavailable.at("code"), 9010);
  EXPECT_EQ(unavailable.at("status"), "503 SERVICE_UNAVAILABLE");

  const json::object too_large =
      ParseBack(SerializeError(core::Status::Error(ApiError::kPayloadTooLarge, "big"), kMarch1))
          .as_object();
  EXPECT_EQ(too_large.at("status"), "413 PAYLOAD_TOO_LARGE");
}

TEST(SerializeDatesTest, SameTextAsFormatSpringDate) {
  std::vector<core::EpochMillis> instants = {0,
                                             -1,
                                             1,
                                             86'399'999,
                                             86'400'000,
                                             -86'400'000,
                                             -86'400'001,
                                             kMarch1,
                                             kMarch1 - 1,
                                             951'782'400'000,      // 2000-02-29
                                             -62'135'596'800'000,  // 0001-01-01
                                             253'402'300'799'999,  // 9999-12-31T23:59:59.999
                                             -62'135'596'800'001,  // outside 0001..9999
                                             253'402'300'800'000,
                                             std::numeric_limits<core::EpochMillis>::max(),
                                             std::numeric_limits<core::EpochMillis>::min()};
  std::uint64_t state = 12345;
  for (int i = 0; i < 2000; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    instants.push_back(static_cast<core::EpochMillis>(state % 400'000'000'000'000ULL) -
                       100'000'000'000'000);
  }
  for (const core::EpochMillis millis : instants) {
    const json::object object =
        ParseBack(SerializeError(core::Status::Internal("x"), millis)).as_object();
    EXPECT_EQ(object.at("timestamp").as_string(), core::FormatSpringDate(millis)) << millis;
  }
}

TEST(SpringStatusNameTest, KnownAndUnknown) {
  EXPECT_EQ(SpringStatusName(400), "BAD_REQUEST");
  EXPECT_EQ(SpringStatusName(401), "UNAUTHORIZED");
  EXPECT_EQ(SpringStatusName(403), "FORBIDDEN");
  EXPECT_EQ(SpringStatusName(404), "NOT_FOUND");
  EXPECT_EQ(SpringStatusName(405), "METHOD_NOT_ALLOWED");
  EXPECT_EQ(SpringStatusName(408), "REQUEST_TIMEOUT");
  EXPECT_EQ(SpringStatusName(409), "CONFLICT");
  EXPECT_EQ(SpringStatusName(413), "PAYLOAD_TOO_LARGE");
  EXPECT_EQ(SpringStatusName(414), "URI_TOO_LONG");
  EXPECT_EQ(SpringStatusName(415), "UNSUPPORTED_MEDIA_TYPE");
  EXPECT_EQ(SpringStatusName(431), "REQUEST_HEADER_FIELDS_TOO_LARGE");
  EXPECT_EQ(SpringStatusName(500), "INTERNAL_SERVER_ERROR");
  EXPECT_EQ(SpringStatusName(503), "SERVICE_UNAVAILABLE");
  EXPECT_EQ(SpringStatusName(299), "UNKNOWN");
  EXPECT_EQ(SpringStatusName(0), "UNKNOWN");
}

}  // namespace
}  // namespace tokend::http
