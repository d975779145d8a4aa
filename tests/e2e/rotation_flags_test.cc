// `tokend serve --reuse-detection` and `--retired-retention` (and their
// environment variables): bad values stop serve with exit 2; detection off
// leaves a rotated-away secret merely unknown.
#include <gtest/gtest.h>
#include <stdlib.h>

#include "e2e_helpers.h"
#include "tokend_process.h"

namespace tokend::e2e {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> ServeArgs(const TempDir& dir, std::vector<std::string> extra) {
  std::vector<std::string> args = {"serve", "--listen", "127.0.0.1:0", "--store",
                                   "sqlite:" + dir.File("tokend.db")};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

TEST(RotationFlagsTest, BadValuesStopServeWithExit2) {
  TempDir dir;
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"--retired-retention", "0d"},
        std::vector<std::string>{"--retired-retention", "1w"},
        std::vector<std::string>{"--reuse-detection", "maybe"}}) {
    RunResult run = RunTokend(ServeArgs(dir, extra), 15s);
    EXPECT_EQ(run.exit_code, 2) << extra[0] << " " << extra[1] << ": " << run.err;
    EXPECT_NE(run.err.find(extra[0].substr(2)), std::string::npos) << run.err;
  }
  ::setenv("TOKEND_RETIRED_RETENTION", "-1d", 1);
  RunResult run = RunTokend(ServeArgs(dir, {}), 15s);
  ::unsetenv("TOKEND_RETIRED_RETENTION");
  EXPECT_EQ(run.exit_code, 2) << run.err;
}

TEST(RotationFlagsTest, WithDetectionOffARetiredSecretIsJustUnknown) {
  TempDir dir;
  RunResult bootstrap = RunTokend({"bootstrap", "--store", "sqlite:" + dir.File("tokend.db")});
  ASSERT_EQ(bootstrap.exit_code, 0) << bootstrap.err;
  const std::string admin = bootstrap.out.substr(0, bootstrap.out.find('\n'));
  auto tokend = TokendProcess::Start(
      ServeArgs(dir, {"--reuse-detection", "off", "--retired-retention", "1h"}));
  ASSERT_NE(tokend, nullptr);
  TestClient client(tokend->port());
  auto created =
      CreateToken(client, admin,
                  R"({"type":"team","name":"r","principal":"t","permissions":["workflow/read"]})");
  ASSERT_TRUE(created.has_value());
  const std::string old_secret(created->at("token").as_string());
  auto rotated = client.Request("POST", "/api/v2/token/self/rotate", JsonWithBearer(old_secret));
  ASSERT_TRUE(rotated.has_value());
  ASSERT_EQ(rotated->status, 200) << rotated->body;
  const std::string new_secret(ParseJson(rotated->body).at("token").as_string());
  EXPECT_EQ(IsActive(client, admin, old_secret), false);
  EXPECT_EQ(IsActive(client, admin, new_secret), true) << "no family revocation";
}

}  // namespace
}  // namespace tokend::e2e
