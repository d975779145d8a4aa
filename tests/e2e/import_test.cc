// `tokend import boomerang`: exports of Boomerang's tokens collection in every
// mongoexport format, with known secrets, imported by the real binary into a
// SQLite file and into PostgreSQL; then a real server on that store must
// accept every secret with its permissions. PostgreSQL cases need
// TOKEND_TEST_PG_URL (scripts/with-postgres.sh).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/secret.h"
#include "core/time.h"
#include "core/token.h"
#include "e2e_helpers.h"
#include "store/store_backends.h"
#include "store/token_store.h"
#include "tokend_process.h"

namespace tokend::e2e {
namespace {

using core::TokenType;
using store::testing::GetEnv;
using store::testing::QueryValue;
using store::testing::ScopedPostgresDatabase;

// 2023-03-01T05:00:00.000Z, 2030-01-01T00:00:00.000Z, 2024-01-01T00:00:00.000Z.
constexpr std::int64_t kCreated = 1677646800000;
constexpr std::int64_t kFuture = 1893456000000;
constexpr std::int64_t kPast = 1704067200000;

// One token as Boomerang stored it, with the secret its user holds.
struct Fixture {
  std::string secret;
  std::string id;
  TokenType type;
  std::optional<std::string> name;  // Boomerang's session tokens have none
  std::optional<std::string> principal;
  std::vector<std::string> actions;
  std::int64_t creation = kCreated;
  std::optional<std::int64_t> expiration;
};

// Secrets as Boomerang generated them (prefix + lowercase UUID), and one in
// tokend's own format, to show both keep working.
std::vector<Fixture> Fixtures() {
  return {
      {"bfg_4c1d8a2e-9b7f-4e3a-a1c5-0d2e3f4a5b6c",
       "64a1f0c2e4b0d1a2b3c4d501",
       TokenType::kGlobal,
       "migration admin",
       std::nullopt,
       {"**/**"},
       kCreated,
       std::nullopt},
      {"bft_0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
       "64a1f0c2e4b0d1a2b3c4d502",
       TokenType::kTeam,
       "CI deploys",
       "team-7",
       {"workflow/read", "workflow/action"},
       kCreated + 1000,
       kFuture},
      {core::GenerateSecret(TokenType::kWorkflow),
       "64a1f0c2e4b0d1a2b3c4d503",
       TokenType::kWorkflow,
       "Scheduled Job Token",
       "wf-1",
       {"workflow/**"},
       kCreated + 2000,
       kFuture},
      {"bfu_11111111-2222-4333-8444-555555555555",
       "64a1f0c2e4b0d1a2b3c4d504",
       TokenType::kUser,
       "laptop",
       "user-1",
       {},
       kCreated + 3000,
       std::nullopt},
      {"bfs_aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
       "64a1f0c2e4b0d1a2b3c4d505",
       TokenType::kSession,
       std::nullopt,
       "user-1",
       {"**/read"},
       kCreated + 4000,
       kFuture},
      {"bft_99999999-8888-4777-8666-555555555555",
       "64a1f0c2e4b0d1a2b3c4d506",
       TokenType::kTeam,
       "old",
       "team-7",
       {"workflow/read"},
       kCreated + 5000,
       kPast},
  };
}

enum class Format {
  kRelaxedLines,
  kCanonicalLines,
  kRelaxedArray,
  kCanonicalPrettyArray,
  kRelaxedPretty,    // --pretty without --jsonArray: documents one after another
  kCanonicalPretty,  // the same with --jsonFormat=canonical
};

bool IsCanonical(Format format) {
  return format == Format::kCanonicalLines || format == Format::kCanonicalPrettyArray ||
         format == Format::kCanonicalPretty;
}

std::string Quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

// A date as mongoexport writes it: relaxed {"$date": "...Z"} or canonical
// {"$date": {"$numberLong": "..."}}.
std::string Date(std::int64_t millis, Format format) {
  if (IsCanonical(format)) {
    return R"({"$date":{"$numberLong":")" + std::to_string(millis) + R"("}})";
  }
  std::string iso = core::FormatSpringDate(millis);
  iso.replace(iso.size() - 6, 6, "Z");
  return R"({"$date":")" + iso + R"("})";
}

// The TokenEntity document Boomerang's MongoDB holds for `fixture`, in the
// field order Spring Data writes.
std::string Document(const Fixture& fixture, Format format) {
  const std::string scope_principal = fixture.principal.value_or("**");
  std::string actions;
  for (const std::string& action : fixture.actions) {
    if (!actions.empty()) actions += ",";
    actions += Quoted(action);
  }
  std::string document =
      R"({"_id":{"$oid":")" + fixture.id + R"("},"type":)" + Quoted(core::ToString(fixture.type));
  if (fixture.name) document += R"(,"name":)" + Quoted(*fixture.name);
  document += R"(,"creationDate":)" + Date(fixture.creation, format);
  document += R"(,"expirationDate":)" +
              (fixture.expiration ? Date(*fixture.expiration, format) : std::string("null"));
  if (fixture.principal) document += R"(,"principal":)" + Quoted(*fixture.principal);
  document += R"(,"permissions":[{"scope":)" + Quoted(core::ToString(fixture.type)) +
              R"(,"principal":)" + Quoted(scope_principal) + R"(,"actions":[)" + actions + "]}]";
  document += R"(,"token":)" + Quoted(core::HashSecret(fixture.secret));
  document += R"(,"_class":"io.boomerang.security.entity.TokenEntity"})";
  return document;
}

// A compact `document` as mongoexport --pretty writes it without --jsonArray:
// one member or element a line, a tab per level of nesting, "[]" kept whole.
std::string Pretty(std::string_view document) {
  std::string pretty;
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  bool opened = false;  // the last character opened an object or array
  const auto new_line = [&] {
    pretty += '\n';
    pretty.append(static_cast<std::size_t>(depth), '\t');
  };
  for (const char c : document) {
    if (in_string) {
      pretty += c;
      in_string = escaped || c != '"';
      escaped = !escaped && c == '\\';
      continue;
    }
    const bool closing = c == '}' || c == ']';
    if (opened && !closing) new_line();
    if (closing) --depth;
    if (closing && !opened) new_line();
    opened = c == '{' || c == '[';
    if (opened) ++depth;
    pretty += c;
    if (c == '"') in_string = true;
    if (c == ',') new_line();
    if (c == ':') pretty += ' ';
  }
  return pretty + "\n";
}

std::string Export(const std::vector<Fixture>& fixtures, Format format) {
  if (format == Format::kRelaxedPretty || format == Format::kCanonicalPretty) {
    std::string text;
    for (const Fixture& fixture : fixtures) text += Pretty(Document(fixture, format));
    return text;
  }
  std::string text;
  const bool array = format == Format::kRelaxedArray || format == Format::kCanonicalPrettyArray;
  const bool pretty = format == Format::kCanonicalPrettyArray;
  if (array) text += pretty ? "[\n" : "[";
  for (std::size_t i = 0; i < fixtures.size(); ++i) {
    if (array && i > 0) text += pretty ? ",\n" : ",";
    if (pretty) text += "  ";
    text += Document(fixtures[i], format);
    if (!array) text += "\n";
  }
  if (array) text += pretty ? "\n]\n" : "]";
  return text;
}

std::string WriteFile(const TempDir& dir, const std::string& name, const std::string& content) {
  const std::string path = dir.File(name);
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

std::string Summary(int imported, int skipped, int rejected) {
  return "imported " + std::to_string(imported) + ", skipped " + std::to_string(skipped) +
         " (already present), rejected " + std::to_string(rejected) + "\n";
}

RunResult Import(const std::string& file, const std::string& store,
                 std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"import", "boomerang", file, "--store", store};
  args.insert(args.end(), extra.begin(), extra.end());
  return RunTokend(args, std::chrono::seconds(60));
}

// Output and log never show a secret or its hash.
void ExpectNoSecrets(const RunResult& run, const std::vector<Fixture>& fixtures) {
  for (const Fixture& fixture : fixtures) {
    for (const std::string& text : {fixture.secret, core::HashSecret(fixture.secret)}) {
      EXPECT_EQ(run.out.find(text), std::string::npos);
      EXPECT_EQ(run.err.find(text), std::string::npos);
    }
  }
}

// A server on `store`: every unexpired secret authenticates and introspects
// active with its own id, dates and permissions; the expired one does not.
void ExpectEverySecretWorks(const std::string& store, const std::vector<Fixture>& fixtures) {
  auto tokend = TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store", store});
  ASSERT_NE(tokend, nullptr);
  TestClient client(tokend->port());
  const std::string admin = fixtures.front().secret;
  for (const Fixture& fixture : fixtures) {
    SCOPED_TRACE(fixture.id);
    boost::json::object body{{"token", fixture.secret}};
    auto introspected = client.Request("POST", "/api/v2/token/introspect", JsonWithBearer(admin),
                                       boost::json::serialize(body));
    ASSERT_TRUE(introspected.has_value());
    ASSERT_EQ(introspected->status, 200) << introspected->body;
    const boost::json::value answer = ParseJson(introspected->body);
    ASSERT_TRUE(answer.is_object()) << introspected->body;
    const bool expired = fixture.expiration && *fixture.expiration < core::NowMillis();
    if (expired) {
      EXPECT_EQ(answer.at("active"), false);
      auto self = client.Request("GET", "/api/v2/token/self", JsonWithBearer(fixture.secret));
      ASSERT_TRUE(self.has_value());
      EXPECT_EQ(self->status, 401);
      auto by_id = client.Request("GET", "/api/v2/token/" + fixture.id, JsonWithBearer(admin));
      ASSERT_TRUE(by_id.has_value());
      ASSERT_EQ(by_id->status, 200) << "an expired token is imported, shown invalid";
      EXPECT_EQ(ParseJson(by_id->body).at("valid"), false);
      continue;
    }
    EXPECT_EQ(answer.at("active"), true) << introspected->body;
    EXPECT_EQ(answer.at("id").as_string(), fixture.id);
    EXPECT_EQ(answer.at("type").as_string(), core::ToString(fixture.type));
    EXPECT_EQ(answer.at("name").as_string(), fixture.name.value_or("session"));
    EXPECT_EQ(answer.at("creationDate").as_string(), core::FormatSpringDate(fixture.creation));
    if (fixture.expiration) {
      EXPECT_EQ(answer.at("expirationDate").as_string(),
                core::FormatSpringDate(*fixture.expiration));
    } else {
      EXPECT_FALSE(answer.as_object().contains("expirationDate"));
    }
    if (fixture.principal) {
      EXPECT_EQ(answer.at("principal").as_string(), *fixture.principal);
    } else {
      EXPECT_FALSE(answer.as_object().contains("principal"));
    }
    const boost::json::array& permissions = answer.at("permissions").as_array();
    ASSERT_EQ(permissions.size(), 1u);
    EXPECT_EQ(permissions[0].at("scope").as_string(), core::ToString(fixture.type));
    EXPECT_EQ(permissions[0].at("principal").as_string(), fixture.principal.value_or("**"));
    boost::json::array actions;
    for (const std::string& action : fixture.actions) actions.emplace_back(action);
    EXPECT_EQ(permissions[0].at("actions"), boost::json::value(actions));

    auto self = client.Request("GET", "/api/v2/token/self", JsonWithBearer(fixture.secret));
    ASSERT_TRUE(self.has_value());
    EXPECT_EQ(self->status, 200) << "the secret authenticates: " << self->body;
  }
  // What the permissions grant is what Boomerang granted: the team token may
  // not read tokens (no token/read), the admin may.
  auto query = client.Request("GET", "/api/v2/token/query", JsonWithBearer(fixtures[1].secret));
  ASSERT_TRUE(query.has_value());
  EXPECT_EQ(query->status, 403);
  query = client.Request("GET", "/api/v2/token/query", JsonWithBearer(admin));
  ASSERT_TRUE(query.has_value());
  ASSERT_EQ(query->status, 200);
  EXPECT_EQ(ParseJson(query->body).at("totalElements").to_number<std::int64_t>(),
            static_cast<std::int64_t>(fixtures.size()));
}

class ImportFormatTest : public ::testing::TestWithParam<Format> {};

TEST_P(ImportFormatTest, EverySecretWorksAfterImportIntoSqlite) {
  TempDir dir;
  const std::vector<Fixture> fixtures = Fixtures();
  const std::string file = WriteFile(dir, "tokens.json", Export(fixtures, GetParam()));
  const std::string store = "sqlite:" + dir.File("data/tokend.db");

  RunResult run = Import(file, store);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, Summary(6, 0, 0));
  ExpectNoSecrets(run, fixtures);
  ExpectEverySecretWorks(store, fixtures);
}

INSTANTIATE_TEST_SUITE_P(Formats, ImportFormatTest,
                         ::testing::Values(Format::kRelaxedLines, Format::kCanonicalLines,
                                           Format::kRelaxedArray, Format::kCanonicalPrettyArray,
                                           Format::kRelaxedPretty, Format::kCanonicalPretty),
                         [](const ::testing::TestParamInfo<Format>& info) {
                           switch (info.param) {
                             case Format::kRelaxedLines:
                               return "RelaxedLines";
                             case Format::kCanonicalLines:
                               return "CanonicalLines";
                             case Format::kRelaxedArray:
                               return "RelaxedArray";
                             case Format::kCanonicalPrettyArray:
                               return "CanonicalPrettyArray";
                             case Format::kRelaxedPretty:
                               return "RelaxedPretty";
                             case Format::kCanonicalPretty:
                               return "CanonicalPretty";
                           }
                           return "Unknown";
                         });

TEST(ImportTest, ReimportSkipsEverythingInAnyFormat) {
  TempDir dir;
  const std::vector<Fixture> fixtures = Fixtures();
  const std::string store = "sqlite:" + dir.File("tokend.db");
  const std::string lines = WriteFile(dir, "lines.json", Export(fixtures, Format::kRelaxedLines));
  const std::string array =
      WriteFile(dir, "array.json", Export(fixtures, Format::kCanonicalPrettyArray));
  ASSERT_EQ(Import(lines, store).out, Summary(6, 0, 0));

  RunResult again = Import(lines, store);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, Summary(0, 6, 0));
  again = Import(array, store, {"--jsonArray"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, Summary(0, 6, 0));
}

// The same export imported again after the tokens lived on in tokend: a
// token deleted, revoked by value or rotated away since stays gone.
TEST(ImportTest, ReimportNeverBringsBackWhatWasRevokedOrRotatedSince) {
  TempDir dir;
  const std::vector<Fixture> fixtures = Fixtures();
  const std::string store = "sqlite:" + dir.File("tokend.db");
  const std::string lines = WriteFile(dir, "lines.json", Export(fixtures, Format::kRelaxedLines));
  ASSERT_EQ(Import(lines, store).out, Summary(6, 0, 0));

  const std::string& admin = fixtures[0].secret;
  const Fixture& deleted = fixtures[1];
  const Fixture& revoked = fixtures[2];
  const Fixture& rotated = fixtures[3];
  auto active = [&](TestClient& client, const Fixture& fixture) {
    return IsActive(client, admin, fixture.secret);
  };
  {
    auto tokend = TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store", store});
    ASSERT_NE(tokend, nullptr);
    TestClient client(tokend->port());
    auto gone = client.Request("DELETE", "/api/v2/token/" + deleted.id, JsonWithBearer(admin));
    ASSERT_TRUE(gone.has_value());
    ASSERT_EQ(gone->status, 200) << gone->body;
    boost::json::object revoke{{"token", revoked.secret}};
    auto revocation = client.Request("POST", "/api/v2/token/revoke", JsonWithBearer(""),
                                     boost::json::serialize(revoke));
    ASSERT_TRUE(revocation.has_value());
    ASSERT_EQ(revocation->status, 200) << revocation->body;
    auto rotation =
        client.Request("POST", "/api/v2/token/self/rotate", JsonWithBearer(rotated.secret), "{}");
    ASSERT_TRUE(rotation.has_value());
    ASSERT_EQ(rotation->status, 200) << rotation->body;
    for (const Fixture* fixture : {&deleted, &revoked, &rotated}) {
      EXPECT_EQ(active(client, *fixture), false) << fixture->id;
    }
    tokend->Signal(SIGTERM);
    ASSERT_EQ(tokend->WaitExit(std::chrono::seconds(15)), 0);
  }

  RunResult dry = Import(lines, store, {"--dry-run"});
  EXPECT_EQ(dry.out,
            "dry run, nothing written: would import 0, skip 6 (already present), reject 0\n");
  RunResult again = Import(lines, store);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, Summary(0, 6, 0));

  auto tokend = TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store", store});
  ASSERT_NE(tokend, nullptr);
  TestClient client(tokend->port());
  for (const Fixture* fixture : {&deleted, &revoked, &rotated}) {
    EXPECT_EQ(active(client, *fixture), false) << fixture->id;
  }
  EXPECT_EQ(active(client, fixtures[4]), true) << "an untouched token still works";
}

// Every imported token has its token.created, a system event saying where it
// came from, written with it: once, however often the file is imported, and
// in chains that verify.
TEST(ImportTest, EachImportedTokenIsRecordedOnceInTheAuditTrail) {
  TempDir dir;
  const std::vector<Fixture> fixtures = Fixtures();
  const std::string store = "sqlite:" + dir.File("tokend.db");
  const std::string file = WriteFile(dir, "lines.json", Export(fixtures, Format::kRelaxedLines));
  ASSERT_EQ(Import(file, store).out, Summary(6, 0, 0));
  ASSERT_EQ(Import(file, store).out, Summary(0, 6, 0));
  ASSERT_EQ(Import(file, store, {"--dry-run"}).exit_code, 0);

  RunResult verified = RunTokend({"audit", "verify", "--store", store}, std::chrono::seconds(60));
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;

  auto tokend = TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store", store});
  ASSERT_NE(tokend, nullptr);
  TestClient client(tokend->port());
  auto page = client.Request("GET", "/api/v2/token/audit?limit=100",
                             JsonWithBearer(fixtures.front().secret));
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->status, 200) << page->body;
  const boost::json::value answer = ParseJson(page->body);
  std::set<std::string> subjects;
  for (const boost::json::value& item : answer.at("content").as_array()) {
    const boost::json::object& event = item.as_object();
    EXPECT_EQ(event.at("action"), "token.created");
    EXPECT_FALSE(event.contains("actor")) << "a system event";
    EXPECT_FALSE(event.contains("remoteAddress"));
    EXPECT_EQ(event.at("details").at("importedFrom"), "boomerang");
    subjects.insert(std::string(event.at("subject").at("id").as_string()));
  }
  EXPECT_EQ(subjects.size(), fixtures.size());
  for (const Fixture& fixture : fixtures) EXPECT_EQ(subjects.count(fixture.id), 1u) << fixture.id;
  EXPECT_EQ(answer.at("totalElements").to_number<std::int64_t>(),
            static_cast<std::int64_t>(fixtures.size()));
}

// Imported tokens' token.created events are queued for the webhook URLs
// given, as bootstrap's are, for serve to deliver; a bad URL is a usage error.
TEST(ImportTest, ImportedEventsAreQueuedForTheWebhookUrlsGiven) {
  TempDir dir;
  const std::string store = "sqlite:" + dir.File("tokend.db");
  const std::string file = WriteFile(dir, "lines.json", Export(Fixtures(), Format::kRelaxedLines));
  RunResult bad = Import(file, store, {"--webhook-url", "ftp://127.0.0.1/hook"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("--webhook-url"), std::string::npos) << bad.err;
  ASSERT_EQ(Import(file, store, {"--webhook-url", "http://127.0.0.1:9/a,http://127.0.0.1:9/b"}).out,
            Summary(6, 0, 0));
  auto opened = store::TokenStore::Open(store, {});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto stats = (*opened)->GetOutboxStats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->waiting, 12) << "six events, two URLs";
}

TEST(ImportTest, DocumentsRepeatedInTheFileAreSkipped) {
  TempDir dir;
  const std::vector<Fixture> fixtures = Fixtures();
  const std::string text = Export(fixtures, Format::kRelaxedLines);
  const std::string file = WriteFile(dir, "twice.json", text + text);
  RunResult run = Import(file, "sqlite:" + dir.File("tokend.db"));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, Summary(6, 6, 0));
}

TEST(ImportTest, DryRunWritesNothing) {
  TempDir dir;
  const std::vector<Fixture> fixtures = Fixtures();
  const std::string all = WriteFile(dir, "all.json", Export(fixtures, Format::kRelaxedLines));
  const std::vector<Fixture> half(fixtures.begin(), fixtures.begin() + 3);
  const std::string first = WriteFile(dir, "half.json", Export(half, Format::kRelaxedLines));
  const std::string db = dir.File("data/tokend.db");
  const std::string store = "sqlite:" + db;

  RunResult dry = Import(all, store, {"--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(dry.out,
            "dry run, nothing written: would import 6, skip 0 (already present), reject 0\n");
  EXPECT_FALSE(std::filesystem::exists(db)) << "not even an empty database";

  ASSERT_EQ(Import(first, store).out, Summary(3, 0, 0));
  dry = Import(all, store, {"--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(dry.out,
            "dry run, nothing written: would import 3, skip 3 (already present), reject 0\n");
  EXPECT_EQ(Import(all, store).out, Summary(3, 3, 0)) << "the dry run wrote nothing";
}

TEST(ImportTest, RejectedDocumentsAreNamedByLineAndTheRestImported) {
  TempDir dir;
  std::vector<Fixture> fixtures = Fixtures();
  std::vector<std::string> lines;
  for (const Fixture& fixture : fixtures) lines.push_back(Document(fixture, Format::kRelaxedLines));
  // Line 3: a type tokend does not know; line 5: blank; line 7: a
  // permission of another scope, which tokend cannot give a team token.
  std::string bad_type = lines[2];
  bad_type.replace(bad_type.find(R"("type":"workflow")"), 17, R"("type":"robot")");
  std::string other_scope = Document(fixtures[1], Format::kRelaxedLines);
  other_scope.replace(other_scope.find(R"("scope":"team")"), 14, R"("scope":"global")");
  other_scope.replace(other_scope.find("64a1f0c2e4b0d1a2b3c4d502"), 24, "64a1f0c2e4b0d1a2b3c4d5ff");
  const std::string text = lines[0] + "\n" + lines[1] + "\n" + bad_type + "\n" + lines[3] + "\n\n" +
                           lines[4] + "\n" + other_scope + "\n" + lines[5] + "\n";
  const std::string file = WriteFile(dir, "tokens.json", text);
  const std::string store = "sqlite:" + dir.File("tokend.db");

  RunResult run = Import(file, store);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, Summary(5, 0, 2));
  EXPECT_NE(run.err.find("line 3: rejected: field 'type'"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("line 7: rejected: field 'permissions[0].scope'"), std::string::npos)
      << run.err;
  ExpectNoSecrets(run, fixtures);

  fixtures.erase(fixtures.begin() + 2);
  ExpectEverySecretWorks(store, fixtures);
}

TEST(ImportTest, RejectedArrayDocumentsAreNamedByIndex) {
  TempDir dir;
  std::vector<Fixture> fixtures = Fixtures();
  fixtures[3].principal = std::nullopt;  // a user token without its user
  const std::string file = WriteFile(dir, "tokens.json", Export(fixtures, Format::kRelaxedArray));
  RunResult run = Import(file, "sqlite:" + dir.File("tokend.db"));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, Summary(5, 0, 1));
  EXPECT_NE(run.err.find("document 4: rejected: field 'principal'"), std::string::npos) << run.err;
}

TEST(ImportTest, ABrokenPrettyDocumentIsNamedByItsFirstLineAndTheRestImported) {
  TempDir dir;
  std::vector<Fixture> fixtures = Fixtures();
  std::string text;
  std::size_t broken_line = 0;
  for (std::size_t i = 0; i < fixtures.size(); ++i) {
    std::string document = Pretty(Document(fixtures[i], Format::kRelaxedPretty));
    if (i == 2) {
      broken_line = 1 + static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
      document.erase(document.find(R"("type": "workflow",)") + 18, 1);  // a missing comma
    }
    text += document;
  }
  const std::string file = WriteFile(dir, "tokens.json", text);
  const std::string store = "sqlite:" + dir.File("tokend.db");

  RunResult run = Import(file, store);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out, Summary(5, 0, 1));
  EXPECT_NE(run.err.find("line " + std::to_string(broken_line) +
                         ": rejected: the document is not valid JSON"),
            std::string::npos)
      << run.err;
  ExpectNoSecrets(run, fixtures);

  fixtures.erase(fixtures.begin() + 2);
  ExpectEverySecretWorks(store, fixtures);
}

TEST(ImportTest, SeveralDocumentsOnOneLineAreEachImported) {
  TempDir dir;
  const std::vector<Fixture> fixtures = Fixtures();
  std::string text;
  for (const Fixture& fixture : fixtures) text += Document(fixture, Format::kRelaxedLines);
  const std::string file = WriteFile(dir, "tokens.json", text + "\n");
  RunResult run = Import(file, "sqlite:" + dir.File("tokend.db"));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, Summary(6, 0, 0));
}

TEST(ImportTest, AByteOrderMarkAtTheStartIsSkipped) {
  TempDir dir;
  const std::vector<Fixture> fixtures = Fixtures();
  const std::string store = "sqlite:" + dir.File("tokend.db");
  const std::string lines =
      WriteFile(dir, "lines.json", "\xEF\xBB\xBF" + Export(fixtures, Format::kRelaxedLines));
  const std::string array = WriteFile(
      dir, "array.json", "\xEF\xBB\xBF" + Export(fixtures, Format::kCanonicalPrettyArray));
  RunResult run = Import(lines, store);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, Summary(6, 0, 0));
  run = Import(array, store);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, Summary(0, 6, 0));
}

TEST(ImportTest, ProgressLinesOnFilesOfSeveralBatches) {
  TempDir dir;
  const std::vector<Fixture> fixtures = Fixtures();
  const std::string file = WriteFile(dir, "tokens.json", Export(fixtures, Format::kRelaxedLines));
  RunResult run = Import(file, "sqlite:" + dir.File("tokend.db"), {"--batch-size", "4"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, Summary(6, 0, 0));
  EXPECT_NE(run.err.find("4 of 6 tokens written"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("6 of 6 tokens written"), std::string::npos) << run.err;
}

TEST(ImportTest, AStoreHeldByARunningServerIsRefused) {
  TempDir dir;
  const std::string store = "sqlite:" + dir.File("tokend.db");
  auto tokend = TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store", store});
  ASSERT_NE(tokend, nullptr);
  const std::string file = WriteFile(dir, "tokens.json", Export(Fixtures(), Format::kRelaxedLines));
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{}, std::vector<std::string>{"--dry-run"}}) {
    RunResult run = Import(file, store, extra);
    EXPECT_EQ(run.exit_code, 2);
    EXPECT_EQ(run.out, "");
    EXPECT_NE(run.err.find("in use by another tokend process"), std::string::npos) << run.err;
  }
}

TEST(ImportTest, UsageErrorsExitTwo) {
  TempDir dir;
  const std::string file = WriteFile(dir, "tokens.json", Export(Fixtures(), Format::kRelaxedLines));
  RunResult missing = Import(dir.File("absent.json"), "sqlite:" + dir.File("tokend.db"));
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("cannot read"), std::string::npos) << missing.err;
  EXPECT_FALSE(std::filesystem::exists(dir.File("tokend.db")));

  RunResult bad_url = Import(file, "mysql://db/tokens");
  EXPECT_EQ(bad_url.exit_code, 2);
  EXPECT_NE(bad_url.err.find("scheme"), std::string::npos) << bad_url.err;
  RunResult in_memory = Import(file, "sqlite::memory:");
  EXPECT_EQ(in_memory.exit_code, 2) << "an import that keeps nothing";
  EXPECT_NE(in_memory.err.find("keeps nothing"), std::string::npos) << in_memory.err;
  EXPECT_EQ(in_memory.out, "");

  EXPECT_EQ(RunTokend({"import", "boomerang"}).exit_code, 2) << "FILE is required";
  EXPECT_EQ(RunTokend({"import", file}).exit_code, 2) << "the source is required";
}

TEST(ImportTest, EverySecretWorksAfterImportIntoPostgres) {
  if (GetEnv("TOKEND_TEST_PG_URL").empty()) GTEST_SKIP() << "TOKEND_TEST_PG_URL not set";
  auto database = ScopedPostgresDatabase::Create(GetEnv("TOKEND_TEST_PG_URL"));
  ASSERT_TRUE(database.ok()) << database.status().ToString();
  const std::string store = (*database)->url();
  TempDir dir;
  const std::vector<Fixture> fixtures = Fixtures();
  const std::string lines = WriteFile(dir, "lines.json", Export(fixtures, Format::kRelaxedLines));
  const std::string array =
      WriteFile(dir, "array.json", Export(fixtures, Format::kCanonicalPrettyArray));

  RunResult dry = Import(lines, store, {"--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(dry.out,
            "dry run, nothing written: would import 6, skip 0 (already present), reject 0\n");
  EXPECT_EQ(QueryValue(store, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), "0")
      << "a dry run writes nothing, not even tokend's tables";
  RunResult run = Import(lines, store, {"--batch-size", "4"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, Summary(6, 0, 0));
  ExpectNoSecrets(run, fixtures);
  // The import settled what it loaded (VACUUM (ANALYZE) of both tables).
  EXPECT_EQ(QueryValue(store,
                       "SELECT count(*) FROM pg_stat_user_tables WHERE relname IN "
                       "('tokens', 'audit_events') AND last_vacuum IS NOT NULL AND "
                       "last_analyze IS NOT NULL"),
            "2");
  RunResult again = Import(array, store);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, Summary(0, 6, 0));
  dry = Import(lines, store, {"--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(dry.out,
            "dry run, nothing written: would import 0, skip 6 (already present), reject 0\n");
  ExpectEverySecretWorks(store, fixtures);
}

}  // namespace
}  // namespace tokend::e2e
