// The deliverer against a real SQLite store and a real receiver on loopback.
#include "webhooks/deliverer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/audit.h"
#include "core/time.h"
#include "webhook_receiver.h"

namespace tokend::webhooks {
namespace {

using namespace std::chrono_literals;
using testing::ReceivedRequest;
using testing::ReceiverMode;
using testing::WebhookReceiver;

constexpr std::string_view kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

class DelivererTest : public ::testing::Test {
 protected:
  void SetUp() override {
    receiver_ = WebhookReceiver::Start();
    ASSERT_NE(receiver_, nullptr);
    dir_ = std::filesystem::temp_directory_path() /
           ("tokend-deliverer-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    OpenStore({receiver_->Url()});
    UseClientTimeout(1s);
  }

  void OpenStore(std::vector<std::string> webhook_urls) {
    store_.reset();
    store::StoreOptions options;
    options.webhook_urls = std::move(webhook_urls);
    auto opened = store::TokenStore::Open("sqlite:" + (dir_ / "tokend.db").string(), options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(*opened);
  }

  void UseClientTimeout(std::chrono::milliseconds timeout) {
    ClientOptions options;
    options.timeout = timeout;
    auto client = HttpClient::Create(options);
    ASSERT_TRUE(client.ok());
    client_ = std::move(*client);
  }
  void TearDown() override {
    deliverer_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void StartDeliverer(core::WebhookRetryPolicy retry = {}, int threads = 4) {
    DelivererOptions options;
    options.idle_poll = 100ms;
    options.retry = retry;
    options.threads = threads;
    deliverer_ = std::make_unique<Deliverer>(*store_, *client_,
                                             *core::WebhookSecret::Parse(kSecret), options);
    deliverer_->Start();
  }

  // Stores a new token with its token.created event; the event's id.
  std::string CreateWithEvent(int n) {
    core::Token token;
    char id[25];
    std::snprintf(id, sizeof id, "65f0a1b2%016x", n);
    token.id = id;
    token.type = core::TokenType::kTeam;
    token.principal = "team-a";
    token.name = "hooked " + std::to_string(n);
    token.creation_date = core::NowMillis();
    token.actions = {"workflow/read"};
    char hash[65];
    std::snprintf(hash, sizeof hash, "%064x", n + 0xabc000);
    token.secret_hash = hash;
    const core::AuditEvent event = core::MakeEvent(core::AuditAction::kCreated, token,
                                                   core::EventOrigin::System(), core::NowMillis());
    EXPECT_TRUE(store_->Insert(token, {&event, 1}).ok());
    return event.id;
  }

  bool WaitAccepted(const std::string& event_id, std::chrono::milliseconds timeout) {
    return receiver_->WaitUntil(
        [&](const std::vector<ReceivedRequest>& requests) {
          for (const ReceivedRequest& request : requests) {
            auto id = request.headers.find("webhook-id");
            if (request.answered == ReceiverMode::kAccept && id != request.headers.end() &&
                id->second == event_id) {
              return true;
            }
          }
          return false;
        },
        timeout);
  }

  std::unique_ptr<WebhookReceiver> receiver_;
  std::filesystem::path dir_;
  std::unique_ptr<store::TokenStore> store_;
  std::unique_ptr<HttpClient> client_;
  std::unique_ptr<Deliverer> deliverer_;
};

TEST_F(DelivererTest, DeliversAStoredEventSignedAndEmptiesTheOutbox) {
  StartDeliverer();
  const std::string event_id = CreateWithEvent(1);
  ASSERT_TRUE(WaitAccepted(event_id, 5s));
  const ReceivedRequest request = receiver_->Accepted().front();
  const auto secret = core::WebhookSecret::Parse(kSecret);
  EXPECT_EQ(
      request.headers.at("webhook-signature"),
      secret->Sign(event_id, std::stoll(request.headers.at("webhook-timestamp")), request.body));
  EXPECT_EQ(request.headers.at("content-type"), "application/json");
  for (int i = 0; i < 50 && deliverer_->counts().delivered == 0; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(deliverer_->counts().delivered, 1u);
  std::this_thread::sleep_for(200ms);
  auto stats = store_->GetOutboxStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->waiting, 0);
  EXPECT_EQ(stats->failed, 0);
}

TEST_F(DelivererTest, RetriesAFailingReceiverThenDeliversWhenItRecovers) {
  core::WebhookRetryPolicy retry;
  retry.base_delay_millis = 200;
  StartDeliverer(retry);
  receiver_->SetMode(ReceiverMode::kFail);
  const std::string event_id = CreateWithEvent(2);
  ASSERT_TRUE(receiver_->WaitUntil([](const auto& requests) { return requests.size() >= 2; }, 5s));
  EXPECT_GE(deliverer_->counts().retried, 1u);
  auto waiting = store_->GetOutboxStats();
  ASSERT_TRUE(waiting.ok());
  EXPECT_EQ(waiting->waiting, 1);
  EXPECT_TRUE(waiting->oldest_waiting.has_value());
  receiver_->SetMode(ReceiverMode::kAccept);
  EXPECT_TRUE(WaitAccepted(event_id, 10s));
}

TEST_F(DelivererTest, GivesUpAfterTheRetryWindowAndCountsTheFailure) {
  core::WebhookRetryPolicy retry;
  retry.base_delay_millis = 100;
  retry.give_up_after_millis = 300;
  StartDeliverer(retry);
  receiver_->SetMode(ReceiverMode::kRedirect);
  CreateWithEvent(3);
  for (int i = 0; i < 800 && deliverer_->counts().failed == 0;
       ++i) {  // 20 s at most, for loaded machines
    std::this_thread::sleep_for(25ms);
  }
  EXPECT_EQ(deliverer_->counts().failed, 1u);
  auto stats = store_->GetOutboxStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->failed, 1);
  EXPECT_EQ(stats->waiting, 0);
  for (const ReceivedRequest& request : receiver_->Requests()) EXPECT_EQ(request.target, "/hook");
}

TEST_F(DelivererTest, StopsAtOnceWhileAReceiverHangs) {
  UseClientTimeout(30s);
  StartDeliverer();
  receiver_->SetMode(ReceiverMode::kHang);
  CreateWithEvent(4);
  ASSERT_TRUE(receiver_->WaitUntil([](const auto& requests) { return !requests.empty(); }, 5s));
  const auto start = std::chrono::steady_clock::now();
  deliverer_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST_F(DelivererTest, AHangingReceiverHoldsOneThreadWhileAnotherGetsItsEventsAtOnce) {
  auto hanging = WebhookReceiver::Start();
  ASSERT_NE(hanging, nullptr);
  hanging->SetMode(ReceiverMode::kHang);
  OpenStore({hanging->Url(), receiver_->Url()});
  UseClientTimeout(20s);
  constexpr int kEvents = 8;
  std::vector<std::string> event_ids;
  for (int n = 0; n < kEvents; ++n) event_ids.push_back(CreateWithEvent(10 + n));
  const auto start = std::chrono::steady_clock::now();
  StartDeliverer();
  for (const std::string& event_id : event_ids) ASSERT_TRUE(WaitAccepted(event_id, 8s));
  // Well before the hanging receiver's first try times out.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  // It never answered, so it took one try at a time.
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(hanging->Requests().size(), 1u);
  deliverer_->Stop();
}

// A receiver that answers, but slowly, takes one try at a time, as one
// that hangs does: with a thread more than there are receivers, the one
// that answers promptly always finds a thread free.
TEST_F(DelivererTest, ASlowReceiverHoldsOneThreadAsAHangingOneDoes) {
  auto hanging = WebhookReceiver::Start();
  auto slow = WebhookReceiver::Start();
  ASSERT_NE(hanging, nullptr);
  ASSERT_NE(slow, nullptr);
  hanging->SetMode(ReceiverMode::kHang);
  slow->SetMode(ReceiverMode::kSlowAccept);
  OpenStore({hanging->Url(), slow->Url(), receiver_->Url()});
  UseClientTimeout(20s);
  for (int n = 0; n < 6; ++n) CreateWithEvent(10 + n);  // a backlog for the slow one
  StartDeliverer({}, /*threads=*/4);
  // Its first try answered (2 s): a second one has begun.
  ASSERT_TRUE(slow->WaitUntil(
      [](const std::vector<ReceivedRequest>& got) { return got.size() >= 2; }, 10s));
  for (int n = 0; n < 3; ++n) {
    const std::string event_id = CreateWithEvent(100 + n);
    const auto created = std::chrono::steady_clock::now();
    ASSERT_TRUE(WaitAccepted(event_id, 10s));
    EXPECT_LT(std::chrono::steady_clock::now() - created, 1s) << "event " << n;
    std::this_thread::sleep_for(300ms);
  }
  deliverer_->Stop();
}

}  // namespace
}  // namespace tokend::webhooks
