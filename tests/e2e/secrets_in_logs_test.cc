// Secrets never reach the log, at the most verbose level, whatever route or
// credential form carried them.
#include <signal.h>

#include <gtest/gtest.h>

#include <fstream>

#include "e2e_helpers.h"
#include "tokend_process.h"

namespace tokend::e2e {
namespace {

using namespace std::chrono_literals;

TEST(SecretsInLogsTest, NoSecretEverReachesTheLog) {
  TempDir dir;
  auto tokend = TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store",
                                      "sqlite:" + dir.File("tokend.db"), "--log-level",
                                      "trace"});
  ASSERT_NE(tokend, nullptr);
  std::ifstream file(dir.File("bootstrap-token"));
  std::string admin;
  std::getline(file, admin);
  ASSERT_FALSE(admin.empty());

  std::vector<std::string> secrets = {admin};
  TestClient client(tokend->port());
  for (const char* type : {"team", "user", "workflow", "global"}) {
    auto created = CreateToken(
        client, admin,
        std::string(R"({"type":")") + type +
            R"(","name":"n","principal":"p1","permissions":["token/read","workflow/read"]})");
    ASSERT_TRUE(created.has_value()) << type;
    secrets.emplace_back(created->at("token").as_string());
  }
  const std::string& team = secrets[1];
  // Every way a secret can travel: header, query parameter, JSON and form
  // introspection, a forged checksum, and a deleted token presented again.
  EXPECT_TRUE(client.Request("GET", "/api/v2/token/self?access_token=" + team).has_value());
  EXPECT_EQ(IsActive(client, admin, team), true);
  auto form = client.Request("POST", "/api/v2/token/introspect",
                             {{"Authorization", "Bearer " + admin},
                              {"Content-Type", "application/x-www-form-urlencoded"}},
                             "token=" + secrets[2]);
  ASSERT_TRUE(form.has_value());
  EXPECT_EQ(form->status, 200);
  std::string forged = secrets[3];
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  secrets.push_back(forged);
  auto refused = client.Request("GET", "/api/v2/token/query", JsonWithBearer(forged));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 401);
  EXPECT_EQ(refused->body.find(forged), std::string::npos);
  auto bad_json = client.Request("POST", "/api/v2/token/introspect", JsonWithBearer(admin),
                                 "{\"token\": \"" + secrets[4] + "\"");
  ASSERT_TRUE(bad_json.has_value());
  EXPECT_EQ(bad_json->status, 400);
  EXPECT_EQ(bad_json->body.find(secrets[4]), std::string::npos);

  tokend->Signal(SIGTERM);
  ASSERT_EQ(tokend->WaitExit(15s), 0);
  const std::string log = tokend->Log();
  ASSERT_FALSE(log.empty());
  for (const std::string& secret : secrets) {
    EXPECT_EQ(log.find(secret), std::string::npos) << "a secret is in the log";
    // Nor the random part alone, in case a prefix was stripped.
    EXPECT_EQ(log.find(secret.substr(4, 30)), std::string::npos);
  }
}

}  // namespace
}  // namespace tokend::e2e
