// tokend behind a real nginx (auth_request -> GET /api/v2/token/check) in
// front of a small upstream: only requests whose token holds the permission
// the location demands get through, and a revoked token is cut off on the
// next request.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

#include "e2e_helpers.h"
#include "tokend_process.h"

extern char** environ;

namespace tokend::e2e {
namespace {

using namespace std::chrono_literals;
using http::testing::Bearer;

std::uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

std::string NginxBinary() {
  for (const char* path : {"/usr/sbin/nginx", "/usr/bin/nginx"}) {
    if (::access(path, X_OK) == 0) return path;
  }
  return {};
}

// nginx in the foreground, stopped (SIGQUIT, then SIGKILL) on destruction.
class Nginx {
 public:
  Nginx(const std::string& binary, const TempDir& dir) {
    const std::string prefix = dir.path().string() + "/";
    std::vector<std::string> args = {
        binary, "-p", prefix, "-c", dir.File("nginx.conf"), "-e", dir.File("error.log")};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    if (::posix_spawn(&pid_, binary.c_str(), nullptr, nullptr, argv.data(), environ) != 0)
      pid_ = -1;
  }
  ~Nginx() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGQUIT);
    for (int i = 0; i < 50; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(100ms);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  bool started() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
};

// The nginx block of docs/OPERATIONS.md, as written there: the lines of the
// first ```nginx fence after the "Behind a gateway" heading.
std::string DocumentedGatewayBlock() {
  std::ifstream doc(std::string(TOKEND_SOURCE_DIR) + "/docs/OPERATIONS.md");
  std::string line;
  std::string block;
  bool in_section = false;
  bool in_block = false;
  while (std::getline(doc, line)) {
    if (line.starts_with("## ")) in_section = line.starts_with("## Behind a gateway");
    if (!in_section) continue;
    if (in_block && line == "```") return block;
    if (in_block) block += line + "\n";
    if (line == "```nginx") in_block = true;
  }
  return {};
}

// `text` with every `from` replaced by `to`.
std::string ReplaceAll(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

void WriteNginxConfig(const TempDir& dir, const std::string& gateway_block, std::uint16_t gateway,
                      std::uint16_t upstream, std::uint16_t tokend) {
  const std::string root = dir.path().string();
  std::ofstream conf(dir.File("nginx.conf"));
  if (::geteuid() == 0) conf << "user root;\n";
  conf << "worker_processes 1;\ndaemon off;\npid " << root << "/nginx.pid;\n"
       << "events { worker_connections 256; }\n"
       << "http {\n  access_log off;\n"
       << "  client_body_temp_path " << root << "/body;\n  proxy_temp_path " << root
       << "/proxy;\n  fastcgi_temp_path " << root << "/fastcgi;\n  uwsgi_temp_path " << root
       << "/uwsgi;\n  scgi_temp_path " << root
       << "/scgi;\n"
       // The upstream: shows the identity headers it was given.
       << "  server {\n    listen 127.0.0.1:" << upstream << ";\n"
       << "    location / { return 200 \"upstream saw $http_tokend_token_id "
          "type=$http_tokend_token_type principal=$http_tokend_principal "
          "permissions=$http_tokend_permissions\"; }\n  }\n"
       // The gateway: the documented block, its ports changed.
       << "  server {\n    listen 127.0.0.1:" << gateway << ";\n"
       << ReplaceAll(
              ReplaceAll(gateway_block, "127.0.0.1:7700", "127.0.0.1:" + std::to_string(tokend)),
              "127.0.0.1:8080", "127.0.0.1:" + std::to_string(upstream))
       << "  }\n}\n";
}

bool WaitForPort(std::uint16_t port) {
  for (int i = 0; i < 100; ++i) {
    TestClient probe(port);
    if (probe.connected()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

TEST(GatewayTest, NginxLetsThroughOnlyTokensHoldingThePermissionUntilRevoked) {
  const std::string nginx = NginxBinary();
  if (nginx.empty()) GTEST_SKIP() << "nginx is not installed";
  TempDir dir;
  auto tokend = TokendProcess::Start(
      {"serve", "--listen", "127.0.0.1:0", "--store", "sqlite:" + dir.File("tokend.db")});
  ASSERT_NE(tokend, nullptr);
  std::string admin;
  std::getline(std::ifstream(dir.File("bootstrap-token")), admin);
  TestClient api(tokend->port());
  auto reader = CreateToken(
      api, admin, R"({"type":"team","name":"r","principal":"t","permissions":["workflow/read"]})");
  auto writer = CreateToken(
      api, admin, R"({"type":"team","name":"w","principal":"t","permissions":["workflow/write"]})");
  ASSERT_TRUE(reader && writer);
  const std::string reader_secret(reader->at("token").as_string());
  const std::string reader_id(reader->at("id").as_string());
  const std::string writer_secret(writer->at("token").as_string());

  const std::string block = DocumentedGatewayBlock();
  ASSERT_NE(block.find("auth_request /_tokend_check;"), std::string::npos) << block;
  TempDir nginx_dir;
  const std::uint16_t gateway = FreePort();
  const std::uint16_t upstream = FreePort();
  WriteNginxConfig(nginx_dir, block, gateway, upstream, tokend->port());
  Nginx server(nginx, nginx_dir);
  ASSERT_TRUE(server.started());
  ASSERT_TRUE(WaitForPort(gateway)) << "nginx did not start";

  TestClient client(gateway);
  auto through = [&](const Headers& headers, std::string_view target = "/api/orders") {
    auto res = client.Request("GET", target, headers);
    EXPECT_TRUE(res);
    return res ? *res : HttpResponse{};
  };
  EXPECT_EQ(through({}).status, 401);
  EXPECT_EQ(through(Bearer("bft_not-a-real-secret")).status, 401);
  EXPECT_EQ(through(Bearer(writer_secret)).status, 403);
  const std::string reader_seen =
      "upstream saw " + reader_id + " type=team principal=t permissions=workflow/read";
  const HttpResponse allowed = through(Bearer(reader_secret));
  EXPECT_EQ(allowed.status, 200);
  EXPECT_EQ(allowed.body, reader_seen);
  // A client cannot pose as another token, or add to what it holds: the
  // gateway replaces every identity header.
  Headers forged = Bearer(reader_secret);
  forged.emplace_back("Tokend-Token-Id", "000000000000000000000000");
  forged.emplace_back("Tokend-Token-Type", "global");
  forged.emplace_back("Tokend-Principal", "someone-else");
  forged.emplace_back("Tokend-Permissions", "**/**");
  EXPECT_EQ(through(forged).body, reader_seen);
  // A global token has no principal: a forged one does not pass either.
  Headers forged_global = Bearer(admin);
  forged_global.emplace_back("Tokend-Principal", "someone-else");
  auto admin_self = api.Request("GET", "/api/v2/token/self", Bearer(admin));
  ASSERT_TRUE(admin_self);
  const std::string admin_id(ParseJson(admin_self->body).at("id").as_string());
  EXPECT_EQ(through(forged_global).body,
            "upstream saw " + admin_id + " type=global principal= permissions=**/**");
  // The credential may travel in the URI, as access_token.
  EXPECT_EQ(through({}, "/api/orders?access_token=" + reader_secret).status, 200);
  // Only in the URI nginx was asked for: a client's own X-Forwarded-Uri
  // never reaches the check (the check would see two URIs and refuse them).
  EXPECT_EQ(through({{"X-Forwarded-Uri", "/api/orders?access_token=" + reader_secret}}).status,
            401);
  EXPECT_EQ(through({{"X-Forwarded-Uri", "/api/orders?access_token=" + reader_secret}},
                    "/api/orders?access_token=" + reader_secret)
                .status,
            200);

  auto deleted = api.Request("DELETE", "/api/v2/token/" + reader_id, Bearer(admin));
  ASSERT_TRUE(deleted);
  ASSERT_EQ(deleted->status, 200);
  EXPECT_EQ(through(Bearer(reader_secret)).status, 401) << "the revoked token still passes";
}

}  // namespace
}  // namespace tokend::e2e
