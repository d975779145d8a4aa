// Last used under the real binary: a graceful stop writes every pending use,
// and on PostgreSQL the newest use from any instance wins.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "e2e_helpers.h"
#include "store/store_backends.h"
#include "tokend_process.h"

namespace tokend::e2e {
namespace {

using namespace std::chrono_literals;
using store::testing::GetEnv;
using store::testing::ScopedPostgresDatabase;

constexpr const char* kTeamBody =
    R"({"type":"team","name":"t","principal":"team-a","permissions":["token/read"]})";

std::string Bootstrap(const std::string& store) {
  RunResult bootstrap = RunTokend({"bootstrap", "--store", store}, 30s);
  EXPECT_EQ(bootstrap.exit_code, 0) << bootstrap.err;
  return bootstrap.out.substr(0, bootstrap.out.find('\n'));
}

// GET /api/v2/token/self as `secret`: the lastUsedDate it shows (the use it
// is itself).
std::string UseBySelf(TestClient& client, const std::string& secret) {
  auto self = client.Request("GET", "/api/v2/token/self", JsonWithBearer(secret));
  EXPECT_TRUE(self.has_value());
  if (!self || self->status != 200) return "";
  const boost::json::value json = ParseJson(self->body);
  if (!json.is_object() || !json.as_object().contains("lastUsedDate")) return "";
  return std::string(json.at("lastUsedDate").as_string());
}

// The stored lastUsedDate of token `id`, read by `admin` ("" when none).
std::string StoredLastUsed(TestClient& client, const std::string& admin, const std::string& id) {
  auto got = client.Request("GET", "/api/v2/token/" + id, JsonWithBearer(admin));
  EXPECT_TRUE(got.has_value());
  if (!got || got->status != 200) return "";
  const boost::json::value json = ParseJson(got->body);
  if (!json.as_object().contains("lastUsedDate")) return "";
  return std::string(json.at("lastUsedDate").as_string());
}

// A resolution far longer than the test: only the shutdown writes the use.
TEST(LastUsedTest, GracefulStopWritesPendingUses) {
  TempDir dir;
  const std::string store = "sqlite:" + dir.File("tokend.db");
  const std::string admin = Bootstrap(store);
  const std::vector<std::string> serve = {
      "serve", "--listen", "127.0.0.1:0", "--store", store, "--last-used-resolution", "60"};
  std::string id;
  std::string used;
  {
    auto tokend = TokendProcess::Start(serve);
    ASSERT_NE(tokend, nullptr);
    TestClient client(tokend->port());
    auto created = CreateToken(client, admin, kTeamBody);
    ASSERT_TRUE(created.has_value());
    id = std::string(created->at("id").as_string());
    used = UseBySelf(client, std::string(created->at("token").as_string()));
    ASSERT_FALSE(used.empty());
    EXPECT_EQ(StoredLastUsed(client, admin, id), "") << "not written yet";
    tokend->Signal(SIGTERM);
    ASSERT_EQ(tokend->WaitExit(30s), 0) << tokend->Log();
  }
  auto again = TokendProcess::Start(serve);
  ASSERT_NE(again, nullptr);
  TestClient client(again->port());
  EXPECT_EQ(StoredLastUsed(client, admin, id), used);
}

TEST(LastUsedTest, ResolutionFlagIsCheckedAndReported) {
  TempDir dir;
  const std::string store = "sqlite:" + dir.File("tokend.db");
  for (const char* bad : {"0", "61", "x"}) {
    RunResult refused = RunTokend(
        {"serve", "--listen", "127.0.0.1:0", "--store", store, "--last-used-resolution", bad}, 10s);
    EXPECT_EQ(refused.exit_code, 2) << bad << ": " << refused.err;
    EXPECT_NE(refused.err.find("--last-used-resolution"), std::string::npos) << refused.err;
  }
  const std::string admin = Bootstrap(store);
  ::setenv("TOKEND_LAST_USED_RESOLUTION", "12", 1);
  auto tokend = TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store", store});
  ::unsetenv("TOKEND_LAST_USED_RESOLUTION");
  ASSERT_NE(tokend, nullptr);
  TestClient client(tokend->port());
  auto policy = client.Request("GET", "/api/v2/token/policy", JsonWithBearer(admin));
  ASSERT_TRUE(policy.has_value());
  EXPECT_EQ(ParseJson(policy->body).at("lastUsedResolutionSeconds").as_int64(), 12) << policy->body;
}

// Two instances on one database: the older use, written last, does not win.
TEST(LastUsedPostgresTest, NewestUseWinsAcrossInstances) {
  if (GetEnv("TOKEND_TEST_PG_URL").empty()) GTEST_SKIP() << "TOKEND_TEST_PG_URL not set";
  auto database = ScopedPostgresDatabase::Create(GetEnv("TOKEND_TEST_PG_URL"));
  ASSERT_TRUE(database.ok()) << database.status().ToString();
  const std::string store = (*database)->url();
  const std::string admin = Bootstrap(store);
  const std::vector<std::string> serve = {
      "serve", "--listen", "127.0.0.1:0", "--store", store, "--last-used-resolution", "60"};
  auto older = TokendProcess::Start(serve);
  auto newer = TokendProcess::Start(serve);
  ASSERT_NE(older, nullptr);
  ASSERT_NE(newer, nullptr);
  TestClient client_older(older->port());
  TestClient client_newer(newer->port());
  auto created = CreateToken(client_older, admin, kTeamBody);
  ASSERT_TRUE(created.has_value());
  const std::string id(created->at("id").as_string());
  const std::string secret(created->at("token").as_string());

  const std::string first = UseBySelf(client_older, secret);
  std::this_thread::sleep_for(20ms);
  const std::string last = UseBySelf(client_newer, secret);
  ASSERT_FALSE(first.empty());
  ASSERT_LT(first, last);
  // The newer use is written first, the older one after it.
  newer->Signal(SIGTERM);
  ASSERT_EQ(newer->WaitExit(30s), 0) << newer->Log();
  older->Signal(SIGTERM);
  ASSERT_EQ(older->WaitExit(30s), 0) << older->Log();

  auto reader = TokendProcess::Start(serve);
  ASSERT_NE(reader, nullptr);
  TestClient client(reader->port());
  EXPECT_EQ(StoredLastUsed(client, admin, id), last);
}

}  // namespace
}  // namespace tokend::e2e
