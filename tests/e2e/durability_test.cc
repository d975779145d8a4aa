// A token acknowledged with 200 survives SIGKILL of the server.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "e2e_helpers.h"
#include "tokend_process.h"

namespace tokend::e2e {
namespace {

using namespace std::chrono_literals;

struct Acknowledged {
  std::string id;
  std::string secret;
};

TEST(DurabilityTest, EveryAcknowledgedTokenSurvivesSigkill) {
  TempDir dir;
  const std::string db = dir.File("tokend.db");
  const std::vector<std::string> args = {"serve",        "--listen", "127.0.0.1:0", "--store",
                                         "sqlite:" + db, "--auth",   "off"};
  auto tokend = TokendProcess::Start(args);
  ASSERT_NE(tokend, nullptr);

  constexpr int kClients = 16;
  std::mutex mutex;
  std::vector<Acknowledged> acknowledged;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      TestClient client(tokend->port());
      for (int i = 0; !stop.load(); ++i) {
        auto response =
            client.Request("POST", "/api/v2/token", JsonWithBearer(""),
                           R"({"type":"team","name":"load )" + std::to_string(c) + "-" +
                               std::to_string(i) + R"(","principal":"team-)" + std::to_string(c) +
                               R"(","permissions":["workflow/read"]})",
                           2s);
        if (!response) break;  // the server is gone: this create was not acknowledged
        if (response->status != 200) continue;
        boost::json::value json = ParseJson(response->body);
        std::lock_guard lock(mutex);
        acknowledged.push_back(
            {std::string(json.at("id").as_string()), std::string(json.at("token").as_string())});
      }
    });
  }
  std::this_thread::sleep_for(1500ms);
  tokend->Signal(SIGKILL);
  ASSERT_TRUE(tokend->WaitExit(10s).has_value());
  stop = true;
  for (auto& client : clients) client.join();
  ASSERT_GT(acknowledged.size(), 50u) << "too little load to mean anything";

  EXPECT_EQ(IntegrityCheck(db), "ok");
  auto restarted = TokendProcess::Start(args);
  ASSERT_NE(restarted, nullptr);
  TestClient client(restarted->port());
  std::size_t missing = 0;
  for (const Acknowledged& token : acknowledged) {
    auto got = client.Request("GET", "/api/v2/token/" + token.id);
    if (!got || got->status != 200 || IsActive(client, "", token.secret) != true) ++missing;
  }
  EXPECT_EQ(missing, 0u) << "of " << acknowledged.size() << " acknowledged tokens";
  std::printf("durability: %zu acknowledged creates, %zu missing after SIGKILL\n",
              acknowledged.size(), missing);
}

}  // namespace
}  // namespace tokend::e2e
