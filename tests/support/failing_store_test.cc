// FailingStore itself: transparent while healthy, failures on demand that
// never reach the real store, and toggles that hold up under concurrency.
// (The store contract suite also runs through a healthy FailingStore.)
#include "support/failing_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tokend::testing {
namespace {

using core::Status;
using core::StatusCode;
using core::Token;
using core::TokenType;

Token MakeToken(int n) {
  Token token;
  char id[25];
  std::snprintf(id, sizeof id, "65f0a1b2%016x", n);
  token.id = id;
  token.type = TokenType::kTeam;
  token.name = "t" + std::to_string(n);
  token.principal = "team-a";
  token.creation_date = 1'770'000'000'000 + n;
  token.actions = {"token/read"};
  token.secret_hash = std::string(60, 'c') + std::to_string(1000 + n);
  return token;
}

class Listener : public store::ChangeListener {
 public:
  void OnTokenDeleted(std::string_view id) override {
    std::lock_guard lock(mu_);
    deleted_.emplace_back(id);
  }
  void OnFeedHealthChanged(bool) override {}
  void OnFeedLagging(bool) override {}
  std::vector<std::string> deleted() {
    std::lock_guard lock(mu_);
    return deleted_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> deleted_;
};

std::unique_ptr<FailingStore> MustOpen() {
  auto store = FailingStore::Open("sqlite::memory:");
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

TEST(FailingStoreTest, HealthyStoreForwardsEveryCall) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  Listener listener;
  store->SetChangeListener(&listener);
  ASSERT_TRUE(store->Insert(MakeToken(1), {}).ok());
  const std::vector<Token> more = {MakeToken(2), MakeToken(3)};
  ASSERT_TRUE(store->InsertMany(more).ok());
  EXPECT_EQ(*store->FindById(MakeToken(1).id), MakeToken(1));
  EXPECT_EQ(*store->FindBySecretHash(MakeToken(2).secret_hash), MakeToken(2));
  EXPECT_EQ(store->Query({}, {}, 10, 0, true)->total, 3);
  EXPECT_EQ(store->CountByType()->size(), 1u);
  EXPECT_TRUE(store->Ping().ok());
  ASSERT_TRUE(store->Delete(MakeToken(3).id, {}).ok());
  EXPECT_EQ(listener.deleted(), std::vector<std::string>{MakeToken(3).id});
  EXPECT_FALSE(store->IsShared());
  EXPECT_EQ(store->Calls(FailingStore::kInsert), 1);
  EXPECT_EQ(store->Failures(FailingStore::kInsert), 0);
  store->SetChangeListener(nullptr);
}

TEST(FailingStoreTest, FailedCallsAreUnavailableAndNeverReachTheStore) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  Listener listener;
  store->SetChangeListener(&listener);
  ASSERT_TRUE(store->Insert(MakeToken(1), {}).ok());

  store->Fail(FailingStore::kWrites);
  const Status insert = store->Insert(MakeToken(2), {});
  EXPECT_TRUE(insert.IsUnavailable()) << insert.ToString();
  EXPECT_NE(insert.message().find("Insert"), std::string::npos) << insert.message();
  const std::vector<Token> batch = {MakeToken(3)};
  EXPECT_TRUE(store->InsertMany(batch).IsUnavailable());
  EXPECT_TRUE(store->Delete(MakeToken(1).id, {}).IsUnavailable());
  // Reads still work, and see that nothing changed.
  EXPECT_TRUE(store->FindById(MakeToken(1).id).ok());
  EXPECT_TRUE(store->inner().FindById(MakeToken(2).id).status().IsNotFound());
  EXPECT_TRUE(store->inner().FindById(MakeToken(3).id).status().IsNotFound());
  EXPECT_TRUE(listener.deleted().empty()) << "a failed delete is not announced";
  EXPECT_TRUE(store->Ping().ok());

  store->Fail(FailingStore::kAll);
  EXPECT_TRUE(store->FindById(MakeToken(1).id).status().IsUnavailable());
  EXPECT_TRUE(store->FindBySecretHash(MakeToken(1).secret_hash).status().IsUnavailable());
  EXPECT_TRUE(store->Query({}, {}, 10, 0, true).status().IsUnavailable());
  EXPECT_TRUE(store->CountByType().status().IsUnavailable());
  EXPECT_TRUE(store->Ping().IsUnavailable());

  store->Heal();
  EXPECT_TRUE(store->Insert(MakeToken(2), {}).ok());
  EXPECT_TRUE(store->Delete(MakeToken(1).id, {}).ok());
  EXPECT_EQ(listener.deleted(), std::vector<std::string>{MakeToken(1).id});
  EXPECT_EQ(store->Failures(FailingStore::kDelete), 1);
  EXPECT_EQ(store->Calls(FailingStore::kDelete), 2);
  store->SetChangeListener(nullptr);
}

TEST(FailingStoreTest, FailNextFailsExactlyThatManyCalls) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Insert(MakeToken(1), {}).ok());
  store->FailNext(FailingStore::kFindById | FailingStore::kPing, 2);
  EXPECT_TRUE(store->FindById(MakeToken(1).id).status().IsUnavailable());
  EXPECT_TRUE(store->FindById(MakeToken(1).id).status().IsUnavailable());
  EXPECT_TRUE(store->FindById(MakeToken(1).id).ok());
  EXPECT_TRUE(store->Ping().IsUnavailable());
  store->Heal(FailingStore::kPing);
  EXPECT_TRUE(store->Ping().ok()) << "Heal clears pending failures";
  EXPECT_TRUE(store->FindBySecretHash(MakeToken(1).secret_hash).ok()) << "other methods unaffected";
}

TEST(FailingStoreTest, SetFailureChoosesTheStatus) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  store->SetFailure(Status::Internal("boom"));
  store->Fail(FailingStore::kQuery);
  const auto page = store->Query({}, {}, 10, 0, true);
  EXPECT_EQ(page.status().code(), StatusCode::kInternal);
  EXPECT_EQ(page.status().message(), "boom");
  store->SetFailure(Status::Ok());  // back to the default
  EXPECT_TRUE(store->Query({}, {}, 10, 0, true).status().IsUnavailable());
}

TEST(FailingStoreTest, TogglesAreSafeWhileCallsAreInFlight) {
  auto store = MustOpen();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Insert(MakeToken(1), {}).ok());
  constexpr int kThreads = 8;
  constexpr int kCallsEach = 200;
  constexpr int kPending = 300;
  store->FailNext(FailingStore::kFindById, kPending);
  std::atomic<int> failed{0};
  std::atomic<bool> stop{false};
  std::thread toggler([&] {
    // Flips another method's toggle meanwhile: must not disturb FindById.
    while (!stop.load()) {
      store->Fail(FailingStore::kPing);
      store->Heal(FailingStore::kPing);
    }
  });
  std::vector<std::thread> callers;
  for (int t = 0; t < kThreads; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < kCallsEach; ++i) {
        if (!store->FindById(MakeToken(1).id).ok()) ++failed;
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  stop = true;
  toggler.join();
  EXPECT_EQ(failed.load(), kPending);
  EXPECT_EQ(store->Failures(FailingStore::kFindById), kPending);
  EXPECT_EQ(store->Calls(FailingStore::kFindById), kThreads * kCallsEach);
}

}  // namespace
}  // namespace tokend::testing
