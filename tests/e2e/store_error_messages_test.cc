// Store errors never leak, against the real binary: the SQLite files are
// overwritten under a running tokend (a real fault, without root), and
// every answer the store cannot give is the fixed 503 message, naming no
// file; the detail goes to the log.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/secret.h"
#include "e2e_helpers.h"
#include "tokend_process.h"

namespace tokend::e2e {
namespace {

constexpr std::string_view kUnavailableMessage = "The token store is unavailable; retry later.";

// Overwrites every byte of `path` in place (same file, same size), as a
// failing disk or a stray writer would.
bool Overwrite(const std::filesystem::path& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  if (error) return false;
  const int fd = ::open(path.c_str(), O_WRONLY);
  if (fd < 0) return false;
  const std::string garbage(static_cast<std::size_t>(size), 'x');
  const bool written =
      ::pwrite(fd, garbage.data(), garbage.size(), 0) == static_cast<ssize_t>(garbage.size());
  ::close(fd);
  return written;
}

// The database, its write-ahead log and its shared-memory index.
void CorruptDatabase(const TempDir& dir) {
  for (const char* name : {"tokend.db", "tokend.db-wal", "tokend.db-shm"}) {
    const auto path = dir.path() / name;
    if (std::filesystem::exists(path)) {
      ASSERT_TRUE(Overwrite(path)) << path;
    }
  }
}

std::string Bootstrap(const TempDir& dir) {
  RunResult result = RunTokend({"bootstrap", "--store", "sqlite:" + dir.File("tokend.db")});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return result.out.substr(0, result.out.find('\n'));
}

std::unique_ptr<TokendProcess> Serve(const TempDir& dir, std::string_view auth) {
  return TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store",
                               "sqlite:" + dir.File("tokend.db"), "--auth", std::string(auth)});
}

// Nothing of the store's own words, and nothing of where it lives.
void ExpectNothingOfTheStore(const HttpResponse& res, const TempDir& dir,
                             const std::string& context) {
  for (const std::string& fragment :
       {dir.path().string(), dir.path().filename().string(), std::string("tokend.db"),
        std::string("SQLite"), std::string("sqlite"), std::string("database"),
        std::string("not a")}) {
    EXPECT_EQ(res.body.find(fragment), std::string::npos)
        << context << ": the answer names the store (" << fragment << "): " << res.body;
    for (const auto& [name, value] : res.headers) {
      EXPECT_EQ(value.find(fragment), std::string::npos) << context << ": header " << name;
    }
  }
}

void ExpectFixed503(const HttpResponse& res, const TempDir& dir, const std::string& context) {
  SCOPED_TRACE(context);
  EXPECT_EQ(res.status, 503) << res.body;
  ExpectNothingOfTheStore(res, dir, context);
  const boost::json::value json = ParseJson(res.body);
  ASSERT_TRUE(json.is_object()) << res.body;
  const boost::json::object& body = json.as_object();
  ASSERT_TRUE(body.contains("message") && body.at("message").is_string()) << res.body;
  EXPECT_EQ(body.at("message").as_string(), kUnavailableMessage) << res.body;
  ASSERT_TRUE(body.contains("code") && body.at("code").is_int64()) << res.body;
  EXPECT_EQ(body.at("code").as_int64(), 9010) << res.body;
  EXPECT_EQ(res.Header("Retry-After"), "1");
}

struct Call {
  std::string name;
  std::string method;
  std::string target;
  std::string body;
};

TEST(StoreErrorMessagesTest, CorruptedSqliteFilesAnswerTheFixedMessage) {
  TempDir dir;
  Bootstrap(dir);  // tokens in the store before it starts
  auto tokend = Serve(dir, "off");
  ASSERT_NE(tokend, nullptr);
  TestClient client(tokend->port());
  // Reads before the fault, so that the store's caches are warm.
  for (int i = 0; i < 5; ++i) {
    auto page = client.Request("GET", "/api/v2/token/query");
    ASSERT_TRUE(page.has_value());
    ASSERT_EQ(page->status, 200) << page->body;
  }
  ASSERT_NO_FATAL_FAILURE(CorruptDatabase(dir));

  const std::string unknown = core::GenerateSecret(core::TokenType::kTeam);
  const std::vector<Call> calls = {
      {"query", "GET", "/api/v2/token/query", ""},
      {"paged query", "GET", "/api/v2/token/query?limit=2&page=0", ""},
      {"get", "GET", "/api/v2/token/000000000000000000000000", ""},
      {"delete", "DELETE", "/api/v2/token/000000000000000000000000", ""},
      {"introspect a legacy secret", "POST", "/api/v2/token/introspect",
       R"({"token":"bft_0d8e2a1c-5b7f-4c3e-9a1d-2f6b8c4e7a90"})"},
      {"introspect a checksummed secret", "POST", "/api/v2/token/introspect",
       R"({"token":")" + unknown + R"("})"},
      {"self with a bearer", "GET", "/api/v2/token/self", ""},
  };
  for (const Call& call : calls) {
    Headers headers = JsonWithBearer("");
    if (call.name == "self with a bearer") {
      headers.emplace_back("Authorization", "Bearer " + unknown);
    }
    auto res = client.Request(call.method, call.target, headers, call.body);
    ASSERT_TRUE(res.has_value()) << call.name;
    if (call.name == "self with a bearer") {
      // With authentication off an unresolvable token is no token: 401.
      EXPECT_TRUE(res->status == 401 || res->status == 503) << res->status << " " << res->body;
      ExpectNothingOfTheStore(*res, dir, call.name);
      continue;
    }
    // A secret never issued is known to be unknown without the store once
    // the start-up fill of its fingerprints is done; before, it is looked up.
    if (call.name.starts_with("introspect") && res->status == 200) {
      EXPECT_EQ(res->body, R"({"active":false})") << call.name;
      ExpectNothingOfTheStore(*res, dir, call.name);
      continue;
    }
    ExpectFixed503(*res, dir, call.name);
  }
  // A create may still fit in what the writer holds; if refused, the same way.
  auto create = client.Request(
      "POST", "/api/v2/token", JsonWithBearer(""),
      R"({"type":"team","name":"x","principal":"t","permissions":["workflow/read"]})");
  ASSERT_TRUE(create.has_value());
  if (create->status != 200) ExpectFixed503(*create, dir, "create");
  auto health = client.Request("GET", "/health");
  ASSERT_TRUE(health.has_value());
  ExpectNothingOfTheStore(*health, dir, "health");
  auto metrics = client.Request("GET", "/metrics");
  ASSERT_TRUE(metrics.has_value());
  ExpectNothingOfTheStore(*metrics, dir, "metrics");

  // The operator learns what happened, and where.
  const std::string log = tokend->Log();
  const auto answered = log.find("answering 503");
  ASSERT_NE(answered, std::string::npos) << log;
  const std::string line = log.substr(answered, log.find('\n', answered) - answered);
  EXPECT_NE(line.find(dir.File("tokend.db")), std::string::npos) << line;
}

TEST(StoreErrorMessagesTest, AuthenticationAgainstACorruptedStoreAnswersTheFixedMessage) {
  TempDir dir;
  const std::string used = Bootstrap(dir);
  const std::string unused = Bootstrap(dir);
  ASSERT_FALSE(used.empty());
  ASSERT_FALSE(unused.empty());
  auto tokend = Serve(dir, "required");
  ASSERT_NE(tokend, nullptr);
  TestClient client(tokend->port());
  auto self = client.Request("GET", "/api/v2/token/self", JsonWithBearer(used));
  ASSERT_TRUE(self.has_value());
  ASSERT_EQ(self->status, 200) << self->body;
  ASSERT_NO_FATAL_FAILURE(CorruptDatabase(dir));
  // A reader may go on answering secret lookups from the snapshot it read
  // before, for 100 ms at most (docs/API.md 7.8).
  std::this_thread::sleep_for(std::chrono::milliseconds(150));

  // A secret this process never resolved has to be looked up: 503.
  for (int i = 0; i < 3; ++i) {
    TestClient fresh(tokend->port());
    auto res = fresh.Request("GET", "/api/v2/token/query", JsonWithBearer(unused));
    ASSERT_TRUE(res.has_value());
    ExpectFixed503(*res, dir, "bearer not yet resolved");
    res = fresh.Request("GET", "/api/v2/token/query?access_token=" + unused);
    ASSERT_TRUE(res.has_value());
    ExpectFixed503(*res, dir, "access_token not yet resolved");
  }
  // A caller the process knows reaches the routes, which fail alike.
  TestClient known(tokend->port());
  for (const std::string& target : {std::string("/api/v2/token/query"),
                                    std::string("/api/v2/token/000000000000000000000000")}) {
    auto res = known.Request("GET", target, JsonWithBearer(used));
    ASSERT_TRUE(res.has_value());
    ExpectFixed503(*res, dir, target);
  }
  auto introspect = known.Request("POST", "/api/v2/token/introspect", JsonWithBearer(used),
                                  R"({"token":")" + unused + R"("})");
  ASSERT_TRUE(introspect.has_value());
  ExpectFixed503(*introspect, dir, "introspect");
  EXPECT_EQ(tokend->Log().find(unused), std::string::npos) << "a secret was logged";
}

}  // namespace
}  // namespace tokend::e2e
