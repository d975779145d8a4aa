// The audit trail and expiry notices under the real binary: `tokend audit
// verify` finds events changed or removed by hand; notices arrive once per
// token and threshold, across restarts and across PostgreSQL instances.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/time.h"
#include "e2e_helpers.h"
#include "store/store_backends.h"
#include "tokend_process.h"

namespace tokend::e2e {
namespace {

using namespace std::chrono_literals;
using store::testing::GetEnv;
using store::testing::ScopedPostgresDatabase;

std::string Bootstrap(const std::string& store) {
  RunResult bootstrap = RunTokend({"bootstrap", "--store", store}, 30s);
  EXPECT_EQ(bootstrap.exit_code, 0) << bootstrap.err;
  return bootstrap.out.substr(0, bootstrap.out.find('\n'));
}

std::string TeamBody(std::string_view name, std::optional<core::EpochMillis> expires = {}) {
  std::string body = R"({"type":"team","name":")" + std::string(name) +
                     R"(","principal":"team-a","permissions":["workflow/read"])";
  if (expires) body += R"(,"expirationDate":)" + std::to_string(*expires);
  return body + "}";
}

// The actions of token `id`'s events, oldest first.
std::vector<std::string> ActionsOf(TestClient& client, const std::string& admin,
                                   const std::string& id) {
  auto res =
      client.Request("GET", "/api/v2/token/audit?order=asc&tokenId=" + id, JsonWithBearer(admin));
  EXPECT_TRUE(res.has_value());
  std::vector<std::string> actions;
  if (!res || res->status != 200) return actions;
  const boost::json::value page = ParseJson(res->body);
  for (const boost::json::value& event : page.at("content").as_array()) {
    actions.emplace_back(event.at("action").as_string());
  }
  return actions;
}

// Polls until token `id` has an event `action`, for at most `timeout`.
bool WaitForAction(TestClient& client, const std::string& admin, const std::string& id,
                   const std::string& action, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::vector<std::string> actions = ActionsOf(client, admin, id);
    if (std::find(actions.begin(), actions.end(), action) != actions.end()) return true;
    std::this_thread::sleep_for(250ms);
  }
  return false;
}

class AuditVerifyTest : public ::testing::Test {
 protected:
  // A store with a few events, its tokend stopped (one process per SQLite
  // file: verify needs it).
  void SetUp() override {
    store_path_ = dir_.File("tokend.db");
    const std::string store = "sqlite:" + store_path_;
    admin_ = Bootstrap(store);
    auto tokend = TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store", store});
    ASSERT_NE(tokend, nullptr);
    TestClient client(tokend->port());
    for (int i = 0; i < 4; ++i) {
      auto created = CreateToken(client, admin_, TeamBody("t" + std::to_string(i)));
      ASSERT_TRUE(created.has_value());
      ids_.emplace_back(created->at("id").as_string());
    }
    auto deleted = client.Request("DELETE", "/api/v2/token/" + ids_[1], JsonWithBearer(admin_));
    ASSERT_TRUE(deleted && deleted->status == 200);
    tokend->Signal(SIGTERM);
    ASSERT_EQ(tokend->WaitExit(30s), 0) << tokend->Log();
  }

  // A copy of the store to tamper with.
  std::string Copy(const std::string& name) {
    const std::string copy = dir_.File(name);
    std::filesystem::copy_file(store_path_, copy);
    return copy;
  }

  RunResult Verify(const std::string& path) {
    return RunTokend({"audit", "verify", "--store", "sqlite:" + path}, 30s);
  }

  TempDir dir_;
  std::string store_path_;
  std::string admin_;
  std::vector<std::string> ids_;
};

TEST_F(AuditVerifyTest, AWholeTrailVerifies) {
  RunResult verified = Verify(store_path_);
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  EXPECT_NE(verified.out.find("audit trail ok"), std::string::npos) << verified.out;
}

TEST_F(AuditVerifyTest, FindsAnEditedEventAndNamesIt) {
  const std::string path = Copy("edited.db");
  const std::string victim =
      QuerySqlite(path, "SELECT id FROM audit_events WHERE subject_id = '" + ids_[2] + "'");
  ASSERT_FALSE(victim.empty());
  ASSERT_EQ(ExecSqlite(path,
                       "UPDATE audit_events SET body = replace(body, '\"t2\"', '\"tX\"') "
                       "WHERE id = '" +
                           victim + "'"),
            "");
  RunResult verified = Verify(path);
  EXPECT_EQ(verified.exit_code, 1) << verified.out << verified.err;
  EXPECT_NE(verified.out.find(victim), std::string::npos) << verified.out;
}

TEST_F(AuditVerifyTest, FindsAnEditedHash) {
  const std::string path = Copy("rehashed.db");
  const std::string victim =
      QuerySqlite(path, "SELECT id FROM audit_events WHERE subject_id = '" + ids_[0] + "'");
  ASSERT_EQ(ExecSqlite(path, "UPDATE audit_events SET hash = '" + std::string(64, 'a') +
                                 "' WHERE id = '" + victim + "'"),
            "");
  RunResult verified = Verify(path);
  EXPECT_EQ(verified.exit_code, 1) << verified.out << verified.err;
  EXPECT_NE(verified.out.find("broken"), std::string::npos) << verified.out;
}

TEST_F(AuditVerifyTest, FindsRemovedEventsInTheMiddleAtTheEndAndAtTheStart) {
  const std::map<std::string, std::string> removals = {
      {"middle.db", "DELETE FROM audit_events WHERE subject_id = '" + ids_[2] + "'"},
      {"last.db",
       "DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events e2 WHERE "
       "e2.writer = audit_events.writer)"},
      {"first.db",
       "DELETE FROM audit_events WHERE seq = (SELECT min(seq) FROM audit_events e2 WHERE "
       "e2.writer = audit_events.writer)"},
  };
  for (const auto& [name, sql] : removals) {
    const std::string path = Copy(name);
    ASSERT_EQ(ExecSqlite(path, sql), "") << name;
    RunResult verified = Verify(path);
    EXPECT_EQ(verified.exit_code, 1) << name << ": " << verified.out << verified.err;
    EXPECT_NE(verified.out.find("broken"), std::string::npos) << name << ": " << verified.out;
  }
}

// Removing a chain's first events, or all of them, and moving its record's
// head over them with values the store already holds: what retention does,
// found because the removed events are younger than the retention period.
TEST_F(AuditVerifyTest, FindsTheHeadOrAWholeChainRemovedAsRetentionWould) {
  // The longest chain (the server's; a first start's bootstrap has its own).
  const std::string writer =
      QuerySqlite(store_path_, "SELECT writer FROM audit_chains ORDER BY last_seq DESC LIMIT 1");
  ASSERT_GE(std::stoi(QuerySqlite(store_path_, "SELECT max(last_seq) FROM audit_chains")), 3);
  auto of_second_event = [&](const std::string& column) {
    return "(SELECT " + column + " FROM audit_events WHERE writer = '" + writer + "' AND seq = 2)";
  };
  const std::string remove_head =
      "DELETE FROM audit_events WHERE writer = '" + writer + "' AND seq <= 2";
  const std::map<std::string, std::vector<std::string>> removals = {
      {"emptied.db",
       {"UPDATE audit_chains SET last_removed_body = (SELECT body FROM audit_events e WHERE "
        "e.writer = audit_chains.writer AND e.seq = audit_chains.last_seq), "
        "last_removed_prev_hash = (SELECT prev_hash FROM audit_events e WHERE e.writer = "
        "audit_chains.writer AND e.seq = audit_chains.last_seq), first_seq = last_seq + 1, "
        "first_prev_hash = last_hash",
        "DELETE FROM audit_events"}},
      {"head-recorded.db",
       {"UPDATE audit_chains SET first_seq = 3, first_prev_hash = " + of_second_event("hash") +
            ", last_removed_body = " + of_second_event("body") + ", last_removed_prev_hash = " +
            of_second_event("prev_hash") + " WHERE writer = '" + writer + "'",
        remove_head}},
      {"head-unrecorded.db",
       {"UPDATE audit_chains SET first_seq = 3, first_prev_hash = " + of_second_event("hash") +
            " WHERE writer = '" + writer + "'",
        remove_head}},
  };
  for (const auto& [name, statements] : removals) {
    const std::string path = Copy(name);
    for (const std::string& sql : statements) ASSERT_EQ(ExecSqlite(path, sql), "") << name;
    RunResult verified = Verify(path);
    EXPECT_EQ(verified.exit_code, 1) << name << ": " << verified.out << verified.err;
    EXPECT_NE(verified.out.find("broken"), std::string::npos) << name << ": " << verified.out;
    EXPECT_EQ(verified.out.find("broken at event :"), std::string::npos) << verified.out;
  }
  // Had the retention been shorter than the events' age, the recorded head
  // is retention's own work: verified with that period, the trail is whole.
  std::this_thread::sleep_for(1100ms);
  RunResult verified =
      RunTokend({"audit", "verify", "--store", "sqlite:" + dir_.File("head-recorded.db"),
                 "--audit-retention", "1s"},
                30s);
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
}

TEST(AuditCommandTest, RefusesAStoreItCannotOpen) {
  TempDir dir;
  RunResult refused = RunTokend({"audit", "verify", "--store", "mysql://x"}, 30s);
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  // A mistyped path is no empty trail: nothing is created there.
  refused = RunTokend({"audit", "verify", "--store", "sqlite:" + dir.File("missing/x.db")}, 30s);
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("no such file"), std::string::npos) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(dir.File("missing"))) << "created by the verification";
  RunResult bad = RunTokend({"serve", "--listen", "127.0.0.1:0", "--store",
                             "sqlite:" + dir.File("x.db"), "--expiry-notice", "7"},
                            30s);
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("--expiry-notice"), std::string::npos) << bad.err;
  bad = RunTokend({"serve", "--listen", "127.0.0.1:0", "--store", "sqlite:" + dir.File("x.db"),
                   "--audit-retention", "0d"},
                  30s);
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("--audit-retention"), std::string::npos) << bad.err;
}

// A token created 20 s before its expiry with thresholds 1h and 10s: the 1h
// notice at creation (already inside it), the 10s one as it is crossed, then
// token.expired; each once, also after a restart.
TEST(ExpiryNoticeTest, EachThresholdOnceThenExpiredOnceAcrossARestart) {
  TempDir dir;
  const std::string store = "sqlite:" + dir.File("tokend.db");
  const std::string admin = Bootstrap(store);
  const std::vector<std::string> serve = {"serve", "--listen",        "127.0.0.1:0", "--store",
                                          store,   "--expiry-notice", "1h,10s"};
  std::string id;
  {
    auto tokend = TokendProcess::Start(serve);
    ASSERT_NE(tokend, nullptr);
    TestClient client(tokend->port());
    auto created = CreateToken(client, admin, TeamBody("soon", core::NowMillis() + 20'000));
    ASSERT_TRUE(created.has_value());
    id = std::string(created->at("id").as_string());
    EXPECT_EQ(ActionsOf(client, admin, id),
              (std::vector<std::string>{"token.created", "token.expiring"}));
    ASSERT_TRUE(WaitForAction(client, admin, id, "token.expired", 40s)) << tokend->Log();
    tokend->Signal(SIGTERM);
    ASSERT_EQ(tokend->WaitExit(30s), 0) << tokend->Log();
  }
  auto again = TokendProcess::Start(serve);
  ASSERT_NE(again, nullptr);
  TestClient client(again->port());
  std::this_thread::sleep_for(7s);  // at least one more scan
  EXPECT_EQ(ActionsOf(client, admin, id),
            (std::vector<std::string>{"token.created", "token.expiring", "token.expiring",
                                      "token.expired"}));
  auto res =
      client.Request("GET", "/api/v2/token/audit?order=asc&actions=token.expiring&tokenId=" + id,
                     JsonWithBearer(admin));
  ASSERT_TRUE(res.has_value());
  const boost::json::array notices = ParseJson(res->body).at("content").as_array();
  ASSERT_EQ(notices.size(), 2u);
  for (const boost::json::value& notice : notices) {
    EXPECT_EQ(notice.at("details").at("daysRemaining").as_int64(), 0);
    EXPECT_TRUE(notice.at("details").at("expirationDate").is_string());
    EXPECT_FALSE(notice.as_object().contains("actor"));
  }
}

// Two instances scan the same thresholds: every notice is written once.
TEST(ExpiryNoticePostgresTest, TwoInstancesWriteEachNoticeOnce) {
  if (GetEnv("TOKEND_TEST_PG_URL").empty()) GTEST_SKIP() << "TOKEND_TEST_PG_URL not set";
  auto database = ScopedPostgresDatabase::Create(GetEnv("TOKEND_TEST_PG_URL"));
  ASSERT_TRUE(database.ok()) << database.status().ToString();
  const std::string store = (*database)->url();
  const std::string admin = Bootstrap(store);
  const std::vector<std::string> serve = {"serve", "--listen",        "127.0.0.1:0", "--store",
                                          store,   "--expiry-notice", "1h,10s"};
  auto first = TokendProcess::Start(serve);
  auto second = TokendProcess::Start(serve);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  TestClient client(first->port());
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto created = CreateToken(client, admin, TeamBody("pg", core::NowMillis() + 20'000));
    ASSERT_TRUE(created.has_value());
    ids.emplace_back(created->at("id").as_string());
  }
  for (const std::string& id : ids) {
    ASSERT_TRUE(WaitForAction(client, admin, id, "token.expired", 40s)) << first->Log();
  }
  std::this_thread::sleep_for(6s);  // both instances scanned again
  for (const std::string& id : ids) {
    EXPECT_EQ(ActionsOf(client, admin, id),
              (std::vector<std::string>{"token.created", "token.expiring", "token.expiring",
                                        "token.expired"}))
        << id;
  }
  first->Signal(SIGTERM);
  second->Signal(SIGTERM);
  ASSERT_EQ(first->WaitExit(30s), 0) << first->Log();
  ASSERT_EQ(second->WaitExit(30s), 0) << second->Log();
  RunResult verified = RunTokend({"audit", "verify", "--store", store}, 60s);
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
}

}  // namespace
}  // namespace tokend::e2e
