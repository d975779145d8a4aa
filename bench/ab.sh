#!/usr/bin/env bash
# Compares two tokend binaries under the same load, in alternating rounds,
# so that a change can be judged against the machine's noise: each round runs
# wrk against A, then against B (each on its own copy of one seeded SQLite
# store), and the medians of requests/s and CPU µs per request are printed.
#
#   bash bench/ab.sh TOKEND_A TOKEND_B [SEED_BINARY [SEED_BINARY_B]]
#
# With AB_STORE=postgres, each binary serves its own database of a throwaway
# PostgreSQL cluster (scripts/with-postgres.sh), seeded by its own seed
# binary (SEED_BINARY_B for B, when given), so that a change of the schema is
# measured with each side's own migrations.
#
# Environment: AB_ROUNDS (8), AB_SECONDS (3), AB_TOKENS (100000),
# AB_CONNECTIONS (64), AB_SCENARIO (introspect | create | cold), AB_STORE
# (sqlite | postgres; cold needs sqlite), AB_TLS=1 (both served over HTTPS
# with one self-signed P-256 certificate).
#
# cold: introspection of secrets the server has not seen since it started.
# Each round restarts A and B on their stores and walks a fresh slice of the
# seed's --stream-out file (every live secret once, in random order) with
# bench/wrk/introspect_stream.lua, the same slice for A and B, slices
# disjoint across rounds so that no secret repeats; then, on the same
# process, the hot figure with the same script cycling over the 32 known
# secrets, once the cold walk's last uses are written (at least 6 s after
# it); the RSS after each cold walk is reported too. Seed enough tokens
# that a slice outlasts AB_SECONDS (e.g. AB_TOKENS=300000 AB_ROUNDS=6
# AB_SECONDS=2: about 46,000 secrets a round); a run that ran out of its
# slice warns that it repeated secrets. Before each
# measured run the server is left to finish its start-up work (the
# background fill of the secret fingerprints), which would otherwise be
# counted as the requests' CPU time.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ $# -ge 2 ]] || { echo "usage: $0 TOKEND_A TOKEND_B [SEED_BINARY [SEED_BINARY_B]]" >&2; exit 2; }
: "${AB_ROUNDS:=8}" "${AB_SECONDS:=3}" "${AB_TOKENS:=100000}" "${AB_CONNECTIONS:=64}"
: "${AB_SCENARIO:=introspect}" "${AB_STORE:=sqlite}"
if [[ ${AB_STORE} == postgres && -z ${TOKEND_TEST_PG_URL:-} ]]; then
  [[ ${AB_SCENARIO} != cold ]] || { echo "the cold scenario needs AB_STORE=sqlite" >&2; exit 2; }
  exec bash "${ROOT}/scripts/with-postgres.sh" bash "${BASH_SOURCE[0]}" "$@"
fi
A=$(realpath "$1")
B=$(realpath "$2")
SEED=$(realpath "${3:-${ROOT}/build-bench/bench/tokend_seed}")
SEED_B=$(realpath "${4:-${SEED}}")

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "${pid}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "${WORK}"
}
trap cleanup EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
free_port() { bash "${ROOT}/scripts/free-port.sh"; }

# STORE_a, STORE_b: each side's store; secrets-a.txt, secrets-b.txt: its secrets.
if [[ ${AB_STORE} == postgres ]]; then
  for name in a b; do
    "${TOKEND_TEST_PG_BIN}/psql" -q "${TOKEND_TEST_PG_URL}" -c "CREATE DATABASE ab_${name}"
    printf -v "STORE_${name}" '%s' "${TOKEND_TEST_PG_URL%/*}/ab_${name}"
  done
  "${SEED}" --store "${STORE_a}" --count "${AB_TOKENS}" \
    --secrets-out "${WORK}/secrets-a.txt" >/dev/null 2>&1
  "${SEED_B}" --store "${STORE_b}" --count "${AB_TOKENS}" \
    --secrets-out "${WORK}/secrets-b.txt" >/dev/null 2>&1
else
  "${SEED}" --store "sqlite:${WORK}/seed.db" --count "${AB_TOKENS}" \
    --secrets-out "${WORK}/secrets.txt" --stream-out "${WORK}/stream.txt" >/dev/null 2>&1
  for name in a b; do
    mkdir -p "${WORK}/${name}"
    cp "${WORK}/seed.db" "${WORK}/${name}/tokend.db"
    cp "${WORK}/secrets.txt" "${WORK}/secrets-${name}.txt"
    printf -v "STORE_${name}" '%s' "sqlite:${WORK}/${name}/tokend.db"
  done
fi

SCHEME=http
TLS_FLAGS=()
if [[ ${AB_TLS:-0} == 1 ]]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost \
    -days 1 -keyout "${WORK}/key.pem" -out "${WORK}/cert.pem" >/dev/null 2>&1
  chmod 600 "${WORK}/key.pem"
  SCHEME=https
  TLS_FLAGS=(--tls-cert "${WORK}/cert.pem" --tls-key "${WORK}/key.pem")
fi

# start NAME BINARY: serves NAME's store; sets PORT_NAME, PID_NAME.
start() {
  local name=$1 bin=$2 port store=STORE_$1
  mkdir -p "${WORK}/${name}"
  port=$(free_port)
  "${bin}" serve --listen "127.0.0.1:${port}" --store "${!store}" --data-dir "${WORK}/${name}" \
    "${TLS_FLAGS[@]}" --log-level warn >"${WORK}/${name}/log" 2>&1 &
  PIDS+=($!)
  printf -v "PID_${name}" '%s' "$!"
  printf -v "PORT_${name}" '%s' "${port}"
  for _ in $(seq 100); do
    curl -fsk "${SCHEME}://127.0.0.1:${port}/health" >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "tokend ${name} did not start" >&2
  exit 1
}
# stop NAME: ends that server and waits for it.
stop() {
  local pid=PID_$1
  kill "${!pid}" 2>/dev/null || true
  wait "${!pid}" 2>/dev/null || true
}
# settle NAME: waits (at most 20 s) until NAME's CPU time stops growing, so
# that start-up work (the background fill of the secret fingerprints) is not
# counted against the requests.
settle() {
  local pid=PID_$1 before after
  for _ in $(seq 100); do
    before=$(cpu_ticks "${!pid}")
    sleep 0.2
    after=$(cpu_ticks "${!pid}")
    (( after - before <= 1 )) && return
  done
}
start a "${A}"
start b "${B}"

# measure NAME OUT_FILE SCRIPT [SCRIPT_ARGS...]: one wrk run against NAME
# (secrets file first among the script's arguments), appending
# "req/s CPU-µs-per-request p90-µs p99-µs" to OUT_FILE; warns when a
# stream ran out.
measure() {
  local name=$1 out=$2 script=$3 port pid before requests repeats p90 p99
  shift 3
  port=PORT_${name}
  pid=PID_${name}
  before=$(cpu_ticks "${!pid}")
  wrk -t2 -c"${AB_CONNECTIONS}" -d"${AB_SECONDS}s" -s "${script}" \
    "${SCHEME}://127.0.0.1:${!port}" -- "${WORK}/secrets-${name}.txt" "$@" >"${WORK}/out" 2>&1
  requests=$(sed -n 's/^BENCH requests=\([0-9]*\).*/\1/p' "${WORK}/out")
  repeats=$(sed -n 's/^BENCH .* repeats=\([0-9]*\).*/\1/p' "${WORK}/out")
  p90=$(sed -n 's/^BENCH .* p90_us=\([0-9]*\).*/\1/p' "${WORK}/out")
  p99=$(sed -n 's/^BENCH .* p99_us=\([0-9]*\).*/\1/p' "${WORK}/out")
  [[ -z ${repeats} || ${repeats} == 0 ]] || echo "warning: ${name} repeated ${repeats} secrets" >&2
  awk -v n="${requests}" -v s="${AB_SECONDS}" -v t="$(( $(cpu_ticks "${!pid}") - before ))" \
    -v hz="$(getconf CLK_TCK)" -v p90="${p90:-0}" -v p99="${p99:-0}" \
    'BEGIN { printf "%.0f %.2f %d %d\n", n / s, t * 1e6 / hz / n, p90, p99 }' \
    >>"${out}"
}

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# summary NAME LABEL ROUNDS_FILE: the medians of one series.
summary() {
  local rps cpu p90 p99
  rps=$(cut -d' ' -f1 "$3" | median)
  cpu=$(cut -d' ' -f2 "$3" | median)
  p90=$(cut -d' ' -f3 "$3" | median)
  p99=$(cut -d' ' -f4 "$3" | median)
  echo "$1 $2: median ${rps} req/s, ${cpu} CPU us/request, latency p90 ${p90} us, p99 ${p99} us" \
    "(rounds: $(cut -d' ' -f1 "$3" | paste -sd' '))"
}

if [[ ${AB_SCENARIO} == cold ]]; then
  stream=${ROOT}/bench/wrk/introspect_stream.lua
  sed -n 's/^token //p' "${WORK}/secrets.txt" >"${WORK}/hot.txt"
  slice=$(( $(wc -l <"${WORK}/stream.txt") / AB_ROUNDS ))
  for r in $(seq 0 $(( AB_ROUNDS - 1 ))); do
    sed -n "$(( r * slice + 1 )),$(( (r + 1) * slice ))p" "${WORK}/stream.txt" >"${WORK}/slice.txt"
    for name in a b; do
      bin=A
      [[ ${name} == b ]] && bin=B
      stop "${name}"
      start "${name}" "${!bin}"
      settle "${name}"
      measure "${name}" "${WORK}/${name}.cold" "${stream}" "${WORK}/slice.txt" 2
      pid=PID_${name}
      awk '/^VmRSS:/ {print $2}' "/proc/${!pid}/status" >>"${WORK}/${name}.rss"
      # The walk's last uses are written every --last-used-resolution (5 s):
      # that work is the walk's, not the hot run's, and the side that walked
      # further would pay more of it there.
      sleep 6
      settle "${name}"
      measure "${name}" "${WORK}/${name}.hot" "${stream}" "${WORK}/hot.txt" 2 cycle
    done
  done
  echo "scenario cold, ${AB_ROUNDS} alternating rounds of ${AB_SECONDS} s, ${AB_TOKENS} tokens," \
    "${slice} distinct secrets a round"
  for name in a b; do
    summary "${name}" cold "${WORK}/${name}.cold"
    summary "${name}" hot "${WORK}/${name}.hot"
    echo "${name} RSS after the cold walk: median $(median <"${WORK}/${name}.rss") kB"
    # The ratio of the medians of each round's cold / hot.
    paste -d' ' "${WORK}/${name}.cold" "${WORK}/${name}.hot" |
      awk '{print $1 / $5}' | median | awk -v n="${name}" '{printf "%s cold/hot: median %.2fx\n", n, $1}'
  done
  exit 0
fi

script=${ROOT}/bench/wrk/${AB_SCENARIO}.lua
for _ in $(seq "${AB_ROUNDS}"); do
  measure a "${WORK}/a.rounds" "${script}"
  measure b "${WORK}/b.rounds" "${script}"
done

echo "scenario ${AB_SCENARIO} on ${AB_STORE} over ${SCHEME}, ${AB_ROUNDS} alternating rounds of ${AB_SECONDS} s, ${AB_TOKENS} tokens"
for name in a b; do
  summary "${name}" "${AB_SCENARIO}" "${WORK}/${name}.rounds"
done
