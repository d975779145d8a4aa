#!/usr/bin/env bash
# Soak: a minute (SOAK_SECONDS) of mixed create / introspect / query / delete
# load against tokend on a fresh SQLite store. Reports requests, errors
# (non-2xx answers and socket errors; the run expects none) and tokend's RSS
# at start and end. Exits non-zero when there were errors or tokend died.
#
#   bash bench/soak.sh          (make soak)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
: "${SOAK_SECONDS:=60}" "${SOAK_CONNECTIONS:=16}" "${SOAK_TOKENS:=10000}"
: "${BENCH_BUILD_DIR:=${ROOT}/build-bench}"

if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  cmake -S "${ROOT}" -B "${BENCH_BUILD_DIR}" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DTOKEND_BUILD_BENCH=ON -DTOKEND_BUILD_TESTS=OFF >/dev/null
  cmake --build "${BENCH_BUILD_DIR}" -j "$(nproc)" --target tokend tokend_seed >/dev/null
fi
WORK=$(mktemp -d "${BENCH_BUILD_DIR}/soak.XXXXXX")
TOKEND_PID=""
cleanup() {
  [[ -n "${TOKEND_PID}" ]] && kill "${TOKEND_PID}" 2>/dev/null && wait "${TOKEND_PID}" 2>/dev/null
  rm -rf "${WORK}"
}
trap cleanup EXIT

"${BENCH_BUILD_DIR}/bench/tokend_seed" --store "sqlite:${WORK}/tokend.db" --count "${SOAK_TOKENS}" \
  --secrets-out "${WORK}/secrets" >/dev/null
port=$(bash "${ROOT}/scripts/free-port.sh")
"${BENCH_BUILD_DIR}/tokend" serve --listen "127.0.0.1:${port}" --store "sqlite:${WORK}/tokend.db" \
  --log-level warn 2>"${WORK}/tokend.log" &
TOKEND_PID=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:${port}/health" >/dev/null && break
  sleep 0.1
done
rss() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/${TOKEND_PID}/status"; }
rss_start=$(rss)
# Warm-up, so that the start figure includes the caches a loaded server has.
wrk -t2 -c"${SOAK_CONNECTIONS}" -d3s -s "${ROOT}/bench/wrk/soak.lua" "http://127.0.0.1:${port}" \
  -- "${WORK}/secrets" >/dev/null
rss_warm=$(rss)
out=$(wrk -t2 -c"${SOAK_CONNECTIONS}" -d"${SOAK_SECONDS}s" -s "${ROOT}/bench/wrk/soak.lua" \
  "http://127.0.0.1:${port}" -- "${WORK}/secrets" | grep '^BENCH')
alive=yes
kill -0 "${TOKEND_PID}" 2>/dev/null || alive=no
rss_end=$( [[ ${alive} == yes ]] && rss || echo 0)
errors=$(awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "non2xx" || kv[1] == "socket_errors") e += kv[2] } } END { print e + 0 }' <<<"${out}")
echo "| soak (${SOAK_SECONDS} s, ${SOAK_CONNECTIONS} conns, create/introspect/query/delete) | value |"
echo "|---|---|"
echo "| ${out#BENCH } | |"
echo "| errors (non-2xx + socket) | ${errors} |"
echo "| RSS MB: start / after warm-up / end | ${rss_start} / ${rss_warm} / ${rss_end} |"
echo "| tokend alive at the end | ${alive} |"
[[ ${errors} -eq 0 && ${alive} == yes ]]
