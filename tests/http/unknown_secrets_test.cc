// tokend_unknown_secrets_total counts the well-formed secrets no stored
// token has (each costs a store lookup), by form: a fresh checksummed
// secret, presented as a bearer or introspected, adds one to
// form="checksummed"; a legacy one (prefix + lowercase UUID) to
// form="legacy"; a malformed one to neither.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/secret.h"
#include "server_fixture.h"

namespace tokend::http::testing {
namespace {

struct UnknownCounts {
  long long checksummed = -1;
  long long legacy = -1;
};

UnknownCounts ReadCounts(TestClient& client) {
  UnknownCounts counts;
  auto res = client.Request("GET", "/metrics");
  EXPECT_TRUE(res.has_value());
  if (!res) return counts;
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("\n# TYPE tokend_unknown_secrets_total counter\n"), std::string::npos);
  std::istringstream lines(res->body);
  for (std::string line; std::getline(lines, line);) {
    constexpr std::string_view kChecksummed = "tokend_unknown_secrets_total{form=\"checksummed\"} ";
    constexpr std::string_view kLegacy = "tokend_unknown_secrets_total{form=\"legacy\"} ";
    if (line.rfind(kChecksummed, 0) == 0) {
      counts.checksummed = std::stoll(line.substr(kChecksummed.size()));
    } else if (line.rfind(kLegacy, 0) == 0) {
      counts.legacy = std::stoll(line.substr(kLegacy.size()));
    }
  }
  EXPECT_GE(counts.checksummed, 0) << "no checksummed series:\n" << res->body;
  EXPECT_GE(counts.legacy, 0) << "no legacy series:\n" << res->body;
  return counts;
}

constexpr core::TokenType kTypes[] = {core::TokenType::kGlobal, core::TokenType::kTeam,
                                      core::TokenType::kWorkflow, core::TokenType::kUser,
                                      core::TokenType::kSession};

std::vector<std::string> FreshSecrets(std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(core::GenerateSecret(kTypes[i % 5]));
  return out;
}

// A random lowercase UUID, 8-4-4-4-12.
std::string RandomUuid() {
  static std::mt19937_64 random{std::random_device{}()};
  std::string out;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) out += '-';
    out += "0123456789abcdef"[random() % 16];
  }
  return out;
}

std::vector<std::string> FreshLegacySecrets(std::size_t n) {
  const char* prefixes[] = {"bfg_", "bft_", "bfw_", "bfu_", "bfs_"};
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(prefixes[i % 5] + RandomUuid());
  return out;
}

std::string Upper(std::string text) {
  for (char& c : text) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return text;
}

// Secrets that cannot be tokend's: they are refused without a lookup.
std::vector<std::string> MalformedSecrets() {
  std::string bad_checksum = core::GenerateSecret(core::TokenType::kTeam);
  bad_checksum.back() = bad_checksum.back() == 'A' ? 'B' : 'A';
  const std::string fresh = core::GenerateSecret(core::TokenType::kUser);
  std::string dash_inside = fresh;
  dash_inside[20] = '-';
  const std::string uuid = RandomUuid();
  std::string legacy_bad_hex = "bft_" + uuid;
  legacy_bad_hex[6] = 'g';
  std::string legacy_dash_moved = "bft_" + uuid;
  legacy_dash_moved[12] = legacy_dash_moved[13];
  legacy_dash_moved[13] = '-';
  return {
      "nonsense",
      bad_checksum,
      fresh.substr(0, 39),
      fresh + "x",
      "bfx_" + fresh.substr(4),
      "bfz_" + uuid,
      "BFT_" + fresh.substr(4),
      dash_inside,
      "bft_" + Upper(uuid),
      legacy_bad_hex,
      legacy_dash_moved,
      "bft_" + uuid.substr(0, 35),
      "bft_" + uuid + "0",
      std::string(40, 'a'),
  };
}

std::string IntrospectJson(std::string_view secret) {
  return R"({"token":")" + std::string(secret) + R"("})";
}

class UnknownSecretsTest : public ServerTest {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(StartServer(true)); }

  Headers Form() const {
    Headers headers = Admin();
    headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    return headers;
  }

  void ExpectDelta(TestClient& client, const UnknownCounts& before, long long checksummed,
                   long long legacy, const std::string& context) {
    const UnknownCounts after = ReadCounts(client);
    EXPECT_EQ(after.checksummed - before.checksummed, checksummed) << context;
    EXPECT_EQ(after.legacy - before.legacy, legacy) << context;
  }
};

TEST_F(UnknownSecretsTest, UnknownBearersAreCountedByForm) {
  auto client = Connect();
  UnknownCounts before = ReadCounts(*client);
  const auto fresh = FreshSecrets(7);
  for (const std::string& secret : fresh) {
    auto res = client->Request("GET", "/api/v2/token/query", Bearer(secret));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401) << res->body;
  }
  ExpectDelta(*client, before, 7, 0, "checksummed bearers");

  before = ReadCounts(*client);
  for (const std::string& secret : FreshSecrets(3)) {
    auto res = client->Request("GET", "/api/v2/token/self?access_token=" + secret);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401) << res->body;
  }
  ExpectDelta(*client, before, 3, 0, "checksummed access_token parameters");

  before = ReadCounts(*client);
  for (const std::string& secret : FreshLegacySecrets(6)) {
    auto fresh_connection = Connect();
    auto res = fresh_connection->Request("GET", "/api/v2/token/query", Bearer(secret));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401) << res->body;
  }
  ExpectDelta(*client, before, 0, 6, "legacy bearers");

  before = ReadCounts(*client);
  for (const std::string& secret : MalformedSecrets()) {
    auto res = client->Request("GET", "/api/v2/token/query", Bearer(secret));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401) << secret << ": " << res->body;
    res = client->Request("GET", "/api/v2/token/query?access_token=" + secret);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401) << secret << ": " << res->body;
  }
  ExpectDelta(*client, before, 0, 0, "malformed bearers");

  // A known secret is no unknown one.
  before = ReadCounts(*client);
  auto res = client->Request("GET", "/api/v2/token/query", Admin());
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  ExpectDelta(*client, before, 0, 0, "a known bearer");
}

TEST_F(UnknownSecretsTest, UnknownIntrospectedSecretsAreCountedByForm) {
  auto client = Connect();
  UnknownCounts before = ReadCounts(*client);
  const auto fresh = FreshSecrets(8);
  for (std::size_t i = 0; i < fresh.size(); ++i) {
    auto res = i % 2 == 0 ? client->Request("POST", "/api/v2/token/introspect", AdminJson(),
                                            IntrospectJson(fresh[i]))
                          : client->Request("POST", "/api/v2/token/introspect", Form(),
                                            "token=" + fresh[i]);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(res->body, R"({"active":false})");
  }
  ExpectDelta(*client, before, 8, 0, "checksummed introspections");

  before = ReadCounts(*client);
  const auto legacy = FreshLegacySecrets(5);
  for (std::size_t i = 0; i < legacy.size(); ++i) {
    auto res = i % 2 == 0 ? client->Request("POST", "/api/v2/token/introspect", AdminJson(),
                                            IntrospectJson(legacy[i]))
                          : client->Request("POST", "/api/v2/token/introspect", Form(),
                                            "token=" + legacy[i]);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(res->body, R"({"active":false})");
  }
  ExpectDelta(*client, before, 0, 5, "legacy introspections");

  before = ReadCounts(*client);
  for (const std::string& secret : MalformedSecrets()) {
    auto res =
        client->Request("POST", "/api/v2/token/introspect", AdminJson(), IntrospectJson(secret));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << secret << ": " << res->body;
    EXPECT_EQ(res->body, R"({"active":false})");
    res = client->Request("POST", "/api/v2/token/introspect", Form(), "token=" + secret);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << secret << ": " << res->body;
  }
  // Known secrets, active or not visible, are not unknown either.
  auto res = client->Request("POST", "/api/v2/token/introspect", AdminJson(),
                             IntrospectJson(admin_secret()));
  ASSERT_TRUE(res);
  EXPECT_NE(res->body.find("\"active\":true"), std::string::npos) << res->body;
  ExpectDelta(*client, before, 0, 0, "malformed and known introspections");
}

// A caller who may not introspect gets 403 before any lookup: nothing counted.
TEST_F(UnknownSecretsTest, RefusedIntrospectionLooksNothingUp) {
  auto client = Connect();
  const Created other = CreateToken(
      *client, R"({"type":"team","name":"w","principal":"t1","permissions":["workflow/read"]})");
  ASSERT_FALSE(other.secret.empty());
  Headers headers = Bearer(other.secret);
  headers.emplace_back("Content-Type", "application/json");
  const UnknownCounts before = ReadCounts(*client);
  for (const std::string& secret : FreshSecrets(3)) {
    auto res = client->Request("POST", "/api/v2/token/introspect", headers, IntrospectJson(secret));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 403) << res->body;
  }
  ExpectDelta(*client, before, 0, 0, "refused introspections");
}

// With authentication off a presented secret is still looked up (for /self).
class UnknownSecretsAuthOffTest : public ServerTest {};

TEST_F(UnknownSecretsAuthOffTest, PresentedSecretsAreCountedByForm) {
  ASSERT_NO_FATAL_FAILURE(StartServer(false));
  auto client = Connect();
  const UnknownCounts before = ReadCounts(*client);
  for (const std::string& secret : FreshSecrets(4)) {
    auto res = client->Request("GET", "/api/v2/token/self", Bearer(secret));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401) << res->body;
  }
  for (const std::string& secret : FreshLegacySecrets(2)) {
    auto res = client->Request("GET", "/api/v2/token/self", Bearer(secret));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401) << res->body;
  }
  for (const std::string& secret : MalformedSecrets()) {
    auto res = client->Request("GET", "/api/v2/token/self", Bearer(secret));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401) << res->body;
  }
  const UnknownCounts after = ReadCounts(*client);
  EXPECT_EQ(after.checksummed - before.checksummed, 4);
  EXPECT_EQ(after.legacy - before.legacy, 2);
}

}  // namespace
}  // namespace tokend::http::testing
