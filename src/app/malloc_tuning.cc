#include "app/malloc_tuning.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace tokend::app {
namespace {

// arena_max=1: every thread allocates from the main arena, which grows with
// brk in large steps (other arenas grow with one mprotect per page).
// hugetlb=1: that arena is grown in 2 MiB steps, madvised for transparent
// huge pages, so a growing heap takes a page fault per 2 MiB, not per 4 KiB.
// tcache_count=1024: each thread keeps up to 1024 freed blocks of a size
// class for itself (7 by default), so that one arena is rarely locked.
constexpr std::string_view kTunables =
    "glibc.malloc.arena_max=1:glibc.malloc.hugetlb=1:glibc.malloc.tcache_count=1024";

// The kernel names a process after the file it executes, and that file is
// /proc/self/exe here: without this, ps, top, pgrep and the journal would
// show the server as "exe". It takes the name it was started under instead,
// as the kernel would have given it (at most 15 bytes).
void KeepTheNameStartedUnder(const char* argv0) {
  if (argv0 == nullptr) return;
  std::string_view name(argv0);
  if (const std::size_t slash = name.rfind('/'); slash != std::string_view::npos) {
    name.remove_prefix(slash + 1);
  }
  if (name.empty()) return;
  const std::string comm(name.substr(0, 15));
  (void)::prctl(PR_SET_NAME, comm.c_str(), 0, 0, 0);
}

}  // namespace

std::string TunedGlibcTunables(std::string_view existing) {
  std::string tunables(kTunables);
  if (!existing.empty()) {
    tunables += ':';
    tunables += existing;
  }
  return tunables;
}

void ReexecWithTunedMalloc(char** argv) {
  if (kUnderSanitizer) return;
  if (std::getenv(kMallocTunedVariable) != nullptr) {
    KeepTheNameStartedUnder(argv[0]);
    return;
  }
  const char* found = std::getenv("GLIBC_TUNABLES");
  const std::optional<std::string> existing =
      found != nullptr ? std::optional<std::string>(found) : std::nullopt;
  const std::string tunables = TunedGlibcTunables(existing.value_or(""));
  if (::setenv("GLIBC_TUNABLES", tunables.c_str(), 1) != 0 ||
      ::setenv(kMallocTunedVariable, "1", 1) != 0) {
    return;
  }
  ::execv("/proc/self/exe", argv);
  // Not executed (no /proc, say): on glibc's defaults, with the environment
  // as it was.
  if (existing.has_value()) {
    (void)::setenv("GLIBC_TUNABLES", existing->c_str(), 1);
  } else {
    (void)::unsetenv("GLIBC_TUNABLES");
  }
  (void)::unsetenv(kMallocTunedVariable);
}

}  // namespace tokend::app
