// `tokend serve` as a process: the seed routes with --auth off, start-up
// errors, and SIGTERM.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "app/malloc_tuning.h"
#include "e2e_helpers.h"
#include "tokend_process.h"

namespace tokend::e2e {
namespace {

using namespace std::chrono_literals;

TEST(ServeTest, AuthOffServesTheSeedRoutesAndStopsOnSigterm) {
  TempDir dir;
  auto tokend = TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store",
                                      "sqlite:" + dir.File("tokend.db"), "--auth", "off"});
  ASSERT_NE(tokend, nullptr);
  EXPECT_NE(tokend->Log().find("AUTHENTICATION IS OFF"), std::string::npos);

  TestClient client(tokend->port());
  auto created = CreateToken(client, "",
                             R"({"type":"global","name":"console","principal":"**",)"
                             R"("expirationDate":null,"permissions":["**/read"]})");
  ASSERT_TRUE(created.has_value());
  const std::string id(created->at("id").as_string());

  auto page = client.Request("GET", "/api/v2/token/query");
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->status, 200);
  boost::json::value json = ParseJson(page->body);
  EXPECT_EQ(json.at("totalElements").as_int64(), 1);
  EXPECT_EQ(json.at("pageable").as_string(), "INSTANCE");
  EXPECT_EQ(json.at("content").at(0).at("id").as_string(), id);
  EXPECT_EQ(json.at("content").at(0).at("permissions").at(0).at("principal").as_string(), "**");

  auto deleted = client.Request("DELETE", "/api/v2/token/" + id);
  ASSERT_TRUE(deleted.has_value());
  EXPECT_EQ(deleted->status, 200);
  EXPECT_EQ(deleted->body, "");

  tokend->Signal(SIGTERM);
  EXPECT_EQ(tokend->WaitExit(15s), 0);
}

// A log read through a pipe whose reader has gone (a log shipper that
// restarts, `| head`) costs the lines written there, never the service.
TEST(ServeTest, KeepsServingWhenTheReaderOfItsLogIsGone) {
  TempDir dir;
  int log_pipe[2];
  ASSERT_EQ(pipe(log_pipe), 0);
  const std::string binary = TokendBinary();
  const std::string store = "sqlite:" + dir.File("tokend.db");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(log_pipe[1], STDERR_FILENO);
    close(log_pipe[0]);
    close(log_pipe[1]);
    execl(binary.c_str(), binary.c_str(), "serve", "--listen", "127.0.0.1:0", "--store",
          store.c_str(), "--access-log", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(log_pipe[1]);
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      if (pid <= 0) return;
      kill(pid, SIGKILL);
      int ignored = 0;
      waitpid(pid, &ignored, 0);
    }
  } reaper{pid};

  static const std::regex kListening(R"(tokend listening on \S+:(\d+))");
  std::string log;
  std::smatch match;
  char chunk[4096];
  while (!std::regex_search(log, match, kListening)) {
    const ssize_t n = read(log_pipe[0], chunk, sizeof chunk);
    if (n <= 0) break;
    log.append(chunk, static_cast<std::size_t>(n));
  }
  close(log_pipe[0]);
  ASSERT_FALSE(match.empty()) << log;

  TestClient client(static_cast<std::uint16_t>(std::stoi(match[1].str())));
  for (int i = 0; i < 3; ++i) {  // each answer writes an access line
    auto health = client.Request("GET", "/health");
    ASSERT_TRUE(health.has_value()) << "request " << i;
    EXPECT_EQ(health->status, 200);
  }
  kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  reaper.pid = -1;
  EXPECT_FALSE(WIFSIGNALED(status)) << "ended by signal " << WTERMSIG(status);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(ServeTest, DataSurvivesARestart) {
  TempDir dir;
  const std::vector<std::string> args = {
      "serve",  "--listen", "127.0.0.1:0", "--store", "sqlite:" + dir.File("tokend.db"),
      "--auth", "off"};
  std::string id;
  {
    auto tokend = TokendProcess::Start(args);
    ASSERT_NE(tokend, nullptr);
    TestClient client(tokend->port());
    auto created = CreateToken(client, "",
                               R"({"type":"team","name":"t","principal":"team-a",)"
                               R"("permissions":["workflow/read"]})");
    ASSERT_TRUE(created.has_value());
    id = std::string(created->at("id").as_string());
    tokend->Signal(SIGTERM);
    ASSERT_EQ(tokend->WaitExit(15s), 0);
  }
  auto tokend = TokendProcess::Start(args);
  ASSERT_NE(tokend, nullptr);
  TestClient client(tokend->port());
  auto got = client.Request("GET", "/api/v2/token/" + id);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(ParseJson(got->body).at("principal").as_string(), "team-a");
}

TEST(ServeTest, BadListenAddressIsAUsageError) {
  TempDir dir;
  RunResult run = RunTokend({"serve", "--listen", "nonsense", "--store",
                             "sqlite:" + dir.File("tokend.db"), "--auth", "off"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--listen"), std::string::npos);
}

TEST(ServeTest, BadCacheCapacityIsAUsageError) {
  TempDir dir;
  RunResult run = RunTokend({"serve", "--listen", "127.0.0.1:0", "--store",
                             "sqlite:" + dir.File("tokend.db"), "--cache-capacity", "-1"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--cache-capacity"), std::string::npos) << run.err;
}

TEST(ServeTest, ServesWithoutACache) {
  TempDir dir;
  auto tokend = TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store",
                                      "sqlite:" + dir.File("tokend.db"), "--auth", "off",
                                      "--cache-capacity", "0"});
  ASSERT_NE(tokend, nullptr);
  TestClient client(tokend->port());
  auto created = CreateToken(client, "",
                             R"({"type":"team","name":"t","principal":"team-a",)"
                             R"("permissions":["workflow/read"]})");
  ASSERT_TRUE(created.has_value());
  const std::string secret(created->at("token").as_string());
  for (int i = 0; i < 2; ++i) {
    auto self =
        client.Request("GET", "/api/v2/token/self", {{"Authorization", "Bearer " + secret}});
    ASSERT_TRUE(self.has_value());
    EXPECT_EQ(self->status, 200) << self->body;
  }
}

TEST(ServeTest, UnknownStoreSchemeFailsClearly) {
  RunResult run = RunTokend({"serve", "--listen", "127.0.0.1:0", "--store",
                             "mysql://user:hunter2@localhost/db", "--auth", "off"});
  // A usage error: found before anything is opened.
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("unsupported store URL scheme 'mysql'"), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find("hunter2"), std::string::npos) << "the password must not be logged";
}

// Found before anything is made: no store, no admin token, no secret file.
TEST(ServeTest, PortInUseFailsClearlyLeavingNothingBehind) {
  TempDir dir;
  auto first = TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store",
                                     "sqlite:" + dir.File("a.db"), "--auth", "off"});
  ASSERT_NE(first, nullptr);
  const std::filesystem::path second_dir = dir.path() / "second";
  for (const std::string& listen : {"127.0.0.1:" + std::to_string(first->port()),
                                    std::string("192.0.2.1:7700")}) {  // TEST-NET-1: not ours
    RunResult run = RunTokend(
        {"serve", "--listen", listen, "--store", "sqlite:" + (second_dir / "b.db").string()});
    EXPECT_EQ(run.exit_code, 1) << listen;
    EXPECT_NE(run.err.find("Cannot listen on " + listen), std::string::npos) << run.err;
    EXPECT_FALSE(std::filesystem::exists(second_dir)) << listen << ": nothing made";
  }
}

// A socket connected to 127.0.0.1:`port` with `request` sent; -1 when it
// cannot connect. A send that fails (the server closed the connection at
// once) leaves the socket for AnswerOn to find closed.
int SendOn(std::uint16_t port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  (void)!::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  return fd;
}

// What the server sent on `fd` within `timeout` ("" for a close without an
// answer), or nullopt when it neither answered nor closed.
std::optional<std::string> AnswerOn(int fd, std::chrono::milliseconds timeout) {
  pollfd waiting{fd, POLLIN, 0};
  if (::poll(&waiting, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
  char buffer[512];
  const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);  // -1: reset, closed at once
  return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
}

// Out of file descriptors, a new connection is closed at once (answered 503
// on plain HTTP), never left waiting unanswered; the connections already open
// are served, and so is everyone once descriptors are free again.
TEST(ServeTest, OutOfDescriptorsNewConnectionsAreClosedAtOnce) {
  // UBSan's vptr check first makes sure the vtable is mapped, by writing it
  // into a pipe it opens for the purpose; with no descriptor left the pipe fails, the
  // check reports an "invalid vptr" on a valid object and the build's
  // halt_on_error stops tokend. The sanitizer's limit, not tokend's.
  if (app::kUnderSanitizer) GTEST_SKIP() << "UBSan's vptr check needs a free descriptor";
  TempDir dir;
  auto tokend = TokendProcess::Start(
      {"serve", "--listen", "127.0.0.1:0", "--store", "sqlite:" + dir.File("tokend.db")});
  ASSERT_NE(tokend, nullptr);
  const std::string health = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  // Room for about a dozen connections past what the server holds now and
  // the 64 it keeps for its own use.
  const auto open_now = std::distance(
      std::filesystem::directory_iterator("/proc/" + std::to_string(tokend->pid()) + "/fd"),
      std::filesystem::directory_iterator());
  const rlimit tight{static_cast<rlim_t>(open_now + 76), static_cast<rlim_t>(open_now + 76)};
  ASSERT_EQ(::prlimit(tokend->pid(), RLIMIT_NOFILE, &tight, nullptr), 0);

  std::vector<int> sockets;
  int served = 0;
  int refused = 0;
  for (int i = 0; i < 120; ++i) {
    const int fd = SendOn(tokend->port(), health);
    ASSERT_GE(fd, 0);
    sockets.push_back(fd);
    const std::optional<std::string> answer = AnswerOn(fd, 5s);
    ASSERT_TRUE(answer.has_value()) << "connection " << i << " left unanswered";
    if (answer->starts_with("HTTP/1.1 200")) {
      ++served;
    } else {
      EXPECT_TRUE(answer->empty() || answer->starts_with("HTTP/1.1 503")) << *answer;
      if (!answer->empty()) {
        EXPECT_NE(answer->find("\"code\":9016"), std::string::npos) << *answer;
        // Made for this connection, as every answer is.
        EXPECT_NE(answer->find("\r\nX-Request-Id: "), std::string::npos) << *answer;
        EXPECT_NE(answer->find("\r\nDate: "), std::string::npos) << *answer;
      }
      ++refused;
    }
  }
  EXPECT_GT(served, 0);
  EXPECT_GT(refused, 0);
  for (const int fd : sockets) ::close(fd);
  // Descriptors free again: served as before.
  std::this_thread::sleep_for(500ms);
  const int fd = SendOn(tokend->port(), health);
  ASSERT_GE(fd, 0);
  const std::optional<std::string> answer = AnswerOn(fd, 5s);
  ::close(fd);
  ASSERT_TRUE(answer.has_value());
  EXPECT_TRUE(answer->starts_with("HTTP/1.1 200")) << *answer;
  const std::string log = tokend->Log();
  EXPECT_NE(log.find("out of file descriptors"), std::string::npos) << log;
  EXPECT_EQ(log.find("out of file descriptors"), log.rfind("out of file descriptors"))
      << "warned once a minute at most: " << log;
}

}  // namespace
}  // namespace tokend::e2e
