// The webhook client against a real receiver on loopback, plain and TLS.
#include "webhooks/http_client.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "webhook_receiver.h"

namespace tokend::webhooks {
namespace {

using namespace std::chrono_literals;
using testing::ReceiverMode;
using testing::WebhookReceiver;

core::WebhookUrl UrlOf(const std::string& text) {
  auto url = core::ParseWebhookUrl(text);
  EXPECT_TRUE(url.ok()) << text;
  return *url;
}

std::unique_ptr<HttpClient> MakeClient(std::chrono::milliseconds timeout = 10s,
                                       const std::string& ca_file = "") {
  ClientOptions options;
  options.timeout = timeout;
  options.ca_file = ca_file;
  options.user_agent = "tokend/test";
  auto client = HttpClient::Create(options);
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return std::move(*client);
}

// A private CA and a certificate for localhost and 127.0.0.1 signed by it.
class PrivateCa {
 public:
  explicit PrivateCa(const std::string& names = "DNS:localhost,IP:127.0.0.1") {
    dir_ = std::filesystem::temp_directory_path() /
           ("tokend-ca-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    ok_ = testing::MakePrivateCa(dir_.string(), names);
  }
  ~PrivateCa() { std::filesystem::remove_all(dir_); }
  bool ok() const { return ok_; }
  std::string ca() const { return (dir_ / "ca.pem").string(); }
  std::string cert() const { return (dir_ / "server.pem").string(); }
  std::string key() const { return (dir_ / "server.key").string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
  bool ok_ = false;
};

TEST(WebhookHttpClientTest, PostsTheBodyAndHeadersAndReadsTheStatus) {
  auto receiver = WebhookReceiver::Start();
  ASSERT_NE(receiver, nullptr);
  auto client = MakeClient();
  const PostResult result =
      client->Post(UrlOf(receiver->Url("/hook?x=1")), {{"webhook-id", "abc"}}, R"({"a":1})");
  EXPECT_EQ(result.status, 204) << result.error;
  auto requests = receiver->Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/hook?x=1");
  EXPECT_EQ(requests[0].body, R"({"a":1})");
  EXPECT_EQ(requests[0].headers["webhook-id"], "abc");
  EXPECT_EQ(requests[0].headers["user-agent"], "tokend/test");
  EXPECT_EQ(requests[0].headers["host"], "127.0.0.1:" + std::to_string(receiver->port()));
}

TEST(WebhookHttpClientTest, ReportsFailuresWithoutFollowingRedirects) {
  auto receiver = WebhookReceiver::Start();
  ASSERT_NE(receiver, nullptr);
  auto client = MakeClient();
  receiver->SetMode(ReceiverMode::kFail);
  EXPECT_EQ(client->Post(UrlOf(receiver->Url()), {}, "{}").status, 500);
  receiver->SetMode(ReceiverMode::kRedirect);
  EXPECT_EQ(client->Post(UrlOf(receiver->Url()), {}, "{}").status, 307);
  for (const auto& request : receiver->Requests()) EXPECT_EQ(request.target, "/hook");
  receiver->SetMode(ReceiverMode::kReset);
  const PostResult reset = client->Post(UrlOf(receiver->Url()), {}, "{}");
  EXPECT_EQ(reset.status, 0);
  EXPECT_FALSE(reset.error.empty());
}

// Unsolicited 1xx answers come before the final one (RFC 9110 section
// 15.2): they are skipped; a receiver that sends nothing else fails at once,
// with the last interim status.
TEST(WebhookHttpClientTest, InterimAnswersAreSkippedForTheFinalOne) {
  auto receiver = WebhookReceiver::Start();
  ASSERT_NE(receiver, nullptr);
  auto client = MakeClient(5s);
  receiver->SetMode(ReceiverMode::kInterim);
  const PostResult result = client->Post(UrlOf(receiver->Url()), {}, "{}");
  EXPECT_EQ(result.status, 204) << result.error;
  receiver->SetMode(ReceiverMode::kOnlyInterim);
  const auto start = std::chrono::steady_clock::now();
  const PostResult endless = client->Post(UrlOf(receiver->Url()), {}, "{}");
  EXPECT_EQ(endless.status, 100) << endless.error;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(WebhookHttpClientTest, AStatusIsEnoughWhateverTheBodysLengthOrPace) {
  auto receiver = WebhookReceiver::Start();
  ASSERT_NE(receiver, nullptr);
  auto client = MakeClient(5s);
  for (ReceiverMode mode : {ReceiverMode::kBigBody, ReceiverMode::kSlowBody}) {
    receiver->SetMode(mode);
    const auto start = std::chrono::steady_clock::now();
    const PostResult result = client->Post(UrlOf(receiver->Url()), {}, "{}");
    EXPECT_EQ(result.status, 200) << result.error;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  }
}

TEST(WebhookHttpClientTest, GivesUpOnAReceiverThatNeverAnswersAtTheDeadline) {
  auto receiver = WebhookReceiver::Start();
  ASSERT_NE(receiver, nullptr);
  receiver->SetMode(ReceiverMode::kHang);
  auto client = MakeClient(700ms);
  const auto start = std::chrono::steady_clock::now();
  const PostResult result = client->Post(UrlOf(receiver->Url()), {}, "{}");
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(result.status, 0);
  EXPECT_NE(result.error.find("no answer within 700 ms"), std::string::npos) << result.error;
  EXPECT_GE(took, 650ms);
  EXPECT_LT(took, 3s);
}

TEST(WebhookHttpClientTest, AStopRequestEndsATryAtOnce) {
  auto receiver = WebhookReceiver::Start();
  ASSERT_NE(receiver, nullptr);
  receiver->SetMode(ReceiverMode::kHang);
  auto client = MakeClient(10s);
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(300ms);
    stop.request_stop();
  });
  const auto start = std::chrono::steady_clock::now();
  const PostResult result = client->Post(UrlOf(receiver->Url()), {}, "{}", stop.get_token());
  stopper.join();
  EXPECT_EQ(result.status, 0);
  EXPECT_EQ(result.error, "stopped");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST(WebhookHttpClientTest, ANothingListeningPortIsATransportError) {
  std::uint16_t port;
  {
    auto receiver = WebhookReceiver::Start();
    ASSERT_NE(receiver, nullptr);
    port = receiver->port();
  }
  auto client = MakeClient(2s);
  const PostResult result =
      client->Post(UrlOf("http://127.0.0.1:" + std::to_string(port) + "/"), {}, "{}");
  EXPECT_EQ(result.status, 0);
  EXPECT_NE(result.error.find("connecting"), std::string::npos) << result.error;
}

TEST(WebhookHttpClientTest, TrustsAPrivateCaOnlyWhenGivenItsFile) {
  PrivateCa ca;
  ASSERT_TRUE(ca.ok()) << "openssl could not make the test CA";
  auto receiver = WebhookReceiver::Start(ca.cert(), ca.key());
  ASSERT_NE(receiver, nullptr);

  auto trusting = MakeClient(5s, ca.ca());
  const PostResult by_name = trusting->Post(UrlOf(receiver->Url()), {}, "{}");
  EXPECT_EQ(by_name.status, 204) << by_name.error;
  const PostResult by_address = trusting->Post(
      UrlOf("https://127.0.0.1:" + std::to_string(receiver->port()) + "/hook"), {}, "{}");
  EXPECT_EQ(by_address.status, 204) << by_address.error;

  auto system_only = MakeClient(5s);
  const PostResult refused = system_only->Post(UrlOf(receiver->Url()), {}, "{}");
  EXPECT_EQ(refused.status, 0);
  EXPECT_NE(refused.error.find("TLS handshake"), std::string::npos) << refused.error;
  EXPECT_EQ(receiver->Requests().size(), 2u);
}

TEST(WebhookHttpClientTest, RefusesACertificateForAnotherName) {
  PrivateCa ca("DNS:hooks.example.com");
  ASSERT_TRUE(ca.ok());
  auto receiver = WebhookReceiver::Start(ca.cert(), ca.key());
  ASSERT_NE(receiver, nullptr);
  auto client = MakeClient(5s, ca.ca());
  const PostResult result = client->Post(UrlOf(receiver->Url()), {}, "{}");
  EXPECT_EQ(result.status, 0);
  EXPECT_NE(result.error.find("TLS handshake"), std::string::npos) << result.error;
  EXPECT_TRUE(receiver->Requests().empty());
}

TEST(WebhookHttpClientTest, ACaFileWithoutCertificatesIsRefusedByName) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("tokend-empty-ca-" + std::to_string(::getpid()) + ".pem"))
                               .string();
  {
    std::FILE* file = std::fopen(path.c_str(), "w");
    std::fputs("not a certificate\n", file);
    std::fclose(file);
  }
  ClientOptions options;
  options.ca_file = path;
  auto client = HttpClient::Create(options);
  ASSERT_FALSE(client.ok());
  EXPECT_NE(client.status().message().find(path), std::string::npos);
  EXPECT_FALSE(CheckCaFile("/nonexistent/ca.pem").ok());
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace tokend::webhooks
