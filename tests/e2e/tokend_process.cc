#include "tokend_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

extern char** environ;

namespace tokend::e2e {
namespace {

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

pid_t Spawn(const std::vector<std::string>& args, const std::string& out_path,
            const std::string& err_path) {
  std::vector<std::string> argv_storage = {TokendBinary()};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = -1;
  const int error = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return error == 0 ? pid : -1;
}

std::optional<int> DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return std::nullopt;
}

}  // namespace

std::string TokendBinary() { return TOKEND_BINARY; }

TempDir::TempDir() {
  std::random_device random;
  const auto base = std::filesystem::temp_directory_path();
  for (;;) {
    path_ = base / ("tokend-e2e-" + std::to_string(random()));
    if (std::filesystem::create_directory(path_)) break;
  }
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::unique_ptr<TokendProcess> TokendProcess::Start(const std::vector<std::string>& args,
                                                    std::string* log,
                                                    std::chrono::seconds timeout) {
  std::unique_ptr<TokendProcess> process(new TokendProcess());
  process->log_dir_ = std::make_unique<TempDir>();
  process->log_path_ = process->log_dir_->path() / "tokend.log";
  process->pid_ =
      Spawn(args, (process->log_dir_->path() / "stdout").string(), process->log_path_.string());
  if (process->pid_ < 0) return nullptr;

  static const std::regex kListening(R"(tokend listening on \S+:(\d+))");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string text = process->Log();
    std::smatch match;
    if (std::regex_search(text, match, kListening)) {
      process->port_ = static_cast<std::uint16_t>(std::stoi(match[1].str()));
      return process;
    }
    int status = 0;
    if (waitpid(process->pid_, &status, WNOHANG) == process->pid_) {
      process->reaped_ = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (log != nullptr) *log = process->Log();
  return nullptr;
}

TokendProcess::~TokendProcess() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

void TokendProcess::Signal(int signal) const {
  if (pid_ > 0 && !reaped_) kill(pid_, signal);
}

std::optional<int> TokendProcess::WaitExit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      return DecodeStatus(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::nullopt;
}

std::string TokendProcess::Log() const { return ReadFile(log_path_); }

RunResult RunTokend(const std::vector<std::string>& args,
                    std::optional<std::chrono::milliseconds> timeout) {
  TempDir dir;
  const std::string out = dir.File("stdout");
  const std::string err = dir.File("stderr");
  RunResult result;
  const pid_t pid = Spawn(args, out, err);
  if (pid < 0) return result;
  int status = 0;
  if (timeout) {
    const auto deadline = std::chrono::steady_clock::now() + *timeout;
    while (waitpid(pid, &status, WNOHANG) != pid) {
      if (std::chrono::steady_clock::now() >= deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  } else {
    waitpid(pid, &status, 0);
  }
  result.exit_code = DecodeStatus(status).value_or(-1);
  result.out = ReadFile(out);
  result.err = ReadFile(err);
  return result;
}

}  // namespace tokend::e2e
