// PostgreSQL-only behaviour: the cross-instance deletion feed, recovery after
// the server or a connection goes away, concurrent migration, error
// translation. Needs a real server: TOKEND_TEST_PG_URL (skipped without it;
// scripts/with-postgres.sh sets it). Server restarts: postgres_restart_test.cc.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/audit.h"
#include "store/postgres/prepared_statements.h"
#include "store/store_backends.h"
#include "store/token_store.h"

namespace tokend::store {
namespace {

using Clock = std::chrono::steady_clock;
using core::Token;
using core::TokenType;
using std::chrono::milliseconds;
using testing::GetEnv;
using testing::ImportAsBeforeTheLedger;
using testing::QueryValue;
using testing::ScopedPostgresDatabase;

Token MakeToken(int n, TokenType type = TokenType::kTeam,
                std::optional<std::string> principal = "team-1") {
  char id[25];
  std::snprintf(id, sizeof id, "66a0b1c2%016x", n);
  char hash[65];
  std::snprintf(hash, sizeof hash, "%064x", n + 0x5eed00);
  Token token;
  token.id = id;
  token.type = type;
  token.name = "pg token " + std::to_string(n);
  token.principal = std::move(principal);
  token.creation_date = 1'770'000'000'000 + n;
  token.actions = {"token/read", "token/write"};
  token.secret_hash = hash;
  return token;
}

// Records what a store announces; waits for it.
class RecordingListener : public ChangeListener {
 public:
  void OnTokenDeleted(std::string_view id) override {
    std::lock_guard lock(mu_);
    deleted_.emplace_back(id);
    changed_.notify_all();
  }
  void OnFeedHealthChanged(bool healthy) override {
    std::lock_guard lock(mu_);
    health_.push_back(healthy);
    changed_.notify_all();
  }
  void OnFeedLagging(bool lagging) override {
    std::lock_guard lock(mu_);
    lagging_.push_back({lagging, Clock::now()});
    changed_.notify_all();
  }
  void OnOverlapStarted(core::EpochMillis end) override {
    std::lock_guard lock(mu_);
    overlap_ends_.push_back(end);
    changed_.notify_all();
  }

  bool WaitForOverlapEnd(core::EpochMillis end, milliseconds timeout) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [&] {
      return std::find(overlap_ends_.begin(), overlap_ends_.end(), end) != overlap_ends_.end();
    });
  }

  // Waits until the lagging events recorded so far end with `lagging`; the
  // time it was announced.
  std::optional<Clock::time_point> WaitForLagging(bool lagging, milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (!changed_.wait_for(lock, timeout,
                           [&] { return !lagging_.empty() && lagging_.back().first == lagging; })) {
      return std::nullopt;
    }
    return lagging_.back().second;
  }

  bool WaitForDeleted(const std::string& id, milliseconds timeout) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [&] {
      return std::find(deleted_.begin(), deleted_.end(), id) != deleted_.end();
    });
  }
  bool HasDeleted(const std::string& id) {
    std::lock_guard lock(mu_);
    return std::find(deleted_.begin(), deleted_.end(), id) != deleted_.end();
  }
  // Waits until the health events recorded so far end with `events`.
  bool WaitForHealth(const std::vector<bool>& events, milliseconds timeout) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [&] {
      return health_.size() >= events.size() &&
             std::equal(events.begin(), events.end(), health_.end() - events.size());
    });
  }
  std::size_t deleted_count() {
    std::lock_guard lock(mu_);
    return deleted_.size();
  }
  std::vector<bool> health() {
    std::lock_guard lock(mu_);
    return health_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::string> deleted_;
  std::vector<bool> health_;
  std::vector<std::pair<bool, Clock::time_point>> lagging_;
  std::vector<core::EpochMillis> overlap_ends_;
};

// A TCP port on 127.0.0.1 where nothing listens (bound, then released).
int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    admin_url_ = GetEnv("TOKEND_TEST_PG_URL");
    if (admin_url_.empty()) GTEST_SKIP() << "TOKEND_TEST_PG_URL not set";
    auto database = ScopedPostgresDatabase::Create(admin_url_);
    ASSERT_TRUE(database.ok()) << database.status().ToString();
    database_ = std::move(database).value();
  }

  std::unique_ptr<TokenStore> OpenStore(StoreOptions options = {}) {
    auto store = TokenStore::Open(database_->url(), options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  std::string admin_url_;
  std::unique_ptr<ScopedPostgresDatabase> database_;
};

// A store imported into before migration 10 starts its import ledger with
// the tokens its imports wrote, gone since or not, from their audit events.
TEST_F(PostgresStoreTest, TheImportLedgerStartsWithWhatEarlierImportsWrote) {
  const Token kept = MakeToken(1);
  const Token deleted = MakeToken(2);
  const Token created_here = MakeToken(3);
  {
    std::unique_ptr<TokenStore> store = OpenStore();
    ASSERT_NE(store, nullptr);
    const Status filled = ImportAsBeforeTheLedger(*store, kept, deleted, created_here);
    ASSERT_TRUE(filled.ok()) << filled.ToString();
  }
  // The database as it was before migration 10.
  QueryValue(database_->url(), "DROP TABLE import_ledger");
  QueryValue(database_->url(), "DELETE FROM schema_migrations WHERE version = 10");

  std::unique_ptr<TokenStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(QueryValue(database_->url(),
                       "SELECT string_agg(id || ':' || coalesce(secret_hash, 'null'), ' ' "
                       "ORDER BY id) FROM import_ledger"),
            kept.id + ":" + kept.secret_hash + " " + deleted.id + ":null");
  Result<std::int64_t> inserted = store->InsertAbsent(std::vector<Token>{kept, deleted}, {});
  ASSERT_TRUE(inserted.ok()) << inserted.status().ToString();
  EXPECT_EQ(*inserted, 0);
  EXPECT_TRUE(store->FindById(deleted.id).status().IsNotFound());
}

TEST_F(PostgresStoreTest, IsShared) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->IsShared());
  EXPECT_TRUE(store->Ping().ok());
}

// The pool's connections (application_name "tokend") open on this test's
// database right now.
int PoolConnections(const std::string& url) {
  return std::atoi(QueryValue(url,
                              "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                              "current_database() AND application_name = 'tokend'")
                       .c_str());
}

// Waits (at most 10 s) until `want` pool connections are open.
bool WaitForPoolConnections(const std::string& url, int want) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (PoolConnections(url) != want) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return true;
}

// What `tokend serve` asks for: the whole pool open right after the store,
// without a request, so that the first requests after a start find their
// connections open; none is opened beyond it afterwards.
TEST_F(PostgresStoreTest, OpensTheWholePoolAtStartWhenAsked) {
  StoreOptions options;
  options.pool_size = 3;
  options.open_pool_at_start = true;
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(WaitForPoolConnections(database_->url(), 3)) << PoolConnections(database_->url());
  ASSERT_TRUE(store->Insert(MakeToken(1), {}).ok());
  auto found = store->LookupSecret(MakeToken(1).secret_hash);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_TRUE(found->token.has_value());
  EXPECT_EQ(PoolConnections(database_->url()), 3);
  store.reset();
  EXPECT_TRUE(WaitForPoolConnections(database_->url(), 0)) << PoolConnections(database_->url());
}

// Closing the store while its pool is being opened waits for that, and
// leaves no connection behind.
TEST_F(PostgresStoreTest, ClosingWhileThePoolOpensLeavesNoConnection) {
  StoreOptions options;
  options.pool_size = 8;
  options.open_pool_at_start = true;
  for (int round = 0; round < 3; ++round) {
    auto store = OpenStore(options);
    ASSERT_NE(store, nullptr);
  }
  EXPECT_TRUE(WaitForPoolConnections(database_->url(), 0)) << PoolConnections(database_->url());
}

// Without it (the library's default), connections open as requests need them.
TEST_F(PostgresStoreTest, OpensConnectionsOnlyWhenNeededByDefault) {
  StoreOptions options;
  options.pool_size = 3;
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(PoolConnections(database_->url()), 0);
  ASSERT_TRUE(store->LookupSecret(MakeToken(1).secret_hash).ok());
  EXPECT_EQ(PoolConnections(database_->url()), 1);
}

// The rotation sweep runs every few seconds: it must read the rotated
// tokens it deletes, not every expired token to find them.
TEST_F(PostgresStoreTest, TheRotationSweepReadsOnlyRotatedTokens) {
  Result<std::unique_ptr<TokenStore>> store = TokenStore::Open(database_->url());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  for (int n = 1; n <= 300; ++n) {
    Token token = MakeToken(n);
    token.expiration_date = 1'600'000'000'000;
    ASSERT_TRUE((*store)->Insert(token, {}).ok());
  }
  (void)QueryValue(database_->url(), "ANALYZE tokens");
  // The sweep's statement, as the PostgreSQL store runs it.
  const std::string plan = QueryValue(
      database_->url(),
      "EXPLAIN (FORMAT JSON) WITH deleted AS (DELETE FROM tokens WHERE rotated_to IS NOT NULL "
      "AND expiration_date <= 1700000000000 RETURNING id) "
      "SELECT deleted.id, pg_notify('tokend_token_deleted', deleted.id) FROM deleted");
  EXPECT_NE(plan.find("tokens_rotated_by_expiration"), std::string::npos) << plan;
}

// A page of one type under any sort walks the index of its sort field and
// checks the type there (an index condition), not on each row it passes
// over (migration 7).
TEST_F(PostgresStoreTest, AOneTypePageChecksTheTypeInTheIndexOfItsSortField) {
  Result<std::unique_ptr<TokenStore>> store = TokenStore::Open(database_->url());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  for (int n = 1; n <= 300; ++n) {
    ASSERT_TRUE(
        (*store)->Insert(MakeToken(n, n % 3 == 0 ? TokenType::kUser : TokenType::kTeam), {}).ok());
  }
  (void)QueryValue(database_->url(), "ANALYZE tokens");
  const std::pair<const char*, const char*> sorts[] = {
      {"creation_date ASC", "tokens_by_creation"},
      {"expiration_date ASC NULLS FIRST", "tokens_by_expiration"},
      {"name ASC", "tokens_by_name"},
      {"principal DESC NULLS LAST", "tokens_by_principal"},
      {"last_used_date ASC NULLS FIRST", "tokens_by_last_used"}};
  for (const auto& [order, index] : sorts) {
    // Only an index in the page's order may answer: no sort, no table scan.
    const std::string plan = QueryValue(
        database_->url(),
        std::string("SET enable_seqscan = off; SET enable_sort = off; SET enable_bitmapscan = "
                    "off; EXPLAIN (FORMAT JSON) SELECT id FROM tokens WHERE type = 'user' "
                    "ORDER BY ") +
            order + ", id" +
            (std::string_view(order).find("DESC") != std::string_view::npos ? " DESC" : "") +
            " LIMIT 10");
    EXPECT_NE(plan.find(std::string("\"Index Name\": \"") + index + "\""), std::string::npos)
        << order << ": " << plan;
    EXPECT_NE(plan.find("\"Index Cond\": \"(type = 'user'::text)\""), std::string::npos)
        << order << ": " << plan;
  }
}

TEST_F(PostgresStoreTest, DeletionReachesAnotherInstanceQuickly) {
  RecordingListener heard_by_a;  // listeners outlive the stores
  RecordingListener heard_by_b;
  auto a = OpenStore();
  auto b = OpenStore();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  a->SetChangeListener(&heard_by_a);
  b->SetChangeListener(&heard_by_b);

  // Several rounds: the worst one is what matters.
  milliseconds worst{0};
  for (int n = 1; n <= 5; ++n) {
    const Token token = MakeToken(n);
    ASSERT_TRUE(a->Insert(token, {}).ok());
    const auto start = Clock::now();
    ASSERT_TRUE(a->Delete(token.id, {}).ok());
    EXPECT_TRUE(heard_by_a.HasDeleted(token.id)) << "the deleting instance hears it before return";
    ASSERT_TRUE(heard_by_b.WaitForDeleted(token.id, std::chrono::seconds(1)))
        << "instance B never heard of the deletion of " << token.id;
    worst = std::max(worst, std::chrono::duration_cast<milliseconds>(Clock::now() - start));
  }
  std::printf("[ info ] cross-instance deletion notice: worst %lld ms over 5 rounds\n",
              static_cast<long long>(worst.count()));
  EXPECT_LT(worst, std::chrono::seconds(1));
  // Each instance hears each deletion once (A's own notice is not repeated).
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(heard_by_a.deleted_count(), 5u);
  EXPECT_EQ(heard_by_b.deleted_count(), 5u);
  a->SetChangeListener(nullptr);
  b->SetChangeListener(nullptr);
}

// A repeated Delete of an id this instance just deleted fails, and the
// first one's notice arriving meanwhile is its echo, not another instance's
// deletion: each deletion is announced once.
TEST_F(PostgresStoreTest, RepeatedDeleteDoesNotAnnounceTheEchoAgain) {
  RecordingListener heard;
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  store->SetChangeListener(&heard);
  constexpr int kTokens = 200;
  for (int n = 1; n <= kTokens; ++n) ASSERT_TRUE(store->Insert(MakeToken(n), {}).ok());
  for (int n = 1; n <= kTokens; ++n) {
    ASSERT_TRUE(store->Delete(MakeToken(n).id, {}).ok());
    // Again at once, and again: usually in flight when the echo arrives.
    for (int again = 0; again < 3; ++again) {
      ASSERT_TRUE(store->Delete(MakeToken(n).id, {}).IsNotFound());
    }
  }
  std::this_thread::sleep_for(milliseconds(300));  // every echo has arrived
  EXPECT_EQ(heard.deleted_count(), static_cast<std::size_t>(kTokens));
  store->SetChangeListener(nullptr);
}

TEST_F(PostgresStoreTest, RacingDeletesOfOneTokenAreHeardByBothInstances) {
  RecordingListener heard_by_a;  // listeners outlive the stores
  RecordingListener heard_by_b;
  auto a = OpenStore();
  auto b = OpenStore();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  a->SetChangeListener(&heard_by_a);
  b->SetChangeListener(&heard_by_b);
  for (int n = 1; n <= 10; ++n) {
    const Token token = MakeToken(n);
    ASSERT_TRUE(a->Insert(token, {}).ok());
    Status by_a;
    Status by_b;
    std::thread racer([&] { by_b = b->Delete(token.id, {}); });
    by_a = a->Delete(token.id, {});
    racer.join();
    EXPECT_NE(by_a.ok(), by_b.ok()) << by_a.ToString() << " / " << by_b.ToString();
    EXPECT_TRUE(heard_by_a.WaitForDeleted(token.id, std::chrono::seconds(1))) << token.id;
    EXPECT_TRUE(heard_by_b.WaitForDeleted(token.id, std::chrono::seconds(1))) << token.id;
  }
  a->SetChangeListener(nullptr);
  b->SetChangeListener(nullptr);
}

// A server that stops answering (here the pool's backend, frozen) is noticed
// neither by its own statement_timeout nor by TCP: the call deadline fails
// the call as a lost connection, so a request answers 503 instead of waiting
// for the server to come back.
TEST_F(PostgresStoreTest, AServerThatStopsAnsweringFailsTheCallAtTheDeadline) {
  StoreOptions options;
  options.pool_size = 1;
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  const Token token = MakeToken(1);
  ASSERT_TRUE(store->Insert(token, {}).ok());
  const std::string pid = QueryValue(database_->url(),
                                     "SELECT pid FROM pg_stat_activity WHERE datname = "
                                     "current_database() AND application_name = 'tokend'");
  ASSERT_FALSE(pid.empty());
  if (::kill(std::stoi(pid), SIGSTOP) != 0) GTEST_SKIP() << "cannot signal the server's backend";
  const auto start = Clock::now();
  auto found = store->FindById(token.id);
  const auto took = Clock::now() - start;
  ::kill(std::stoi(pid), SIGCONT);
  // Not retried on another connection: a server that stopped answering
  // would be waited for again.
  ASSERT_FALSE(found.ok());
  EXPECT_TRUE(found.status().IsUnavailable()) << found.status().ToString();
  EXPECT_GE(took, std::chrono::seconds(5));
  EXPECT_LT(took, std::chrono::seconds(10));
  // The broken connection is dropped: the next call opens a fresh one.
  auto again = store->FindById(token.id);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
}

// A listening session that stops answering (a frozen backend, a path that
// drops packets) is reported lagging within the feed's freshness (90 ms)
// of its last round trip, so that caches stop answering long before the
// 100 ms a deletion made elsewhere may take; and current again once it
// answers, without a reconnect (which would empty the caches).
TEST_F(PostgresStoreTest, AStalledFeedIsReportedLaggingWithinItsFreshness) {
  RecordingListener listener;
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  store->SetChangeListener(&listener);
  const std::string pid = QueryValue(database_->url(),
                                     "SELECT pid FROM pg_stat_activity WHERE datname = "
                                     "current_database() AND application_name = 'tokend-listen'");
  ASSERT_FALSE(pid.empty());
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_FALSE(listener.WaitForLagging(true, milliseconds(0))) << "lagging while healthy";

  if (::kill(std::stoi(pid), SIGSTOP) != 0) GTEST_SKIP() << "cannot signal the server's backend";
  const auto stopped = Clock::now();
  const auto lagging = listener.WaitForLagging(true, milliseconds(2000));
  ::kill(std::stoi(pid), SIGCONT);
  ASSERT_TRUE(lagging.has_value()) << "a stalled feed was not reported";
  // The last round trip before the stop was sent at most 20 ms before it;
  // a loaded machine may wake the feed's thread late.
  EXPECT_LT(*lagging - stopped, milliseconds(150));
  EXPECT_TRUE(listener.WaitForLagging(false, milliseconds(2000))) << "not current again";
  store->SetChangeListener(nullptr);
  EXPECT_EQ(listener.health(), std::vector<bool>{}) << "the session was kept";
}

TEST_F(PostgresStoreTest, FeedReportsOutageAndRecoversAfterItsConnectionIsKilled) {
  RecordingListener heard_by_b;  // outlives the stores
  auto a = OpenStore();
  auto b = OpenStore();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  b->SetChangeListener(&heard_by_b);

  // Kills the listening connections of both stores (a's reconnects as well).
  const std::string killed =
      QueryValue(admin_url_,
                 "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                 "WHERE application_name = 'tokend-listen' AND datname = '" +
                     database_->name() + "'");
  ASSERT_EQ(killed, "2");
  ASSERT_TRUE(heard_by_b.WaitForHealth({false, true}, std::chrono::seconds(5)))
      << "health events: " << ::testing::PrintToString(heard_by_b.health());

  const Token token = MakeToken(7);
  ASSERT_TRUE(a->Insert(token, {}).ok());
  ASSERT_TRUE(a->Delete(token.id, {}).ok());
  EXPECT_TRUE(heard_by_b.WaitForDeleted(token.id, std::chrono::seconds(1)));
  b->SetChangeListener(nullptr);
}

TEST_F(PostgresStoreTest, HealthyFeedSaysNothingOnRegistration) {
  RecordingListener first;
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  store->SetChangeListener(&first);
  EXPECT_TRUE(first.health().empty()) << "a healthy feed says nothing on registration";
  store->SetChangeListener(nullptr);
}

TEST_F(PostgresStoreTest, ConcurrentOpensOnAnEmptyDatabaseAllSucceed) {
  constexpr int kStores = 6;
  std::vector<std::optional<Status>> results(kStores);
  std::vector<std::unique_ptr<TokenStore>> stores(kStores);
  std::vector<std::thread> threads;
  for (int i = 0; i < kStores; ++i) {
    threads.emplace_back([&, i] {
      auto store = TokenStore::Open(database_->url());
      results[i] = store.status();
      if (store.ok()) stores[i] = std::move(store).value();
    });
  }
  for (auto& thread : threads) thread.join();
  for (int i = 0; i < kStores; ++i) {
    EXPECT_TRUE(results[i]->ok()) << "store " << i << ": " << results[i]->ToString();
  }
  EXPECT_EQ(QueryValue(database_->url(), "SELECT count(*) FROM schema_migrations"), "10");
  ASSERT_NE(stores[0], nullptr);
  ASSERT_TRUE(stores[0]->Insert(MakeToken(1), {}).ok());
  ASSERT_NE(stores[kStores - 1], nullptr);
  EXPECT_TRUE(stores[kStores - 1]->FindById(MakeToken(1).id).ok());
}

// Migrations run without the requests' statement timeout: an instance that
// starts while another migrates a large store (here: holds the migration lock
// for longer than the timeout) waits for it, and opens.
TEST_F(PostgresStoreTest, AnOpenWaitsForAMigrationLongerThanTheStatementTimeout) {
  pg::ConnPtr migrating(PQconnectdb(database_->url().c_str()));
  ASSERT_EQ(PQstatus(migrating.get()), CONNECTION_OK);
  pg::ResultPtr begun(PQexec(migrating.get(), "BEGIN"));
  ASSERT_EQ(PQresultStatus(begun.get()), PGRES_COMMAND_OK);
  pg::ResultPtr locked(
      PQexec(migrating.get(), "SELECT pg_advisory_xact_lock(x'746f6b656e64'::bigint)"));
  ASSERT_EQ(PQresultStatus(locked.get()), PGRES_TUPLES_OK) << PQerrorMessage(migrating.get());

  std::optional<Status> opened;
  std::thread opener([&] { opened = TokenStore::Open(database_->url()).status(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(pg::kStatementTimeoutMillis + 1000));
  pg::ResultPtr committed(PQexec(migrating.get(), "COMMIT"));
  ASSERT_EQ(PQresultStatus(committed.get()), PGRES_COMMAND_OK);
  opener.join();
  ASSERT_TRUE(opened.has_value());
  EXPECT_TRUE(opened->ok()) << opened->ToString();
}

// The rotation of `old` to MakeToken(n), its secret retired.
Rotation RotationOf(const Token& old, int n, bool keep_old, core::EpochMillis now) {
  Rotation rotation;
  rotation.new_token = MakeToken(n, old.type, old.principal);
  rotation.new_token.rotated_from = old.id;
  rotation.new_token.family_id = old.Family();
  rotation.old_id = old.id;
  rotation.keep_old = keep_old;
  if (keep_old) rotation.old_expiration = now + 60'000;
  rotation.retired = RetiredSecret{.secret_hash = old.secret_hash,
                                   .token_id = old.id,
                                   .token_type = old.type,
                                   .principal = old.principal,
                                   .name = old.name,
                                   .family_id = old.Family(),
                                   .overlap_end = keep_old ? now + 60'000 : now,
                                   .forget_after = now + 3'600'000};
  return rotation;
}

// A session of its own holding the row of token `id` locked in an open
// transaction (COMMIT on it releases the row), or null.
pg::ConnPtr LockRowInOpenTransaction(const std::string& url, const std::string& id) {
  pg::ConnPtr holder(PQconnectdb(url.c_str()));
  if (PQstatus(holder.get()) != CONNECTION_OK) return nullptr;
  pg::ResultPtr begun(PQexec(holder.get(), "BEGIN"));
  const std::string lock_row = "SELECT 1 FROM tokens WHERE id = '" + id + "' FOR UPDATE";
  pg::ResultPtr locked(PQexec(holder.get(), lock_row.c_str()));
  if (PQresultStatus(locked.get()) != PGRES_TUPLES_OK) return nullptr;
  return holder;
}

// Waits until `count` sessions of the database wait for a lock.
bool SessionsWaitForALock(const std::string& url, int count) {
  for (int i = 0; i < 500; ++i) {
    if (QueryValue(url,
                   "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                   "AND datname = current_database()") == std::to_string(count)) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Reuse detection revokes a family while one of its tokens is being rotated
// (on another instance, say): the revocation waits for the rotation, and
// revokes the new token too. Here the rotation is held at the old token's
// row (another session locks it) when the revocation starts; without the
// wait, the revocation's snapshot missed the new token, which stayed live.
TEST_F(PostgresStoreTest, ARevokedFamilyKeepsNoTokenARacingRotationMade) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const core::EpochMillis now = core::NowMillis();
  const Token first = MakeToken(1);
  ASSERT_TRUE(store->Insert(first, {}).ok());
  const Rotation to_second = RotationOf(first, 2, /*keep_old=*/false, now);
  ASSERT_TRUE(store->Rotate(to_second).ok());
  const Token& second = to_second.new_token;

  pg::ConnPtr holder = LockRowInOpenTransaction(database_->url(), second.id);
  ASSERT_NE(holder, nullptr);

  const Rotation to_third = RotationOf(second, 3, /*keep_old=*/true, now);
  std::optional<Status> rotated;
  std::thread rotating([&] { rotated = store->Rotate(to_third); });
  ASSERT_TRUE(SessionsWaitForALock(database_->url(), 1));
  std::optional<Result<FamilyRevocation>> revoked;
  std::thread revoking(
      [&] { revoked = store->RevokeFamily(first.Family(), first.secret_hash, now + 1); });
  const bool both_waiting = SessionsWaitForALock(database_->url(), 2);
  pg::ResultPtr committed(PQexec(holder.get(), "COMMIT"));
  rotating.join();
  revoking.join();
  ASSERT_TRUE(both_waiting);

  ASSERT_TRUE(rotated.has_value());
  EXPECT_TRUE(rotated->ok()) << rotated->ToString();
  ASSERT_TRUE(revoked.has_value() && revoked->ok());
  EXPECT_TRUE((*revoked)->first_detection);
  for (const Token* token : {&second, &to_third.new_token}) {
    EXPECT_TRUE(store->FindById(token->id).status().IsNotFound()) << token->name << " is live";
  }
}

// "Revoke every token of P" while one of P's tokens is being rotated (on
// another instance, say): the revocation waits for the rotation and revokes
// its new token too. Here the rotation is held at the old token's row
// (another session locks it) when the revocation starts; without the wait,
// the revocation's snapshot predated the new token and its DELETE found the
// old one gone, so it revoked nothing and P kept a live token.
TEST_F(PostgresStoreTest, ARevocationInBulkKeepsNoTokenARacingRotationMade) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const core::EpochMillis now = core::NowMillis();
  const Token old = MakeToken(1, TokenType::kTeam, "leaked-team");
  ASSERT_TRUE(store->Insert(old, {}).ok());

  pg::ConnPtr holder = LockRowInOpenTransaction(database_->url(), old.id);
  ASSERT_NE(holder, nullptr);

  const Rotation rotation = RotationOf(old, 2, /*keep_old=*/false, now);
  std::optional<Status> rotated;
  std::thread rotating([&] { rotated = store->Rotate(rotation); });
  ASSERT_TRUE(SessionsWaitForALock(database_->url(), 1));
  std::optional<Result<std::vector<std::string>>> revoked;
  std::thread revoking([&] {
    revoked = store->DeleteMatching({.principals = {"leaked-team"}}, core::Visibility{},
                                    core::EventOrigin::System(), now + 1);
  });
  const bool both_waiting = SessionsWaitForALock(database_->url(), 2);
  pg::ResultPtr committed(PQexec(holder.get(), "COMMIT"));
  rotating.join();
  revoking.join();
  ASSERT_TRUE(both_waiting);

  ASSERT_TRUE(rotated.has_value());
  EXPECT_TRUE(rotated->ok()) << rotated->ToString();
  ASSERT_TRUE(revoked.has_value() && revoked->ok());
  EXPECT_EQ(**revoked, std::vector<std::string>{rotation.new_token.id});
  EXPECT_TRUE(store->FindById(rotation.new_token.id).status().IsNotFound())
      << "the rotation's new token is live";
}

// A rotation that keeps the old token for an overlap tells every instance
// when the overlap ends, so that each leaves the old token out of its
// queries then, not only the instance that rotated (API 7.3).
TEST_F(PostgresStoreTest, AnOverlapsEndReachesAnotherInstance) {
  RecordingListener heard_by_b;  // outlives the stores
  auto a = OpenStore();
  auto b = OpenStore();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  b->SetChangeListener(&heard_by_b);
  const Token old = MakeToken(1);
  ASSERT_TRUE(a->Insert(old, {}).ok());
  const Rotation rotation = RotationOf(old, 2, /*keep_old=*/true, core::NowMillis());
  ASSERT_TRUE(a->Rotate(rotation).ok());
  EXPECT_TRUE(heard_by_b.WaitForOverlapEnd(*rotation.old_expiration, std::chrono::seconds(1)))
      << "instance B never heard when the overlap ends";
  b->SetChangeListener(nullptr);
}

TEST_F(PostgresStoreTest, ConcurrentWritersShareASmallPool) {
  StoreOptions options;
  options.pool_size = 2;
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 6;
  constexpr int kPerThread = 20;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const Token token = MakeToken(1000 + t * kPerThread + i);
        if (!store->Insert(token, {}).ok() || !store->FindById(token.id).ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  auto page = store->Query(core::TokenQuery{}, core::Visibility{}, 1, 0, true);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->total, kThreads * kPerThread);
  EXPECT_LE(QueryValue(admin_url_, "SELECT count(*) <= 2 FROM pg_stat_activity WHERE datname = '" +
                                       database_->name() + "' AND application_name = 'tokend'"),
            "t");
}

// Two instances flush their uses of the same tokens in any order, concurrently:
// the stored value is the newest use either saw.
TEST_F(PostgresStoreTest, NewestUseWinsAcrossInstances) {
  auto a = OpenStore();
  auto b = OpenStore();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  std::vector<Token> tokens;
  for (int n = 1; n <= 50; ++n) tokens.push_back(MakeToken(n));
  ASSERT_TRUE(a->InsertMany(tokens).ok());
  constexpr std::int64_t kBase = 1'780'000'000'000;
  std::vector<TokenUse> by_a;
  std::vector<TokenUse> by_b;
  for (int n = 1; n <= 50; ++n) {
    // Even tokens: A saw the newer use; odd ones: B did.
    by_a.push_back({MakeToken(n).id, kBase + n + (n % 2 == 0 ? 1000 : 0)});
    by_b.push_back({MakeToken(n).id, kBase + n + (n % 2 == 1 ? 1000 : 0)});
  }
  for (int round = 0; round < 5; ++round) {
    std::thread ta([&] { EXPECT_TRUE(a->RecordUses(by_a).ok()); });
    std::thread tb([&] { EXPECT_TRUE(b->RecordUses(by_b).ok()); });
    ta.join();
    tb.join();
  }
  const std::vector<TokenUse> stale = {{MakeToken(2).id, kBase}};
  ASSERT_TRUE(b->RecordUses(stale).ok());
  for (int n = 1; n <= 50; ++n) {
    Result<Token> seen_by_b = b->FindById(MakeToken(n).id);
    ASSERT_TRUE(seen_by_b.ok()) << seen_by_b.status().ToString();
    EXPECT_EQ(seen_by_b->last_used_date, kBase + n + 1000) << n;
  }
}

// The statements prepared on `conn`, by a query of the session's own view.
int PreparedOn(PGconn* conn) {
  pg::ResultPtr result(PQexec(conn, "SELECT count(*) FROM pg_prepared_statements"));
  if (!pg::Succeeded(result.get(), PGRES_TUPLES_OK)) return -1;
  return std::atoi(PQgetvalue(result.get(), 0, 0));
}

// The first value of a run of PreparedStatements::Exec, or the error.
std::string FirstValue(pg::PreparedStatements& prepared, PGconn* conn, const std::string& sql,
                       const std::vector<const char*>& params) {
  pg::ResultPtr result = prepared.Exec(conn, sql, params);
  if (!pg::Succeeded(result.get(), PGRES_TUPLES_OK)) {
    return std::string("error: ") + PQresultErrorMessage(result.get());
  }
  return PQgetisnull(result.get(), 0, 0) ? "null" : PQgetvalue(result.get(), 0, 0);
}

TEST_F(PostgresStoreTest, StatementsArePreparedOncePerTextUpToTheCapacity) {
  pg::ConnPtr conn(PQconnectdb(database_->url().c_str()));
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_OK) << PQerrorMessage(conn.get());
  pg::PreparedStatements prepared(2);
  const std::string add = "SELECT ($1::int + $2::int)::text";
  const std::string twice = "SELECT repeat($1, 2)";
  const std::string third = "SELECT upper($1)";

  EXPECT_EQ(FirstValue(prepared, conn.get(), add, {"1", "2"}), "3");
  EXPECT_EQ(FirstValue(prepared, conn.get(), add, {"40", "2"}), "42");
  EXPECT_EQ(prepared.size(), 1u);
  EXPECT_EQ(PreparedOn(conn.get()), 1);
  EXPECT_EQ(FirstValue(prepared, conn.get(), twice, {"ab"}), "abab");
  EXPECT_EQ(FirstValue(prepared, conn.get(), twice, {nullptr}), "null");
  EXPECT_EQ(PreparedOn(conn.get()), 2);

  // Over the capacity: run unnamed, with its own values, nothing prepared.
  EXPECT_EQ(FirstValue(prepared, conn.get(), third, {"x"}), "X");
  EXPECT_EQ(FirstValue(prepared, conn.get(), third, {"y"}), "Y");
  EXPECT_EQ(prepared.size(), 2u);
  EXPECT_EQ(PreparedOn(conn.get()), 2);
  EXPECT_EQ(FirstValue(prepared, conn.get(), add, {"2", "2"}), "4");
}

TEST_F(PostgresStoreTest, AFailedPrepareIsReportedAndTriedAgain) {
  pg::ConnPtr conn(PQconnectdb(database_->url().c_str()));
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_OK) << PQerrorMessage(conn.get());
  pg::PreparedStatements prepared;
  const std::string sql = "SELECT count(*)::text FROM later_table WHERE n > $1::int";
  EXPECT_NE(FirstValue(prepared, conn.get(), sql, {"0"}).find("later_table"), std::string::npos);
  EXPECT_EQ(prepared.size(), 0u);
  pg::ResultPtr made(PQexec(conn.get(),
                            "CREATE TABLE later_table (n int); "
                            "INSERT INTO later_table VALUES (1), (2), (3)"));
  ASSERT_TRUE(pg::Succeeded(made.get(), PGRES_COMMAND_OK)) << PQerrorMessage(conn.get());
  EXPECT_EQ(FirstValue(prepared, conn.get(), sql, {"1"}), "2");
  EXPECT_EQ(prepared.size(), 1u);
  EXPECT_EQ(PreparedOn(conn.get()), 1);
}

TEST(PostgresStoreOpenTest, NoServerIsUnavailableQuicklyAndHidesThePassword) {
  const std::string url =
      "postgresql://tokend:s3cretPassw0rd@127.0.0.1:" + std::to_string(UnusedPort()) + "/tokend";
  StoreOptions options;
  options.connect_timeout_seconds = 2;
  const auto start = Clock::now();
  auto store = TokenStore::Open(url, options);
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(store.status().IsUnavailable()) << store.status().ToString();
  EXPECT_EQ(store.status().message().find("s3cretPassw0rd"), std::string::npos)
      << store.status().message();
  EXPECT_LT(elapsed, std::chrono::seconds(3));
}

TEST(PostgresStoreOpenTest, MalformedUrlIsInvalidArgumentWithoutEchoingIt) {
  auto store = TokenStore::Open("postgresql://u:s3cretPassw0rd@127.0.0.1:notaport/x?bogus=1");
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().code(), core::StatusCode::kInternal) << store.status().ToString();
  EXPECT_EQ(store.status().message().find("s3cretPassw0rd"), std::string::npos)
      << store.status().message();
}

TEST_F(PostgresStoreTest, TextPostgresCannotHoldIsNeverInternal) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Insert(MakeToken(1), {}).ok());
  const std::string bad_utf8 = "team-\xff\xfe";
  const std::string with_nul("team-1\0x", 8);

  core::TokenQuery query;
  query.principals = {bad_utf8};
  auto page = store->Query(query, core::Visibility{}, 10, 0, true);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_TRUE(page->tokens.empty());
  EXPECT_EQ(page->total, 0);

  query.principals = {bad_utf8, "team-1"};
  page = store->Query(query, core::Visibility{}, 10, 0, true);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->total, 1);

  core::Visibility visibility;
  visibility.everything = false;
  visibility.types = {TokenType::kTeam};
  visibility.principal = with_nul;
  page = store->Query(core::TokenQuery{}, visibility, 10, 0, true);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->total, 0);

  EXPECT_TRUE(store->FindById("\xc0\xaf").status().IsNotFound());
  EXPECT_TRUE(
      store->FindById(std::string(MakeToken(1).id + std::string(1, '\0'))).status().IsNotFound());
  EXPECT_TRUE(store->FindBySecretHash("\xed\xa0\x80").status().IsNotFound());
  EXPECT_TRUE(store->Delete("\xff", {}).IsNotFound());

  Token bad = MakeToken(2);
  bad.name = "name \xf8\x88\x80\x80\x80";
  EXPECT_EQ(store->Insert(bad, {}).code(), core::StatusCode::kInvalidArgument);
  bad = MakeToken(3);
  bad.description = with_nul;
  EXPECT_EQ(store->Insert(bad, {}).code(), core::StatusCode::kInvalidArgument);
  // Valid multi-byte text round-trips.
  Token fine = MakeToken(4, TokenType::kUser, "usér-✓-𝄞");
  fine.description = "";
  ASSERT_TRUE(store->Insert(fine, {}).ok());
  auto found = store->FindById(fine.id);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(*found, fine);
}

TEST_F(PostgresStoreTest, DuplicateIdOrHashIsAlreadyExists) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Insert(MakeToken(1), {}).ok());
  Token same_id = MakeToken(2);
  same_id.id = MakeToken(1).id;
  EXPECT_EQ(store->Insert(same_id, {}).code(), core::StatusCode::kAlreadyExists);
  Token same_hash = MakeToken(3);
  same_hash.secret_hash = MakeToken(1).secret_hash;
  EXPECT_EQ(store->Insert(same_hash, {}).code(), core::StatusCode::kAlreadyExists);
  const std::vector<Token> batch = {MakeToken(4), MakeToken(1)};
  EXPECT_EQ(store->InsertMany(batch).code(), core::StatusCode::kAlreadyExists);
  EXPECT_TRUE(store->FindById(MakeToken(4).id).status().IsNotFound()) << "all or none";
}

}  // namespace
}  // namespace tokend::store

namespace tokend::store {
namespace {

// Two instances claiming deliveries at once never get the same one, and
// between them claim each exactly once.
TEST_F(PostgresStoreTest, TwoInstancesNeverClaimTheSameDelivery) {
  StoreOptions options;
  options.webhook_urls = {"https://a.example/hook", "https://b.example/hook"};
  auto a = OpenStore(options);
  auto b = OpenStore(options);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  constexpr int kEvents = 60;
  constexpr core::EpochMillis kAt = 1'770'000'000'000;
  for (int n = 1; n <= kEvents; ++n) {
    const Token token = MakeToken(n);
    const core::AuditEvent event =
        core::MakeEvent(core::AuditAction::kCreated, token, core::EventOrigin::System(), kAt);
    ASSERT_TRUE((n % 2 == 0 ? a : b)->Insert(token, std::span(&event, 1)).ok());
  }
  std::mutex mu;
  std::vector<std::string> claimed;
  std::atomic<int> errors{0};
  auto claim_all = [&](TokenStore& store) {
    for (;;) {
      Result<std::vector<Delivery>> batch = store.ClaimDeliveries(kAt + 1, 60'000, 7, {});
      if (!batch.ok()) {
        ++errors;
        return;
      }
      if (batch->empty()) return;
      std::lock_guard lock(mu);
      for (const Delivery& delivery : *batch) claimed.push_back(delivery.event_id + delivery.url);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back([&, t] { claim_all(t % 2 == 0 ? *a : *b); });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(errors, 0);
  ASSERT_EQ(claimed.size(), 2u * kEvents);
  std::sort(claimed.begin(), claimed.end());
  EXPECT_EQ(std::adjacent_find(claimed.begin(), claimed.end()), claimed.end())
      << "a delivery was claimed twice";
  // Both instances wrote chains of their own; all verify.
  Result<ChainReport> report = a->VerifyAudit(core::NowMillis());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok()) << report->problem;
  EXPECT_EQ(report->events, kEvents);
  EXPECT_GE(report->chains, 2);
}

// Two instances scanning the same notice window at once: one writes the
// notices, the other nothing.
TEST_F(PostgresStoreTest, TwoInstancesNeverScanTheSameNoticeWindow) {
  auto a = OpenStore();
  auto b = OpenStore();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  constexpr core::EpochMillis kStart = 1'780'000'000'000;
  NoticeScan scan{0, {}, kStart, kStart};
  ASSERT_TRUE(a->RecordExpiryNotices(scan).ok());
  for (int n = 1; n <= 20; ++n) {
    Token token = MakeToken(n);
    token.expiration_date = kStart + n;
    ASSERT_TRUE(a->Insert(token, {}).ok());
  }
  for (int round = 0; round < 5; ++round) {
    scan.until = kStart + 100 + round;
    scan.now = scan.until;
    std::int64_t by_a = -1;
    std::int64_t by_b = -1;
    auto scan_with = [&scan](TokenStore& store) -> std::int64_t {
      Result<std::int64_t> written = store.RecordExpiryNotices(scan);
      return written.ok() ? *written : -1;
    };
    std::thread racer([&] { by_b = scan_with(*b); });
    by_a = scan_with(*a);
    racer.join();
    ASSERT_GE(by_a, 0);
    ASSERT_GE(by_b, 0);
    EXPECT_EQ(by_a + by_b, round == 0 ? 20 : 0);
    EXPECT_TRUE(by_a == 0 || by_b == 0);
  }
  Result<AuditPage> page = a->QueryAudit({}, core::Visibility{}, -1, 0, true);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 20);
}

}  // namespace
}  // namespace tokend::store
