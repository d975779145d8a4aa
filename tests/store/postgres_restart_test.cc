// The PostgreSQL store across a server restart: stops and starts the test
// cluster, so CTest runs it alone (RUN_SERIAL). Needs TOKEND_TEST_PG_URL,
// TOKEND_TEST_PG_BIN and TOKEND_TEST_PG_DATA (and TOKEND_TEST_PG_USER when the
// cluster belongs to another user), as scripts/with-postgres.sh sets them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/store_backends.h"
#include "store/token_store.h"

namespace tokend::store {
namespace {

using Clock = std::chrono::steady_clock;
using core::Token;
using core::TokenType;
using testing::GetEnv;
using testing::PgCtl;
using testing::ScopedPostgresDatabase;

Token MakeToken(int n, TokenType type = TokenType::kTeam,
                std::optional<std::string> principal = "team-1") {
  char id[25];
  std::snprintf(id, sizeof id, "66b0c1d2%016x", n);
  char hash[65];
  std::snprintf(hash, sizeof hash, "%064x", n + 0xfade00);
  Token token;
  token.id = id;
  token.type = type;
  token.name = "restart token " + std::to_string(n);
  token.principal = std::move(principal);
  token.creation_date = 1'770'000'000'000 + n;
  token.expiration_date = 1'870'000'000'000 + n;
  token.actions = {"token/read"};
  token.secret_hash = hash;
  return token;
}

class HealthListener : public ChangeListener {
 public:
  void OnTokenDeleted(std::string_view) override {}
  void OnFeedLagging(bool) override {}
  void OnFeedHealthChanged(bool healthy) override {
    std::lock_guard lock(mu_);
    health_.push_back(healthy);
    changed_.notify_all();
  }
  // Waits until the events recorded so far end with `events`.
  bool WaitForHealth(const std::vector<bool>& events, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [&] {
      return health_.size() >= events.size() &&
             std::equal(events.begin(), events.end(), health_.end() - events.size());
    });
  }
  std::vector<bool> health() {
    std::lock_guard lock(mu_);
    return health_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<bool> health_;
};

TEST(PostgresRestartTest, StoreSurvivesAServerRestartWithoutLosingTokens) {
  if (GetEnv("TOKEND_TEST_PG_URL").empty() || GetEnv("TOKEND_TEST_PG_BIN").empty() ||
      GetEnv("TOKEND_TEST_PG_DATA").empty()) {
    GTEST_SKIP() << "TOKEND_TEST_PG_URL / TOKEND_TEST_PG_BIN / TOKEND_TEST_PG_DATA not set";
  }
  HealthListener listener;  // outlives the store
  auto database = ScopedPostgresDatabase::Create(GetEnv("TOKEND_TEST_PG_URL"));
  ASSERT_TRUE(database.ok()) << database.status().ToString();
  StoreOptions options;
  options.connect_timeout_seconds = 2;
  auto opened = TokenStore::Open((*database)->url(), options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<TokenStore> store = std::move(opened).value();
  store->SetChangeListener(&listener);
  std::vector<Token> tokens;
  for (int n = 1; n <= 20; ++n) {
    tokens.push_back(MakeToken(n));
    ASSERT_TRUE(store->Insert(tokens.back(), {}).ok());
  }
  std::vector<Token> batch;
  for (int n = 21; n <= 40; ++n) batch.push_back(MakeToken(n, TokenType::kGlobal, std::nullopt));
  ASSERT_TRUE(store->InsertMany(batch).ok());
  tokens.insert(tokens.end(), batch.begin(), batch.end());

  // The server log goes next to the data directory (never to our stdout).
  const std::string log =
      (std::filesystem::path(GetEnv("TOKEND_TEST_PG_DATA")).parent_path() / "restart.log").string();
  struct Restarter {
    std::string log;
    bool stopped = false;
    ~Restarter() {
      if (stopped) PgCtl("-l '" + log + "' -w -t 60 start");
    }
  } restarter{log};

  ASSERT_EQ(PgCtl("-m fast -w -t 60 stop"), 0);
  restarter.stopped = true;

  auto start = Clock::now();
  auto missing = store->FindById(tokens[0].id);
  EXPECT_TRUE(missing.status().IsUnavailable()) << missing.status().ToString();
  EXPECT_TRUE(store->Insert(MakeToken(99), {}).IsUnavailable());
  EXPECT_TRUE(store->Ping().IsUnavailable());
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(6));
  EXPECT_TRUE(listener.WaitForHealth({false}, std::chrono::seconds(3)))
      << "the feed should report the outage";

  ASSERT_EQ(PgCtl("-l '" + log + "' -w -t 60 start"), 0);
  restarter.stopped = false;

  auto found = store->FindById(tokens[0].id);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(*found, tokens[0]);
  for (const Token& token : tokens) {
    auto again = store->FindById(token.id);
    ASSERT_TRUE(again.ok()) << token.id << ": " << again.status().ToString();
    EXPECT_EQ(*again, token);
  }
  auto page = store->Query(core::TokenQuery{}, core::Visibility{}, 1, 0, true);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->total, static_cast<std::int64_t>(tokens.size()));
  EXPECT_TRUE(listener.WaitForHealth({false, true}, std::chrono::seconds(5)))
      << "health events: " << ::testing::PrintToString(listener.health());
  store->SetChangeListener(nullptr);
}

}  // namespace
}  // namespace tokend::store
