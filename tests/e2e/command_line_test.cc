// `tokend --version` and `tokend serve --check-config`: what they print, their
// exit status, and that checking a configuration touches nothing.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "tokend_process.h"

namespace tokend::e2e {
namespace {

using namespace std::chrono_literals;

TEST(CommandLineTest, VersionPrintsTheReleaseAndExitsZero) {
  RunResult run = RunTokend({"--version"}, 15s);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(std::regex_match(run.out, std::regex(R"(tokend \d+\.\d+\.\d+\n)"))) << run.out;
}

TEST(CommandLineTest, CheckConfigAcceptsAValidConfigurationAndCreatesNothing) {
  TempDir dir;
  const std::string data = dir.File("data");
  RunResult run = RunTokend({"serve", "--check-config", "--listen", "127.0.0.1:0", "--store",
                             "sqlite:" + data + "/tokend.db", "--max-lifetime", "team=90d",
                             "--default-lifetime", "team=30d"},
                            15s);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "configuration ok\n");
  EXPECT_FALSE(std::filesystem::exists(data)) << "checking must not create the data folder";
}

TEST(CommandLineTest, CheckConfigContactsNoPostgresServer) {
  // Nothing listens on port 1: a connection attempt would fail, a check passes.
  RunResult run = RunTokend(
      {"serve", "--check-config", "--store", "postgresql://tokend:secret@127.0.0.1:1/tokend"}, 15s);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  // Several hosts, one on the default port; spellings libpq reads as ports.
  for (const char* url :
       {"postgresql://tokend@h1:5432,h2/tokend", "postgresql://tokend@h:+5432/t",
        "postgresql://tokend@h:005432/t", "postgresql://tokend@h/t?port=%205432"}) {
    run = RunTokend({"serve", "--check-config", "--store", url}, 15s);
    EXPECT_EQ(run.exit_code, 0) << url << ": " << run.err;
  }
}

struct BadConfiguration {
  std::vector<std::string> args;
  std::string mention;
};

TEST(CommandLineTest, CheckConfigRefusesEachBadSettingWithExitTwoNamingIt) {
  TempDir dir;
  const std::vector<BadConfiguration> cases = {
      {{"--listen", "localhost"}, "--listen"},
      {{"--listen", "127.0.0.1:99999"}, "--listen"},
      {{"--store", "mysql://x"}, "unsupported store URL scheme 'mysql'"},
      {{"--store", "nothing"}, "no known scheme"},
      {{"--store", "sqlite:"}, "names no file"},
      {{"--store", "sqlite:" + dir.path().string()}, "not a regular file"},
      {{"--max-lifetime", "0d"}, "--max-lifetime"},
      {{"--default-lifetime", "team=12"}, "--default-lifetime"},
      {{"--max-lifetime", "team=1d", "--default-lifetime", "team=2d"}, "team"},
      {{"--threads", "-1"}, "--threads"},
      {{"--auth", "maybe"}, "--auth"},
      {{"--store", "postgresql://u@127.0.0.1:notaport/db"}, "port"},
      {{"--store", "postgresql://u@127.0.0.1:99999/db"}, "port"},
      {{"--store", "postgresql://u@h1:5432,h2:0/db"}, "port"},
      {{"--store", "host=h port=54x32 dbname=db"}, "port"},
  };
  for (const BadConfiguration& bad : cases) {
    std::vector<std::string> args = {"serve", "--check-config"};
    args.insert(args.end(), bad.args.begin(), bad.args.end());
    RunResult run = RunTokend(args, 15s);
    EXPECT_EQ(run.exit_code, 2) << bad.args.front() << ": " << run.err;
    EXPECT_NE(run.err.find(bad.mention), std::string::npos)
        << run.err << " does not mention " << bad.mention;
    EXPECT_EQ(run.out.find("configuration ok"), std::string::npos);
  }
}

TEST(CommandLineTest, CheckConfigRefusesAnUnreadableSqliteFile) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads every file";
  TempDir dir;
  const std::string file = dir.File("tokend.db");
  { std::ofstream(file) << ""; }
  ::chmod(file.c_str(), 0);
  RunResult run = RunTokend({"serve", "--check-config", "--store", "sqlite:" + file}, 15s);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("not readable and writable"), std::string::npos) << run.err;
}

TEST(CommandLineTest, CheckConfigNeverEchoesTheStorePassword) {
  RunResult run = RunTokend(
      {"serve", "--check-config", "--listen", "bad", "--store", "postgresql://u:hunter2@h/db"},
      15s);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.err.find("hunter2"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace tokend::e2e
