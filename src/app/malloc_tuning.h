// glibc's allocator, set up for tokend's memory use. The defaults give each
// busy thread an arena of its own that grows a page at a time, and back every
// page with a page fault of its own: a server that caches tokens it has not
// seen since start (the cold path) paid about a quarter of its CPU time for
// that growth. tokend runs with one arena grown in transparent huge pages and
// larger per-thread caches instead (docs/PERFORMANCE.md has the figures).
//
// glibc reads these settings (GLIBC_TUNABLES) only when a program starts, so
// tokend applies them by executing itself again, once, at the start of main.
#pragma once

#include <string>
#include <string_view>

namespace tokend::app {

// Whether this build runs under a sanitizer, which brings its own allocator
// (ReexecWithTunedMalloc then leaves it alone). GCC announces a sanitizer
// with a macro, clang through __has_feature.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kUnderSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
inline constexpr bool kUnderSanitizer = true;
#else
inline constexpr bool kUnderSanitizer = false;
#endif
#else
inline constexpr bool kUnderSanitizer = false;
#endif

// Set in the environment of the re-executed tokend; when present (any
// value), tokend runs with the allocator settings it was given.
inline constexpr const char* kMallocTunedVariable = "TOKEND_MALLOC_TUNED";

// tokend's settings, then `existing` (the environment's GLIBC_TUNABLES):
// glibc applies them in order, so an operator's own settings win.
std::string TunedGlibcTunables(std::string_view existing);

// Executes this binary again, with the same arguments, under
// TunedGlibcTunables and kMallocTunedVariable set; returns without doing
// anything under a sanitizer (which brings its own allocator), and returns
// when the execution fails, leaving tokend on glibc's defaults. When
// kMallocTunedVariable is set it returns at once, after giving the process
// back the name of argv[0] (the re-execution would leave it named "exe").
// Call it first in main, before any thread starts: threads take the
// process's name when they are created.
void ReexecWithTunedMalloc(char** argv);

}  // namespace tokend::app
