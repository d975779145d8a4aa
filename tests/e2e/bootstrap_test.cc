// First start with --auth required, and `tokend bootstrap`.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/secret.h"
#include "e2e_helpers.h"
#include "tokend_process.h"

namespace tokend::e2e {
namespace {

using namespace std::chrono_literals;

std::string ReadSecretFile(const std::string& path) {
  std::ifstream in(path);
  std::string secret;
  std::getline(in, secret);
  return secret;
}

TEST(BootstrapTest, FirstStartWritesTheAdminSecretToAPrivateFile) {
  TempDir dir;
  const std::string db = dir.File("tokend.db");
  auto tokend =
      TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store", "sqlite:" + db});
  ASSERT_NE(tokend, nullptr);

  const std::string path = dir.File("bootstrap-token");
  struct stat info {};
  ASSERT_EQ(stat(path.c_str(), &info), 0) << "no bootstrap-token beside the database";
  EXPECT_EQ(info.st_mode & 0777, 0600);
  const std::string secret = ReadSecretFile(path);
  ASSERT_TRUE(core::ParseSecret(secret).has_value());
  EXPECT_EQ(secret.substr(0, 4), "bfg_");

  const std::string log = tokend->Log();
  EXPECT_NE(log.find(path), std::string::npos) << "the log names the file";
  EXPECT_EQ(log.find(secret), std::string::npos) << "the log must not contain the secret";

  TestClient client(tokend->port());
  auto unauthenticated = client.Request("GET", "/api/v2/token/query");
  ASSERT_TRUE(unauthenticated.has_value());
  EXPECT_EQ(unauthenticated->status, 401);
  auto self = client.Request("GET", "/api/v2/token/self", JsonWithBearer(secret));
  ASSERT_TRUE(self.has_value());
  EXPECT_EQ(self->status, 200);
  boost::json::value json = ParseJson(self->body);
  EXPECT_EQ(json.at("type").as_string(), "global");
  EXPECT_EQ(json.at("permissions").at(0).at("actions").at(0).as_string(), "**/**");

  // A second start finds a non-empty store and mints nothing.
  tokend->Signal(SIGTERM);
  ASSERT_EQ(tokend->WaitExit(15s), 0);
  std::filesystem::remove(path);
  auto again =
      TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store", "sqlite:" + db});
  ASSERT_NE(again, nullptr);
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(BootstrapTest, DataDirFlagChoosesWhereTheFileGoes) {
  TempDir dir;
  const std::string data = dir.File("elsewhere");
  auto tokend = TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store",
                                      "sqlite:" + dir.File("tokend.db"), "--data-dir", data});
  ASSERT_NE(tokend, nullptr);
  EXPECT_TRUE(std::filesystem::exists(data + "/bootstrap-token"));
  EXPECT_FALSE(std::filesystem::exists(dir.File("bootstrap-token")));
}

// Links planted in the data folder are never written through: neither the
// temporary file nor the final one. Their targets stay untouched and the
// secret lands in a regular file of mode 0600.
TEST(BootstrapTest, PlantedSymlinksAreNotFollowed) {
  TempDir dir;
  const std::string data = dir.File("data");
  std::filesystem::create_directory(data);
  const std::string tmp_target = dir.File("tmp-target");
  const std::string final_target = dir.File("final-target");
  std::ofstream(tmp_target) << "untouched\n";
  std::ofstream(final_target) << "untouched\n";
  std::filesystem::create_symlink(tmp_target, data + "/bootstrap-token.tmp");
  std::filesystem::create_symlink(final_target, data + "/bootstrap-token");

  auto tokend = TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store",
                                      "sqlite:" + dir.File("tokend.db"), "--data-dir", data});
  ASSERT_NE(tokend, nullptr);
  EXPECT_EQ(ReadSecretFile(tmp_target), "untouched");
  EXPECT_EQ(ReadSecretFile(final_target), "untouched");

  const std::string path = data + "/bootstrap-token";
  struct stat info {};
  ASSERT_EQ(lstat(path.c_str(), &info), 0);
  EXPECT_TRUE(S_ISREG(info.st_mode)) << "the link was replaced by a regular file";
  EXPECT_EQ(info.st_mode & 0777, 0600);
  EXPECT_TRUE(core::ParseSecret(ReadSecretFile(path)).has_value());
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(path + ".tmp")));
}

// The admin token and its secret's file go together. A data folder that
// cannot take the file is reported by --check-config (for a SQLite store
// still to be created) and stops serve before any token is made; a write that
// fails anyway removes the token again. Either way the next start, once the
// folder is fixed, finds an empty store and mints an admin whose secret works.
TEST(BootstrapTest, ASecretThatCannotBeWrittenLeavesNoTokenBehind) {
  TempDir dir;
  const std::string data = dir.File("data");
  const std::string db = dir.File("tokend.db");
  const std::vector<std::string> serve = {"serve",        "--listen",   "127.0.0.1:0", "--store",
                                          "sqlite:" + db, "--data-dir", data};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = serve;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  const std::string path = data + "/bootstrap-token";

  // A folder where the file goes.
  std::filesystem::create_directories(path);
  RunResult check = RunTokend(with({"--check-config"}));
  EXPECT_EQ(check.exit_code, 2) << check.err;
  EXPECT_NE(check.err.find(path), std::string::npos) << check.err;
  RunResult refused = RunTokend(serve, 30s);
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find(path), std::string::npos) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(db)) << "stopped before the store was made";
  std::filesystem::remove(path);

  // Other spots that cannot take the file, each refused before anything is
  // made: a link to nothing as the data folder, a folder where the temporary
  // file goes, and (a store in memory is new at every start) a file as the
  // data folder.
  const std::string dangling = dir.File("dangling");
  std::filesystem::create_directory_symlink(dir.File("nowhere"), dangling);
  RunResult linked =
      RunTokend({"serve", "--check-config", "--store", "sqlite:" + db, "--data-dir", dangling});
  EXPECT_EQ(linked.exit_code, 2) << linked.err;
  EXPECT_NE(linked.err.find(dangling), std::string::npos) << linked.err;
  std::filesystem::create_directories(path + ".tmp/inside");
  check = RunTokend(with({"--check-config"}));
  EXPECT_EQ(check.exit_code, 2) << check.err;
  EXPECT_NE(check.err.find(path + ".tmp"), std::string::npos) << check.err;
  std::filesystem::remove_all(path + ".tmp");
  const std::string plain_file = dir.File("plain-file");
  std::ofstream(plain_file) << "x";
  RunResult in_memory = RunTokend(
      {"serve", "--check-config", "--store", "sqlite::memory:", "--data-dir", plain_file});
  EXPECT_EQ(in_memory.exit_code, 2) << in_memory.err;
  EXPECT_NE(in_memory.err.find(plain_file), std::string::npos) << in_memory.err;

  // A write that fails after every check passed (a full file system): the
  // token is made, then removed again.
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
  std::filesystem::create_directories(data);
  TmpfsMount full(data, "64k");
  if (!full.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (" << full.error() << ")";
  FillUntilFull(data + "/filler");
  RunResult failed = RunTokend(serve, 30s);
  EXPECT_EQ(failed.exit_code, 1) << failed.err;
  EXPECT_NE(failed.err.find("bootstrap-token"), std::string::npos) << failed.err;
  std::filesystem::remove(data + "/filler");
  RunResult verified = RunTokend({"audit", "verify", "--store", "sqlite:" + db});
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;

  auto tokend = TokendProcess::Start(serve);
  ASSERT_NE(tokend, nullptr);
  const std::string secret = ReadSecretFile(path);
  ASSERT_TRUE(core::ParseSecret(secret).has_value()) << tokend->Log();
  TestClient client(tokend->port());
  auto tokens = client.Request("GET", "/api/v2/token/query", JsonWithBearer(secret));
  ASSERT_TRUE(tokens.has_value());
  ASSERT_EQ(tokens->status, 200);
  EXPECT_EQ(ParseJson(tokens->body).at("totalElements"), 1) << "only the new admin";
  auto events = client.Request("GET", "/api/v2/token/audit?order=ASC", JsonWithBearer(secret));
  ASSERT_TRUE(events.has_value());
  const boost::json::value trail = ParseJson(events->body);
  std::vector<std::string> actions;
  for (const auto& event : trail.at("content").as_array()) {
    actions.emplace_back(event.at("action").as_string());
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"token.created", "token.deleted", "token.created"}));
}

// A store URL that cannot be opened, or one that keeps nothing after the
// command (a secret minted there could never be used), is a usage error.
TEST(BootstrapTest, AStoreThatCannotKeepTheTokenIsAUsageError) {
  for (const std::string store :
       {"bogus:x", "sqlite:", "postgresql://u:pw@h:99999/db", "sqlite::memory:"}) {
    RunResult run = RunTokend({"bootstrap", "--store", store});
    EXPECT_EQ(run.exit_code, 2) << store << ": " << run.err;
    EXPECT_EQ(run.out, "") << store;
    EXPECT_NE(run.err.find("store"), std::string::npos) << run.err;
    EXPECT_EQ(run.err.find("pw@"), std::string::npos) << run.err;
  }
}

TEST(BootstrapTest, BootstrapCommandPrintsOneSecretAndNothingElse) {
  TempDir dir;
  const std::string store = "sqlite:" + dir.File("tokend.db");
  RunResult run = RunTokend({"bootstrap", "--store", store});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_EQ(run.out.size(), core::kSecretLength + 1) << run.out;
  EXPECT_EQ(run.out.back(), '\n');
  const std::string secret = run.out.substr(0, core::kSecretLength);
  ASSERT_TRUE(core::ParseSecret(secret).has_value());
  EXPECT_EQ(run.err.find(secret), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.File("bootstrap-token")));

  // Each call mints another admin; both work against a server on that store.
  RunResult second = RunTokend({"bootstrap", "--store", store});
  ASSERT_EQ(second.exit_code, 0);
  const std::string other = second.out.substr(0, core::kSecretLength);
  EXPECT_NE(other, secret);

  auto tokend = TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store", store});
  ASSERT_NE(tokend, nullptr);
  EXPECT_FALSE(std::filesystem::exists(dir.File("bootstrap-token")))
      << "a store with tokens needs no bootstrap file";
  TestClient client(tokend->port());
  for (const std::string& s : {secret, other}) {
    auto self = client.Request("GET", "/api/v2/token/self", JsonWithBearer(s));
    ASSERT_TRUE(self.has_value());
    EXPECT_EQ(self->status, 200);
  }
}

}  // namespace
}  // namespace tokend::e2e
