// Reading Boomerang Flow exports: every mongoexport format, every field rule,
// and the numbering of rejected documents.
#include "app/boomerang_import.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "core/secret.h"

namespace tokend::app {
namespace {

using core::TokenType;

constexpr std::string_view kId = "64a1f0c2e4b0d1a2b3c4d5e6";
constexpr std::string_view kOtherId = "64a1f0c2e4b0d1a2b3c4d5e7";
// 2023-03-01T05:00:00.000Z and 2030-01-01T00:00:00.000Z.
constexpr std::int64_t kCreated = 1677646800000;
constexpr std::int64_t kExpires = 1893456000000;
// The import's own time: after every creation date of the documents below.
constexpr core::EpochMillis kNow = 1'772'341'200'000;

std::string Hash() { return core::HashSecret("bft_0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"); }
std::string OtherHash() { return core::HashSecret("bfu_11111111-2222-4333-8444-555555555555"); }

// A team TokenEntity as mongoexport writes it in relaxed mode, with `extra`
// spliced in before the closing brace (later keys replace earlier ones).
std::string TeamDocument(std::string_view extra = "") {
  std::string document =
      R"({"_id":{"$oid":")" + std::string(kId) +
      R"("},"type":"team","name":"CI deploys","description":"for the pipeline",)"
      R"("creationDate":{"$date":"2023-03-01T05:00:00.000Z"},)"
      R"("expirationDate":{"$date":"2030-01-01T00:00:00.000Z"},"principal":"team-7",)"
      R"("permissions":[{"scope":"team","principal":"team-7","actions":["workflow/read","workflow/action"]}],)"
      R"("token":")" +
      Hash() + R"(","_class":"io.boomerang.security.entity.TokenEntity")";
  if (!extra.empty()) document += "," + std::string(extra);
  return document + "}";
}

core::Token ExpectedTeamToken() {
  core::Token token;
  token.id = std::string(kId);
  token.type = TokenType::kTeam;
  token.name = "CI deploys";
  token.description = "for the pipeline";
  token.principal = "team-7";
  token.creation_date = kCreated;
  token.expiration_date = kExpires;
  token.actions = {"workflow/read", "workflow/action"};
  token.secret_hash = Hash();
  return token;
}

core::Token MustParse(std::string_view document) {
  core::Result<core::Token> token = ParseBoomerangToken(document, kNow);
  EXPECT_TRUE(token.ok()) << token.status().ToString() << "\n" << document;
  return token.ok() ? *token : core::Token{};
}

// The message of the refusal of `document`; fails the test when accepted.
std::string Refusal(std::string_view document) {
  core::Result<core::Token> token = ParseBoomerangToken(document, kNow);
  EXPECT_FALSE(token.ok()) << document;
  if (token.ok()) return "";
  EXPECT_EQ(token.status().code(), core::StatusCode::kInvalidArgument);
  return token.status().message();
}

TEST(BoomerangTokenTest, RelaxedExtendedJsonKeepsEveryField) {
  EXPECT_EQ(MustParse(TeamDocument()), ExpectedTeamToken());
}

TEST(BoomerangTokenTest, CanonicalExtendedJsonReadsTheSame) {
  const std::string canonical =
      R"({"_id":{"$oid":")" + std::string(kId) +
      R"("},"type":"team","name":"CI deploys","description":"for the pipeline",)"
      R"("creationDate":{"$date":{"$numberLong":"1677646800000"}},)"
      R"("expirationDate":{"$date":{"$numberLong":"1893456000000"}},"principal":"team-7",)"
      R"("permissions":[{"scope":"team","principal":"team-7","actions":["workflow/read","workflow/action"]}],)"
      R"("token":")" +
      Hash() + R"(","_class":"io.boomerang.security.entity.TokenEntity"})";
  EXPECT_EQ(MustParse(canonical), ExpectedTeamToken());
}

TEST(BoomerangTokenTest, EveryDateFormReadsTheSame) {
  for (const char* date :
       {R"({"$date":"2023-03-01T05:00:00.000Z"})", R"({"$date":"2023-03-01T05:00:00Z"})",
        R"({"$date":"2023-03-01T06:00:00.000+01:00"})", R"({"$date":1677646800000})",
        R"({"$date":{"$numberLong":"1677646800000"}})", R"("2023-03-01T05:00:00.000Z")",
        R"(1677646800000)", R"({"$numberLong":"1677646800000"})"}) {
    EXPECT_EQ(MustParse(TeamDocument(std::string(R"("creationDate":)") + date)).creation_date,
              kCreated)
        << date;
  }
}

TEST(BoomerangTokenTest, NullOrAbsentExpirationMeansNever) {
  EXPECT_EQ(MustParse(TeamDocument(R"("expirationDate":null)")).expiration_date, std::nullopt);
  std::string without = TeamDocument();
  without.erase(
      without.find(R"("expirationDate")"),
      std::string_view(R"("expirationDate":{"$date":"2030-01-01T00:00:00.000Z"},)").size());
  EXPECT_EQ(MustParse(without).expiration_date, std::nullopt);
}

TEST(BoomerangTokenTest, AnExpiredTokenIsKeptExpired) {
  const core::Token token =
      MustParse(TeamDocument(R"("expirationDate":{"$date":"2023-04-01T00:00:00.000Z"})"));
  ASSERT_TRUE(token.expiration_date.has_value());
  EXPECT_FALSE(token.IsValidAt(core::NowMillis()));
}

TEST(BoomerangTokenTest, PlainStringIdAndUpperCaseHashAreTaken) {
  std::string upper = Hash();
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const core::Token token = MustParse(
      TeamDocument(R"("_id":")" + std::string(kOtherId) + R"(","token":")" + upper + R"(")"));
  EXPECT_EQ(token.id, kOtherId);
  EXPECT_EQ(token.secret_hash, Hash()) << "the same digest, in tokend's lower case";
}

TEST(BoomerangTokenTest, SessionWithoutNameIsNamedSession) {
  const std::string session =
      R"({"_id":{"$oid":")" + std::string(kId) +
      R"("},"type":"session","description":"Generated User Session Token",)"
      R"("creationDate":{"$date":"2023-03-01T05:00:00.000Z"},)"
      R"("expirationDate":{"$date":"2030-01-01T00:00:00.000Z"},"principal":"user-1",)"
      R"("permissions":[{"scope":"session","principal":"user-1","actions":["**/read"]}],)"
      R"("token":")" +
      Hash() + R"("})";
  const core::Token token = MustParse(session);
  EXPECT_EQ(token.type, TokenType::kSession);
  EXPECT_EQ(token.name, "session");
  EXPECT_EQ(token.principal, "user-1");
  EXPECT_EQ(token.Permissions(),
            (core::ResolvedPermissions{TokenType::kSession, "user-1", {"**/read"}}));
}

TEST(BoomerangTokenTest, GlobalTokenHasNoPrincipalAndTheWildcardScope) {
  const std::string global =
      R"({"_id":{"$oid":")" + std::string(kId) +
      R"("},"type":"global","name":"admin","creationDate":{"$date":"2023-03-01T05:00:00.000Z"},)"
      R"("expirationDate":null,"principal":"**",)"
      R"("permissions":[{"scope":"global","principal":"**","actions":["**/**"]}],)"
      R"("token":")" +
      Hash() + R"("})";
  const core::Token token = MustParse(global);
  EXPECT_EQ(token.principal, std::nullopt) << "ignored, as on create";
  EXPECT_EQ(token.Permissions(), (core::ResolvedPermissions{TokenType::kGlobal, "**", {"**/**"}}));
}

TEST(BoomerangTokenTest, UserTokenWithoutPermissionsGrantsNothing) {
  const std::string user =
      R"({"_id":{"$oid":")" + std::string(kId) +
      R"("},"type":"user","name":"mine","creationDate":{"$date":"2023-03-01T05:00:00.000Z"},)"
      R"("principal":"user-1","permissions":[],"token":")" +
      Hash() + R"("})";
  EXPECT_TRUE(MustParse(user).actions.empty()) << "as in Boomerang: no permissions";
}

TEST(BoomerangTokenTest, EntriesOfTheTokensOwnScopeAreMergedWithoutDuplicates) {
  const core::Token token = MustParse(TeamDocument(
      R"("permissions":[{"scope":"team","principal":"team-7","actions":["workflow/read"]},)"
      R"({"scope":"team","principal":"team-7","actions":["workflow/read","token/write"]}])"));
  EXPECT_EQ(token.actions, (std::vector<std::string>{"workflow/read", "token/write"}));
}

TEST(BoomerangTokenTest, UnknownFieldsAreIgnored) {
  EXPECT_EQ(MustParse(TeamDocument(R"("lastAccess":{"$date":"2024-01-01T00:00:00Z"},"x":[1,2])")),
            ExpectedTeamToken());
}

TEST(BoomerangTokenTest, EveryFieldErrorNamesTheField) {
  struct Case {
    std::string extra;
    std::string field;
  };
  const Case cases[] = {
      {R"("_id":null)", "'_id'"},
      {R"("_id":{"$oid":"64A1F0C2E4B0D1A2B3C4D5E6"})", "'_id'"},
      {R"("_id":"not-an-id")", "'_id'"},
      {R"("_id":{"$oid":"64a1f0c2e4b0d1a2b3c4d5"})", "'_id'"},
      {R"("type":null)", "'type'"},
      {R"("type":"TEAM")", "'type'"},
      {R"("type":7)", "'type'"},
      {R"("name":null)", "'name'"},
      {R"("name":"   ")", "'name'"},
      {R"("name":"a\u0000b")", "'name'"},
      {R"("name":")" + std::string(257, 'n') + R"(")", "'name'"},
      {R"("name":["x"])", "'name'"},
      {R"("description":")" + std::string(1025, 'd') + R"(")", "'description'"},
      {R"("description":{})", "'description'"},
      {R"("principal":null)", "'principal'"},
      {R"("principal":" ")", "'principal'"},
      {R"("principal":"team-7,team-8")", "'principal'"},
      {R"("principal":" team-7")", "'principal'"},
      // A global token's principal, which create refuses on other types too.
      {R"("principal":"**")", "'principal' '**' is for global tokens only"},
      {R"("principal":")" + std::string(1025, 'p') + R"(")", "'principal'"},
      {R"("creationDate":null)", "'creationDate'"},
      {R"("creationDate":"yesterday")", "'creationDate'"},
      {R"("creationDate":{"$date":"2023-02-30T00:00:00Z"})", "'creationDate'"},
      {R"("creationDate":{"$date":{"$numberLong":"-1"}})", "'creationDate'"},
      {R"("creationDate":{"$date":{"$numberLong":"1772341200001"}})", "'creationDate'"},
      {R"("expirationDate":{"$date":{"$numberLong":"253402300800000"}})", "'expirationDate'"},
      {R"("expirationDate":true)", "'expirationDate'"},
      {R"("permissions":{})", "'permissions'"},
      {R"("permissions":[])", "'permissions'"},
      {R"("permissions":["workflow/read"])", "'permissions[0]'"},
      {R"("permissions":[{"scope":"user","principal":"team-7","actions":["workflow/read"]}])",
       "'permissions[0].scope'"},
      {R"("permissions":[{"principal":"team-7","actions":["workflow/read"]}])",
       "'permissions[0].scope'"},
      {R"("permissions":[{"scope":"team","principal":"team-7","actions":["workflow/read"]},)"
       R"({"scope":"team","principal":"team-8","actions":["workflow/read"]}])",
       "'permissions[1].principal'"},
      {R"("permissions":[{"scope":"team","principal":"team-7","actions":["workflow/team-7/read"]}])",
       "'permissions[0].actions'"},
      {R"("permissions":[{"scope":"team","principal":"team-7","actions":["workflow/Read"]}])",
       "'permissions[0].actions'"},
      {R"("permissions":[{"scope":"team","principal":"team-7","actions":[3]}])",
       "'permissions[0].actions'"},
      {R"("permissions":[{"scope":"team","principal":"team-7","actions":"workflow/read"}])",
       "'permissions[0].actions'"},
      {R"("token":null)", "'token'"},
      {R"("token":")" + Hash().substr(1) + R"(")", "'token'"},
      {R"("token":")" + Hash().substr(1) + R"(g")", "'token'"},
      {R"("token":42)", "'token'"},
  };
  for (const Case& c : cases) {
    const std::string message = Refusal(TeamDocument(c.extra));
    EXPECT_NE(message.find("field " + c.field), std::string::npos) << c.extra << " -> " << message;
    EXPECT_EQ(message.find(Hash().substr(1, 40)), std::string::npos) << "no hash in messages";
  }
}

TEST(BoomerangTokenTest, TooManyPermissionsAreRefused) {
  const char* resources[] = {"system",   "workflow",    "workflowrun", "workflowtemplate",
                             "taskrun",  "task",        "action",      "user",
                             "team",     "token",       "parameter",   "schedule",
                             "insights", "integration", "webhook",     "**"};
  const char* verbs[] = {"read", "write", "action", "delete", "**"};
  std::string actions;
  for (const char* resource : resources) {
    for (const char* verb : verbs) {
      if (!actions.empty()) actions += ",";
      actions += "\"" + std::string(resource) + "/" + verb + "\"";
    }
  }
  const std::string message = Refusal(TeamDocument(
      R"("permissions":[{"scope":"team","principal":"team-7","actions":[)" + actions + "]}]"));
  EXPECT_NE(message.find("field 'permissions'"), std::string::npos) << message;
}

TEST(BoomerangTokenTest, WhatIsNotAnObjectOrNotJsonIsRefused) {
  EXPECT_NE(Refusal("[1,2]").find("not a JSON object"), std::string::npos);
  EXPECT_NE(Refusal(R"({"_id": )").find("not valid JSON"), std::string::npos);
  EXPECT_NE(Refusal("{\"name\":\"\xff\"}").find("not valid JSON"), std::string::npos);
}

// --- whole exports ---------------------------------------------------------

std::string UserDocument(std::string_view id, std::string_view hash) {
  return R"({"_id":{"$oid":")" + std::string(id) +
         R"("},"type":"user","name":"u","creationDate":{"$date":"2023-03-01T05:00:00.000Z"},)"
         R"("principal":"user-1","permissions":[{"scope":"user","principal":"user-1","actions":["**/**"]}],)"
         R"("token":")" +
         std::string(hash) + R"("})";
}

TEST(BoomerangExportTest, JsonLinesAreNumberedByLineAndBlankLinesSkipped) {
  const std::string text = TeamDocument() + "\n\n" + R"({"_id":"x"})" + "\r\n" +
                           UserDocument(kOtherId, OtherHash()) + "\n   \n" + "not json\n";
  const BoomerangExport parsed = ParseBoomerangExport(text, kNow);
  EXPECT_FALSE(parsed.json_array);
  EXPECT_EQ(parsed.documents, 4u);
  ASSERT_EQ(parsed.tokens.size(), 2u);
  EXPECT_EQ(parsed.tokens[0], ExpectedTeamToken());
  EXPECT_EQ(parsed.tokens[1].id, kOtherId);
  ASSERT_EQ(parsed.rejected.size(), 2u);
  EXPECT_EQ(parsed.rejected[0].where, "line 3");
  EXPECT_NE(parsed.rejected[0].reason.find("field '_id'"), std::string::npos);
  EXPECT_EQ(parsed.rejected[1].where, "line 6");
}

TEST(BoomerangExportTest, CanonicalJsonLinesReadLikeRelaxedOnes) {
  const std::string canonical =
      R"({"_id":{"$oid":")" + std::string(kOtherId) +
      R"("},"type":"user","name":"u","creationDate":{"$date":{"$numberLong":"1677646800000"}},)"
      R"("expirationDate":null,"principal":"user-1",)"
      R"("permissions":[{"scope":"user","principal":"user-1","actions":["**/**"]}],)"
      R"("token":")" +
      OtherHash() + R"(","_class":"io.boomerang.security.entity.TokenEntity"})";
  const BoomerangExport parsed = ParseBoomerangExport(canonical + "\n", kNow);
  ASSERT_EQ(parsed.tokens.size(), 1u);
  EXPECT_TRUE(parsed.rejected.empty());
  EXPECT_EQ(parsed.tokens[0].creation_date, kCreated);
  EXPECT_EQ(parsed.tokens[0], MustParse(UserDocument(kOtherId, OtherHash())));
}

TEST(BoomerangExportTest, RepeatsWithinTheFileAreSkippedNotRejected) {
  const std::string text = TeamDocument() + "\n" + TeamDocument() + "\n" +
                           UserDocument(kId, OtherHash()) + "\n" +  // same id
                           UserDocument(kOtherId, Hash()) + "\n";   // same hash
  const BoomerangExport parsed = ParseBoomerangExport(text, kNow);
  EXPECT_EQ(parsed.documents, 4u);
  EXPECT_EQ(parsed.tokens.size(), 1u);
  EXPECT_EQ(parsed.repeated, 3u);
  EXPECT_TRUE(parsed.rejected.empty());
}

TEST(BoomerangExportTest, JsonArrayDocumentsAreNumberedByIndex) {
  const std::string text = "  \n[" + TeamDocument() + ",\n" + R"({"type":"team"})" + ",\n  " +
                           UserDocument(kOtherId, OtherHash()) + ", 5]\n";
  const BoomerangExport parsed = ParseBoomerangExport(text, kNow);
  EXPECT_TRUE(parsed.json_array);
  EXPECT_EQ(parsed.documents, 4u);
  ASSERT_EQ(parsed.tokens.size(), 2u);
  EXPECT_EQ(parsed.tokens[0], ExpectedTeamToken());
  ASSERT_EQ(parsed.rejected.size(), 2u);
  EXPECT_EQ(parsed.rejected[0].where, "document 2");
  EXPECT_EQ(parsed.rejected[1].where, "document 4");
  EXPECT_NE(parsed.rejected[1].reason.find("not a JSON object"), std::string::npos);
}

TEST(BoomerangExportTest, PrettyCanonicalJsonArrayIsRead) {
  const std::string text =
      "[\n  {\n    \"_id\": {\"$oid\": \"" + std::string(kId) +
      "\"},\n    \"type\": \"workflow\",\n    \"name\": \"Scheduled Job Token\",\n"
      "    \"creationDate\": {\"$date\": {\"$numberLong\": \"1677646800000\"}},\n"
      "    \"expirationDate\": {\"$date\": {\"$numberLong\": \"1893456000000\"}},\n"
      "    \"principal\": \"wf-1\",\n"
      "    \"permissions\": [{\"scope\": \"workflow\", \"principal\": \"wf-1\", "
      "\"actions\": [\"workflow/**\"]}],\n"
      "    \"token\": \"" +
      Hash() + "\",\n    \"_class\": \"io.boomerang.security.entity.TokenEntity\"\n  }\n]\n";
  const BoomerangExport parsed = ParseBoomerangExport(text, kNow);
  EXPECT_TRUE(parsed.rejected.empty()) << parsed.rejected.front().reason;
  ASSERT_EQ(parsed.tokens.size(), 1u);
  EXPECT_EQ(parsed.tokens[0].type, TokenType::kWorkflow);
  EXPECT_EQ(parsed.tokens[0].expiration_date, kExpires);
}

TEST(BoomerangExportTest, ABrokenArrayIsOneRejectionAtItsLine) {
  const std::string text = "[\n" + TeamDocument() + ",\n" + R"({"_id": })" + "\n]\n";
  const BoomerangExport parsed = ParseBoomerangExport(text, kNow);
  EXPECT_TRUE(parsed.tokens.empty()) << "nothing of a file that does not parse";
  ASSERT_EQ(parsed.rejected.size(), 1u);
  EXPECT_EQ(parsed.rejected[0].where, "line 3");
  EXPECT_NE(parsed.rejected[0].reason.find("does not parse"), std::string::npos);
  EXPECT_EQ(ParseBoomerangExport("[1] trailing", kNow).rejected.size(), 1u);
}

// --- documents one after another, each over several lines ------------------

// The id and hash of the `n`th user (0 to 9) of a generated export.
std::string NumberedId(int n) { return "64a1f0c2e4b0d1a2b3c4d60" + std::to_string(n); }
std::string NumberedHash(int n) { return core::HashSecret("bfu_" + std::to_string(n)); }

// UserDocument(NumberedId(n), NumberedHash(n)) as `mongoexport --pretty`
// writes it without --jsonArray: a tab per level, one member a line, the
// permission an indented '{' of its own, a newline after the closing brace.
// `canonical` writes the date as --jsonFormat=canonical does.
std::string PrettyUserDocument(int n, bool canonical = false) {
  const std::string date =
      canonical ? "{\n\t\t\"$date\": {\n\t\t\t\"$numberLong\": \"1677646800000\"\n\t\t}\n\t}"
                : "{\n\t\t\"$date\": \"2023-03-01T05:00:00.000Z\"\n\t}";
  return "{\n\t\"_id\": {\n\t\t\"$oid\": \"" + NumberedId(n) +
         "\"\n\t},\n\t\"type\": \"user\",\n\t\"name\": \"u\",\n\t\"creationDate\": " + date +
         ",\n\t\"principal\": \"user-1\",\n\t\"permissions\": [\n\t\t{\n\t\t\t\"scope\": "
         "\"user\",\n\t\t\t\"principal\": \"user-1\",\n\t\t\t\"actions\": [\n\t\t\t\t\"**/**\"\n"
         "\t\t\t]\n\t\t}\n\t],\n\t\"token\": \"" +
         NumberedHash(n) + "\"\n}\n";
}

std::size_t LineCount(std::string_view text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

TEST(BoomerangExportTest, PrettyDocumentsOneAfterAnotherAreRead) {
  for (const bool canonical : {false, true}) {
    SCOPED_TRACE(canonical ? "canonical" : "relaxed");
    std::string text;
    for (int n = 0; n < 3; ++n) text += PrettyUserDocument(n, canonical);
    const BoomerangExport parsed = ParseBoomerangExport(text, kNow);
    EXPECT_FALSE(parsed.json_array);
    EXPECT_EQ(parsed.documents, 3u);
    EXPECT_TRUE(parsed.rejected.empty())
        << parsed.rejected.front().where << ": " << parsed.rejected.front().reason;
    ASSERT_EQ(parsed.tokens.size(), 3u);
    for (int n = 0; n < 3; ++n) {
      EXPECT_EQ(parsed.tokens[n], MustParse(UserDocument(NumberedId(n), NumberedHash(n))));
    }
  }
}

TEST(BoomerangExportTest, PrettyDocumentsAreNamedByTheLineTheyStartOn) {
  // The second has a field tokend refuses; a blank line precedes the third.
  std::string second = PrettyUserDocument(1);
  second.replace(second.find("\"type\": \"user\""), 14, "\"type\": \"robot\"");
  const std::string text = PrettyUserDocument(0) + second + "\n" + PrettyUserDocument(2);
  const BoomerangExport parsed = ParseBoomerangExport(text, kNow);
  EXPECT_EQ(parsed.documents, 3u);
  EXPECT_EQ(parsed.tokens.size(), 2u);
  ASSERT_EQ(parsed.rejected.size(), 1u);
  EXPECT_EQ(parsed.rejected[0].where,
            "line " + std::to_string(1 + LineCount(PrettyUserDocument(0))));
  EXPECT_NE(parsed.rejected[0].reason.find("field 'type'"), std::string::npos);
}

TEST(BoomerangExportTest, SeveralDocumentsOnOneLineAreEachRead) {
  const std::string text = UserDocument(NumberedId(0), NumberedHash(0)) +
                           UserDocument(NumberedId(1), NumberedHash(1)) + " " +
                           R"({"type":"team"})" + "\n" + TeamDocument() + "\n";
  const BoomerangExport parsed = ParseBoomerangExport(text, kNow);
  EXPECT_EQ(parsed.documents, 4u);
  ASSERT_EQ(parsed.tokens.size(), 3u);
  EXPECT_EQ(parsed.tokens[1].id, NumberedId(1));
  EXPECT_EQ(parsed.tokens[2], ExpectedTeamToken());
  ASSERT_EQ(parsed.rejected.size(), 1u);
  EXPECT_EQ(parsed.rejected[0].where, "line 1");
}

// An array's items written one per line without its brackets: the comma
// after each is a separator, not a document of its own.
TEST(BoomerangExportTest, OneCommaAfterADocumentSeparatesItFromTheNext) {
  const std::string text = UserDocument(NumberedId(0), NumberedHash(0)) + ",\n" +
                           UserDocument(NumberedId(1), NumberedHash(1)) + " ,\r\n" +
                           TeamDocument() + ",\n";
  const BoomerangExport parsed = ParseBoomerangExport(text, kNow);
  EXPECT_EQ(parsed.documents, 3u);
  ASSERT_EQ(parsed.tokens.size(), 3u);
  EXPECT_EQ(parsed.tokens[2], ExpectedTeamToken());
  EXPECT_TRUE(parsed.rejected.empty()) << parsed.rejected.front().where;

  // Anything else in a document's place is still one rejection, at its line.
  const std::string doubled = UserDocument(NumberedId(0), NumberedHash(0)) + ",,\n" +
                              TeamDocument() + "\n,\n" + UserDocument(kOtherId, OtherHash());
  const BoomerangExport refused = ParseBoomerangExport(doubled, kNow);
  EXPECT_EQ(refused.tokens.size(), 3u);
  ASSERT_EQ(refused.rejected.size(), 1u);
  EXPECT_EQ(refused.rejected[0].where, "line 1");
}

TEST(BoomerangExportTest, AByteOrderMarkAtTheStartIsSkipped) {
  constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
  const std::string lines = std::string(kByteOrderMark) + TeamDocument() + "\n" +
                            UserDocument(kOtherId, OtherHash()) + "\n";
  BoomerangExport parsed = ParseBoomerangExport(lines, kNow);
  EXPECT_FALSE(parsed.json_array);
  EXPECT_EQ(parsed.tokens.size(), 2u);
  EXPECT_TRUE(parsed.rejected.empty()) << parsed.rejected.front().reason;

  parsed = ParseBoomerangExport(std::string(kByteOrderMark) + PrettyUserDocument(0), kNow);
  EXPECT_EQ(parsed.tokens.size(), 1u);
  EXPECT_TRUE(parsed.rejected.empty()) << parsed.rejected.front().reason;

  parsed = ParseBoomerangExport(std::string(kByteOrderMark) + "[" + TeamDocument() + "]\n", kNow);
  EXPECT_TRUE(parsed.json_array);
  EXPECT_EQ(parsed.tokens.size(), 1u);
  EXPECT_TRUE(parsed.rejected.empty()) << parsed.rejected.front().reason;

  // Only at the very start: elsewhere it is not JSON.
  parsed = ParseBoomerangExport(TeamDocument() + "\n" + std::string(kByteOrderMark) +
                                    UserDocument(kOtherId, OtherHash()) + "\n",
                                kNow);
  EXPECT_EQ(parsed.tokens.size(), 1u);
  ASSERT_EQ(parsed.rejected.size(), 1u);
  EXPECT_EQ(parsed.rejected[0].where, "line 2");
}

TEST(BoomerangExportTest, ABrokenPrettyDocumentIsOneRejectionAndTheOthersAreRead) {
  // The second lacks the comma after its type (line 5 of it), so it breaks
  // where the next member starts (line 6).
  std::string broken = PrettyUserDocument(1);
  broken.erase(broken.find("\"type\": \"user\",") + 14, 1);
  const std::string text =
      PrettyUserDocument(0) + broken + PrettyUserDocument(2) + PrettyUserDocument(3);
  const BoomerangExport parsed = ParseBoomerangExport(text, kNow);
  EXPECT_EQ(parsed.documents, 4u);
  ASSERT_EQ(parsed.tokens.size(), 3u);
  EXPECT_EQ(parsed.tokens[0].id, NumberedId(0));
  EXPECT_EQ(parsed.tokens[1].id, NumberedId(2));
  EXPECT_EQ(parsed.tokens[2].id, NumberedId(3));
  ASSERT_EQ(parsed.rejected.size(), 1u);
  const std::size_t first_line = 1 + LineCount(PrettyUserDocument(0));
  EXPECT_EQ(parsed.rejected[0].where, "line " + std::to_string(first_line));
  const std::string& reason = parsed.rejected[0].reason;
  EXPECT_NE(reason.find("not valid JSON at line " + std::to_string(first_line + 5)),
            std::string::npos)
      << reason;
  EXPECT_NE(reason.find("lines " + std::to_string(first_line) + " to " +
                        std::to_string(first_line + LineCount(broken) - 1) + " are skipped"),
            std::string::npos)
      << reason;
}

TEST(BoomerangExportTest, AnUnfinishedDocumentDoesNotTakeTheNextOne) {
  // Line 2 ends early, so the parser reads line 3 as its `_id` and breaks on
  // line 4; line 3 is read again as a document of its own.
  const std::string text = TeamDocument() + "\n" + R"({"_id": )" + "\n" +
                           UserDocument(kOtherId, OtherHash()) + "\nnot json\n" +
                           UserDocument(NumberedId(0), NumberedHash(0)) + "\n" +
                           PrettyUserDocument(1).substr(0, 40);
  const BoomerangExport parsed = ParseBoomerangExport(text, kNow);
  EXPECT_EQ(parsed.documents, 6u);
  ASSERT_EQ(parsed.tokens.size(), 3u);
  EXPECT_EQ(parsed.tokens[1].id, kOtherId);
  EXPECT_EQ(parsed.tokens[2].id, NumberedId(0));
  ASSERT_EQ(parsed.rejected.size(), 3u);
  EXPECT_EQ(parsed.rejected[0].where, "line 2");
  EXPECT_NE(parsed.rejected[0].reason.find("not valid JSON at line 4"), std::string::npos)
      << parsed.rejected[0].reason;
  EXPECT_EQ(parsed.rejected[1].where, "line 4");
  EXPECT_EQ(parsed.rejected[1].reason.find("skipped"), std::string::npos)
      << "one line, nothing more: " << parsed.rejected[1].reason;
  EXPECT_EQ(parsed.rejected[2].where, "line 6");
}

TEST(BoomerangExportTest, AnEmptyFileHoldsNothing) {
  for (const char* text : {"", "\n\n  \n", "[]", " [ ]\n"}) {
    const BoomerangExport parsed = ParseBoomerangExport(text, kNow);
    EXPECT_EQ(parsed.documents, 0u) << text;
    EXPECT_TRUE(parsed.tokens.empty());
    EXPECT_TRUE(parsed.rejected.empty());
  }
}

}  // namespace
}  // namespace tokend::app
