#!/usr/bin/env bash
# Builds tokend with its tests and runs them through CTest against SQLite and a
# throwaway PostgreSQL cluster. Arguments: build directories; a directory whose
# name contains "asan" is built with AddressSanitizer and UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -gt 0 ]] || set -- build
jobs=$(nproc)

# The checked-in .clang-format is the one style: a file it would change fails
# the run before anything is built.
echo "== checking format" >&2
if ! clang-format --dry-run --Werror $(git ls-files '*.cc' '*.h') >/dev/null 2>&1; then
  clang-format --dry-run --Werror $(git ls-files '*.cc' '*.h') 2>&1 | head -20 >&2
  echo "run 'make format' to fix the files above" >&2
  exit 1
fi

# The sanitizer tree is built with clang, which compiles it at -O0 in about
# half of GCC's time, and holds the libFuzzer targets too: one instrumented
# build of the libraries serves both the tests and the fuzzers.
sanitized_dir=
for dir in "$@"; do
  compiler=()
  flags=(-DCMAKE_BUILD_TYPE=Release)
  if [[ "$dir" == *asan* ]]; then
    compiler=(CC=clang CXX=clang++)
    flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOKEND_SANITIZE=ON -DTOKEND_BUILD_FUZZ=ON)
    sanitized_dir=$dir
  fi
  echo "== building $dir" >&2
  env "${compiler[@]}" cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null
  cmake --build "$dir" -j "$jobs"
done

# Every libFuzzer target for a short while (FUZZ_SECONDS, 0 to skip): a crash,
# leak or sanitizer report fails the run. Before the tests, so that CTest's
# summary closes the output.
if [[ "${FUZZ_SECONDS:-0}" -gt 0 ]]; then
  echo "== fuzzing, ${FUZZ_SECONDS} s per target" >&2
  FUZZ_BUILD_DIR=${sanitized_dir:-build-fuzz} bash scripts/fuzz.sh "$FUZZ_SECONDS"
fi

# Runs in the shell that with-postgres.sh starts, where this script's
# variables are unset: it counts the cores itself.
run_ctest() {
  local status=0
  for dir in "$@"; do
    echo "== testing $dir" >&2
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ctest --test-dir "$dir" --output-on-failure -j "$(nproc)" --timeout 300 || status=1
  done
  return $status
}
export -f run_ctest
bash scripts/with-postgres.sh bash -c 'run_ctest "$@"' run_ctest "$@"
