#include "service/token_service.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "core/secret.h"
#include "core/time.h"
#include "store/token_store.h"

namespace tokend::service {
namespace {

using core::CreateTokenRequest;
using core::StatusCode;

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

  std::unique_ptr<store::TokenStore> store_;
  std::unique_ptr<TokenService> service_;
  const core::Caller admin_ = core::Caller::Unrestricted();
};

TEST_F(TokenServiceTest, CreatedSecretResolvesAndIsCached) {
  CreatedToken created = MustCreate(admin_, TeamRequest("team-a", {"workflow/read"}));
  EXPECT_EQ(created.secret.size(), core::kSecretLength);
  EXPECT_EQ(created.token.secret_hash, core::HashSecret(created.secret));

  core::SharedToken token;
  EXPECT_EQ(service_->ResolveCached(created.secret, &token), CachedResolution::kActive);
  EXPECT_EQ(token->id, created.token.id);

  auto resolved = service_->Resolve(created.secret);
  ASSERT_TRUE(resolved.ok());
  ASSERT_NE(*resolved, nullptr);
  EXPECT_EQ((*resolved)->principal, "team-a");
}

TEST_F(TokenServiceTest, WithoutACacheEveryResolutionAsksTheStore) {
  ServiceOptions options;
  options.cache_capacity = 0;
  Reopen(options);
  CreatedToken created = MustCreate(admin_, TeamRequest("team-a", {"workflow/read"}));
  core::SharedToken token;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(service_->ResolveCached(created.secret, &token), CachedResolution::kMiss);
    auto resolved = service_->Resolve(created.secret);
    ASSERT_TRUE(resolved.ok());
    ASSERT_NE(*resolved, nullptr);
    EXPECT_EQ((*resolved)->id, created.token.id);
  }
  ASSERT_TRUE(service_->Delete(admin_, created.token.id).ok());
  EXPECT_EQ(*service_->Resolve(created.secret), nullptr);
}

TEST_F(TokenServiceTest, MalformedSecretIsInactiveWithoutALookup) {
  core::SharedToken token;
  EXPECT_EQ(service_->ResolveCached("bft_notasecret", &token), CachedResolution::kInactive);
  std::string forged = core::GenerateSecret(core::TokenType::kTeam);
  forged[10] = forged[10] == 'a' ? 'b' : 'a';
  EXPECT_EQ(service_->ResolveCached(forged, &token), CachedResolution::kInactive);
  auto resolved = service_->Resolve(forged);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(*resolved, nullptr);
}

TEST_F(TokenServiceTest, UnknownWellFormedSecretMissesThenResolvesToNothing) {
  const std::string unknown = core::GenerateSecret(core::TokenType::kUser);
  core::SharedToken token;
  EXPECT_EQ(service_->ResolveCached(unknown, &token), CachedResolution::kMiss);
  auto resolved = service_->Resolve(unknown);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(*resolved, nullptr);
}

TEST_F(TokenServiceTest, DeletedTokenStopsResolvingAtOnce) {
  CreatedToken created = MustCreate(admin_, TeamRequest("team-a", {"workflow/read"}));
  ASSERT_NE(*service_->Resolve(created.secret), nullptr);
  ASSERT_TRUE(service_->Delete(admin_, created.token.id).ok());
  core::SharedToken token;
  EXPECT_NE(service_->ResolveCached(created.secret, &token), CachedResolution::kActive);
  EXPECT_EQ(*service_->Resolve(created.secret), nullptr);
  EXPECT_EQ(service_->Delete(admin_, created.token.id).code(), StatusCode::kNotFound);
  EXPECT_GE(service_->cache_stats().invalidations, 1u);
}

TEST_F(TokenServiceTest, ExpiredTokenIsInactiveEvenWhenCached) {
  CreateTokenRequest request = TeamRequest("team-a", {"workflow/read"});
  request.expiration_date = core::NowMillis() + 150;
  CreatedToken created = MustCreate(admin_, request);
  core::SharedToken token;
  EXPECT_EQ(service_->ResolveCached(created.secret, &token), CachedResolution::kActive);
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  EXPECT_EQ(service_->ResolveCached(created.secret, &token), CachedResolution::kInactive);
  EXPECT_EQ(*service_->Resolve(created.secret), nullptr);
}

TEST_F(TokenServiceTest, FeedDownBypassesTheCache) {
  CreatedToken created = MustCreate(admin_, TeamRequest("team-a", {"workflow/read"}));
  core::SharedToken token;
  ASSERT_EQ(service_->ResolveCached(created.secret, &token), CachedResolution::kActive);
  service_->OnFeedHealthChanged(false);
  EXPECT_EQ(service_->ResolveCached(created.secret, &token), CachedResolution::kMiss);
  // The store still answers, and nothing it answers is kept meanwhile.
  EXPECT_NE(*service_->Resolve(created.secret), nullptr);
  EXPECT_EQ(service_->ResolveCached(created.secret, &token), CachedResolution::kMiss);
  service_->OnFeedHealthChanged(true);
  EXPECT_NE(*service_->Resolve(created.secret), nullptr);
  EXPECT_EQ(service_->ResolveCached(created.secret, &token), CachedResolution::kActive);
}

TEST_F(TokenServiceTest, DeletionAnnouncedByTheStoreFeedEvictsTheToken) {
  CreatedToken created = MustCreate(admin_, TeamRequest("team-a", {"workflow/read"}));
  core::SharedToken token;
  ASSERT_EQ(service_->ResolveCached(created.secret, &token), CachedResolution::kActive);
  service_->OnTokenDeleted(created.token.id);
  EXPECT_EQ(service_->ResolveCached(created.secret, &token), CachedResolution::kMiss);
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

  EXPECT_EQ(TokenService::Introspection(caller, std::make_shared<const core::Token>(team_b.token)),
            nullptr);
  EXPECT_NE(TokenService::Introspection(caller, std::make_shared<const core::Token>(owner_a.token)),
            nullptr);
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
  auto resolved = service_->Resolve(admin->secret);
  ASSERT_TRUE(resolved.ok() && *resolved != nullptr);
}

}  // namespace
}  // namespace tokend::service
