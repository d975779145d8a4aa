// Storage faults under the real binary: the file system holding the SQLite
// database fills up while tokend runs, then frees again. Writes answer 503
// (9010) with the error body, reads keep working, nothing acknowledged is lost,
// and writes succeed again once there is room.
//
// The fault is real: a small tmpfs mounted for the test (root ignores file
// permissions, and RLIMIT_FSIZE would kill the process with SIGXFSZ). Where
// mounting is not permitted, the test is skipped.
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
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

std::string CreateBody(int n) {
  return R"({"type":"team","name":"fault-)" + std::to_string(n) +
         R"(","principal":"team-f","permissions":["workflow/read"]})";
}

void ExpectUnavailableBody(const HttpResponse& res) {
  EXPECT_EQ(res.status, 503) << res.body;
  const boost::json::value json = ParseJson(res.body);
  ASSERT_TRUE(json.is_object()) << res.body;
  const boost::json::object& body = json.as_object();
  for (const char* field : {"timestamp", "reason", "message", "status"}) {
    EXPECT_TRUE(body.contains(field) && body.at(field).is_string()) << field << ": " << res.body;
  }
  ASSERT_TRUE(body.contains("code") && body.at("code").is_int64()) << res.body;
  EXPECT_EQ(body.at("code").as_int64(), 9010) << res.body;
  EXPECT_EQ(boost::json::serialize(body.at("reason")), R"("STORE_UNAVAILABLE")") << res.body;
  EXPECT_EQ(boost::json::serialize(body.at("status")), R"("503 SERVICE_UNAVAILABLE")") << res.body;
}

// Every acknowledged token can be read back and still validates.
void ExpectAllPresent(std::uint16_t port, const std::vector<Acknowledged>& tokens,
                      const std::string& when) {
  TestClient client(port);
  std::size_t missing = 0;
  for (const Acknowledged& token : tokens) {
    auto got = client.Request("GET", "/api/v2/token/" + token.id);
    if (!got || got->status != 200 || IsActive(client, "", token.secret) != true) ++missing;
  }
  EXPECT_EQ(missing, 0u) << "of " << tokens.size() << " acknowledged tokens, " << when;
}

TEST(StoreFaultsTest, DiskFullGives503ThenRecoversWithoutLosingTokens) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
  TempDir dir;
  const std::filesystem::path volume = dir.path() / "volume";
  std::filesystem::create_directory(volume);
  TmpfsMount mount(volume, "2m");
  if (!mount.mounted()) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << mount.error()
                 << "); the disk-full fault needs a real small file system";
  }
  const std::string db = (volume / "tokend.db").string();
  const std::string filler = (volume / "filler").string();
  const std::vector<std::string> args = {"serve",        "--listen", "127.0.0.1:0", "--store",
                                         "sqlite:" + db, "--auth",   "off"};
  auto tokend = TokendProcess::Start(args);
  ASSERT_NE(tokend, nullptr);
  TestClient client(tokend->port());

  std::vector<Acknowledged> acknowledged;
  int next = 0;
  for (; next < 5; ++next) {
    auto created = CreateToken(client, "", CreateBody(next));
    ASSERT_TRUE(created.has_value());
    acknowledged.push_back({std::string(created->at("id").as_string()),
                            std::string(created->at("token").as_string())});
  }

  // The fault: no free block left.
  ASSERT_GT(FillUntilFull(filler), 0u);
  struct statvfs space {};
  ASSERT_EQ(::statvfs(volume.c_str(), &space), 0);
  ASSERT_EQ(space.f_bavail, 0u) << "the file system is not full";

  // Creates fail with 503 (a create that still fits in space SQLite already
  // holds may succeed: then it is acknowledged and must survive too).
  bool refused = false;
  for (int attempt = 0; attempt < 200 && !refused; ++attempt, ++next) {
    auto res = client.Request("POST", "/api/v2/token", JsonWithBearer(""), CreateBody(next));
    ASSERT_TRUE(res.has_value()) << "no answer while the disk is full";
    if (res->status == 200) {
      const boost::json::value json = ParseJson(res->body);
      acknowledged.push_back(
          {std::string(json.at("id").as_string()), std::string(json.at("token").as_string())});
      continue;
    }
    ExpectUnavailableBody(*res);
    refused = true;
  }
  ASSERT_TRUE(refused) << "no create was refused on a full disk";
  const std::size_t accepted_when_full = acknowledged.size() - 5;
  auto again = client.Request("POST", "/api/v2/token", JsonWithBearer(""), CreateBody(next++));
  ASSERT_TRUE(again.has_value());
  ExpectUnavailableBody(*again);

  // Reads keep working: /health pings the store with a read, which the store
  // still answers, so it stays UP; tokens can be read and validated.
  auto health = client.Request("GET", "/health");
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, R"({"status":"UP"})");
  ExpectAllPresent(tokend->port(), acknowledged, "while the disk is full");
  auto page = client.Request("GET", "/api/v2/token/query?principals=team-f");
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(ParseJson(page->body).at("totalElements").as_int64(),
            static_cast<std::int64_t>(acknowledged.size()));

  // A delete on a full disk either happens (200) or is refused (503); either
  // way what it answered is what the store holds afterwards.
  const Acknowledged victim = acknowledged.front();
  auto deleted = client.Request("DELETE", "/api/v2/token/" + victim.id);
  ASSERT_TRUE(deleted.has_value());
  if (deleted->status == 200) {
    acknowledged.erase(acknowledged.begin());
  } else {
    ExpectUnavailableBody(*deleted);
  }

  // The fault clears: writes work again at once.
  ASSERT_EQ(::unlink(filler.c_str()), 0);
  bool recovered = false;
  for (int attempt = 0; attempt < 30 && !recovered; ++attempt) {
    auto created = CreateToken(client, "", CreateBody(next++));
    if (created) {
      acknowledged.push_back({std::string(created->at("id").as_string()),
                              std::string(created->at("token").as_string())});
      recovered = true;
    } else {
      std::this_thread::sleep_for(100ms);
    }
  }
  ASSERT_TRUE(recovered) << "creates still fail after the disk has room again";
  std::printf("disk full: %zu create(s) fitted before the first 503; delete answered %d\n",
              accepted_when_full, deleted->status);
  auto victim_now = client.Request("GET", "/api/v2/token/" + victim.id);
  ASSERT_TRUE(victim_now.has_value());
  EXPECT_EQ(victim_now->status, deleted->status == 200 ? 404 : 200);
  ExpectAllPresent(tokend->port(), acknowledged, "after the fault cleared");

  // And they are on disk: a restart sees every one, in an intact file.
  tokend->Signal(SIGTERM);
  ASSERT_EQ(tokend->WaitExit(15s), 0);
  EXPECT_EQ(IntegrityCheck(db), "ok");
  auto restarted = TokendProcess::Start(args);
  ASSERT_NE(restarted, nullptr);
  ExpectAllPresent(restarted->port(), acknowledged, "after a restart");
}

}  // namespace
}  // namespace tokend::e2e
