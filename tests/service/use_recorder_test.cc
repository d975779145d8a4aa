// Last used: the recorder on the request path, its background flush, and the
// uses TokenService records (docs/API.md, "Last used").
#include "service/use_recorder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/secret.h"
#include "core/time.h"
#include "service/token_service.h"
#include "store/token_store.h"
#include "support/failing_store.h"

namespace tokend::service {
namespace {

using std::chrono::milliseconds;
using testing::FailingStore;

constexpr core::EpochMillis kBase = 1'780'000'000'000;

core::Token MakeToken(int n) {
  core::Token token;
  token.id = "65f0a1b2000000000000000" + std::to_string(n);
  token.type = core::TokenType::kTeam;
  token.name = "token " + std::to_string(n);
  token.principal = "t";
  token.creation_date = kBase - 1000;
  token.actions = {"token/read"};
  token.secret_hash = std::string(63, 'a') + std::to_string(n);
  return token;
}

class UseRecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = FailingStore::Open("sqlite::memory:");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    for (int n = 1; n <= 3; ++n) ASSERT_TRUE(store_->Insert(MakeToken(n), {}).ok());
  }

  std::optional<core::EpochMillis> Stored(int n) {
    auto token = store_->FindById(MakeToken(n).id);
    EXPECT_TRUE(token.ok()) << token.status().ToString();
    return token.ok() ? token->last_used_date : std::nullopt;
  }

  std::unique_ptr<FailingStore> store_;
};

TEST_F(UseRecorderTest, RepeatedUsesKeepTheNewestUntilFlushed) {
  UseRecorder recorder(*store_, std::chrono::hours(1));
  recorder.Record(MakeToken(1).id, kBase + 10);
  recorder.Record(MakeToken(1).id, kBase + 30);
  recorder.Record(MakeToken(1).id, kBase + 20);  // late, older: ignored
  recorder.Record(MakeToken(2).id, kBase + 5);
  EXPECT_EQ(recorder.Pending(MakeToken(1).id), kBase + 30);
  EXPECT_EQ(recorder.PendingCount(), 2u);
  EXPECT_EQ(Stored(1), std::nullopt) << "nothing is written before a flush";

  ASSERT_TRUE(recorder.Flush().ok());
  EXPECT_EQ(Stored(1), kBase + 30);
  EXPECT_EQ(Stored(2), kBase + 5);
  EXPECT_EQ(Stored(3), std::nullopt);
  EXPECT_EQ(recorder.PendingCount(), 0u);
  EXPECT_EQ(store_->Calls(FailingStore::kRecordUses), 1) << "one batch";
}

TEST_F(UseRecorderTest, ANewRecorderNeverTakesAnotherOnesRecordForItsOwn) {
  for (int i = 0; i < 3; ++i) {
    // Destroyed and made again, possibly at the same address.
    auto recorder = std::make_unique<UseRecorder>(*store_, std::chrono::hours(1));
    recorder->Record(MakeToken(1).id, kBase);
    EXPECT_EQ(recorder->Pending(MakeToken(1).id), kBase) << i;
    recorder->Record(MakeToken(1).id, kBase);  // the same again: nothing to do
    EXPECT_EQ(recorder->PendingCount(), 1u);
  }
}

TEST_F(UseRecorderTest, NothingPendingMeansNoWrite) {
  UseRecorder recorder(*store_, std::chrono::hours(1));
  ASSERT_TRUE(recorder.Flush().ok());
  EXPECT_EQ(store_->Calls(FailingStore::kRecordUses), 0);
}

TEST_F(UseRecorderTest, AFlushPassesItsUsesInIdOrder) {
  UseRecorder recorder(*store_, std::chrono::hours(1));
  // Enough ids that the shards' hash order is all but certain to differ
  // from theirs, recorded from the highest down.
  std::vector<std::string> ids;
  for (int n = 999; n >= 100; --n) ids.push_back("65f0a1b2000000000000" + std::to_string(n) + "0");
  for (const std::string& id : ids) recorder.Record(id, kBase);
  ASSERT_TRUE(recorder.Flush().ok());  // ids with no token are no error

  std::vector<std::string> passed = store_->LastRecordedIds();
  ASSERT_EQ(passed.size(), ids.size());
  EXPECT_TRUE(std::is_sorted(passed.begin(), passed.end()));
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(passed, ids) << "each id once";
}

TEST_F(UseRecorderTest, AFailedFlushKeepsTheUsesAndMergesNewerOnes) {
  UseRecorder recorder(*store_, std::chrono::hours(1));
  recorder.Record(MakeToken(1).id, kBase + 10);
  recorder.Record(MakeToken(2).id, kBase + 10);
  store_->Fail(FailingStore::kRecordUses);
  EXPECT_TRUE(recorder.Flush().IsUnavailable());
  EXPECT_EQ(recorder.PendingCount(), 2u) << "kept for the next attempt";
  recorder.Record(MakeToken(1).id, kBase + 50);  // newer than the kept one
  recorder.Record(MakeToken(2).id, kBase + 1);   // older than the kept one
  store_->Heal();
  ASSERT_TRUE(recorder.Flush().ok());
  EXPECT_EQ(Stored(1), kBase + 50);
  EXPECT_EQ(Stored(2), kBase + 10);
}

TEST_F(UseRecorderTest, TheBackgroundFlushWritesWithinTheInterval) {
  UseRecorder recorder(*store_, milliseconds(50));
  recorder.Start();
  recorder.Record(MakeToken(3).id, kBase + 7);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (Stored(3) != kBase + 7 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(Stored(3), kBase + 7);
  // Idle intervals write nothing.
  const int calls = store_->Calls(FailingStore::kRecordUses);
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(store_->Calls(FailingStore::kRecordUses), calls);
  ASSERT_TRUE(recorder.Stop().ok());
}

TEST_F(UseRecorderTest, StopWritesWhatIsPending) {
  {
    UseRecorder recorder(*store_, std::chrono::hours(1));
    recorder.Start();
    recorder.Record(MakeToken(2).id, kBase + 99);
    ASSERT_TRUE(recorder.Stop().ok());
    EXPECT_EQ(Stored(2), kBase + 99);
    recorder.Record(MakeToken(1).id, kBase + 98);
  }  // the destructor flushes too
  EXPECT_EQ(Stored(1), kBase + 98);
}

TEST_F(UseRecorderTest, ConcurrentRecordsKeepTheNewestOfEach) {
  UseRecorder recorder(*store_, milliseconds(5));
  recorder.Start();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) recorder.Record(MakeToken(1 + i % 3).id, kBase + i * 4 + t);
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_TRUE(recorder.Stop().ok());
  // The newest use of token k (i % 3 == k - 1) by the thread with t == 3.
  EXPECT_EQ(Stored(1), kBase + 19998 * 4 + 3);
  EXPECT_EQ(Stored(2), kBase + 19999 * 4 + 3);
  EXPECT_EQ(Stored(3), kBase + 19997 * 4 + 3);
}

// What TokenService records: requests (through RecordUse, called by the HTTP
// layer) and active introspections; RevokeSecrets records nothing.
class ServiceUsesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::TokenStore::Open("sqlite::memory:");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    ServiceOptions options;
    options.last_used_resolution_seconds = 60;  // flushed by hand below
    service_ = std::make_unique<TokenService>(*store_, options);
  }

  CreatedToken Create(const std::string& team, std::vector<std::string> permissions) {
    core::CreateTokenRequest request;
    request.type = "team";
    request.name = "token of " + team;
    request.principal = team;
    request.permissions = std::move(permissions);
    auto created = service_->Create(admin_, request);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? *created : CreatedToken{};
  }

  std::optional<core::EpochMillis> LastUsed(const std::string& id) {
    auto token = service_->Get(admin_, id);
    EXPECT_TRUE(token.ok()) << token.status().ToString();
    return token.ok() ? token->last_used_date : std::nullopt;
  }

  std::unique_ptr<store::TokenStore> store_;
  std::unique_ptr<TokenService> service_;
  const core::Caller admin_ = core::Caller::Unrestricted();
};

TEST_F(ServiceUsesTest, ARecordedUseIsVisibleThroughGetOnceFlushed) {
  const CreatedToken token = Create("team-a", {"token/read"});
  EXPECT_EQ(LastUsed(token.token.id), std::nullopt);
  service_->RecordUse(token.token.id, kBase);
  EXPECT_EQ(LastUsed(token.token.id), std::nullopt) << "the store lags until the flush";
  ASSERT_TRUE(service_->FlushUses().ok());
  EXPECT_EQ(LastUsed(token.token.id), kBase);
  // The sort and filters see it too.
  core::TokenQuery query;
  query.last_used_after = kBase;
  auto page = service_->Query(admin_, query);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->tokens.size(), 1u);
  EXPECT_EQ(page->tokens[0].id, token.token.id);
}

TEST_F(ServiceUsesTest, ActiveIntrospectionIsAUseOfTheIntrospectedToken) {
  const CreatedToken caller = Create("team-a", {"token/read"});
  const CreatedToken target = Create("team-a", {"workflow/read"});
  const CreatedToken uncovered = Create("team-b", {"workflow/read"});
  const core::Caller as_caller = core::Caller::FromToken(caller.token);
  const core::EpochMillis now = core::NowMillis();
  auto active =
      CompleteHere(service_->Introspect(as_caller, core::HashedSecret::Of(target.secret), now));
  ASSERT_TRUE(active.ok());
  ASSERT_NE(*active, nullptr);
  // Not active for this caller (another team's token): not a use.
  auto hidden =
      CompleteHere(service_->Introspect(as_caller, core::HashedSecret::Of(uncovered.secret), now));
  ASSERT_TRUE(hidden.ok());
  EXPECT_EQ(*hidden, nullptr);
  ASSERT_TRUE(service_->FlushUses().ok());
  EXPECT_EQ(LastUsed(target.token.id), now);
  EXPECT_EQ(LastUsed(caller.token.id), std::nullopt)
      << "the caller's use is its request, recorded by the HTTP layer";
  EXPECT_EQ(LastUsed(uncovered.token.id), std::nullopt);
}

TEST_F(ServiceUsesTest, RevokingBySecretIsNotAUse) {
  const CreatedToken kept = Create("team-a", {"token/read"});
  const CreatedToken revoked = Create("team-a", {"token/read"});
  const std::vector<std::string_view> secrets = {revoked.secret};
  ASSERT_EQ(*service_->RevokeSecrets(secrets), 1);
  ASSERT_TRUE(service_->FlushUses().ok());
  EXPECT_EQ(LastUsed(kept.token.id), std::nullopt);
  EXPECT_EQ(store_->FindById(revoked.token.id).status().code(), core::StatusCode::kNotFound);
}

TEST_F(ServiceUsesTest, DestroyingTheServiceWritesPendingUses) {
  const CreatedToken token = Create("team-a", {"token/read"});
  service_->RecordUse(token.token.id, kBase + 1);
  service_.reset();
  auto stored = store_->FindById(token.token.id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->last_used_date, kBase + 1);
}

}  // namespace
}  // namespace tokend::service
