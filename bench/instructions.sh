#!/usr/bin/env bash
# User-space instructions per hot introspection, counted by Valgrind's
# callgrind: a figure that the machine's noise does not move, for judging a
# change of the hot path too small for alternating wrk rounds (bench/ab.sh)
# to resolve. It is not a speed: the kernel's share (the socket calls, about
# half of a hot request's CPU time) and cache misses are not in it, and
# OpenSSL's SHA-256 runs without the CPU's SHA extensions under Valgrind.
#
#   bash bench/instructions.sh TOKEND [TOKEND_B ...] [-- SEED_BINARY]
#
# Each binary serves its own copy of one seeded SQLite store under
# callgrind, is left to finish its start-up work, is warmed up with INSTR_WARMUP seconds of
# bench/wrk/introspect.lua (one wrk thread, INSTR_CONNECTIONS connections),
# then its counters are zeroed, INSTR_SECONDS more of the same load run, and
# the counters are dumped. Printed: instructions over the requests wrk
# counted in that window (the few in flight at its edges are within 0.2%).
#
# Environment: INSTR_TOKENS (10000), INSTR_WARMUP (4), INSTR_SECONDS (6),
# INSTR_CONNECTIONS (4), INSTR_KEEP=1 (keep the work directory and its
# callgrind files, for callgrind_annotate).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BINARIES=()
SEED=${ROOT}/build-bench/bench/tokend_seed
while [[ $# -gt 0 ]]; do
  if [[ $1 == -- ]]; then
    SEED=$2
    shift 2
    continue
  fi
  BINARIES+=("$(realpath "$1")")
  shift
done
[[ ${#BINARIES[@]} -ge 1 ]] || {
  echo "usage: $0 TOKEND [TOKEND_B ...] [-- SEED_BINARY]" >&2
  exit 2
}
: "${INSTR_TOKENS:=10000}" "${INSTR_WARMUP:=4}" "${INSTR_SECONDS:=6}" "${INSTR_CONNECTIONS:=4}"
for tool in valgrind callgrind_control wrk curl; do
  command -v "${tool}" >/dev/null || {
    echo "${tool} not found (make deps installs it)" >&2
    exit 1
  }
done

WORK=$(mktemp -d)
PID=""
cleanup() {
  [[ -n ${PID} ]] && kill "${PID}" 2>/dev/null && wait "${PID}" 2>/dev/null
  if [[ ${INSTR_KEEP:-0} == 1 ]]; then echo "kept ${WORK}" >&2; else rm -rf "${WORK}"; fi
}
trap cleanup EXIT

free_port() { bash "${ROOT}/scripts/free-port.sh"; }

"${SEED}" --store "sqlite:${WORK}/seed.db" --count "${INSTR_TOKENS}" \
  --secrets-out "${WORK}/secrets.txt" >/dev/null 2>&1

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# settle PID: waits (at most 120 s: Valgrind runs tokend tens of times
# slower) until the server's CPU time stops growing, so that its start-up
# work (the background fill of the secret fingerprints) is not counted.
settle() {
  local before after
  for _ in $(seq 240); do
    before=$(cpu_ticks "$1")
    sleep 0.5
    after=$(cpu_ticks "$1")
    ((after - before <= 1)) && return
  done
}

load() {  # load URL SECONDS: wrk's BENCH line
  wrk -t1 -c"${INSTR_CONNECTIONS}" -d"$2s" -s "${ROOT}/bench/wrk/introspect.lua" "$1" \
    -- "${WORK}/secrets.txt" | grep '^BENCH '
}

index=0
for bin in "${BINARIES[@]}"; do
  index=$((index + 1))
  dir=${WORK}/${index}
  mkdir -p "${dir}"
  cp "${WORK}/seed.db" "${dir}/tokend.db"
  port=$(free_port)
  # tokend re-executes itself once to tune glibc's malloc (which Valgrind
  # cannot follow); the same tuning is given here, so that it does not.
  TOKEND_MALLOC_TUNED=1 \
    GLIBC_TUNABLES=glibc.malloc.arena_max=1:glibc.malloc.tcache_count=1024 \
    valgrind --tool=callgrind --callgrind-out-file="${dir}/callgrind.out.%p" \
    "${bin}" serve --listen "127.0.0.1:${port}" --store "sqlite:${dir}/tokend.db" \
    --data-dir "${dir}" --log-level warn >"${dir}/log" 2>&1 &
  PID=$!
  for _ in $(seq 600); do
    curl -fs "http://127.0.0.1:${port}/health" >/dev/null 2>&1 && break
    sleep 0.1
  done
  url=http://127.0.0.1:${port}
  settle "${PID}"
  load "${url}" "${INSTR_WARMUP}" >/dev/null
  callgrind_control --zero "${PID}" >/dev/null 2>&1
  line=$(load "${url}" "${INSTR_SECONDS}")
  callgrind_control --dump "${PID}" >/dev/null 2>&1
  requests=$(sed 's/.* requests=\([0-9]*\).*/\1/' <<<"${line}")
  dump=$(ls -t "${dir}"/callgrind.out.*.1 | head -1)
  instructions=$(awk '/^(summary|totals):/ {print $2; exit}' "${dump}")
  kill "${PID}" 2>/dev/null || true
  wait "${PID}" 2>/dev/null || true
  PID=""
  echo "${bin}: $((instructions / requests)) instructions per request" \
    "(${instructions} over ${requests} requests)"
done
