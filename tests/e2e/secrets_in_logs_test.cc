// Secrets never reach the log, at the most verbose level, whatever route or
// credential form carried them.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

#include "e2e_helpers.h"
#include "tokend_process.h"

namespace tokend::e2e {
namespace {

using namespace std::chrono_literals;

TEST(SecretsInLogsTest, NoSecretEverReachesTheLog) {
  TempDir dir;
  auto tokend = TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store",
                                      "sqlite:" + dir.File("tokend.db"), "--log-level", "trace",
                                      "--access-log"});
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
  auto form = client.Request(
      "POST", "/api/v2/token/introspect",
      {{"Authorization", "Bearer " + admin}, {"Content-Type", "application/x-www-form-urlencoded"}},
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

// The store URL's password never reaches the log, in whatever form the URL
// carries it, at start or in the error that stops tokend. Every URL points
// where no server listens (port 1), so each run fails to connect and logs
// both the URL and the connection error.
TEST(SecretsInLogsTest, NoStorePasswordEverReachesTheLog) {
  struct Case {
    std::string url;
    std::vector<std::string> secrets;  // the password and the pieces of it
  };
  const std::vector<Case> cases = {
      {"postgresql://tokend:Hunter2-Userinfo@127.0.0.1:1/tokend", {"Hunter2-Userinfo"}},
      {"postgresql://tokend@127.0.0.1:1/tokend?password=Hunter2-Query", {"Hunter2-Query"}},
      {"postgresql://tokend@127.0.0.1:1/tokend?PASSWORD=Hunter2-Upper", {"Hunter2-Upper"}},
      {"postgresql://tokend@127.0.0.1:1/tokend?pass%77ord=Hunter2-EncName", {"Hunter2-EncName"}},
      {"postgresql://tokend@127.0.0.1:1/tokend?password=Hunter2%2DEnc%2FValue",
       {"Hunter2%2DEnc%2FValue", "Hunter2-Enc/Value", "Hunter2-Enc"}},
      {"postgresql://tokend:Hunter2@tSign@127.0.0.1:1/tokend", {"Hunter2@tSign", "tSign@"}},
      {"host=127.0.0.1 port=1 dbname=tokend password=Hunter2-Kv", {"Hunter2-Kv"}},
      {"host=127.0.0.1 port=1 password='Hunter2 Quoted'", {"Hunter2 Quoted", "Quoted"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.url);
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"serve", "--listen", "127.0.0.1:0", "--store", c.url,
                                   "--log-level", "trace"},
          std::vector<std::string>{"bootstrap", "--store", c.url, "--log-level", "trace"}}) {
      RunResult run = RunTokend(args);
      EXPECT_NE(run.exit_code, 0) << args[0] << " started without a store";
      EXPECT_NE(run.err.find("cannot open the store"), std::string::npos) << run.err;
      EXPECT_NE(run.err.find("***"), std::string::npos)
          << "the URL is shown, redacted: " << run.err;
      for (const std::string& secret : c.secrets) {
        EXPECT_EQ(run.err.find(secret), std::string::npos) << args[0] << ": " << run.err;
        EXPECT_EQ(run.out.find(secret), std::string::npos) << args[0] << ": " << run.out;
      }
    }
  }
}

}  // namespace
}  // namespace tokend::e2e
