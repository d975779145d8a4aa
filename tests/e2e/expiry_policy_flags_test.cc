// `tokend serve --max-lifetime/--default-lifetime` and their environment
// variables: accepted forms, precedence, and exit 2 for a bad policy.
#include <gtest/gtest.h>
#include <stdlib.h>

#include "e2e_helpers.h"
#include "tokend_process.h"

namespace tokend::e2e {
namespace {

using namespace std::chrono_literals;

// Sets an environment variable for the scope (the child inherits it).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

std::vector<std::string> ServeArgs(const TempDir& dir, std::vector<std::string> extra) {
  std::vector<std::string> args = {
      "serve",  "--listen", "127.0.0.1:0", "--store", "sqlite:" + dir.File("tokend.db"),
      "--auth", "off"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

boost::json::value Policy(const TokendProcess& tokend) {
  TestClient client(tokend.port());
  auto res = client.Request("GET", "/api/v2/token/policy");
  EXPECT_TRUE(res.has_value());
  if (!res) return nullptr;
  EXPECT_EQ(res->status, 200) << res->body;
  return ParseJson(res->body).at("types");
}

void ExpectUsageError(const std::vector<std::string>& args,
                      const std::vector<std::string>& mentions) {
  RunResult run = RunTokend(args, 15s);
  EXPECT_EQ(run.exit_code, 2) << run.err;
  for (const std::string& text : mentions) {
    EXPECT_NE(run.err.find(text), std::string::npos) << run.err << " lacks " << text;
  }
}

TEST(ExpiryPolicyFlagsTest, RepeatedFlagsMakeThePolicy) {
  TempDir dir;
  auto tokend = TokendProcess::Start(
      ServeArgs(dir, {"--max-lifetime", "team=90d", "--max-lifetime", "1h", "--default-lifetime",
                      "team=30d", "--default-lifetime", "user=1h"}));
  ASSERT_NE(tokend, nullptr);
  const boost::json::value types = Policy(*tokend);
  EXPECT_EQ(types.at("team").at("maxLifetimeSeconds").as_int64(), 90 * 86400);
  EXPECT_EQ(types.at("team").at("defaultLifetimeSeconds").as_int64(), 30 * 86400);
  EXPECT_EQ(types.at("global").at("maxLifetimeSeconds").as_int64(), 3600);
  EXPECT_EQ(types.at("user").at("defaultLifetimeSeconds").as_int64(), 3600);
  EXPECT_EQ(types.at("user").as_object().size(), 2u);

  // The policy applies on create.
  TestClient client(tokend->port());
  auto created = CreateToken(client, "",
                             R"({"type":"team","name":"n","principal":"t","permissions":)"
                             R"(["workflow/read"]})");
  ASSERT_TRUE(created.has_value());
  EXPECT_TRUE(created->contains("expirationDate"));
}

TEST(ExpiryPolicyFlagsTest, EnvironmentListsAreCommaSeparated) {
  ScopedEnv max("TOKEND_MAX_LIFETIME", "team=90d, user=12h");
  ScopedEnv defaults("TOKEND_DEFAULT_LIFETIME", "team=30d");
  TempDir dir;
  auto tokend = TokendProcess::Start(ServeArgs(dir, {}));
  ASSERT_NE(tokend, nullptr);
  const boost::json::value types = Policy(*tokend);
  EXPECT_EQ(types.at("team").at("maxLifetimeSeconds").as_int64(), 90 * 86400);
  EXPECT_EQ(types.at("team").at("defaultLifetimeSeconds").as_int64(), 30 * 86400);
  EXPECT_EQ(types.at("user").at("maxLifetimeSeconds").as_int64(), 12 * 3600);
  EXPECT_EQ(types.as_object().size(), 2u);
}

TEST(ExpiryPolicyFlagsTest, AFlagReplacesItsEnvironmentVariable) {
  ScopedEnv max("TOKEND_MAX_LIFETIME", "0d,nonsense");
  ScopedEnv defaults("TOKEND_DEFAULT_LIFETIME", "global=1d");
  TempDir dir;
  auto tokend = TokendProcess::Start(ServeArgs(dir, {"--max-lifetime", "workflow=2d"}));
  ASSERT_NE(tokend, nullptr);
  const boost::json::value types = Policy(*tokend);
  EXPECT_EQ(types.at("workflow").at("maxLifetimeSeconds").as_int64(), 2 * 86400);
  // The other variable still counts.
  EXPECT_EQ(types.at("global").at("defaultLifetimeSeconds").as_int64(), 86400);
  EXPECT_EQ(types.as_object().size(), 2u);
}

TEST(ExpiryPolicyFlagsTest, BadDurationsStopServeWithExit2) {
  TempDir dir;
  ExpectUsageError(ServeArgs(dir, {"--max-lifetime", "team=0d"}),
                   {"--max-lifetime", "'team=0d'", "invalid duration '0d'"});
  ExpectUsageError(ServeArgs(dir, {"--default-lifetime", "90"}), {"--default-lifetime", "'90'"});
  ExpectUsageError(ServeArgs(dir, {"--max-lifetime", "1.5d"}), {"'1.5d'"});
}

TEST(ExpiryPolicyFlagsTest, UnknownTypesStopServeWithExit2) {
  TempDir dir;
  ExpectUsageError(ServeArgs(dir, {"--max-lifetime", "teams=90d"}),
                   {"--max-lifetime", "unknown token type 'teams'"});
}

TEST(ExpiryPolicyFlagsTest, ADefaultLongerThanItsMaximumStopsServeWithExit2) {
  TempDir dir;
  ExpectUsageError(ServeArgs(dir, {"--max-lifetime", "30d", "--default-lifetime", "team=31d"}),
                   {"type 'team'", "31d", "30d", "longer than its maximum"});
}

TEST(ExpiryPolicyFlagsTest, ABadEnvironmentVariableStopsServeWithExit2) {
  ScopedEnv max("TOKEND_MAX_LIFETIME", "team=90d,user=-1h");
  TempDir dir;
  ExpectUsageError(ServeArgs(dir, {}), {"TOKEND_MAX_LIFETIME", "'user=-1h'"});
}

}  // namespace
}  // namespace tokend::e2e
