// PostgreSQL stopped under a running tokend: clear 503s, no hang, and
// recovery without a restart once it is back. Stops the shared test server,
// so CTest runs it alone (RUN_SERIAL).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "e2e_helpers.h"
#include "store/store_backends.h"
#include "tokend_process.h"

namespace tokend::e2e {
namespace {

using namespace std::chrono_literals;
using store::testing::GetEnv;
using store::testing::PgCtl;
using store::testing::ScopedPostgresDatabase;

// tokend serving a database of its own on the test server, with an admin.
class PostgresOutageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (GetEnv("TOKEND_TEST_PG_URL").empty() || GetEnv("TOKEND_TEST_PG_DATA").empty()) {
      GTEST_SKIP() << "TOKEND_TEST_PG_URL / TOKEND_TEST_PG_DATA not set";
    }
    auto database = ScopedPostgresDatabase::Create(GetEnv("TOKEND_TEST_PG_URL"));
    ASSERT_TRUE(database.ok()) << database.status().ToString();
    database_ = std::move(database).value();
    RunResult bootstrap = RunTokend({"bootstrap", "--store", database_->url()});
    ASSERT_EQ(bootstrap.exit_code, 0) << bootstrap.err;
    admin_ = bootstrap.out.substr(0, bootstrap.out.find('\n'));
    tokend_ =
        TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store", database_->url()});
    ASSERT_NE(tokend_, nullptr);
  }

  std::unique_ptr<ScopedPostgresDatabase> database_;
  std::string admin_;
  std::unique_ptr<TokendProcess> tokend_;
};

TEST_F(PostgresOutageTest, StoreOutageGives503AndRecoversWithoutRestart) {
  TestClient client(tokend_->port());
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    auto created = CreateToken(client, admin_,
                               R"({"type":"team","name":"before","principal":"team-a",)"
                               R"("permissions":["workflow/read"]})");
    ASSERT_TRUE(created.has_value());
    ids.emplace_back(created->at("id").as_string());
  }

  ASSERT_EQ(PgCtl("-m fast -w -t 30 stop"), 0);
  struct Restart {
    ~Restart() { PgCtl("-w -t 60 start"); }
  } restart_on_exit;

  const auto start = std::chrono::steady_clock::now();
  auto health = client.Request("GET", "/health", {}, {}, 20s);
  ASSERT_TRUE(health.has_value()) << "no answer: the request hung";
  EXPECT_EQ(health->status, 503);
  EXPECT_EQ(ParseJson(health->body).at("status").as_string(), "DOWN");
  auto query =
      client.Request("GET", "/api/v2/token/query?limit=5", JsonWithBearer(admin_), {}, 20s);
  ASSERT_TRUE(query.has_value()) << "no answer: the request hung";
  EXPECT_EQ(query->status, 503);
  boost::json::value error = ParseJson(query->body);
  ASSERT_TRUE(error.is_object()) << query->body;
  EXPECT_EQ(error.at("status").as_string(), "503 SERVICE_UNAVAILABLE");
  auto create = client.Request(
      "POST", "/api/v2/token", JsonWithBearer(admin_),
      R"({"type":"team","name":"x","principal":"t","permissions":["**/read"]})", 20s);
  ASSERT_TRUE(create.has_value());
  EXPECT_EQ(create->status, 503);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);

  ASSERT_EQ(PgCtl("-w -t 60 start"), 0);
  bool up = false;
  for (int i = 0; i < 150 && !up; ++i) {
    auto again = client.Request("GET", "/health");
    up = again && again->status == 200;
    if (!up) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(up) << "tokend did not recover after PostgreSQL came back";
  for (const std::string& id : ids) {
    auto got = client.Request("GET", "/api/v2/token/" + id, JsonWithBearer(admin_));
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->status, 200) << id;
  }
  EXPECT_TRUE(CreateToken(client, admin_,
                          R"({"type":"team","name":"after","principal":"team-a",)"
                          R"("permissions":["workflow/read"]})")
                  .has_value());
}

// Signals the PostgreSQL server of the test cluster and every process it
// started: SIGSTOP freezes it whole (no connection refused, no answer).
void SignalTheWholeServer(int signal) {
  std::ifstream pid_file(GetEnv("TOKEND_TEST_PG_DATA") + "/postmaster.pid");
  std::string postmaster;
  std::getline(pid_file, postmaster);
  if (postmaster.empty()) return;
  const std::string children =
      "pkill -" + std::to_string(signal) + " -P " + postmaster + " 2>/dev/null";
  if (signal == SIGCONT) ::kill(std::stoi(postmaster), signal);
  (void)std::system(children.c_str());
  if (signal != SIGCONT) ::kill(std::stoi(postmaster), signal);
}

// A frozen store must not hold a stop past the unit's TimeoutStopSec (20 s),
// nor a scrape past a scraper's timeout:
// the last write of the uses, and the background work's calls in flight,
// are cut off at the store's call timeout together, not one after another.
TEST_F(PostgresOutageTest, AStopWithTheStoreFrozenEndsWellWithinTheUnitsTimeout) {
  {
    TestClient client(tokend_->port());
    auto self = client.Request("GET", "/api/v2/token/self", JsonWithBearer(admin_));
    ASSERT_TRUE(self.has_value());
    ASSERT_EQ(self->status, 200);  // a use to write at the stop
  }
  SignalTheWholeServer(SIGSTOP);
  struct Thaw {
    ~Thaw() { SignalTheWholeServer(SIGCONT); }
  } thaw_on_exit;
  // A scrape asks the store once: it answers within a scraper's usual 10 s.
  const auto scrape = std::chrono::steady_clock::now();
  {
    TestClient client(tokend_->port());
    auto metrics = client.Request("GET", "/metrics", {}, {}, 30s);
    ASSERT_TRUE(metrics.has_value());
    EXPECT_NE(metrics->body.find("\ntokend_store_up 0\n"), std::string::npos) << metrics->body;
    EXPECT_EQ(metrics->body.find("tokend_tokens{"), std::string::npos) << metrics->body;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - scrape, 9s);
  // The use recorder's thread is in a write by now.
  const auto stop = std::chrono::steady_clock::now();
  tokend_->Signal(SIGTERM);
  EXPECT_EQ(tokend_->WaitExit(60s), 0) << tokend_->Log();
  const auto took = std::chrono::steady_clock::now() - stop;
  std::printf(
      "stop with the store frozen: %lld ms\n",
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  EXPECT_LT(took, 17s) << tokend_->Log();
}

}  // namespace
}  // namespace tokend::e2e
