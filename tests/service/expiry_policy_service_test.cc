// The expiry policy through TokenService: create, the bootstrap exemption and
// the lifetimeBeyondPolicy query.
#include <gtest/gtest.h>

#include <memory>

#include "core/expiry_policy.h"
#include "core/time.h"
#include "service/token_service.h"
#include "store/token_store.h"

namespace tokend::service {
namespace {

using core::CreateTokenRequest;
using core::StatusCode;

constexpr std::int64_t kDayMillis = 86400 * 1000;

class ExpiryPolicyServiceTest : public ::testing::Test {
 protected:
  void Open(const std::vector<std::string>& max, const std::vector<std::string>& defaults) {
    auto policy = core::ExpiryPolicy::Parse(max, defaults);
    ASSERT_TRUE(policy.ok()) << policy.status().ToString();
    ServiceOptions options;
    options.expiry_policy = *policy;
    auto store = store::TokenStore::Open("sqlite::memory:");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    service_ = std::make_unique<TokenService>(*store_, options);
  }

  static CreateTokenRequest Request(std::string type, std::optional<core::EpochMillis> expiry) {
    CreateTokenRequest request;
    request.type = std::move(type);
    request.name = "n";
    request.principal = "p1";
    request.permissions = std::vector<std::string>{"workflow/read"};
    request.expiration_date = expiry;
    return request;
  }

  std::unique_ptr<store::TokenStore> store_;
  std::unique_ptr<TokenService> service_;
  const core::Caller admin_ = core::Caller::Unrestricted();
};

TEST_F(ExpiryPolicyServiceTest, AMissingDateIsFilledAndStored) {
  Open({"team=90d"}, {"team=30d", "user=1d"});
  const core::EpochMillis before = core::NowMillis();
  auto team = service_->Create(admin_, Request("team", std::nullopt));
  const core::EpochMillis after = core::NowMillis();
  ASSERT_TRUE(team.ok()) << team.status().ToString();
  ASSERT_TRUE(team->token.expiration_date.has_value());
  EXPECT_GE(*team->token.expiration_date, before + 30 * kDayMillis);
  EXPECT_LE(*team->token.expiration_date, after + 30 * kDayMillis);
  EXPECT_EQ(*team->token.expiration_date - team->token.creation_date, 30 * kDayMillis);
  auto stored = service_->Get(admin_, team->token.id);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->expiration_date, team->token.expiration_date);

  // Without a maximum, the default still fills; without either, nothing does.
  auto user = service_->Create(admin_, Request("user", std::nullopt));
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(*user->token.expiration_date - user->token.creation_date, kDayMillis);
  auto workflow = service_->Create(admin_, Request("workflow", std::nullopt));
  ASSERT_TRUE(workflow.ok());
  EXPECT_FALSE(workflow->token.expiration_date.has_value());
}

TEST_F(ExpiryPolicyServiceTest, WithoutADefaultTheMaximumFills) {
  Open({"12h"}, {});
  auto created = service_->Create(admin_, Request("global", std::nullopt));
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(*created->token.expiration_date - created->token.creation_date, 12 * 3600 * 1000);
}

TEST_F(ExpiryPolicyServiceTest, ADateBeyondTheMaximumIsRefusedAndNothingStored) {
  Open({"team=1d"}, {});
  const core::EpochMillis now = core::NowMillis();
  auto refused = service_->Create(admin_, Request("team", now + 2 * kDayMillis));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().api_error(), core::ApiError::kTokenInvalidRequest);
  EXPECT_NE(refused.status().message().find("type 'team'"), std::string::npos);
  EXPECT_NE(refused.status().message().find("(1d)"), std::string::npos);
  auto page = service_->Query(admin_, core::TokenQuery{});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 0);

  auto within = service_->Create(admin_, Request("team", now + kDayMillis / 2));
  ASSERT_TRUE(within.ok()) << within.status().ToString();
  EXPECT_EQ(within->token.expiration_date, now + kDayMillis / 2);
}

TEST_F(ExpiryPolicyServiceTest, TheBootstrapAdminIsExempt) {
  Open({"1h"}, {"1h"});
  auto admin = service_->CreateBootstrapAdmin();
  ASSERT_TRUE(admin.ok());
  EXPECT_FALSE(admin->token.expiration_date.has_value());
}

TEST_F(ExpiryPolicyServiceTest, BeyondPolicyQueryUsesThePolicyInForce) {
  // Tokens made without a policy, then judged under one.
  Open({}, {});
  const core::EpochMillis now = core::NowMillis();
  auto forever = service_->Create(admin_, Request("team", std::nullopt));
  auto long_lived = service_->Create(admin_, Request("team", now + 10 * kDayMillis));
  auto short_lived = service_->Create(admin_, Request("team", now + kDayMillis));
  auto user_forever = service_->Create(admin_, Request("user", std::nullopt));
  ASSERT_TRUE(forever.ok() && long_lived.ok() && short_lived.ok() && user_forever.ok());

  core::TokenQuery query;
  query.lifetime_beyond_policy = true;
  // No maximum anywhere: nothing is beyond it.
  auto none = service_->Query(admin_, query);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->total, 0);

  auto policy = core::ExpiryPolicy::Parse({"team=2d"}, {});
  ASSERT_TRUE(policy.ok());
  ServiceOptions options;
  options.expiry_policy = *policy;
  TokenService judged(*store_, options);
  // Whatever the caller put there, the service's policy decides.
  query.policy_max_lifetimes = {{core::TokenType::kUser, 1}};
  auto page = judged.Query(admin_, query);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->total, 2);
  std::vector<std::string> ids;
  for (const core::Token& token : page->tokens) ids.push_back(token.id);
  EXPECT_EQ(ids, (std::vector<std::string>{forever->token.id, long_lived->token.id}));
}

}  // namespace
}  // namespace tokend::service
