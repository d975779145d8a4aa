// Every use case of the service when the store fails under it: each answers
// Unavailable (503), changes nothing, and works again once the store does.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/secret.h"
#include "core/time.h"
#include "service/token_service.h"
#include "support/failing_store.h"

namespace tokend::service {
namespace {

using ::tokend::testing::FailingStore;

class StoreFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = FailingStore::Open("sqlite::memory:");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    service_ = std::make_unique<TokenService>(*store_, ServiceOptions{});
    auto created = service_->Create(admin_, TeamRequest());
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    existing_ = std::move(*created);
  }

  static core::CreateTokenRequest TeamRequest() {
    core::CreateTokenRequest request;
    request.type = "team";
    request.name = "t";
    request.principal = "team-a";
    request.permissions = std::vector<std::string>{"workflow/read"};
    return request;
  }

  Resolution ResolveNow(const std::string& secret) {
    return CompleteHere(service_->Resolve(core::HashedSecret::Of(secret), core::NowMillis()));
  }

  const core::Caller admin_ = core::Caller::Unrestricted();
  std::unique_ptr<FailingStore> store_;
  std::unique_ptr<TokenService> service_;
  CreatedToken existing_;
};

TEST_F(StoreFailureTest, EveryUseCaseAnswersUnavailable) {
  // A token the store holds and the cache has never seen (written behind
  // the service's back): resolving its secret needs the store.
  const std::string uncached = core::GenerateSecret(core::TokenType::kTeam);
  core::Token behind = existing_.token;
  behind.id = "65f0a1b2c3d4e5f60718293a";
  behind.secret_hash = core::HashSecret(uncached);
  ASSERT_TRUE(store_->Insert(behind, {}).ok());
  store_->Fail(FailingStore::kAll);
  EXPECT_TRUE(service_->Create(admin_, TeamRequest()).status().IsUnavailable());
  EXPECT_TRUE(service_->Get(admin_, existing_.token.id).status().IsUnavailable());
  EXPECT_TRUE(service_->Delete(admin_, existing_.token.id).IsUnavailable());
  EXPECT_TRUE(service_->Query(admin_, core::TokenQuery{}).status().IsUnavailable());
  core::TokenQuery paged;
  paged.limit = 10;
  EXPECT_TRUE(service_->Query(admin_, paged).status().IsUnavailable());
  EXPECT_TRUE(service_->Ping().IsUnavailable());
  EXPECT_TRUE(service_->CountByType().status().IsUnavailable());
  EXPECT_TRUE(service_->StoreIsEmpty().status().IsUnavailable());
  EXPECT_TRUE(service_->CreateBootstrapAdmin().status().IsUnavailable());
  // A secret the store may hold and the cache does not know must be looked
  // up, and cannot be.
  EXPECT_TRUE(ResolveNow(uncached).status().IsUnavailable());
  EXPECT_TRUE(CompleteHere(
                  service_->Introspect(admin_, core::HashedSecret::Of(uncached), core::NowMillis()))
                  .status()
                  .IsUnavailable());
  // A secret the store never held is known to be unknown without it (the
  // SQLite store keeps the fingerprint of every hash it holds).
  const std::string unknown = core::GenerateSecret(core::TokenType::kTeam);
  ASSERT_TRUE(ResolveNow(unknown).ok());
  EXPECT_EQ(*ResolveNow(unknown), nullptr);

  store_->Heal();
  auto found = service_->Get(admin_, existing_.token.id);
  ASSERT_TRUE(found.ok()) << "the failed delete changed nothing";
  ASSERT_TRUE(ResolveNow(uncached).ok());
  ASSERT_NE(*ResolveNow(uncached), nullptr);
  EXPECT_EQ((*ResolveNow(uncached))->id, behind.id);
}

// A token the cache knows is still answered while the store is down: the
// cache is trusted (nothing was deleted meanwhile), so introspection keeps
// working through a store outage.
TEST_F(StoreFailureTest, CachedSecretsResolveWhileTheStoreIsDown) {
  store_->Fail(FailingStore::kAll);
  const Resolution resolved = ResolveNow(existing_.secret);
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  ASSERT_NE(*resolved, nullptr);
  EXPECT_EQ((*resolved)->id, existing_.token.id);
  EXPECT_EQ(store_->Calls(FailingStore::kFindBySecretHash), 0);
  EXPECT_EQ(store_->Calls(FailingStore::kLookupSecret), 0);
}

// A write that fails half-way through the store call leaves the cache as it
// was: a failed delete does not revoke, a failed create mints nothing usable.
TEST_F(StoreFailureTest, FailedWritesLeaveNothingBehind) {
  store_->FailNext(FailingStore::kDelete, 1);
  EXPECT_TRUE(service_->Delete(admin_, existing_.token.id).IsUnavailable());
  EXPECT_NE(*ResolveNow(existing_.secret), nullptr);
  store_->FailNext(FailingStore::kInsert, 1);
  EXPECT_TRUE(service_->Create(admin_, TeamRequest()).status().IsUnavailable());
  auto page = service_->Query(admin_, core::TokenQuery{});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 1);
}

}  // namespace
}  // namespace tokend::service
