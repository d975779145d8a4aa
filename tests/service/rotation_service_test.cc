// Rotation and reuse detection through TokenService (API 7.3, 8.4).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/expiry_policy.h"
#include "core/object_id.h"
#include "core/secret.h"
#include "core/time.h"
#include "service/token_service.h"
#include "store/token_store.h"

namespace tokend::service {
namespace {

using core::ApiError;
using core::CreateTokenRequest;
using core::RotateRequest;
using core::StatusCode;

constexpr std::int64_t kDayMillis = 86400 * 1000;

class RotationServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::TokenStore::Open("sqlite::memory:");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    service_ = std::make_unique<TokenService>(*store_, ServiceOptions{});
  }

  // A new service with `options` over the same store.
  void Restart(const ServiceOptions& options) {
    service_.reset();
    service_ = std::make_unique<TokenService>(*store_, options);
  }

  static CreateTokenRequest TeamRequest(std::optional<core::EpochMillis> expiry = std::nullopt) {
    CreateTokenRequest request;
    request.type = "team";
    request.name = "deploy";
    request.description = "the deploy token";
    request.principal = "team-a";
    request.permissions = std::vector<std::string>{"workflow/read", "workflow/action"};
    request.expiration_date = expiry;
    return request;
  }

  CreatedToken MustCreate(CreateTokenRequest request = TeamRequest()) {
    auto created = service_->Create(admin_, request);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? *created : CreatedToken{};
  }

  CreatedToken MustRotate(const std::string& id, RotateRequest request = {}) {
    auto rotated = service_->Rotate(admin_, id, request);
    EXPECT_TRUE(rotated.ok()) << rotated.status().ToString();
    return rotated.ok() ? *rotated : CreatedToken{};
  }

  static RotateRequest Overlap(std::int64_t seconds) {
    RotateRequest request;
    request.overlap_seconds = seconds;
    return request;
  }

  bool Active(const std::string& secret) {
    Resolution resolved =
        CompleteHere(service_->Resolve(core::HashedSecret::Of(secret), core::NowMillis()));
    EXPECT_TRUE(resolved.ok()) << resolved.status().ToString();
    return resolved.ok() && *resolved != nullptr;
  }

  bool Exists(const std::string& id) { return service_->Get(admin_, id).ok(); }

  // The ids an unfiltered, unpaged query lists, oldest first; its total
  // counts exactly those.
  std::vector<std::string> Listed() {
    auto page = service_->Query(admin_, core::TokenQuery{});
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::vector<std::string> ids;
    if (!page.ok()) return ids;
    for (const core::Token& token : page->tokens) ids.push_back(token.id);
    EXPECT_EQ(page->total, static_cast<std::int64_t>(ids.size()));
    return ids;
  }

  static void SleepPast(std::chrono::milliseconds wait) { std::this_thread::sleep_for(wait); }

  std::unique_ptr<store::TokenStore> store_;
  std::unique_ptr<TokenService> service_;
  const core::Caller admin_ = core::Caller::Unrestricted();
};

TEST_F(RotationServiceTest, TheNewTokenInheritsEverythingButIdSecretAndDates) {
  const CreatedToken old = MustCreate(TeamRequest(core::NowMillis() + 10 * kDayMillis));
  const core::EpochMillis before = core::NowMillis();
  const CreatedToken rotated = MustRotate(old.token.id);
  const core::EpochMillis after = core::NowMillis();
  const core::Token& token = rotated.token;
  EXPECT_NE(token.id, old.token.id);
  EXPECT_NE(rotated.secret, old.secret);
  EXPECT_EQ(token.type, old.token.type);
  EXPECT_EQ(token.name, old.token.name);
  EXPECT_EQ(token.description, old.token.description);
  EXPECT_EQ(token.principal, old.token.principal);
  EXPECT_EQ(token.actions, old.token.actions);
  EXPECT_EQ(token.rotated_from, old.token.id);
  // The old token's lifetime, from now.
  const std::int64_t lifetime = *old.token.expiration_date - old.token.creation_date;
  ASSERT_TRUE(token.expiration_date);
  EXPECT_GE(*token.expiration_date, before + lifetime);
  EXPECT_LE(*token.expiration_date, after + lifetime);

  auto stored = service_->Get(admin_, token.id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->rotated_from, old.token.id);
  EXPECT_EQ(stored->family_id, old.token.id);
  EXPECT_TRUE(Active(rotated.secret));
  // Without overlap the old token stops at once.
  EXPECT_EQ(service_->Get(admin_, old.token.id).status().api_error(), ApiError::kTokenNotFound);
}

TEST_F(RotationServiceTest, ExpiryGivenInheritedOrNone) {
  const CreatedToken forever = MustCreate();
  EXPECT_FALSE(MustRotate(forever.token.id).token.expiration_date) << "none inherited";

  const CreatedToken other = MustCreate();
  RotateRequest given;
  given.expiration_date = core::NowMillis() + kDayMillis;
  EXPECT_EQ(MustRotate(other.token.id, given).token.expiration_date, given.expiration_date);

  const CreatedToken third = MustCreate();
  RotateRequest past;
  past.expiration_date = core::NowMillis() - 1000;
  auto refused = service_->Rotate(admin_, third.token.id, past);
  EXPECT_EQ(refused.status().api_error(), ApiError::kTokenInvalidRequest);
  EXPECT_NE(refused.status().message().find("expirationDate"), std::string::npos);
}

TEST_F(RotationServiceTest, ThePolicyClampsAnInheritedLifetimeAndRefusesALongerDate) {
  const CreatedToken long_lived = MustCreate(TeamRequest(core::NowMillis() + 30 * kDayMillis));
  const CreatedToken forever = MustCreate();
  const CreatedToken explicit_date = MustCreate();
  ServiceOptions options;
  auto policy = core::ExpiryPolicy::Parse({"team=5d"}, {"team=2d"});
  ASSERT_TRUE(policy.ok());
  options.expiry_policy = *policy;
  Restart(options);

  const core::EpochMillis before = core::NowMillis();
  const CreatedToken clamped = MustRotate(long_lived.token.id);
  ASSERT_TRUE(clamped.token.expiration_date);
  EXPECT_GE(*clamped.token.expiration_date, before + 5 * kDayMillis);
  EXPECT_LE(*clamped.token.expiration_date, core::NowMillis() + 5 * kDayMillis);

  // No expiry to inherit: filled by the default lifetime, as on create.
  const CreatedToken filled = MustRotate(forever.token.id);
  ASSERT_TRUE(filled.token.expiration_date);
  EXPECT_LE(*filled.token.expiration_date, core::NowMillis() + 2 * kDayMillis);
  EXPECT_GE(*filled.token.expiration_date, before + 2 * kDayMillis);

  RotateRequest too_late;
  too_late.expiration_date = core::NowMillis() + 6 * kDayMillis;
  auto refused = service_->Rotate(admin_, explicit_date.token.id, too_late);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("5d"), std::string::npos) << refused.status().message();
  EXPECT_TRUE(Exists(explicit_date.token.id)) << "a refused rotation changes nothing";
}

TEST_F(RotationServiceTest, DuringTheOverlapBothSecretsWorkAndTheOldShowsItsSuccessor) {
  const CreatedToken old = MustCreate();
  const core::EpochMillis before = core::NowMillis();
  const CreatedToken rotated = MustRotate(old.token.id, Overlap(60));
  EXPECT_TRUE(Active(old.secret)) << "not a reuse during the overlap";
  EXPECT_TRUE(Active(rotated.secret));
  auto shown = service_->Get(admin_, old.token.id);
  ASSERT_TRUE(shown.ok());
  EXPECT_EQ(shown->rotated_to, rotated.token.id);
  ASSERT_TRUE(shown->expiration_date);
  EXPECT_GE(*shown->expiration_date, before + 60'000);
  EXPECT_LE(*shown->expiration_date, core::NowMillis() + 60'000);
  EXPECT_EQ(service_->cache_stats().reuse_detected, 0u);
}

TEST_F(RotationServiceTest, OverlapOutsideItsRangeIsRefusedNamingTheField) {
  const CreatedToken old = MustCreate();
  for (std::int64_t seconds : {std::int64_t{-1}, core::kMaxRotationOverlapSeconds + 1}) {
    auto refused = service_->Rotate(admin_, old.token.id, Overlap(seconds));
    EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument) << seconds;
    EXPECT_NE(refused.status().message().find("overlapSeconds"), std::string::npos);
  }
  EXPECT_TRUE(MustRotate(old.token.id, Overlap(core::kMaxRotationOverlapSeconds)).secret.size());
}

TEST_F(RotationServiceTest, ARotatingOrExpiredTokenIsAConflict) {
  const CreatedToken old = MustCreate();
  const CreatedToken rotated = MustRotate(old.token.id, Overlap(60));
  auto again = service_->Rotate(admin_, old.token.id, RotateRequest());
  EXPECT_EQ(again.status().api_error(), ApiError::kRotationPending) << again.status().ToString();
  // The newest token of the family may always be rotated.
  const CreatedToken newest = MustRotate(rotated.token.id);
  EXPECT_EQ(newest.token.rotated_from, rotated.token.id);

  core::Token expired;
  expired.id = core::NewObjectId(core::NowMillis());
  expired.type = core::TokenType::kTeam;
  expired.name = "old";
  expired.principal = "team-a";
  expired.creation_date = core::NowMillis() - 2 * kDayMillis;
  expired.expiration_date = core::NowMillis() - kDayMillis;
  expired.secret_hash = core::HashSecret(core::GenerateSecret(core::TokenType::kTeam));
  ASSERT_TRUE(store_->Insert(expired, {}).ok());
  auto refused = service_->Rotate(admin_, expired.id, RotateRequest());
  EXPECT_EQ(refused.status().api_error(), ApiError::kTokenExpired) << refused.status().ToString();
}

TEST_F(RotationServiceTest, RotationNeedsWriteDeleteCoverageAndNoEscalation) {
  const CreatedToken target = MustCreate();
  core::Caller scoped;
  scoped.token_id = "caller";
  scoped.scope = core::TokenType::kTeam;
  scoped.principal = "team-a";
  scoped.actions = {"token/write", "token/delete", "workflow/read", "workflow/action"};
  core::Caller no_delete = scoped;
  no_delete.actions = {"token/write", "workflow/read", "workflow/action"};
  core::Caller other_team = scoped;
  other_team.principal = "team-b";
  core::Caller weaker = scoped;
  weaker.actions = {"token/write", "token/delete", "workflow/read"};

  EXPECT_EQ(service_->Rotate(no_delete, target.token.id, RotateRequest()).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(service_->Rotate(other_team, target.token.id, RotateRequest()).status().api_error(),
            ApiError::kTokenNotFound)
      << "uncovered: the one 404 of get";
  EXPECT_EQ(service_->Rotate(weaker, target.token.id, RotateRequest()).status().code(),
            StatusCode::kPermissionDenied)
      << "the new token would hold workflow/action, which the caller lacks";
  EXPECT_TRUE(Exists(target.token.id));
  auto rotated = service_->Rotate(scoped, target.token.id, RotateRequest());
  EXPECT_TRUE(rotated.ok()) << rotated.status().ToString();
}

TEST_F(RotationServiceTest, SelfRotationNeedsNoPermission) {
  CreateTokenRequest request = TeamRequest();
  request.permissions = std::vector<std::string>{"workflow/read"};
  const CreatedToken own = MustCreate(request);
  auto rotated = service_->RotateSelf(core::Caller::FromToken(own.token), own.token, Overlap(30));
  ASSERT_TRUE(rotated.ok()) << rotated.status().ToString();
  EXPECT_EQ(rotated->token.rotated_from, own.token.id);
  EXPECT_TRUE(Active(own.secret));
  EXPECT_TRUE(Active(rotated->secret));
}

// A token rotating itself may renew its lifetime, never lengthen it: a leaked
// short-lived token cannot make itself (nearly) permanent.
TEST_F(RotationServiceTest, SelfRotationNeverGivesALongerLifeThanTheTokensOwn) {
  const core::EpochMillis now = core::NowMillis();
  constexpr core::EpochMillis kTenMinutes = 600'000;
  const CreatedToken own = MustCreate(TeamRequest(now + kTenMinutes));
  const core::Caller caller = core::Caller::FromToken(own.token);
  const core::EpochMillis lifetime = *own.token.expiration_date - own.token.creation_date;
  for (const core::EpochMillis asked :
       {core::EpochMillis{253402300799999}, now + lifetime + 60'000, now + 2 * lifetime}) {
    RotateRequest request;
    request.expiration_date = asked;
    auto refused = service_->RotateSelf(caller, own.token, request);
    ASSERT_FALSE(refused.ok()) << asked;
    EXPECT_EQ(refused.status().code(), core::StatusCode::kPermissionDenied);
    EXPECT_NE(refused.status().message().find("longer life"), std::string::npos);
  }
  EXPECT_TRUE(Active(own.secret)) << "a refused rotation changes nothing";
  // A shorter life, and the inherited one (the default), are fine.
  RotateRequest shorter;
  shorter.expiration_date = now + kTenMinutes / 2;
  auto rotated = service_->RotateSelf(caller, own.token, shorter);
  ASSERT_TRUE(rotated.ok()) << rotated.status().ToString();
  auto renewed = service_->RotateSelf(core::Caller::FromToken(rotated->token), rotated->token, {});
  ASSERT_TRUE(renewed.ok()) << renewed.status().ToString();
  const core::EpochMillis renewed_lifetime =
      *renewed->token.expiration_date - renewed->token.creation_date;
  EXPECT_LE(renewed_lifetime,
            *rotated->token.expiration_date - rotated->token.creation_date + 1000);
  // A token without expiry keeps the freedom it has.
  const CreatedToken forever = MustCreate(TeamRequest());
  RotateRequest dated;
  dated.expiration_date = core::EpochMillis{253402300799999};
  EXPECT_TRUE(
      service_->RotateSelf(core::Caller::FromToken(forever.token), forever.token, dated).ok());
}

TEST_F(RotationServiceTest, ASecretRotatedAwayAndPresentedRevokesItsWholeFamily) {
  // Three rotations: A -> B -> C -> D, then an unrelated token.
  const CreatedToken a = MustCreate();
  const CreatedToken b = MustRotate(a.token.id);
  const CreatedToken c = MustRotate(b.token.id);
  const CreatedToken d = MustRotate(c.token.id, Overlap(60));
  const CreatedToken unrelated = MustCreate();
  ASSERT_TRUE(Active(d.secret));
  ASSERT_TRUE(Active(c.secret)) << "C's overlap runs";

  EXPECT_FALSE(Active(a.secret)) << "answered as an unknown token";
  EXPECT_EQ(service_->cache_stats().reuse_detected, 1u);
  for (const CreatedToken* gone : {&b, &c, &d}) EXPECT_FALSE(Exists(gone->token.id));
  EXPECT_FALSE(Active(c.secret));
  EXPECT_FALSE(Active(d.secret));
  EXPECT_TRUE(Active(unrelated.secret));
  // Once per retired secret: A again is just unknown.
  EXPECT_FALSE(Active(a.secret));
  EXPECT_EQ(service_->cache_stats().reuse_detected, 1u);
  EXPECT_FALSE(Active(b.secret));
  EXPECT_EQ(service_->cache_stats().reuse_detected, 2u) << "B's secret was retired too";
}

TEST_F(RotationServiceTest, IntrospectionOfAReusedSecretRevokesAndAnswersInactive) {
  const CreatedToken old = MustCreate();
  const CreatedToken rotated = MustRotate(old.token.id);
  Resolution seen = CompleteHere(
      service_->Introspect(admin_, core::HashedSecret::Of(old.secret), core::NowMillis()));
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(*seen, nullptr);
  EXPECT_FALSE(Active(rotated.secret));
  EXPECT_EQ(service_->cache_stats().reuse_detected, 1u);
}

TEST_F(RotationServiceTest, ReuseAfterTheOverlapEvenWhenTheCacheHoldsTheOldToken) {
  const CreatedToken old = MustCreate();
  const CreatedToken rotated = MustRotate(old.token.id, Overlap(1));
  ASSERT_TRUE(Active(old.secret));  // cached with its shortened expiry
  SleepPast(std::chrono::milliseconds(1100));
  EXPECT_FALSE(Active(old.secret));
  EXPECT_EQ(service_->cache_stats().reuse_detected, 1u);
  EXPECT_FALSE(Exists(old.token.id)) << "gone from get once the overlap ended";
  EXPECT_FALSE(Active(rotated.secret));
}

TEST_F(RotationServiceTest, AnOverlapCutShortByItsOwnExpiryIsNotReuse) {
  const CreatedToken old = MustCreate(TeamRequest(core::NowMillis() + 1000));
  RotateRequest request = Overlap(60);
  request.expiration_date = core::NowMillis() + kDayMillis;  // not the old 1-second lifetime
  const CreatedToken rotated = MustRotate(old.token.id, request);
  SleepPast(std::chrono::milliseconds(1100));
  EXPECT_FALSE(Active(old.secret)) << "just expired";
  EXPECT_TRUE(Active(rotated.secret));
  EXPECT_EQ(service_->cache_stats().reuse_detected, 0u);
}

TEST_F(RotationServiceTest, WithDetectionOffARetiredSecretIsJustUnknown) {
  ServiceOptions options;
  options.reuse_detection = false;
  Restart(options);
  const CreatedToken old = MustCreate();
  const CreatedToken rotated = MustRotate(old.token.id);
  EXPECT_FALSE(Active(old.secret));
  EXPECT_TRUE(Active(rotated.secret));
  EXPECT_EQ(service_->cache_stats().reuse_detected, 0u);
}

TEST_F(RotationServiceTest, AfterTheRetentionARetiredSecretIsForgotten) {
  ServiceOptions options;
  options.retired_retention_seconds = 1;
  Restart(options);
  const CreatedToken old = MustCreate();
  const CreatedToken rotated = MustRotate(old.token.id);
  SleepPast(std::chrono::milliseconds(1100));
  EXPECT_FALSE(Active(old.secret));
  EXPECT_TRUE(Active(rotated.secret));
  EXPECT_EQ(service_->cache_stats().reuse_detected, 0u);
  auto swept = service_->SweepRotations();
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(swept->retired, 1);
}

TEST_F(RotationServiceTest, QueryNoLongerListsATokenWhoseOverlapEnded) {
  const CreatedToken old = MustCreate();
  const CreatedToken rotated = MustRotate(old.token.id, Overlap(1));
  EXPECT_EQ(Listed(), (std::vector<std::string>{old.token.id, rotated.token.id}));
  SleepPast(std::chrono::milliseconds(1100));
  EXPECT_EQ(Listed(), std::vector<std::string>{rotated.token.id});
}

// A restarted service knows no overlap it did not start: its first read
// sweeps, and learns from the store when the next overlap ends.
TEST_F(RotationServiceTest, AfterARestartQueryNoLongerListsATokenWhoseOverlapEndedMeanwhile) {
  const CreatedToken old = MustCreate();
  const CreatedToken rotated = MustRotate(old.token.id, Overlap(1));
  Restart(ServiceOptions{});
  SleepPast(std::chrono::milliseconds(1100));
  EXPECT_EQ(Listed(), std::vector<std::string>{rotated.token.id});
}

TEST_F(RotationServiceTest, AfterARestartQueryNoLongerListsATokenWhoseOverlapEndsLater) {
  const CreatedToken old = MustCreate();
  const CreatedToken rotated = MustRotate(old.token.id, Overlap(1));
  Restart(ServiceOptions{});
  EXPECT_EQ(Listed(), (std::vector<std::string>{old.token.id, rotated.token.id}));
  SleepPast(std::chrono::milliseconds(1100));
  EXPECT_EQ(Listed(), std::vector<std::string>{rotated.token.id});
}

// Bulk revocation revokes what the same query lists: a token whose overlap
// ended is gone already, so it is neither counted nor revoked again.
TEST_F(RotationServiceTest, BulkRevocationLeavesOutATokenWhoseOverlapEnded) {
  const CreatedToken old = MustCreate();
  MustRotate(old.token.id, Overlap(1));
  SleepPast(std::chrono::milliseconds(1100));
  core::TokenQuery team;
  team.principals = {"team-a"};
  auto matched = service_->RevokeMatching(admin_, team, /*dry_run=*/true);
  ASSERT_TRUE(matched.ok()) << matched.status().ToString();
  EXPECT_EQ(*matched, 1);
  auto revoked = service_->RevokeMatching(admin_, team, /*dry_run=*/false);
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(*revoked, 1);
}

// A leak report of a secret rotated away is a reuse like any other
// presentation (API 7.3): its family goes, so a holder who rotated the leaked
// token just before the report keeps no live successor.
TEST_F(RotationServiceTest, RevocationByValueOfARetiredSecretRevokesItsFamily) {
  const CreatedToken a = MustCreate();
  const CreatedToken b = MustRotate(a.token.id);
  const CreatedToken c = MustRotate(b.token.id);
  const CreatedToken unrelated = MustCreate();
  const std::string_view secrets[] = {a.secret};
  auto revoked = service_->RevokeSecrets(secrets);
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(*revoked, 1) << "the family's one live token";
  EXPECT_FALSE(Active(c.secret));
  EXPECT_FALSE(Exists(c.token.id));
  EXPECT_TRUE(Active(unrelated.secret));
  EXPECT_EQ(service_->cache_stats().reuse_detected, 1u);
  // Once per retired secret, as on every route.
  auto again = service_->RevokeSecrets(secrets);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(service_->cache_stats().reuse_detected, 1u);
}

// During its overlap the old token is valid: a report revokes it alone.
TEST_F(RotationServiceTest, RevocationByValueDuringTheOverlapRevokesTheOldTokenAlone) {
  const CreatedToken old = MustCreate();
  const CreatedToken rotated = MustRotate(old.token.id, Overlap(60));
  const std::string_view secrets[] = {old.secret};
  auto revoked = service_->RevokeSecrets(secrets);
  ASSERT_TRUE(revoked.ok());
  EXPECT_EQ(*revoked, 1);
  EXPECT_FALSE(Exists(old.token.id));
  EXPECT_TRUE(Active(rotated.secret));
  EXPECT_EQ(service_->cache_stats().reuse_detected, 0u);
}

TEST_F(RotationServiceTest, RevocationByValueOfARetiredSecretWithDetectionOffRevokesNothing) {
  ServiceOptions options;
  options.reuse_detection = false;
  Restart(options);
  const CreatedToken old = MustCreate();
  const CreatedToken rotated = MustRotate(old.token.id);
  const std::string_view secrets[] = {old.secret};
  auto revoked = service_->RevokeSecrets(secrets);
  ASSERT_TRUE(revoked.ok());
  EXPECT_EQ(*revoked, 0);
  EXPECT_TRUE(Active(rotated.secret));
  EXPECT_EQ(service_->cache_stats().reuse_detected, 0u);
}

// An overlap another instance began is known to this one only when the
// store's feed tells of it (or, after the feed was down, from the store at
// the next sweep); then a query leaves the old token out as soon as the
// overlap ends. The other instance is a second service on the same store.
TEST_F(RotationServiceTest, AnOverlapAnotherInstanceBeganIsSweptOnceTheFeedTellsOfIt) {
  for (const bool feed_recovered : {false, true}) {
    SCOPED_TRACE(feed_recovered ? "learned after the feed came back" : "announced by the feed");
    service_.reset();  // before its store
    SetUp();
    const CreatedToken old = MustCreate();
    ASSERT_EQ(Listed(), std::vector<std::string>{old.token.id});  // nothing pending to learn
    CreatedToken rotated;
    {
      TokenService other(*store_, ServiceOptions{});
      auto made = other.Rotate(admin_, old.token.id, Overlap(1));
      ASSERT_TRUE(made.ok()) << made.status().ToString();
      rotated = *made;
    }
    store_->SetChangeListener(service_.get());  // the other service took it
    SleepPast(std::chrono::milliseconds(1100));
    ASSERT_EQ(Listed(), (std::vector<std::string>{old.token.id, rotated.token.id}))
        << "unheard of, the overlap cannot be swept (the periodic sweep is off here)";
    if (feed_recovered) {
      service_->OnFeedHealthChanged(false);
      service_->OnFeedHealthChanged(true);
    } else {
      service_->OnOverlapStarted(rotated.token.creation_date + 1000);
    }
    EXPECT_EQ(Listed(), std::vector<std::string>{rotated.token.id});
    core::TokenQuery team;
    team.principals = {"team-a"};
    auto matched = service_->RevokeMatching(admin_, team, /*dry_run=*/true);
    ASSERT_TRUE(matched.ok());
    EXPECT_EQ(*matched, 1);
  }
}

TEST_F(RotationServiceTest, TheBackgroundSweepRemovesEndedOverlaps) {
  ServiceOptions options;
  options.rotation_sweep_interval = std::chrono::milliseconds(100);
  Restart(options);
  const CreatedToken old = MustCreate();
  MustRotate(old.token.id, Overlap(1));
  SleepPast(std::chrono::milliseconds(1500));
  EXPECT_TRUE(store_->FindById(old.token.id).status().IsNotFound());
}

}  // namespace
}  // namespace tokend::service
