#include "service/token_service.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "core/secret.h"
#include "core/time.h"
#include "store/token_store.h"

namespace tokend::service {
namespace {

using core::CreateTokenRequest;
using core::StatusCode;

// Submitted work is finished from another thread; what Then chains onto it
// runs after, with its value, and CompleteHere waits for it.
TEST(OutcomeTest, SubmittedWorkIsFinishedElsewhereAndChainsLikeBlockingWork) {
  std::thread finisher;
  int submitted = 0;
  Outcome<int> started = Outcome<int>::FromSubmit([&](Outcome<int>::Finish finish) {
    ++submitted;
    finisher =
        std::thread([finish = std::move(finish)] { finish([] { return Outcome<int>(20); }); });
  });
  Outcome<std::string> chained = std::move(started).Then(
      [](int value) -> Outcome<std::string> { return std::to_string(value + 1); });
  EXPECT_FALSE(chained.ready());
  EXPECT_TRUE(chained.submitted());
  EXPECT_EQ(CompleteHere(std::move(chained)), "21");
  EXPECT_EQ(submitted, 1);
  finisher.join();
}

class TokenServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(ServiceOptions{}); }

  void Reopen(const ServiceOptions& options) {
    service_.reset();
    auto store = store::TokenStore::Open("sqlite::memory:");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    service_ = std::make_unique<TokenService>(*store_, options);
  }

  CreatedToken MustCreate(const core::Caller& caller, CreateTokenRequest request) {
    auto created = service_->Create(caller, request);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? *created : CreatedToken{};
  }

  static CreateTokenRequest TeamRequest(const std::string& team,
                                        std::vector<std::string> permissions) {
    CreateTokenRequest request;
    request.type = "team";
    request.name = "token of " + team;
    request.principal = team;
    request.permissions = std::move(permissions);
    return request;
  }

  // What Resolve answers without the store: kMiss when it asked the store
  // (at once, or by handing the lookup to the store's threads).
  enum class Cached { kActive, kInactive, kMiss };
  Cached Peek(const std::string& secret) {
    const std::uint64_t misses = service_->cache_stats().misses;
    auto outcome = service_->Resolve(core::HashedSecret::Of(secret), core::NowMillis());
    if (!outcome.ready() || service_->cache_stats().misses != misses) return Cached::kMiss;
    const Resolution& resolved = outcome.value();
    return resolved.ok() && *resolved != nullptr ? Cached::kActive : Cached::kInactive;
  }
  Resolution ResolveNow(const std::string& secret) {
    return CompleteHere(service_->Resolve(core::HashedSecret::Of(secret), core::NowMillis()));
  }
  Resolution IntrospectNow(const core::Caller& caller, const std::string& secret) {
    return CompleteHere(
        service_->Introspect(caller, core::HashedSecret::Of(secret), core::NowMillis()));
  }

  std::unique_ptr<store::TokenStore> store_;
  std::unique_ptr<TokenService> service_;
  const core::Caller admin_ = core::Caller::Unrestricted();
};

TEST_F(TokenServiceTest, CreatedSecretResolvesAndIsCached) {
  CreatedToken created = MustCreate(admin_, TeamRequest("team-a", {"workflow/read"}));
  EXPECT_EQ(created.secret.size(), core::kSecretLength);
  EXPECT_EQ(created.token.secret_hash, core::HashSecret(created.secret));

  EXPECT_EQ(Peek(created.secret), Cached::kActive);

  auto resolved = ResolveNow(created.secret);
  ASSERT_TRUE(resolved.ok());
  ASSERT_NE(*resolved, nullptr);
  EXPECT_EQ((*resolved)->principal, "team-a");
}

TEST_F(TokenServiceTest, WithoutACacheEveryResolutionAsksTheStore) {
  ServiceOptions options;
  options.cache_capacity = 0;
  Reopen(options);
  CreatedToken created = MustCreate(admin_, TeamRequest("team-a", {"workflow/read"}));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Peek(created.secret), Cached::kMiss);
    auto resolved = ResolveNow(created.secret);
    ASSERT_TRUE(resolved.ok());
    ASSERT_NE(*resolved, nullptr);
    EXPECT_EQ((*resolved)->id, created.token.id);
  }
  ASSERT_TRUE(service_->Delete(admin_, created.token.id).ok());
  EXPECT_EQ(*ResolveNow(created.secret), nullptr);
}

TEST_F(TokenServiceTest, MalformedSecretIsInactiveWithoutALookup) {
  EXPECT_EQ(Peek("bft_notasecret"), Cached::kInactive);
  std::string forged = core::GenerateSecret(core::TokenType::kTeam);
  forged[10] = forged[10] == 'a' ? 'b' : 'a';
  EXPECT_EQ(Peek(forged), Cached::kInactive);
  auto resolved = ResolveNow(forged);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(*resolved, nullptr);
}

TEST_F(TokenServiceTest, UnknownWellFormedSecretIsInactiveWithoutAStoreCall) {
  // The SQLite store sees every write, so it denies what it never held and
  // the service answers at once, counting the unknown secret.
  const std::string unknown = core::GenerateSecret(core::TokenType::kUser);
  EXPECT_EQ(Peek(unknown), Cached::kInactive);
  EXPECT_EQ(service_->cache_stats().unknown_checksummed, 1u);
  EXPECT_EQ(service_->cache_stats().misses, 0u);
}

TEST_F(TokenServiceTest, CreatedAndDeletedSecretsAreAnsweredByTheStoreNeverAsUnknown) {
  ServiceOptions options;
  options.cache_capacity = 0;  // every resolution past the fingerprints goes to the store
  Reopen(options);
  CreatedToken created = MustCreate(admin_, TeamRequest("team-a", {"workflow/read"}));
  EXPECT_EQ(Peek(created.secret), Cached::kMiss) << "a created token is held at once";
  // An idle SQLite reader answers on the calling thread, without a hand-off.
  auto outcome = service_->Resolve(core::HashedSecret::Of(created.secret), core::NowMillis());
  ASSERT_TRUE(outcome.ready());
  ASSERT_TRUE(outcome.value().ok());
  ASSERT_NE(*outcome.value(), nullptr);
  EXPECT_EQ((*outcome.value())->id, created.token.id);
  ASSERT_NE(*ResolveNow(created.secret), nullptr);
  ASSERT_TRUE(service_->Delete(admin_, created.token.id).ok());
  EXPECT_EQ(*ResolveNow(created.secret), nullptr) << "deleted: inactive";
}

TEST_F(TokenServiceTest, DeletedTokenStopsResolvingAtOnce) {
  CreatedToken created = MustCreate(admin_, TeamRequest("team-a", {"workflow/read"}));
  ASSERT_NE(*ResolveNow(created.secret), nullptr);
  ASSERT_TRUE(service_->Delete(admin_, created.token.id).ok());
  EXPECT_NE(Peek(created.secret), Cached::kActive);
  EXPECT_EQ(*ResolveNow(created.secret), nullptr);
  EXPECT_EQ(service_->Delete(admin_, created.token.id).code(), StatusCode::kNotFound);
  EXPECT_GE(service_->cache_stats().invalidations, 1u);
}

TEST_F(TokenServiceTest, ExpiredTokenIsInactiveEvenWhenCached) {
  CreateTokenRequest request = TeamRequest("team-a", {"workflow/read"});
  request.expiration_date = core::NowMillis() + 150;
  CreatedToken created = MustCreate(admin_, request);
  EXPECT_EQ(Peek(created.secret), Cached::kActive);
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  EXPECT_EQ(Peek(created.secret), Cached::kInactive);
  EXPECT_EQ(*ResolveNow(created.secret), nullptr);
}

TEST_F(TokenServiceTest, FeedDownBypassesTheCache) {
  CreatedToken created = MustCreate(admin_, TeamRequest("team-a", {"workflow/read"}));
  ASSERT_EQ(Peek(created.secret), Cached::kActive);
  service_->OnFeedHealthChanged(false);
  EXPECT_EQ(Peek(created.secret), Cached::kMiss);
  // The store still answers, and nothing it answers is kept meanwhile.
  EXPECT_NE(*ResolveNow(created.secret), nullptr);
  EXPECT_EQ(Peek(created.secret), Cached::kMiss);
  service_->OnFeedHealthChanged(true);
  EXPECT_NE(*ResolveNow(created.secret), nullptr);
  EXPECT_EQ(Peek(created.secret), Cached::kActive);
}

TEST_F(TokenServiceTest, DeletionAnnouncedByTheStoreFeedEvictsTheToken) {
  CreatedToken created = MustCreate(admin_, TeamRequest("team-a", {"workflow/read"}));
  ASSERT_EQ(Peek(created.secret), Cached::kActive);
  service_->OnTokenDeleted(created.token.id);
  EXPECT_EQ(Peek(created.secret), Cached::kMiss);
}

TEST_F(TokenServiceTest, ResolutionStampMovesWithEveryInvalidation) {
  CreatedToken kept = MustCreate(admin_, TeamRequest("team-a", {"workflow/read"}));
  CreatedToken doomed = MustCreate(admin_, TeamRequest("team-b", {"workflow/read"}));
  const std::optional<std::uint64_t> before = service_->ResolutionStamp();
  ASSERT_TRUE(before.has_value());
  EXPECT_EQ(service_->ResolutionStamp(), before) << "nothing was invalidated";
  // Any deletion moves it, not only one of a token a memo holds.
  ASSERT_TRUE(service_->Delete(admin_, doomed.token.id).ok());
  const std::optional<std::uint64_t> after_delete = service_->ResolutionStamp();
  ASSERT_TRUE(after_delete.has_value());
  EXPECT_NE(after_delete, before);
  service_->OnTokenDeleted("an id announced by another instance");
  EXPECT_NE(service_->ResolutionStamp(), after_delete);
  // While the feed is down nothing may be reused; once back, nothing from before.
  const std::optional<std::uint64_t> before_outage = service_->ResolutionStamp();
  service_->OnFeedHealthChanged(false);
  EXPECT_EQ(service_->ResolutionStamp(), std::nullopt);
  service_->OnFeedHealthChanged(true);
  ASSERT_TRUE(service_->ResolutionStamp().has_value());
  EXPECT_NE(service_->ResolutionStamp(), before_outage);
}

TEST_F(TokenServiceTest, WithoutACacheThereIsNoResolutionStamp) {
  ServiceOptions options;
  options.cache_capacity = 0;
  Reopen(options);
  EXPECT_EQ(service_->ResolutionStamp(), std::nullopt);
}

TEST_F(TokenServiceTest, CallerOfAnotherTeamSeesNothing) {
  CreatedToken team_b = MustCreate(admin_, TeamRequest("team-b", {"workflow/read"}));
  CreatedToken owner_a = MustCreate(admin_, TeamRequest("team-a", {"**/**"}));
  const core::Caller caller = core::Caller::FromToken(owner_a.token);

  EXPECT_EQ(service_->Get(caller, team_b.token.id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(service_->Delete(caller, team_b.token.id).code(), StatusCode::kNotFound);
  EXPECT_TRUE(service_->Get(admin_, team_b.token.id).ok()) << "delete must not have happened";

  auto page = service_->Query(caller, core::TokenQuery{});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->total, 1);
  EXPECT_EQ(page->tokens[0].id, owner_a.token.id);

  EXPECT_EQ(*IntrospectNow(caller, team_b.secret), nullptr) << "uncovered reads as unknown";
  EXPECT_NE(*IntrospectNow(caller, owner_a.secret), nullptr);
  const core::Caller no_read = core::Caller::FromToken(team_b.token);
  EXPECT_EQ(IntrospectNow(no_read, owner_a.secret).status().code(), StatusCode::kPermissionDenied);
}

TEST_F(TokenServiceTest, MissingActionIsForbidden) {
  CreatedToken reader = MustCreate(admin_, TeamRequest("team-a", {"token/read"}));
  CreatedToken other = MustCreate(admin_, TeamRequest("team-a", {"workflow/read"}));
  const core::Caller caller = core::Caller::FromToken(reader.token);
  EXPECT_TRUE(service_->Get(caller, other.token.id).ok());
  EXPECT_EQ(service_->Delete(caller, other.token.id).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(service_->Create(caller, TeamRequest("team-a", {"token/read"})).status().code(),
            StatusCode::kPermissionDenied);
}

TEST_F(TokenServiceTest, NoEscalation) {
  CreatedToken writer = MustCreate(admin_, TeamRequest("team-a", {"token/write", "workflow/read"}));
  const core::Caller caller = core::Caller::FromToken(writer.token);
  // Wider action than held.
  EXPECT_EQ(service_->Create(caller, TeamRequest("team-a", {"**/**"})).status().code(),
            StatusCode::kPermissionDenied);
  // Outside its scope.
  EXPECT_EQ(service_->Create(caller, TeamRequest("team-b", {"workflow/read"})).status().code(),
            StatusCode::kPermissionDenied);
  // Inside: fine.
  EXPECT_TRUE(service_->Create(caller, TeamRequest("team-a", {"workflow/read"})).ok());
}

TEST_F(TokenServiceTest, ValidationErrorsComeAfterThePermissionCheck) {
  CreatedToken reader = MustCreate(admin_, TeamRequest("team-a", {"token/read"}));
  CreateTokenRequest invalid;  // no type, no name
  EXPECT_EQ(service_->Create(core::Caller::FromToken(reader.token), invalid).status().code(),
            StatusCode::kPermissionDenied);
  auto refused = service_->Create(admin_, invalid);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().api_error(), core::ApiError::kTokenInvalidRequest);
}

TEST_F(TokenServiceTest, UnpagedQueryOverTheCapIsRefused) {
  ServiceOptions options;
  options.max_unpaged = 3;
  Reopen(options);
  for (int i = 0; i < 3; ++i) MustCreate(admin_, TeamRequest("team-a", {"workflow/read"}));
  auto page = service_->Query(admin_, core::TokenQuery{});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 3);

  MustCreate(admin_, TeamRequest("team-a", {"workflow/read"}));
  auto refused = service_->Query(admin_, core::TokenQuery{});
  EXPECT_EQ(refused.status().api_error(), core::ApiError::kUnpagedTooLarge);

  core::TokenQuery paged;
  paged.limit = 2;
  paged.page = 1;
  auto second = service_->Query(admin_, paged);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->total, 4);
  EXPECT_EQ(second->tokens.size(), 2u);
}

TEST_F(TokenServiceTest, BootstrapAdminMakesTheStoreNonEmpty) {
  ASSERT_TRUE(service_->StoreIsEmpty().ok());
  EXPECT_TRUE(*service_->StoreIsEmpty());
  auto admin = service_->CreateBootstrapAdmin();
  ASSERT_TRUE(admin.ok());
  EXPECT_FALSE(*service_->StoreIsEmpty());
  EXPECT_EQ(admin->token.type, core::TokenType::kGlobal);
  EXPECT_EQ(admin->token.actions, std::vector<std::string>{"**/**"});
  EXPECT_FALSE(admin->token.principal.has_value());
  auto resolved = ResolveNow(admin->secret);
  ASSERT_TRUE(resolved.ok() && *resolved != nullptr);
}

TEST_F(TokenServiceTest, RevokeSecretsRevokesKnownSecretsAndSkipsTheRest) {
  CreatedToken a = MustCreate(admin_, TeamRequest("team-a", {"workflow/read"}));
  CreatedToken b = MustCreate(admin_, TeamRequest("team-b", {"workflow/read"}));
  CreatedToken kept = MustCreate(admin_, TeamRequest("team-c", {"workflow/read"}));
  ASSERT_EQ(Peek(a.secret), Cached::kActive);
  const std::string unknown = core::GenerateSecret(core::TokenType::kTeam);
  const std::vector<std::string_view> secrets = {a.secret, "not a secret", unknown,
                                                 b.secret, a.secret,       ""};
  auto revoked = service_->RevokeSecrets(secrets);
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(*revoked, 2) << "a secret given twice counts once";
  EXPECT_EQ(*ResolveNow(a.secret), nullptr) << "stops resolving at once, cached or not";
  EXPECT_EQ(*ResolveNow(b.secret), nullptr);
  EXPECT_TRUE(service_->Get(admin_, a.token.id).status().IsNotFound());
  EXPECT_NE(*ResolveNow(kept.secret), nullptr);
  const std::vector<std::string_view> again = {a.secret};
  EXPECT_EQ(*service_->RevokeSecrets(again), 0);
  EXPECT_EQ(*service_->RevokeSecrets({}), 0);
}

TEST_F(TokenServiceTest, RevokeSecretsRevokesExpiredTokensWithoutTouchingTheCache) {
  CreateTokenRequest request = TeamRequest("team-a", {"workflow/read"});
  request.expiration_date = core::NowMillis() + 100;
  CreatedToken expiring = MustCreate(admin_, request);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  const CacheStats before = service_->cache_stats();
  const std::vector<std::string_view> secrets = {expiring.secret};
  EXPECT_EQ(*service_->RevokeSecrets(secrets), 1);
  const CacheStats after = service_->cache_stats();
  EXPECT_EQ(after.hits, before.hits) << "a known secret costs the same lookup as an unknown one";
  EXPECT_EQ(after.misses, before.misses);
  EXPECT_TRUE(service_->Get(admin_, expiring.token.id).status().IsNotFound());
}

TEST_F(TokenServiceTest, RevokeMatchingNeedsDeleteAndCoversOnlyTheCallersTokens) {
  CreatedToken reader = MustCreate(admin_, TeamRequest("team-a", {"token/read"}));
  EXPECT_EQ(
      service_->RevokeMatching(core::Caller::FromToken(reader.token), {}, false).status().code(),
      StatusCode::kPermissionDenied);
  EXPECT_EQ(
      service_->RevokeMatching(core::Caller::FromToken(reader.token), {}, true).status().code(),
      StatusCode::kPermissionDenied);

  CreatedToken deleter = MustCreate(admin_, TeamRequest("team-a", {"token/delete"}));
  CreatedToken other_a = MustCreate(admin_, TeamRequest("team-a", {"workflow/read"}));
  CreatedToken team_b = MustCreate(admin_, TeamRequest("team-b", {"workflow/read"}));
  const core::Caller caller = core::Caller::FromToken(deleter.token);
  ASSERT_NE(*ResolveNow(other_a.secret), nullptr);

  auto matched = service_->RevokeMatching(caller, {}, /*dry_run=*/true);
  ASSERT_TRUE(matched.ok()) << matched.status().ToString();
  EXPECT_EQ(*matched, 3) << "team-a's three tokens, the caller's own included";
  EXPECT_NE(*ResolveNow(other_a.secret), nullptr) << "a dry run revokes nothing";

  auto revoked = service_->RevokeMatching(caller, {}, false);
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(*revoked, 3);
  EXPECT_EQ(*ResolveNow(other_a.secret), nullptr);
  EXPECT_EQ(*ResolveNow(deleter.secret), nullptr) << "the caller's own token too";
  EXPECT_NE(*ResolveNow(team_b.secret), nullptr) << "uncovered tokens are untouched";
  core::TokenQuery teams;
  teams.types = {core::TokenType::kTeam};
  EXPECT_EQ(*service_->RevokeMatching(admin_, teams, true), 1);
}

}  // namespace
}  // namespace tokend::service
