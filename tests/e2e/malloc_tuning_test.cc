// `tokend` runs under the allocator settings it chose for itself (one arena
// grown in transparent huge pages, larger per-thread caches), unless the
// operator says otherwise; see app/malloc_tuning.h.
#include "app/malloc_tuning.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include "tokend_process.h"

namespace tokend::e2e {
namespace {

constexpr const char* kTokendTunables =
    "glibc.malloc.arena_max=1:glibc.malloc.hugetlb=1:glibc.malloc.tcache_count=1024";

// The environment block the running process `pid` was executed with, each
// NUL turned into ':'. ld.so may split GLIBC_TUNABLES at its colons in place
// (glibc 2.36 does), so a value is read as a prefix of what follows its name.
std::string EnvironmentOf(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  for (char& c : all) {
    if (c == '\0') c = ':';
  }
  return ":" + all;
}

// Whether `pid` was executed with `name` set to a value that starts with `value`.
bool StartsWithValue(pid_t pid, const std::string& name, const std::string& value) {
  return EnvironmentOf(pid).find(":" + name + "=" + value) != std::string::npos;
}

// Sets (or, with nullopt, removes) an environment variable for this test,
// restoring it afterwards.
class ScopedVariable {
 public:
  ScopedVariable(std::string name, const std::optional<std::string>& value)
      : name_(std::move(name)) {
    if (const char* old = ::getenv(name_.c_str())) old_ = old;
    if (value) {
      ::setenv(name_.c_str(), value->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ~ScopedVariable() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

std::unique_ptr<TokendProcess> StartServer(const TempDir& dir) {
  return TokendProcess::Start({"serve", "--listen", "127.0.0.1:0", "--store",
                               "sqlite:" + dir.File("tokend.db"), "--auth", "off"});
}

TEST(MallocTuningTest, TheServerRunsUnderTokendsAllocatorSettings) {
  if (app::kUnderSanitizer) GTEST_SKIP() << "a sanitizer brings its own allocator";
  ScopedVariable marker("TOKEND_MALLOC_TUNED", std::nullopt);
  ScopedVariable tunables("GLIBC_TUNABLES", std::nullopt);
  TempDir dir;
  auto tokend = StartServer(dir);
  ASSERT_NE(tokend, nullptr);
  EXPECT_TRUE(StartsWithValue(tokend->pid(), "GLIBC_TUNABLES", kTokendTunables))
      << EnvironmentOf(tokend->pid());
  EXPECT_TRUE(StartsWithValue(tokend->pid(), "TOKEND_MALLOC_TUNED", "1:"));
}

// What ps, top, pgrep -x and the journal show: the file's name, as for any
// program, not that of the file the re-execution went through.
std::string NameOf(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(file, name);
  return name;
}

TEST(MallocTuningTest, TheServerKeepsItsNameAfterTheReexecution) {
  ScopedVariable marker("TOKEND_MALLOC_TUNED", std::nullopt);
  TempDir dir;
  auto tokend = StartServer(dir);
  ASSERT_NE(tokend, nullptr);
  EXPECT_EQ(NameOf(tokend->pid()), "tokend");
  // Threads are named after the process when they start.
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(tokend->pid()) + "/task")) {
    std::ifstream file(task.path() / "comm");
    std::string name;
    std::getline(file, name);
    EXPECT_NE(name, "exe") << task.path();
  }
}

TEST(MallocTuningTest, AnOperatorsOwnSettingsComeLastAndWin) {
  if (app::kUnderSanitizer) GTEST_SKIP() << "a sanitizer brings its own allocator";
  ScopedVariable marker("TOKEND_MALLOC_TUNED", std::nullopt);
  ScopedVariable tunables("GLIBC_TUNABLES", "glibc.malloc.arena_max=4");
  TempDir dir;
  auto tokend = StartServer(dir);
  ASSERT_NE(tokend, nullptr);
  EXPECT_TRUE(StartsWithValue(tokend->pid(), "GLIBC_TUNABLES",
                              std::string(kTokendTunables) + ":glibc.malloc.arena_max=4"))
      << EnvironmentOf(tokend->pid());
}

TEST(MallocTuningTest, TheMarkerKeepsTheAllocatorAsGiven) {
  ScopedVariable marker("TOKEND_MALLOC_TUNED", "1");
  ScopedVariable tunables("GLIBC_TUNABLES", std::nullopt);
  TempDir dir;
  auto tokend = StartServer(dir);
  ASSERT_NE(tokend, nullptr);
  EXPECT_EQ(EnvironmentOf(tokend->pid()).find("glibc.malloc"), std::string::npos);
}

}  // namespace
}  // namespace tokend::e2e
