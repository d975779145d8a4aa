// Webhooks under the real binary (API 8.2): a receiver on loopback verifies
// every signature with the secret file's key; failing receivers neither slow
// the API nor lose events; events survive SIGKILL; two PostgreSQL instances
// deliver each event once; https receivers with a private CA; bad settings.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/webhook_signature.h"
#include "e2e_helpers.h"
#include "store/store_backends.h"
#include "tokend_process.h"
#include "webhook_receiver.h"

namespace tokend::e2e {
namespace {

using namespace std::chrono_literals;
using store::testing::GetEnv;
using store::testing::ScopedPostgresDatabase;
using webhooks::testing::ReceivedRequest;
using webhooks::testing::ReceiverMode;
using webhooks::testing::WebhookReceiver;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> ServeArgs(const std::string& store, const std::string& data_dir,
                                   const std::vector<std::string>& urls) {
  std::vector<std::string> args = {
      "serve",      "--listen", "127.0.0.1:0",          "--store", store, "--auth", "off",
      "--data-dir", data_dir,   "--webhook-retry-base", "1s"};
  for (const std::string& url : urls) {
    args.push_back("--webhook-url");
    args.push_back(url);
  }
  return args;
}

std::string TeamBody(std::string_view name) {
  return R"({"type":"team","name":")" + std::string(name) +
         R"(","principal":"team-a","permissions":["workflow/read"]})";
}

// The created token's id; empty, with the answer reported, when the create
// failed. The wait is long: these tests check what is delivered, and two
// servers under a sanitizer on a loaded machine can take seconds to answer.
std::string CreateTokenId(TestClient& client, std::string_view name) {
  auto response = client.Request("POST", "/api/v2/token", JsonWithBearer(""), TeamBody(name), 30s);
  if (!response) {
    ADD_FAILURE() << "no answer to the create of " << name << " within 30 s";
    return {};
  }
  boost::json::value body = ParseJson(response->body);
  if (response->status != 200 || !body.is_object() || !body.as_object().contains("id")) {
    ADD_FAILURE() << "the create of " << name << " answered " << response->status << ": "
                  << response->body;
    return {};
  }
  return std::string(body.at("id").as_string());
}

// The subject token id and type of a webhook body.
std::pair<std::string, std::string> SubjectAndType(const ReceivedRequest& request) {
  boost::json::value body = ParseJson(request.body);
  if (!body.is_object()) return {};
  return {std::string(body.at("data").at("subject").at("id").as_string()),
          std::string(body.at("type").as_string())};
}

// Checks the Standard Webhooks form of one request with `secret`.
void ExpectSigned(const ReceivedRequest& request, const core::WebhookSecret& secret) {
  const auto header = [&](const std::string& name) {
    auto found = request.headers.find(name);
    return found == request.headers.end() ? std::string() : found->second;
  };
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(header("content-type"), "application/json");
  EXPECT_TRUE(header("user-agent").starts_with("tokend/")) << header("user-agent");
  const std::string id = header("webhook-id");
  const std::string timestamp = header("webhook-timestamp");
  ASSERT_FALSE(id.empty());
  ASSERT_FALSE(timestamp.empty());
  const std::int64_t seconds = std::stoll(timestamp);
  EXPECT_LE(std::abs(seconds - core::NowMillis() / 1000), 120);
  EXPECT_EQ(header("webhook-signature"), secret.Sign(id, seconds, request.body));
  boost::json::value body = ParseJson(request.body);
  ASSERT_TRUE(body.is_object()) << request.body;
  EXPECT_EQ(body.at("data").at("id").as_string(), id);
  EXPECT_TRUE(body.at("timestamp").is_string());
  EXPECT_EQ(body.at("type").as_string(), body.at("data").at("action").as_string());
}

// Waits until the receiver accepted an event of `type` about token `id`.
bool WaitAccepted(const WebhookReceiver& receiver, const std::string& id, const std::string& type,
                  std::chrono::milliseconds timeout) {
  return receiver.WaitUntil(
      [&](const std::vector<ReceivedRequest>& requests) {
        for (const ReceivedRequest& request : requests) {
          if (request.answered == ReceiverMode::kAccept &&
              SubjectAndType(request) == std::pair(id, type)) {
            return true;
          }
        }
        return false;
      },
      timeout);
}

core::WebhookSecret SecretIn(const std::string& path) {
  auto secret = core::WebhookSecret::Parse(ReadFile(path));
  EXPECT_TRUE(secret.ok()) << secret.status().ToString();
  return secret.ok() ? *secret : *core::WebhookSecret::Generate();
}

TEST(WebhooksE2eTest, CreateAndDeleteArriveSignedWithTheSecretFilesKey) {
  TempDir dir;
  auto receiver = WebhookReceiver::Start();
  ASSERT_NE(receiver, nullptr);
  auto tokend = TokendProcess::Start(
      ServeArgs("sqlite:" + dir.File("tokend.db"), dir.path().string(), {receiver->Url()}));
  ASSERT_NE(tokend, nullptr);
  const std::string secret_file = dir.File("webhook-secret");
  struct stat info {};
  ASSERT_EQ(::stat(secret_file.c_str(), &info), 0) << tokend->Log();
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  const core::WebhookSecret secret = SecretIn(secret_file);

  TestClient client(tokend->port());
  const std::string id = CreateTokenId(client, "hooked");
  auto deleted = client.Request("DELETE", "/api/v2/token/" + id, JsonWithBearer(""));
  ASSERT_TRUE(deleted.has_value());
  EXPECT_LT(deleted->status, 300);
  ASSERT_TRUE(WaitAccepted(*receiver, id, "token.created", 10s)) << tokend->Log();
  ASSERT_TRUE(WaitAccepted(*receiver, id, "token.deleted", 10s)) << tokend->Log();
  for (const ReceivedRequest& request : receiver->Accepted()) ExpectSigned(request, secret);
  EXPECT_EQ(tokend->Log().find(ReadFile(secret_file).substr(6, 20)), std::string::npos);

  // The receiver saw the requests before tokend read their answers: the
  // counters and the outbox follow a moment later.
  std::string metrics;
  for (int i = 0; i < 100; ++i) {
    auto res = client.Request("GET", "/metrics", {});
    ASSERT_TRUE(res.has_value());
    metrics = res->body;
    if (metrics.find("tokend_webhook_deliveries_total{outcome=\"delivered\"} 2") !=
            std::string::npos &&
        metrics.find("tokend_webhook_events_waiting 0") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_NE(metrics.find("tokend_webhook_deliveries_total{outcome=\"delivered\"} 2"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("tokend_webhook_events_waiting 0"), std::string::npos);
  EXPECT_NE(metrics.find("tokend_webhook_events_failed 0"), std::string::npos);
  EXPECT_NE(metrics.find("tokend_webhook_oldest_waiting_seconds 0"), std::string::npos);
}

TEST(WebhooksE2eTest, FailingReceiversNeitherSlowCreatesNorLoseEvents) {
  TempDir dir;
  auto receiver = WebhookReceiver::Start();
  ASSERT_NE(receiver, nullptr);
  auto tokend = TokendProcess::Start(
      ServeArgs("sqlite:" + dir.File("tokend.db"), dir.path().string(), {receiver->Url()}));
  ASSERT_NE(tokend, nullptr);
  const core::WebhookSecret secret = SecretIn(dir.File("webhook-secret"));
  TestClient client(tokend->port());

  for (ReceiverMode mode :
       {ReceiverMode::kFail, ReceiverMode::kRedirect, ReceiverMode::kReset, ReceiverMode::kHang}) {
    SCOPED_TRACE(static_cast<int>(mode));
    receiver->SetMode(mode);
    const std::size_t seen = receiver->Requests().size();
    const auto start = std::chrono::steady_clock::now();
    const std::string id = CreateTokenId(client, "while-failing");
    // A second create while the receiver is failing (or hanging) is as quick.
    const std::string second_id = CreateTokenId(client, "while-failing-too");
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
    ASSERT_TRUE(receiver->WaitUntil(
        [&](const std::vector<ReceivedRequest>& requests) {
          for (std::size_t i = seen; i < requests.size(); ++i) {
            if (SubjectAndType(requests[i]) == std::pair(id, std::string("token.created"))) {
              return true;
            }
          }
          return false;
        },
        10s))
        << tokend->Log();
    // Let at least one try fail (a hanging receiver: at the 10 s timeout).
    std::this_thread::sleep_for(mode == ReceiverMode::kHang ? 11s : 1500ms);
    receiver->SetMode(ReceiverMode::kAccept);
    ASSERT_TRUE(WaitAccepted(*receiver, id, "token.created", 30s)) << tokend->Log();
    // Nothing left to retry when the next mode starts: with a hanging
    // receiver, earlier events still retrying could take every delivery
    // thread for a whole timeout before the new event's first try.
    ASSERT_TRUE(WaitAccepted(*receiver, second_id, "token.created", 30s)) << tokend->Log();
    // Every try of the event carried the same webhook-id, each signed.
    std::set<std::string> ids;
    for (const ReceivedRequest& request : receiver->Requests()) {
      if (SubjectAndType(request) == std::pair(id, std::string("token.created"))) {
        ids.insert(request.headers.at("webhook-id"));
        ExpectSigned(request, secret);
      }
    }
    EXPECT_EQ(ids.size(), 1u);
  }
  for (const ReceivedRequest& request : receiver->Requests()) {
    EXPECT_EQ(request.target, "/hook");  // the redirect was never followed
  }
}

// `tokend bootstrap` queues its token's token.created for the URLs it is
// given, as serve does for every change; serve then delivers it.
TEST(WebhooksE2eTest, ATokenMadeByTheBootstrapCommandIsAnnouncedToo) {
  TempDir dir;
  auto receiver = WebhookReceiver::Start();
  ASSERT_NE(receiver, nullptr);
  const std::string store = "sqlite:" + dir.File("tokend.db");
  RunResult refused = RunTokend({"bootstrap", "--store", store, "--webhook-url", "ftp://x"}, 30s);
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("--webhook-url"), std::string::npos) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(dir.File("tokend.db")));
  RunResult made =
      RunTokend({"bootstrap", "--store", store, "--webhook-url", receiver->Url()}, 30s);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto tokend = TokendProcess::Start(ServeArgs(store, dir.path().string(), {receiver->Url()}));
  ASSERT_NE(tokend, nullptr);
  ASSERT_TRUE(receiver->WaitUntil(
      [](const std::vector<ReceivedRequest>& requests) {
        for (const ReceivedRequest& request : requests) {
          boost::json::value body = ParseJson(request.body);
          if (body.is_object() && body.at("type") == "token.created" &&
              body.at("data").at("subject").at("type") == "global") {
            return true;
          }
        }
        return false;
      },
      30s))
      << tokend->Log();
}

TEST(WebhooksE2eTest, EventsWaitingWhenKilledAreDeliveredAfterARestart) {
  TempDir dir;
  auto receiver = WebhookReceiver::Start();
  ASSERT_NE(receiver, nullptr);
  receiver->SetMode(ReceiverMode::kFail);
  const auto args =
      ServeArgs("sqlite:" + dir.File("tokend.db"), dir.path().string(), {receiver->Url()});
  std::vector<std::string> ids;
  {
    auto tokend = TokendProcess::Start(args);
    ASSERT_NE(tokend, nullptr);
    TestClient client(tokend->port());
    for (int i = 0; i < 3; ++i) ids.push_back(CreateTokenId(client, "before-kill"));
    ASSERT_TRUE(receiver->WaitUntil(
        [](const std::vector<ReceivedRequest>& requests) { return !requests.empty(); }, 10s));
    tokend->Signal(SIGKILL);
    tokend->WaitExit(5s);
  }
  receiver->SetMode(ReceiverMode::kAccept);
  auto restarted = TokendProcess::Start(args);
  ASSERT_NE(restarted, nullptr);
  // A try in flight at the kill waits for its 60 s lease.
  for (const std::string& id : ids) {
    EXPECT_TRUE(WaitAccepted(*receiver, id, "token.created", 90s)) << restarted->Log();
  }
}

TEST(WebhooksE2eTest, TwoPostgresInstancesDeliverEachEventOnce) {
  if (GetEnv("TOKEND_TEST_PG_URL").empty()) GTEST_SKIP() << "TOKEND_TEST_PG_URL not set";
  auto database = ScopedPostgresDatabase::Create(GetEnv("TOKEND_TEST_PG_URL"));
  ASSERT_TRUE(database.ok()) << database.status().ToString();
  TempDir dir;
  auto receiver = WebhookReceiver::Start();
  ASSERT_NE(receiver, nullptr);
  const auto args = ServeArgs((*database)->url(), dir.path().string(), {receiver->Url()});
  auto first = TokendProcess::Start(args);
  auto second = TokendProcess::Start(args);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  TestClient to_first(first->port());
  TestClient to_second(second->port());
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    ids.push_back(CreateTokenId(i % 2 == 0 ? to_first : to_second, "pg-" + std::to_string(i)));
  }
  for (const std::string& id : ids) {
    ASSERT_TRUE(WaitAccepted(*receiver, id, "token.created", 20s)) << "first:\n"
                                                                   << first->Log() << "second:\n"
                                                                   << second->Log();
  }
  std::this_thread::sleep_for(3s);  // time for a second delivery, were there one
  std::map<std::string, int> deliveries;
  for (const ReceivedRequest& request : receiver->Accepted()) {
    ++deliveries[request.headers.at("webhook-id")];
  }
  EXPECT_EQ(deliveries.size(), ids.size());
  for (const auto& [event_id, count] : deliveries) EXPECT_EQ(count, 1) << event_id;
}

TEST(WebhooksE2eTest, AnHttpsReceiverIsTrustedThroughTheCaFileOnly) {
  TempDir dir;
  ASSERT_TRUE(webhooks::testing::MakePrivateCa(dir.path().string()));
  auto receiver = WebhookReceiver::Start(dir.File("server.pem"), dir.File("server.key"));
  ASSERT_NE(receiver, nullptr);
  {
    auto args =
        ServeArgs("sqlite:" + dir.File("untrusting.db"), dir.path().string(), {receiver->Url()});
    auto tokend = TokendProcess::Start(args);
    ASSERT_NE(tokend, nullptr);
    TestClient client(tokend->port());
    CreateTokenId(client, "untrusted");
    for (int i = 0; i < 200 && receiver->FailedHandshakes() == 0; ++i) {
      std::this_thread::sleep_for(50ms);
    }
    EXPECT_GT(receiver->FailedHandshakes(), 0) << tokend->Log();
    EXPECT_TRUE(receiver->Requests().empty());
  }
  auto args =
      ServeArgs("sqlite:" + dir.File("trusting.db"), dir.path().string(), {receiver->Url()});
  args.push_back("--webhook-ca-file");
  args.push_back(dir.File("ca.pem"));
  auto tokend = TokendProcess::Start(args);
  ASSERT_NE(tokend, nullptr);
  TestClient client(tokend->port());
  const std::string id = CreateTokenId(client, "trusted");
  EXPECT_TRUE(WaitAccepted(*receiver, id, "token.created", 10s)) << tokend->Log();
}

TEST(WebhooksE2eTest, BadSettingsStopServeWithExitTwoNamingThem) {
  TempDir dir;
  const std::string store = "sqlite:" + dir.File("tokend.db");
  const auto run = [&](std::vector<std::string> extra) {
    auto args = ServeArgs(store, dir.path().string(), {});
    args.insert(args.end(), extra.begin(), extra.end());
    return RunTokend(args, 20s);
  };
  RunResult bad_url = run({"--webhook-url", "ftp://hooks.example.com/x"});
  EXPECT_EQ(bad_url.exit_code, 2);
  EXPECT_NE(bad_url.err.find("--webhook-url ftp://hooks.example.com/x"), std::string::npos)
      << bad_url.err;

  RunResult userinfo = run({"--webhook-url", "https://bob:hunter2@hooks.example.com/"});
  EXPECT_EQ(userinfo.exit_code, 2);
  EXPECT_EQ(userinfo.err.find("hunter2"), std::string::npos);

  const std::string open_file = dir.File("open-secret");
  std::ofstream(open_file) << "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n";
  ::chmod(open_file.c_str(), 0644);
  RunResult open_secret =
      run({"--webhook-url", "http://127.0.0.1:9/hook", "--webhook-secret-file", open_file});
  EXPECT_EQ(open_secret.exit_code, 2);
  EXPECT_NE(open_secret.err.find(open_file), std::string::npos) << open_secret.err;
  EXPECT_NE(open_secret.err.find("group or others"), std::string::npos);

  const std::string junk_file = dir.File("junk-secret");
  std::ofstream(junk_file) << "hunter2\n";
  ::chmod(junk_file.c_str(), 0600);
  RunResult junk =
      run({"--webhook-url", "http://127.0.0.1:9/hook", "--webhook-secret-file", junk_file});
  EXPECT_EQ(junk.exit_code, 2);
  EXPECT_NE(junk.err.find(junk_file), std::string::npos);
  EXPECT_EQ(junk.err.find("hunter2"), std::string::npos);

  RunResult no_ca = run({"--webhook-url", "https://127.0.0.1:9/hook", "--webhook-ca-file",
                         dir.File("missing-ca.pem")});
  EXPECT_EQ(no_ca.exit_code, 2);
  EXPECT_NE(no_ca.err.find("missing-ca.pem"), std::string::npos) << no_ca.err;

  // --check-config judges the same settings and writes no secret file.
  RunResult checked = run({"--webhook-url", "http://127.0.0.1:9/hook", "--check-config"});
  EXPECT_EQ(checked.exit_code, 0) << checked.err;
  EXPECT_FALSE(std::filesystem::exists(dir.File("webhook-secret")));
  RunResult checked_bad = run({"--webhook-url", "http://host:0/", "--check-config"});
  EXPECT_EQ(checked_bad.exit_code, 2);
  EXPECT_NE(checked_bad.err.find("1 to 65535"), std::string::npos) << checked_bad.err;

  // The environment variable takes a comma-separated list.
  ::setenv("TOKEND_WEBHOOK_URL", "http://127.0.0.1:9/a,gopher://x/", 1);
  RunResult from_env = run({"--check-config"});
  ::unsetenv("TOKEND_WEBHOOK_URL");
  EXPECT_EQ(from_env.exit_code, 2);
  EXPECT_NE(from_env.err.find("gopher://x/"), std::string::npos) << from_env.err;
}

}  // namespace
}  // namespace tokend::e2e
