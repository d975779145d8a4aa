#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang, ASan and UBSan (build
# directory build-fuzz, or $FUZZ_BUILD_DIR) and runs each for SECONDS
# (default 60) from its seed corpus, as many at a time as there are cores.
# Prints the executions per target and in total. Exits non-zero when any
# target reports a crash, leak, timeout or sanitizer error; the input that
# caused it is saved under <build>/fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     (make fuzz FUZZ_SECONDS=N)
#
# Seeds come from fuzz/corpus/<name>/ and are copied into a working corpus,
# <build>/fuzz/corpus/<target>/, which keeps what the fuzzer learns between
# runs. Inputs under fuzz/regressions/<name>/ are replayed first, every run.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
[[ $# -gt 0 ]] && shift
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "usage: $0 [SECONDS] [TARGET...]" >&2
  exit 2
fi
build=${FUZZ_BUILD_DIR:-build-fuzz}
jobs=${FUZZ_JOBS:-$(nproc)}
all_targets=(fuzz_json_decoders fuzz_query_string fuzz_secret fuzz_date
             fuzz_request_handler fuzz_request_handler_auth fuzz_boomerang_import)
targets=("$@")
((${#targets[@]})) || targets=("${all_targets[@]}")

echo "== building $build" >&2
# A tree already configured for fuzzing (make test's sanitizer tree, which
# also holds the tests) is built as it is configured.
if ! grep -qs '^TOKEND_BUILD_FUZZ:BOOL=ON$' "$build/CMakeCache.txt"; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTOKEND_BUILD_FUZZ=ON -DTOKEND_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$build" --target fuzzers -j "$(nproc)"

# fuzz_request_handler_auth shares the seeds and dictionary of
# fuzz_request_handler.
seed_name() { local name=${1#fuzz_}; echo "${name%_auth}"; }
dict_of() {
  case "$(seed_name "$1")" in
    json_decoders) echo fuzz/dict/json.dict ;;
    query_string) echo fuzz/dict/query.dict ;;
    date) echo fuzz/dict/date.dict ;;
    request_handler) echo fuzz/dict/http.dict ;;
  esac
}

out="$build/fuzz"
mkdir -p "$out/logs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_target() {
  local target=$1 name
  name=$(seed_name "$target")
  local work="$out/corpus/$target" artifacts="$out/artifacts/$target" log="$out/logs/$target.log"
  mkdir -p "$work" "$artifacts"
  cp -f "fuzz/corpus/$name"/* "$work"/
  local args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
              -artifact_prefix="$artifacts/")
  local dict
  dict=$(dict_of "$target")
  [[ -n "$dict" ]] && args+=(-dict="$dict")
  local dirs=("$work")
  if [[ -d "fuzz/regressions/$name" ]] && [[ -n "$(ls -A "fuzz/regressions/$name")" ]]; then
    dirs+=("fuzz/regressions/$name")
  fi
  local rc=0
  "$out/$target" "${args[@]}" "${dirs[@]}" >"$log" 2>&1 || rc=$?
  echo "$rc" >"$log.rc"
}

pids=()
for target in "${targets[@]}"; do
  [[ -x "$out/$target" ]] || { echo "unknown fuzz target: $target" >&2; exit 2; }
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  echo "== fuzzing $target for ${seconds}s" >&2
  run_target "$target" &
  pids+=($!)
done
wait "${pids[@]}" || true

status=0
total=0
printf '%-28s %14s  %s\n' target executions result
for target in "${targets[@]}"; do
  log="$out/logs/$target.log"
  rc=$(cat "$log.rc" 2>/dev/null || echo 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  execs=${execs:-0}
  total=$((total + execs))
  result=ok
  if [[ "$rc" != 0 ]] || grep -qE '^(SUMMARY: |==[0-9]+==ERROR)|runtime error:' "$log"; then
    result="FAILED (exit $rc), log: $log"
    status=1
  fi
  printf '%-28s %14s  %s\n' "$target" "$execs" "$result"
done
printf '%-28s %14s\n' total "$total"

if ((status != 0)); then
  for target in "${targets[@]}"; do
    log="$out/logs/$target.log"
    if [[ "$(cat "$log.rc" 2>/dev/null)" != 0 ]] || grep -qE '^SUMMARY: |runtime error:' "$log"; then
      echo "== $target ($log), last lines:" >&2
      tail -n 60 "$log" >&2
    fi
  done
fi
exit $status
