// Runs the real tokend binary as a child process for end-to-end tests.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tokend::e2e {

// A fresh temporary folder, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// One `tokend` process; stderr (the log) goes to a file. The destructor kills
// a process still running (SIGKILL) and reaps it.
class TokendProcess {
 public:
  // Starts `tokend <args...>` and, when `wait_for_listen`, waits until the log
  // says it listens (then port() is the bound port). nullptr when it exited or
  // did not get there within `timeout`; `log` then receives what it printed.
  static std::unique_ptr<TokendProcess> Start(
      const std::vector<std::string>& args, std::string* log = nullptr,
      std::chrono::seconds timeout = std::chrono::seconds(20));
  ~TokendProcess();

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

  void Signal(int signal) const;
  // The exit status (WEXITSTATUS, or 128+signal) or nullopt on timeout.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout);
  // Everything written to stderr so far.
  std::string Log() const;

 private:
  TokendProcess() = default;
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::uint16_t port_ = 0;
  std::filesystem::path log_path_;
  std::unique_ptr<TempDir> log_dir_;
};

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `tokend <args...>` to completion, capturing stdout and stderr. With a
// timeout, a process still running then is killed (SIGKILL; exit_code 137),
// so that a command expected to stop at once cannot hang a test.
RunResult RunTokend(const std::vector<std::string>& args,
                    std::optional<std::chrono::milliseconds> timeout = std::nullopt);

// Path of the tokend binary under test.
std::string TokendBinary();

}  // namespace tokend::e2e
