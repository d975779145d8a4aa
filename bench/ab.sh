#!/usr/bin/env bash
# Compares two tokend binaries under the same load, in alternating rounds,
# so that a change can be judged against the machine's noise: each round runs
# wrk against A, then against B (each on its own copy of one seeded SQLite
# store), and the medians of requests/s and CPU µs per request are printed.
#
#   bash bench/ab.sh TOKEND_A TOKEND_B [SEED_BINARY]
#
# Environment: AB_ROUNDS (8), AB_SECONDS (3), AB_TOKENS (100000),
# AB_CONNECTIONS (64), AB_SCENARIO (introspect | create).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ $# -ge 2 ]] || { echo "usage: $0 TOKEND_A TOKEND_B [SEED_BINARY]" >&2; exit 2; }
A=$(realpath "$1")
B=$(realpath "$2")
SEED=${3:-${ROOT}/build-bench/bench/tokend_seed}
: "${AB_ROUNDS:=8}" "${AB_SECONDS:=3}" "${AB_TOKENS:=100000}" "${AB_CONNECTIONS:=64}"
: "${AB_SCENARIO:=introspect}"

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "${pid}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "${WORK}"
}
trap cleanup EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"${SEED}" --store "sqlite:${WORK}/seed.db" --count "${AB_TOKENS}" \
  --secrets-out "${WORK}/secrets.txt" >/dev/null 2>&1

# start NAME BINARY: serves a copy of the seeded store; sets PORT_NAME, PID_NAME.
start() {
  local name=$1 bin=$2 port
  mkdir -p "${WORK}/${name}"
  cp "${WORK}/seed.db" "${WORK}/${name}/tokend.db"
  port=$(free_port)
  "${bin}" serve --listen "127.0.0.1:${port}" --store "sqlite:${WORK}/${name}/tokend.db" \
    --log-level warn >"${WORK}/${name}/log" 2>&1 &
  PIDS+=($!)
  printf -v "PID_${name}" '%s' "$!"
  printf -v "PORT_${name}" '%s' "${port}"
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:${port}/health" >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "tokend ${name} did not start" >&2
  exit 1
}
start a "${A}"
start b "${B}"

script=${ROOT}/bench/wrk/${AB_SCENARIO}.lua
round() {
  local name=$1 port pid before requests
  port=PORT_${name}
  pid=PID_${name}
  before=$(cpu_ticks "${!pid}")
  wrk -t2 -c"${AB_CONNECTIONS}" -d"${AB_SECONDS}s" -s "${script}" \
    "http://127.0.0.1:${!port}" -- "${WORK}/secrets.txt" >"${WORK}/out" 2>&1
  requests=$(sed -n 's/^BENCH requests=\([0-9]*\).*/\1/p' "${WORK}/out")
  awk -v n="${requests}" -v s="${AB_SECONDS}" -v t="$(( $(cpu_ticks "${!pid}") - before ))" \
    -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f %.2f\n", n / s, t * 1e6 / hz / n }' \
    >>"${WORK}/${name}.rounds"
}
for _ in $(seq "${AB_ROUNDS}"); do
  round a
  round b
done

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "scenario ${AB_SCENARIO}, ${AB_ROUNDS} alternating rounds of ${AB_SECONDS} s, ${AB_TOKENS} tokens"
for name in a b; do
  rps=$(cut -d' ' -f1 "${WORK}/${name}.rounds" | median)
  cpu=$(cut -d' ' -f2 "${WORK}/${name}.rounds" | median)
  echo "${name}: median ${rps} req/s, ${cpu} CPU us/request (rounds: $(cut -d' ' -f1 "${WORK}/${name}.rounds" | paste -sd' '))"
done
