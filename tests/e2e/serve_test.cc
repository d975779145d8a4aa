// `tokend serve` as a process: the seed routes with --auth off, start-up
// errors, and SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>

#include "e2e_helpers.h"
#include "tokend_process.h"

namespace tokend::e2e {
namespace {

using namespace std::chrono_literals;

TEST(ServeTest, AuthOffServesTheSeedRoutesAndStopsOnSigterm) {
  TempDir dir;
  auto tokend = TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store",
                                      "sqlite:" + dir.File("tokend.db"), "--auth", "off"});
  ASSERT_NE(tokend, nullptr);
  EXPECT_NE(tokend->Log().find("AUTHENTICATION IS OFF"), std::string::npos);

  TestClient client(tokend->port());
  auto created = CreateToken(client, "",
                             R"({"type":"global","name":"console","principal":"**",)"
                             R"("expirationDate":null,"permissions":["**/read"]})");
  ASSERT_TRUE(created.has_value());
  const std::string id(created->at("id").as_string());

  auto page = client.Request("GET", "/api/v2/token/query");
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->status, 200);
  boost::json::value json = ParseJson(page->body);
  EXPECT_EQ(json.at("totalElements").as_int64(), 1);
  EXPECT_EQ(json.at("pageable").as_string(), "INSTANCE");
  EXPECT_EQ(json.at("content").at(0).at("id").as_string(), id);
  EXPECT_EQ(json.at("content").at(0).at("permissions").at(0).at("principal").as_string(), "**");

  auto deleted = client.Request("DELETE", "/api/v2/token/" + id);
  ASSERT_TRUE(deleted.has_value());
  EXPECT_EQ(deleted->status, 200);
  EXPECT_EQ(deleted->body, "");

  tokend->Signal(SIGTERM);
  EXPECT_EQ(tokend->WaitExit(15s), 0);
}

TEST(ServeTest, DataSurvivesARestart) {
  TempDir dir;
  const std::vector<std::string> args = {
      "serve",  "--listen", "127.0.0.1:0", "--store", "sqlite:" + dir.File("tokend.db"),
      "--auth", "off"};
  std::string id;
  {
    auto tokend = TokendProcess::Start(args);
    ASSERT_NE(tokend, nullptr);
    TestClient client(tokend->port());
    auto created = CreateToken(client, "",
                               R"({"type":"team","name":"t","principal":"team-a",)"
                               R"("permissions":["workflow/read"]})");
    ASSERT_TRUE(created.has_value());
    id = std::string(created->at("id").as_string());
    tokend->Signal(SIGTERM);
    ASSERT_EQ(tokend->WaitExit(15s), 0);
  }
  auto tokend = TokendProcess::Start(args);
  ASSERT_NE(tokend, nullptr);
  TestClient client(tokend->port());
  auto got = client.Request("GET", "/api/v2/token/" + id);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(ParseJson(got->body).at("principal").as_string(), "team-a");
}

TEST(ServeTest, BadListenAddressIsAUsageError) {
  TempDir dir;
  RunResult run = RunTokend({"serve", "--listen", "nonsense", "--store",
                             "sqlite:" + dir.File("tokend.db"), "--auth", "off"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--listen"), std::string::npos);
}

TEST(ServeTest, BadCacheCapacityIsAUsageError) {
  TempDir dir;
  RunResult run = RunTokend({"serve", "--listen", "127.0.0.1:0", "--store",
                             "sqlite:" + dir.File("tokend.db"), "--cache-capacity", "-1"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--cache-capacity"), std::string::npos) << run.err;
}

TEST(ServeTest, ServesWithoutACache) {
  TempDir dir;
  auto tokend = TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store",
                                      "sqlite:" + dir.File("tokend.db"), "--auth", "off",
                                      "--cache-capacity", "0"});
  ASSERT_NE(tokend, nullptr);
  TestClient client(tokend->port());
  auto created = CreateToken(client, "",
                             R"({"type":"team","name":"t","principal":"team-a",)"
                             R"("permissions":["workflow/read"]})");
  ASSERT_TRUE(created.has_value());
  const std::string secret(created->at("token").as_string());
  for (int i = 0; i < 2; ++i) {
    auto self =
        client.Request("GET", "/api/v2/token/self", {{"Authorization", "Bearer " + secret}});
    ASSERT_TRUE(self.has_value());
    EXPECT_EQ(self->status, 200) << self->body;
  }
}

TEST(ServeTest, UnknownStoreSchemeFailsClearly) {
  RunResult run = RunTokend({"serve", "--listen", "127.0.0.1:0", "--store",
                             "mysql://user:hunter2@localhost/db", "--auth", "off"});
  // A usage error: found before anything is opened.
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("unsupported store URL scheme 'mysql'"), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find("hunter2"), std::string::npos) << "the password must not be logged";
}

TEST(ServeTest, PortInUseFailsClearly) {
  TempDir dir;
  auto first = TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store",
                                     "sqlite:" + dir.File("a.db"), "--auth", "off"});
  ASSERT_NE(first, nullptr);
  RunResult run = RunTokend({"serve", "--listen", "127.0.0.1:" + std::to_string(first->port()),
                             "--store", "sqlite:" + dir.File("b.db"), "--auth", "off"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("already in use"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace tokend::e2e
