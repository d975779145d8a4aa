// The SQLite file under the real binary: one process per file, private file
// modes, and no write acknowledged into a file that was replaced.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "e2e_helpers.h"
#include "tokend_process.h"

namespace tokend::e2e {
namespace {

using namespace std::chrono_literals;

constexpr const char* kTeamBody =
    R"({"type":"team","name":"t","principal":"team-a","permissions":["workflow/read"]})";

mode_t ModeOf(const std::string& path) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) return 0;
  return info.st_mode & 07777;
}

// A second process on the same file could not hear of the first one's
// deletions (a token deleted on one would keep working on the other), so
// it is refused at start, naming the file, with exit status 2.
TEST(SqliteFilesTest, SecondProcessOnOneFileIsRefused) {
  TempDir dir;
  const std::string db = dir.File("tokend.db");
  const std::vector<std::string> serve = {"serve", "--listen", "127.0.0.1:0", "--store",
                                          "sqlite:" + db};
  auto first = TokendProcess::Start(serve);
  ASSERT_NE(first, nullptr);

  std::string log;
  auto second = TokendProcess::Start(serve, &log, 10s);
  EXPECT_EQ(second, nullptr) << "a second serve on " << db << " started";
  EXPECT_NE(log.find(db), std::string::npos) << log;
  EXPECT_NE(log.find("in use by another tokend process"), std::string::npos) << log;
  RunResult again = RunTokend(serve, 10s);
  EXPECT_EQ(again.exit_code, 2) << again.err;

  RunResult bootstrap = RunTokend({"bootstrap", "--store", "sqlite:" + db}, 10s);
  EXPECT_EQ(bootstrap.exit_code, 2) << bootstrap.err;
  EXPECT_EQ(bootstrap.out, "") << "no secret minted";
  EXPECT_NE(bootstrap.err.find(db), std::string::npos) << bootstrap.err;

  // The first one never noticed, and once it stops the file is free.
  TestClient client(first->port());
  auto health = client.Request("GET", "/health");
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 200);
  first->Signal(SIGTERM);
  ASSERT_EQ(first->WaitExit(15s), 0);
  auto next = TokendProcess::Start(serve);
  EXPECT_NE(next, nullptr);
}

// What tokend creates is its own: folders 0700, the database, its side
// files and the bootstrap secret 0600. Folders that existed keep their mode.
TEST(SqliteFilesTest, CreatedFilesAndFoldersArePrivate) {
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  const std::string folder = dir.File("state");
  const std::string nested = folder + "/sqlite";
  const std::string db = nested + "/tokend.db";
  const std::string data = dir.File("data");
  auto tokend = TokendProcess::Start(
      {"serve", "--listen", "127.0.0.1:0", "--store", "sqlite:" + db, "--data-dir", data});
  ASSERT_NE(tokend, nullptr);
  TestClient client(tokend->port());
  std::ifstream secret_file(data + "/bootstrap-token");
  std::string admin;
  std::getline(secret_file, admin);
  ASSERT_TRUE(CreateToken(client, admin, kTeamBody).has_value());  // the WAL has content

  EXPECT_EQ(ModeOf(dir.path().string()), 0755u) << "an existing folder is left alone";
  for (const std::string& created : {folder, nested, data}) {
    EXPECT_EQ(ModeOf(created), 0700u) << created;
  }
  for (const std::string& file : {db, db + "-wal", db + "-shm", data + "/bootstrap-token"}) {
    EXPECT_EQ(ModeOf(file), 0600u) << file;
  }
}

// Once the file is moved away or replaced, /health says DOWN and every
// write answers 503 instead of going into a file a restart would not open.
TEST(SqliteFilesTest, WritesAreRefusedOnceTheFileIsReplaced) {
  TempDir dir;
  const std::string db = dir.File("tokend.db");
  auto tokend = TokendProcess::Start(
      {"serve", "--listen", "127.0.0.1:0", "--store", "sqlite:" + db, "--auth", "off"});
  ASSERT_NE(tokend, nullptr);
  TestClient client(tokend->port());
  auto kept = CreateToken(client, "", kTeamBody);
  ASSERT_TRUE(kept.has_value());
  const std::string id(kept->at("id").as_string());

  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::rename(db + suffix, dir.File("moved.db") + suffix);
  }
  std::ofstream(db) << "";  // a new, empty file where the database was

  auto health = client.Request("GET", "/health");
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 503);
  EXPECT_EQ(health->body, R"({"status":"DOWN"})");
  auto created = client.Request("POST", "/api/v2/token", JsonWithBearer(""), kTeamBody);
  ASSERT_TRUE(created.has_value());
  EXPECT_EQ(created->status, 503) << created->body;
  EXPECT_EQ(ParseJson(created->body).at("code").as_int64(), 9010) << created->body;
  auto deleted = client.Request("DELETE", "/api/v2/token/" + id);
  ASSERT_TRUE(deleted.has_value());
  EXPECT_EQ(deleted->status, 503) << deleted->body;
  // The metrics say what /health says, and count no tokens they cannot trust.
  auto metrics = client.Request("GET", "/metrics");
  ASSERT_TRUE(metrics.has_value());
  EXPECT_NE(metrics->body.find("\ntokend_store_up 0\n"), std::string::npos) << metrics->body;
  EXPECT_EQ(metrics->body.find("tokend_tokens{"), std::string::npos) << metrics->body;
}

}  // namespace
}  // namespace tokend::e2e
