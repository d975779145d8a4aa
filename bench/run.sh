#!/usr/bin/env bash
# tokend benchmarks: builds Release into build-bench, seeds a store, runs each
# scenario with wrk against tokend and against its baseline in the same run,
# and prints a markdown table of figures, ratios and PASS/MISS against the
# targets (docs/PERFORMANCE.md). Benchmarks measure, tests verify: the exit
# status is 0 even when a target is missed (non-zero only when the run itself
# cannot be carried out).
#
# Besides the table it prints, for context: introspection against Boost.Beast
# alone (bench/beast_hello.cc), CPU time per introspect request of tokend,
# Beast and nginx, introspection without the secret cache, and introspection
# over TLS (tokend --tls-cert/--tls-key against nginx `listen ... ssl` with
# the same certificate and the same fixed answer).
#
# Cold and unknown secrets run against a restarted tokend, each request a
# secret not seen before (bench/wrk/introspect_stream.lua over the seed's
# --stream-out and --unknown-out files), against the hot figure of the same
# script. Creates are compared with the physical ceiling (sqlite_group_insert
# --physical, a bare token table) and, on PostgreSQL, with pg_group_insert.
# Query latency (pages 0 and 1000, and BENCH_QUERY_PAGES for its growth
# with the page number) is measured on both stores.
#
#   bash bench/run.sh          full run (10 s per scenario, 1,000,000 tokens)
#   bash bench/run.sh quick    3 s per scenario, 100,000 tokens
#
# Environment:
#   BENCH_SECONDS      seconds per measured wrk run (10; quick: 3)
#   BENCH_WARMUP       unmeasured seconds before each load run (2; quick: 1)
#   BENCH_TOKENS       tokens seeded into the SQLite store (1000000; quick: 100000)
#   BENCH_PG_TOKENS    tokens seeded into PostgreSQL (default: BENCH_TOKENS)
#   BENCH_THREADS      tokend --threads and nginx workers (default: nproc)
#   BENCH_CONNECTIONS  wrk connections for introspect and create (64)
#   BENCH_COLD_SECONDS longest run of the cold and unknown introspect runs,
#                      which have no warm-up and must not run out of distinct
#                      secrets: each is shortened (to 1 s at least) so that
#                      even the hot figure of the run would not exhaust its
#                      file (default: BENCH_SECONDS; quick: 2)
#   BENCH_UNKNOWN      well-formed never-stored secrets generated for the
#                      unknown-secret run (2000000; quick: 500000)
#   BENCH_BUILD_DIR    build directory (build-bench)
#   BENCH_TOKEND       the tokend binary to measure (BENCH_BUILD_DIR/tokend), for
#                      before/after comparisons of one change
#   BENCH_SKIP_BUILD=1 use the binaries already in BENCH_BUILD_DIR
#   BENCH_SKIP_PG=1    skip the PostgreSQL scenario
#   BENCH_SKIP_MICRO=1 skip the Google Benchmark micro-benchmarks
#   BENCH_SKIP_TLS=1   skip the TLS pair
#   BENCH_KEEP=1       keep the work directory (stores, logs, wrk output)
# Internal: "bash bench/run.sh __pg-phase" runs inside scripts/with-postgres.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODE=${1:-full}

if [[ ${MODE} == quick ]]; then
  : "${BENCH_SECONDS:=3}" "${BENCH_WARMUP:=1}" "${BENCH_TOKENS:=100000}"
  : "${BENCH_COLD_SECONDS:=2}" "${BENCH_UNKNOWN:=500000}"
else
  : "${BENCH_SECONDS:=10}" "${BENCH_WARMUP:=2}" "${BENCH_TOKENS:=1000000}"
  : "${BENCH_COLD_SECONDS:=${BENCH_SECONDS}}" "${BENCH_UNKNOWN:=2000000}"
fi
: "${BENCH_PG_TOKENS:=${BENCH_TOKENS}}"
: "${BENCH_THREADS:=$(nproc)}"
: "${BENCH_CONNECTIONS:=64}"
: "${BENCH_BUILD_DIR:=${ROOT}/build-bench}"
# Pages (limit 10) measured besides 0 and 1000. At a million tokens the six
# query groups hold 21,236 tokens or more, so page 2000 is inside each.
: "${BENCH_QUERY_PAGES:=10 100 2000}"
export BENCH_SECONDS BENCH_WARMUP BENCH_TOKENS BENCH_PG_TOKENS BENCH_THREADS \
  BENCH_CONNECTIONS BENCH_BUILD_DIR BENCH_COLD_SECONDS BENCH_UNKNOWN BENCH_QUERY_PAGES

TOKEND=${BENCH_TOKEND:-${BENCH_BUILD_DIR}/tokend}
SEED=${BENCH_BUILD_DIR}/bench/tokend_seed
GROUP_INSERT=${BENCH_BUILD_DIR}/bench/sqlite_group_insert
PG_GROUP_INSERT=${BENCH_BUILD_DIR}/bench/pg_group_insert
CORE_BENCH=${BENCH_BUILD_DIR}/bench/core_bench
HANDLER_BENCH=${BENCH_BUILD_DIR}/bench/handler_bench
BEAST_HELLO=${BENCH_BUILD_DIR}/bench/beast_hello
WRK_DIR=${ROOT}/bench/wrk

log() { echo "[bench] $*" >&2; }
die() { echo "[bench] error: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# Process bookkeeping: everything started here is stopped on exit.
STARTED_PIDS=()
stop_pid() {
  local pid=$1
  kill -TERM "${pid}" 2>/dev/null || return 0
  for _ in $(seq 1 50); do
    kill -0 "${pid}" 2>/dev/null || { wait "${pid}" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "${pid}" 2>/dev/null || true
  wait "${pid}" 2>/dev/null || true
}
stop_all() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do stop_pid "${pid}"; done
  STARTED_PIDS=()
}

# bash's /dev/tcp connects: success means something listens there.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { bash "${ROOT}/scripts/free-port.sh" || die "no free loopback port found"; }

# wait_http URL PID LOG: until URL answers 200 (PID must stay alive).
wait_http() {
  local url=$1 pid=$2 logfile=$3
  for _ in $(seq 1 600); do
    kill -0 "${pid}" 2>/dev/null || { tail -n 20 "${logfile}" >&2; die "server exited (${url})"; }
    if [[ $(curl -sk -o /dev/null -w '%{http_code}' "${url}" || true) == 200 ]]; then return 0; fi
    sleep 0.1
  done
  tail -n 20 "${logfile}" >&2
  die "server not ready after 60 s (${url})"
}

# wait_port PORT PID LOG NAME: until PORT accepts connections (PID must stay alive).
wait_port() {
  local port=$1 pid=$2 logfile=$3 name=$4
  for _ in $(seq 1 100); do
    port_in_use "${port}" && return 0
    kill -0 "${pid}" 2>/dev/null || { cat "${logfile}" >&2; die "${name} exited"; }
    sleep 0.1
  done
  die "${name} not listening after 10 s"
}

# check_fixed_answer NAME PORT [SCHEME]: a baseline must answer the
# introspect POST with exactly {"active":true}.
check_fixed_answer() {
  local answer
  answer=$(curl -sk -X POST -H 'Content-Type: application/json' -d '{"token":"x"}' \
    "${3:-http}://127.0.0.1:$2/api/v2/token/introspect" || true)
  [[ ${answer} == '{"active":true}' ]] || die "$1 baseline answers '${answer}'"
}

# start_tokend STORE_URL PORT LOG [SERVE FLAGS...]: starts tokend, sets
# TOKEND_PID and READY_MS (milliseconds from launch to the first 200 on
# /health, polled every 100 ms). SCHEME=https when the flags give it a
# certificate.
start_tokend() {
  local store=$1 port=$2 logfile=$3 launched
  shift 3
  launched=$(date +%s%N)
  "${TOKEND}" serve --listen "127.0.0.1:${port}" --store "${store}" --auth required \
    --threads "${BENCH_THREADS}" --log-level warn --data-dir "${WORK}" "$@" 2>>"${logfile}" &
  TOKEND_PID=$!
  STARTED_PIDS+=("${TOKEND_PID}")
  wait_http "${SCHEME:-http}://127.0.0.1:${port}/health" "${TOKEND_PID}" "${logfile}"
  READY_MS=$(( ($(date +%s%N) - launched) / 1000000 ))
}

# nginx_config PORT [ssl]: an nginx configuration answering every request
# with the introspection's fixed body, in $NGINX_DIR; over TLS with
# $WORK/tls/cert.pem and key.pem when "ssl".
nginx_config() {
  local port=$1 ssl=${2:-}
  [[ $(id -u) -eq 0 ]] && echo "user root;"
  cat <<NGINX
worker_processes ${BENCH_THREADS};
daemon off;
pid ${NGINX_DIR}/nginx.pid;
error_log ${NGINX_DIR}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  default_type application/json;
  keepalive_requests 100000000;
  keepalive_timeout 75s;
  client_body_temp_path ${NGINX_DIR}/body;
  proxy_temp_path ${NGINX_DIR}/proxy;
  fastcgi_temp_path ${NGINX_DIR}/fastcgi;
  uwsgi_temp_path ${NGINX_DIR}/uwsgi;
  scgi_temp_path ${NGINX_DIR}/scgi;
  server {
    listen 127.0.0.1:${port}${ssl:+ ssl};
NGINX
  if [[ -n ${ssl} ]]; then
    cat <<NGINX
    ssl_certificate ${WORK}/tls/cert.pem;
    ssl_certificate_key ${WORK}/tls/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
NGINX
  fi
  cat <<NGINX
    location / { return 200 '{"active":true}'; }
  }
}
NGINX
}

# start_nginx PORT [ssl]: starts nginx with nginx_config, sets NGINX_PID.
start_nginx() {
  nginx_config "$@" >"${NGINX_DIR}/nginx.conf"
  nginx -e "${NGINX_DIR}/error.log" -p "${NGINX_DIR}/" -c "${NGINX_DIR}/nginx.conf" \
    2>>"${NGINX_DIR}/error.log" &
  NGINX_PID=$!
  STARTED_PIDS+=("${NGINX_PID}")
  wait_port "$1" "${NGINX_PID}" "${NGINX_DIR}/error.log" nginx
}

# field FILE KEY: the value of KEY=... on the BENCH line of FILE (empty when
# FILE or the line is missing, as for a skipped scenario).
field() {
  { grep -m1 '^BENCH ' "$1" 2>/dev/null || true; } | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1
}

# cpu_ticks PID: user + system CPU time, in clock ticks, of PID and of its
# children (nginx's workers), read from /proc.
cpu_ticks() {
  # A process may end between the glob and the read: cat then fails, which
  # must not end the run.
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } |
    awk -v p="$1" '{ pid = $1; sub(/^.*\) /, ""); if (pid == p || $2 == p) t += $12 + $13 }
                   END { print t + 0 }'
}

# settle_tokend PID [SECONDS]: waits SECONDS (6: long enough for tokend to
# write the uses the last run recorded, every --last-used-resolution, 5 s by
# default), then until its CPU time has stopped growing (three 0.2 s windows
# of at most one tick in a row; at most 30 s), then prints the ticks it spent
# meanwhile.
settle_tokend() {
  local pid=$1 start quiet=0 before after
  start=$(cpu_ticks "${pid}")
  sleep "${2:-6}"
  for _ in $(seq 120); do
    before=$(cpu_ticks "${pid}")
    sleep 0.2
    after=$(cpu_ticks "${pid}")
    if (( after - before <= 1 )); then
      quiet=$(( quiet + 1 ))
      (( quiet < 3 )) || break
    else
      quiet=0
    fi
  done
  echo $(( $(cpu_ticks "${pid}") - start ))
}

# us_per_request TICKS REQUESTS: CPU microseconds per request (nothing when
# no request was answered).
us_per_request() {
  awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { if (n > 0) printf "%.1f\n", t * 1e6 / hz / n }'
}

# run_wrk NAME THREADS CONNECTIONS SCRIPT URL [SCRIPT ARGS...]: a warm-up run,
# then the measured one, whose output goes to $WORK/NAME.out. With CPU_PID
# set, the CPU time that process (and its children) spent per request during
# the measured run goes to $WORK/NAME.cpu, in microseconds.
run_wrk() {
  local name=$1 threads=$2 connections=$3 script=$4 url=$5
  shift 5
  if [[ ${BENCH_WARMUP} -gt 0 ]]; then
    wrk -t"${threads}" -c"${connections}" -d"${BENCH_WARMUP}s" -s "${script}" "${url}" -- "$@" \
      >/dev/null 2>&1 || true
  fi
  log "wrk ${name}: -t${threads} -c${connections} -d${BENCH_SECONDS}s"
  local ticks_before=0
  [[ -n ${CPU_PID:-} ]] && ticks_before=$(cpu_ticks "${CPU_PID}")
  wrk -t"${threads}" -c"${connections}" -d"${BENCH_SECONDS}s" --timeout 10s --latency \
    -s "${script}" "${url}" -- "$@" >"${WORK}/${name}.out" 2>&1 || true
  if [[ -n ${CPU_PID:-} ]]; then
    us_per_request "$(( $(cpu_ticks "${CPU_PID}") - ticks_before ))" \
      "$(field "${WORK}/${name}.out" requests)" >"${WORK}/${name}.cpu"
  fi
  grep '^BENCH ' "${WORK}/${name}.out" >&2 || { cat "${WORK}/${name}.out" >&2; log "wrk ${name} failed"; }
}

# stream_seconds FILE: how long a walk of FILE's secrets (each asked once)
# may run: BENCH_COLD_SECONDS, shortened so that it cannot run out of
# secrets even at the hot figure of this run (no walk is faster than the
# hot path), with a tenth to spare; at least 1 s (wrk's unit), in which
# case a run that still outlasts its file reports its repeats.
stream_seconds() {
  local hot
  hot=$(field "${WORK}/introspect-sqlite.out" rps)
  awk -v secrets="$(wc -l <"$1")" -v hot="${hot:-0}" \
    -v longest="${BENCH_COLD_SECONDS}" 'BEGIN {
      s = longest
      if (hot > 0 && int(0.9 * secrets / hot) < s) s = int(0.9 * secrets / hot)
      print (s < 1 ? 1 : s)
    }'
}

# ---------------------------------------------------------------------------
# PostgreSQL phase: runs inside scripts/with-postgres.sh (TOKEND_TEST_PG_URL).
if [[ ${MODE} == __pg-phase ]]; then
  : "${WORK:?}" "${TOKEND_TEST_PG_URL:?}"
  trap stop_all EXIT
  log "seeding PostgreSQL with ${BENCH_PG_TOKENS} tokens"
  "${SEED}" --store "${TOKEND_TEST_PG_URL}" --count "${BENCH_PG_TOKENS}" \
    --secrets-out "${WORK}/pg-secrets.txt" 2>&1 | tee "${WORK}/pg-seed.log" >&2
  port=$(free_port)
  start_tokend "${TOKEND_TEST_PG_URL}" "${port}" "${WORK}/tokend-pg.log"
  run_wrk introspect-pg 2 "${BENCH_CONNECTIONS}" "${WRK_DIR}/introspect.lua" \
    "http://127.0.0.1:${port}" "${WORK}/pg-secrets.txt"
  # Query latency on PostgreSQL, as on SQLite: pages 0 and 1000 of the
  # largest (type, principal) groups, exact totals.
  run_wrk query-pg-page0 2 4 "${WRK_DIR}/query.lua" "http://127.0.0.1:${port}" \
    "${WORK}/pg-secrets.txt" 0 10
  run_wrk query-pg-page1000 2 4 "${WRK_DIR}/query.lua" "http://127.0.0.1:${port}" \
    "${WORK}/pg-secrets.txt" 1000 10
  for page in ${BENCH_QUERY_PAGES}; do
    run_wrk "query-pg-page${page}" 2 4 "${WRK_DIR}/query.lua" "http://127.0.0.1:${port}" \
      "${WORK}/pg-secrets.txt" "${page}" 10
  done
  # Durable creates: PostgreSQL's own grouped-insert ceiling through libpq
  # on this server (a bare table), then tokend's creates on the same server.
  log "pg_group_insert: transactions of 64 rows for ${BENCH_SECONDS}s"
  "${PG_GROUP_INSERT}" --url "${TOKEND_TEST_PG_URL}" --group 64 --seconds "${BENCH_SECONDS}" \
    >"${WORK}/create-pg-baseline.out" 2>&1 || true
  grep '^BENCH ' "${WORK}/create-pg-baseline.out" >&2 || cat "${WORK}/create-pg-baseline.out" >&2
  # As context: the same with tokend's migrations and each row's audit event
  # (everything a tokend create writes), in a schema of its own.
  log "pg_group_insert with tokend's migrations and audit events: transactions of 64 rows for ${BENCH_SECONDS}s"
  "${PG_GROUP_INSERT}" --url "${TOKEND_TEST_PG_URL}" --group 64 --seconds "${BENCH_SECONDS}" \
    --schema "${ROOT}"/src/store/migrations/postgres/*.sql --with-events \
    >"${WORK}/create-pg-baseline-events.out" 2>&1 || true
  grep '^BENCH ' "${WORK}/create-pg-baseline-events.out" >&2 ||
    cat "${WORK}/create-pg-baseline-events.out" >&2
  BENCH_WARMUP=0 run_wrk create-pg 2 "${BENCH_CONNECTIONS}" "${WRK_DIR}/create.lua" \
    "http://127.0.0.1:${port}" "${WORK}/pg-secrets.txt"
  stop_all
  exit 0
fi

[[ ${MODE} == full || ${MODE} == quick ]] || die "usage: bash bench/run.sh [quick]"
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
command -v nginx >/dev/null || die "nginx not found (apt-get install nginx-light)"
command -v curl >/dev/null || die "curl not found"

# ---------------------------------------------------------------------------
# Build.
if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  log "building Release into ${BENCH_BUILD_DIR}"
  cmake -S "${ROOT}" -B "${BENCH_BUILD_DIR}" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DTOKEND_BUILD_BENCH=ON -DTOKEND_BUILD_TESTS=OFF >/dev/null
  cmake --build "${BENCH_BUILD_DIR}" -j "$(nproc)" \
    --target tokend tokend_seed sqlite_group_insert pg_group_insert core_bench handler_bench \
    beast_hello >/dev/null
fi
for bin in "${TOKEND}" "${SEED}" "${GROUP_INSERT}" "${PG_GROUP_INSERT}" "${BEAST_HELLO}"; do
  [[ -x ${bin} ]] || die "missing ${bin}"
done

# The work directory lives in the build tree, on the same disk as a real
# deployment's data would (a tmpfs would make fsync free and creates meaningless).
WORK=$(mktemp -d "${BENCH_BUILD_DIR}/bench-run.XXXXXX")
export WORK
cleanup() {
  local status=$?
  stop_all
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "kept ${WORK}"; else rm -rf "${WORK}"; fi
  exit "${status}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# Seed the SQLite store.
DB=${WORK}/tokend.db
log "seeding ${BENCH_TOKENS} tokens into SQLite"
seed_start=$(date +%s%N)
"${SEED}" --store "sqlite:${DB}" --count "${BENCH_TOKENS}" --secrets-out "${WORK}/secrets.txt" \
  --stream-out "${WORK}/stream.txt" --unknown-out "${WORK}/unknown.txt" \
  --unknown-count "${BENCH_UNKNOWN}" 2>&1 | tee "${WORK}/seed.log" >&2
seed_seconds=$(awk -v a="$(date +%s%N)" -v b="${seed_start}" 'BEGIN { printf "%.1f", (a - b) / 1e9 }')

# ---------------------------------------------------------------------------
# Baseline: nginx answering the introspect POST with a fixed body.
NGINX_DIR=${WORK}/nginx
mkdir -p "${NGINX_DIR}"
NGINX_PORT=$(free_port)
start_nginx "${NGINX_PORT}"
check_fixed_answer nginx "${NGINX_PORT}"

# ---------------------------------------------------------------------------
# tokend on the seeded SQLite store.
TOKEND_PORT=$(free_port)
start_tokend "sqlite:${DB}" "${TOKEND_PORT}" "${WORK}/tokend-sqlite.log"
# Its start-up work (the background fill of the secret fingerprints, about
# 1 s of CPU at a million tokens) ends before any load: it would take from
# the baselines' runs as much as from its own.
settle_tokend "${TOKEND_PID}" 1 >/dev/null
BASE=http://127.0.0.1:${TOKEND_PORT}
ADMIN=$(sed -n 's/^admin //p' "${WORK}/secrets.txt")
FIRST_TOKEN=$(sed -n 's/^token //p' "${WORK}/secrets.txt" | head -n1)
check=$(curl -s -X POST -H "Authorization: Bearer ${ADMIN}" -H 'Content-Type: application/json' \
  -d "{\"token\":\"${FIRST_TOKEN}\"}" "${BASE}/api/v2/token/introspect" || true)
[[ ${check} == *'"active":true'* ]] || log "WARNING: introspect of a seeded token answers: ${check:0:200}"

# 1. Introspect: nginx then tokend, same load.
CPU_PID=${NGINX_PID} run_wrk introspect-nginx 2 "${BENCH_CONNECTIONS}" "${WRK_DIR}/introspect.lua" \
  "http://127.0.0.1:${NGINX_PORT}" "${WORK}/secrets.txt"
stop_pid "${NGINX_PID}"
# The HTTP library alone: Boost.Beast answering the same fixed body.
BEAST_PORT=$(free_port)
"${BEAST_HELLO}" --port "${BEAST_PORT}" --threads "${BENCH_THREADS}" 2>>"${WORK}/beast.log" &
BEAST_PID=$!
STARTED_PIDS+=("${BEAST_PID}")
wait_port "${BEAST_PORT}" "${BEAST_PID}" "${WORK}/beast.log" beast_hello
check_fixed_answer beast_hello "${BEAST_PORT}"
CPU_PID=${BEAST_PID} run_wrk introspect-beast 2 "${BENCH_CONNECTIONS}" "${WRK_DIR}/introspect.lua" \
  "http://127.0.0.1:${BEAST_PORT}" "${WORK}/secrets.txt"
stop_pid "${BEAST_PID}"
CPU_PID=${TOKEND_PID} run_wrk introspect-sqlite 2 "${BENCH_CONNECTIONS}" "${WRK_DIR}/introspect.lua" \
  "${BASE}" "${WORK}/secrets.txt"

# 2. Query latency at low concurrency, page 0 and page 1000 (limit 10).
first_query=$(sed -n 's/^query \([^ ]*\) \([^ ]*\) .*/types=\1\&principals=\2/p' "${WORK}/secrets.txt" | head -n1)
check=$(curl -s -H "Authorization: Bearer ${ADMIN}" "${BASE}/api/v2/token/query?${first_query}&limit=10&page=1000" || true)
[[ ${check} == *'"totalElements"'* ]] || log "WARNING: query answers: ${check:0:200}"
query_groups=$(sed -n 's/^query \([^ ]*\) \([^ ]*\) \([0-9]*\)/\1:\2=\3/p' "${WORK}/secrets.txt" | paste -sd' ')
run_wrk query-page0 2 4 "${WRK_DIR}/query.lua" "${BASE}" "${WORK}/secrets.txt" 0 10
run_wrk query-page1000 2 4 "${WRK_DIR}/query.lua" "${BASE}" "${WORK}/secrets.txt" 1000 10
# The latency's growth with the page number: the pages between, and one past.
for page in ${BENCH_QUERY_PAGES}; do
  run_wrk "query-page${page}" 2 4 "${WRK_DIR}/query.lua" "${BASE}" "${WORK}/secrets.txt" "${page}" 10
done

# 3. Resident memory after the query scenario.
rss_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/${TOKEND_PID}/status" 2>/dev/null || echo 0)

# 4. Durable creates: the physical grouped-insert ceiling (a bare token
# table; the fastest of SQLite alone, checkpoints on a thread of their own,
# and those with each commit's WAL frames written in a few calls, as tokend
# runs its writer), then, as context, the same with tokend's own schema,
# and with its schema and each row's audit event (everything a tokend create
# writes, with nothing computed), then tokend under 64 clients.
best_baseline=0
for variant in inline thread thread-batched; do
  log "sqlite_group_insert --physical (${variant}): transactions of 64 rows for ${BENCH_SECONDS}s"
  flags=()
  [[ ${variant} == thread* ]] && flags+=(--checkpointer)
  [[ ${variant} == *batched ]] && flags+=(--batched-wal)
  "${GROUP_INSERT}" --db "${WORK}/group-insert.db" --physical --group 64 "${flags[@]}" \
    --seconds "${BENCH_SECONDS}" >"${WORK}/create-baseline-${variant}.out" 2>&1 || true
  grep '^BENCH ' "${WORK}/create-baseline-${variant}.out" >&2 ||
    cat "${WORK}/create-baseline-${variant}.out" >&2
  rm -f "${WORK}"/group-insert.db*
  rows=$(field "${WORK}/create-baseline-${variant}.out" rows_per_s)
  if awk -v a="${rows:-0}" -v b="${best_baseline}" 'BEGIN {exit !(a + 0 > b + 0)}'; then
    best_baseline=${rows}
    cp "${WORK}/create-baseline-${variant}.out" "${WORK}/create-baseline.out"
  fi
done
[[ -f ${WORK}/create-baseline.out ]] || cp "${WORK}/create-baseline-inline.out" "${WORK}/create-baseline.out"
log "sqlite_group_insert with tokend's migrations: transactions of 64 rows for ${BENCH_SECONDS}s"
"${GROUP_INSERT}" --db "${WORK}/group-insert.db" \
  --schema "${ROOT}"/src/store/migrations/sqlite/*.sql --group 64 --checkpointer --batched-wal \
  --seconds "${BENCH_SECONDS}" >"${WORK}/create-baseline-schema.out" 2>&1 || true
grep '^BENCH ' "${WORK}/create-baseline-schema.out" >&2 || cat "${WORK}/create-baseline-schema.out" >&2
rm -f "${WORK}"/group-insert.db*
log "sqlite_group_insert with tokend's migrations and audit events: transactions of 64 rows for ${BENCH_SECONDS}s"
"${GROUP_INSERT}" --db "${WORK}/group-insert.db" \
  --schema "${ROOT}"/src/store/migrations/sqlite/*.sql --with-events --group 64 --checkpointer \
  --batched-wal --seconds "${BENCH_SECONDS}" >"${WORK}/create-baseline-events.out" 2>&1 || true
grep '^BENCH ' "${WORK}/create-baseline-events.out" >&2 || cat "${WORK}/create-baseline-events.out" >&2
rm -f "${WORK}"/group-insert.db*
BENCH_WARMUP_SAVED=${BENCH_WARMUP}
BENCH_WARMUP=0  # a warm-up would only add rows
run_wrk create-sqlite 2 "${BENCH_CONNECTIONS}" "${WRK_DIR}/create.lua" "${BASE}" \
  "${WORK}/secrets.txt"
BENCH_WARMUP=${BENCH_WARMUP_SAVED}
stop_all

# 4a. Cold and unknown secrets, on a restarted tokend, once its start-up
# work has ended: first every request a seeded secret it has not seen since
# start (each once, threads on disjoint slices of the shuffled file), then
# every request a well-formed secret that was never stored (each once),
# then the hot figure with the same client work (the same script cycling
# over the 32 hot secrets). No warm-up for the first two: it would spend
# secrets and warm the cache. Between the cold walk and the unknown run,
# tokend writes the walk's last uses (every --last-used-resolution); that
# work is the walk's, so the unknown run waits for it, and its CPU time is
# reported per cold request.
sed -n 's/^token //p' "${WORK}/secrets.txt" >"${WORK}/hot.txt"
TOKEND_PORT=$(free_port)
start_tokend "sqlite:${DB}" "${TOKEND_PORT}" "${WORK}/tokend-cold.log"
cold_ready_ms=${READY_MS}
cold_rss_start_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/${TOKEND_PID}/status" 2>/dev/null || echo 0)
# The start-up work that goes on after the first 200 (the background fill
# of the secret fingerprints) is not the walk's: it ends first, and its CPU
# time is reported on its own.
startup_ticks=$(settle_tokend "${TOKEND_PID}")
BENCH_SECONDS_SAVED=${BENCH_SECONDS}
BENCH_WARMUP_SAVED=${BENCH_WARMUP}
BENCH_WARMUP=0
BENCH_SECONDS=$(stream_seconds "${WORK}/stream.txt")
cold_seconds=${BENCH_SECONDS}
CPU_PID=${TOKEND_PID} run_wrk introspect-cold 2 "${BENCH_CONNECTIONS}" \
  "${WRK_DIR}/introspect_stream.lua" "http://127.0.0.1:${TOKEND_PORT}" "${WORK}/secrets.txt" \
  "${WORK}/stream.txt" 2
us_per_request "$(settle_tokend "${TOKEND_PID}")" "$(field "${WORK}/introspect-cold.out" requests)" \
  >"${WORK}/introspect-cold-deferred.cpu"
BENCH_SECONDS=$(stream_seconds "${WORK}/unknown.txt")
unknown_seconds=${BENCH_SECONDS}
CPU_PID=${TOKEND_PID} run_wrk introspect-unknown 2 "${BENCH_CONNECTIONS}" \
  "${WRK_DIR}/introspect_stream.lua" "http://127.0.0.1:${TOKEND_PORT}" "${WORK}/secrets.txt" \
  "${WORK}/unknown.txt" 2
BENCH_WARMUP=${BENCH_WARMUP_SAVED}
CPU_PID=${TOKEND_PID} run_wrk introspect-hot-stream 2 "${BENCH_CONNECTIONS}" \
  "${WRK_DIR}/introspect_stream.lua" "http://127.0.0.1:${TOKEND_PORT}" "${WORK}/secrets.txt" \
  "${WORK}/hot.txt" 2 cycle
BENCH_SECONDS=${BENCH_SECONDS_SAVED}
cold_rss_end_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/${TOKEND_PID}/status" 2>/dev/null || echo 0)
stop_all

# 4b. What the secret cache buys: the introspect load again, every token
# read from the store (--cache-capacity 0).
TOKEND_PORT=$(free_port)
start_tokend "sqlite:${DB}" "${TOKEND_PORT}" "${WORK}/tokend-nocache.log" --cache-capacity 0
settle_tokend "${TOKEND_PID}" 1 >/dev/null
run_wrk introspect-nocache 2 "${BENCH_CONNECTIONS}" "${WRK_DIR}/introspect.lua" \
  "http://127.0.0.1:${TOKEND_PORT}" "${WORK}/secrets.txt"
stop_all

# 4c. TLS: the introspect load over HTTPS, nginx with `listen ... ssl` then
# tokend with --tls-cert/--tls-key, the same self-signed P-256 certificate.
tls_note=""
if [[ ${BENCH_SKIP_TLS:-0} == 1 ]]; then
  tls_note="skipped (BENCH_SKIP_TLS=1)"
elif ! command -v openssl >/dev/null; then
  tls_note="skipped (no openssl command)"
else
  mkdir -p "${WORK}/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost \
    -days 1 -keyout "${WORK}/tls/key.pem" -out "${WORK}/tls/cert.pem" >/dev/null 2>&1
  chmod 600 "${WORK}/tls/key.pem"
  NGINX_PORT=$(free_port)
  start_nginx "${NGINX_PORT}" ssl
  check_fixed_answer nginx-tls "${NGINX_PORT}" https
  CPU_PID=${NGINX_PID} run_wrk introspect-nginx-tls 2 "${BENCH_CONNECTIONS}" \
    "${WRK_DIR}/introspect.lua" "https://127.0.0.1:${NGINX_PORT}" "${WORK}/secrets.txt"
  stop_all
  TOKEND_PORT=$(free_port)
  SCHEME=https start_tokend "sqlite:${DB}" "${TOKEND_PORT}" "${WORK}/tokend-tls.log" \
    --tls-cert "${WORK}/tls/cert.pem" --tls-key "${WORK}/tls/key.pem"
  settle_tokend "${TOKEND_PID}" 1 >/dev/null
  CPU_PID=${TOKEND_PID} run_wrk introspect-tls 2 "${BENCH_CONNECTIONS}" \
    "${WRK_DIR}/introspect.lua" "https://127.0.0.1:${TOKEND_PORT}" "${WORK}/secrets.txt"
  stop_all
fi

# 4d. Forward auth: nginx passing GET /api/orders to an upstream, first
# unchecked (the baseline), then asking tokend's GET /api/v2/token/check
# (auth_request) for every request, as docs/OPERATIONS.md configures it.
gateway_config() {
  local port=$1 upstream=$2 tokend_port=${3:-}
  [[ $(id -u) -eq 0 ]] && echo "user root;"
  cat <<NGINX
worker_processes ${BENCH_THREADS};
daemon off;
pid ${NGINX_DIR}/nginx.pid;
error_log ${NGINX_DIR}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 75s;
  client_body_temp_path ${NGINX_DIR}/body;
  proxy_temp_path ${NGINX_DIR}/proxy;
  fastcgi_temp_path ${NGINX_DIR}/fastcgi;
  uwsgi_temp_path ${NGINX_DIR}/uwsgi;
  scgi_temp_path ${NGINX_DIR}/scgi;
  upstream app { server 127.0.0.1:${upstream}; keepalive 64; }
  upstream tokend { server 127.0.0.1:${tokend_port:-1}; keepalive 64; }
  server {
    listen 127.0.0.1:${upstream};
    location / { return 200 'ok'; }
  }
  server {
    listen 127.0.0.1:${port};
NGINX
  if [[ -n ${tokend_port} ]]; then
    cat <<NGINX
    location = /_tokend_check {
      internal;
      proxy_pass http://tokend/api/v2/token/check;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI \$request_uri;
    }
NGINX
  fi
  cat <<NGINX
    location /api/ {
      ${tokend_port:+auth_request /_tokend_check;}
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
NGINX
}
start_gateway() {
  gateway_config "$@" >"${NGINX_DIR}/nginx.conf"
  nginx -e "${NGINX_DIR}/error.log" -p "${NGINX_DIR}/" -c "${NGINX_DIR}/nginx.conf" \
    2>>"${NGINX_DIR}/error.log" &
  NGINX_PID=$!
  STARTED_PIDS+=("${NGINX_PID}")
  wait_port "$1" "${NGINX_PID}" "${NGINX_DIR}/error.log" nginx
}
GATEWAY_PORT=$(free_port)
UPSTREAM_PORT=$(free_port)
start_gateway "${GATEWAY_PORT}" "${UPSTREAM_PORT}"
run_wrk gateway-nginx 2 "${BENCH_CONNECTIONS}" "${WRK_DIR}/gateway.lua" \
  "http://127.0.0.1:${GATEWAY_PORT}" "${WORK}/secrets.txt"
stop_all
TOKEND_PORT=$(free_port)
start_tokend "sqlite:${DB}" "${TOKEND_PORT}" "${WORK}/tokend-gateway.log"
settle_tokend "${TOKEND_PID}" 1 >/dev/null
GATEWAY_PORT=$(free_port)
UPSTREAM_PORT=$(free_port)
start_gateway "${GATEWAY_PORT}" "${UPSTREAM_PORT}" "${TOKEND_PORT}"
first_secret=$(sed -n 's/^token //p' "${WORK}/secrets.txt" | head -n1)
check=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${first_secret}" \
  "http://127.0.0.1:${GATEWAY_PORT}/api/orders" || true)
[[ ${check} == 200 ]] || log "WARNING: a seeded token through the gateway answers ${check}"
run_wrk gateway-tokend 2 "${BENCH_CONNECTIONS}" "${WRK_DIR}/gateway.lua" \
  "http://127.0.0.1:${GATEWAY_PORT}" "${WORK}/secrets.txt"
stop_all

# 5. PostgreSQL: the same introspect load against a fresh cluster.
pg_note=""
if [[ ${BENCH_SKIP_PG:-0} == 1 ]]; then
  pg_note="skipped (BENCH_SKIP_PG=1)"
elif [[ ! -f ${ROOT}/scripts/with-postgres.sh ]]; then
  pg_note="skipped (no scripts/with-postgres.sh)"
else
  bash "${ROOT}/scripts/with-postgres.sh" bash "${ROOT}/bench/run.sh" __pg-phase ||
    pg_note="PostgreSQL phase failed (see above)"
fi

# 6. Micro-benchmarks.
if [[ ${BENCH_SKIP_MICRO:-0} != 1 && -x ${CORE_BENCH} ]]; then
  log "core_bench"
  "${CORE_BENCH}" --benchmark_min_time=0.2 >"${WORK}/core_bench.out" 2>&1 || true
  if [[ -x ${HANDLER_BENCH} ]]; then
    log "handler_bench"
    "${HANDLER_BENCH}" --benchmark_min_time=0.5 >>"${WORK}/core_bench.out" 2>&1 || true
  fi
fi

# ---------------------------------------------------------------------------
# The table.
num() { [[ -n $1 ]] && echo "$1" || echo 0; }
ratio() { awk -v a="$(num "$1")" -v b="$(num "$2")" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
verdict_ge() { awk -v r="$1" -v t="$2" 'BEGIN { if (r == "n/a") print "n/a"; else print (r + 0 >= t ? "PASS" : "MISS") }'; }
verdict_lt() { awk -v v="$(num "$1")" -v t="$2" 'BEGIN { if (v <= 0) print "n/a"; else print (v < t ? "PASS" : "MISS") }'; }
fmt_rate() { awk -v v="$(num "$1")" 'BEGIN { printf "%.0f", v }'; }
ms() { awk -v v="$(num "$1")" 'BEGIN { printf "%.2f", v / 1000 }'; }
# errors NAME: " (N errors)" when wrk saw non-2xx answers or socket errors.
errors() {
  local non2xx socket
  non2xx=$(num "$(field "${WORK}/$1.out" non2xx)")
  socket=$(num "$(field "${WORK}/$1.out" socket_errors)")
  if [[ ${non2xx} != 0 || ${socket} != 0 ]]; then echo " (${non2xx} non-2xx, ${socket} socket errors)"; fi
}

nginx_rps=$(field "${WORK}/introspect-nginx.out" rps)
sqlite_rps=$(field "${WORK}/introspect-sqlite.out" rps)
create_rps=$(field "${WORK}/create-sqlite.out" rps)
baseline_rows=$(field "${WORK}/create-baseline.out" rows_per_s)
schema_baseline_rows=$(field "${WORK}/create-baseline-schema.out" rows_per_s)
r_create_schema=$(ratio "${create_rps}" "${schema_baseline_rows}")
events_baseline_rows=$(field "${WORK}/create-baseline-events.out" rows_per_s)
r_create_events=$(ratio "${create_rps}" "${events_baseline_rows}")
r_events_physical=$(ratio "${events_baseline_rows}" "${baseline_rows}")
cold_rps=$(field "${WORK}/introspect-cold.out" rps)
unknown_rps=$(field "${WORK}/introspect-unknown.out" rps)
hot_stream_rps=$(field "${WORK}/introspect-hot-stream.out" rps)
r_cold=$(ratio "${cold_rps}" "${hot_stream_rps}")
r_unknown=$(ratio "${unknown_rps}" "${hot_stream_rps}")
pg_create_rps=$(field "${WORK}/create-pg.out" rps)
pg_baseline_rows=$(field "${WORK}/create-pg-baseline.out" rows_per_s)
r_pg_create=$(ratio "${pg_create_rps}" "${pg_baseline_rows}")
pg_events_baseline_rows=$(field "${WORK}/create-pg-baseline-events.out" rows_per_s)
r_pg_create_events=$(ratio "${pg_create_rps}" "${pg_events_baseline_rows}")
r_pg_events_physical=$(ratio "${pg_events_baseline_rows}" "${pg_baseline_rows}")
# repeats NAME: " (N repeated secrets)" when a stream run ran out of secrets.
repeats() {
  local n
  n=$(num "$(field "${WORK}/$1.out" repeats)")
  if [[ ${n} != 0 ]]; then echo " (${n} repeated secrets: the run outlasted the file)"; fi
}
pg_rps=$(field "${WORK}/introspect-pg.out" rps)
nocache_rps=$(field "${WORK}/introspect-nocache.out" rps)
beast_rps=$(field "${WORK}/introspect-beast.out" rps)
q0_p50=$(field "${WORK}/query-page0.out" p50_us)
q0_p99=$(field "${WORK}/query-page0.out" p99_us)
q1000_p50=$(field "${WORK}/query-page1000.out" p50_us)
q1000_p99=$(field "${WORK}/query-page1000.out" p99_us)
r_introspect=$(ratio "${sqlite_rps}" "${nginx_rps}")
r_create=$(ratio "${create_rps}" "${baseline_rows}")
r_pg=$(ratio "${pg_rps}" "${sqlite_rps}")
r_nocache=$(ratio "${nocache_rps}" "${sqlite_rps}")
r_beast=$(ratio "${sqlite_rps}" "${beast_rps}")
rss_mb=$(awk -v k="$(num "${rss_kb}")" 'BEGIN { printf "%.0f", k / 1024 }')

echo
echo "## tokend benchmarks ($(date -u +%Y-%m-%dT%H:%MZ), mode ${MODE})"
echo
echo "$(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)," \
  "$(awk '/^MemTotal:/ {printf "%.0f GB RAM", $2 / 1048576}' /proc/meminfo);" \
  "${BENCH_SECONDS} s per run, ${BENCH_TOKENS} tokens (seeded in ${seed_seconds} s)," \
  "tokend --threads ${BENCH_THREADS}, wrk -t2."
echo
echo "| figure | tokend | baseline (same run) | ratio | target | result |"
echo "|---|---:|---:|---:|---|---|"
echo "| introspect req/s, SQLite, ${BENCH_CONNECTIONS} keep-alive conns | $(fmt_rate "${sqlite_rps}")$(errors introspect-sqlite) | nginx fixed answer: $(fmt_rate "${nginx_rps}")$(errors introspect-nginx) | ${r_introspect}x | >= 0.9x | $(verdict_ge "${r_introspect}" 0.9) |"
echo "| introspect cold req/s (restarted tokend, each secret once, ${BENCH_TOKENS} tokens) | $(fmt_rate "${cold_rps}")$(errors introspect-cold)$(repeats introspect-cold) | hot, same script: $(fmt_rate "${hot_stream_rps}")$(errors introspect-hot-stream) | ${r_cold}x | >= 0.5x | $(verdict_ge "${r_cold}" 0.5) |"
echo "| introspect unknown well-formed secrets req/s (each once) | $(fmt_rate "${unknown_rps}")$(errors introspect-unknown)$(repeats introspect-unknown) | hot, same script: $(fmt_rate "${hot_stream_rps}") | ${r_unknown}x | >= 0.8x | $(verdict_ge "${r_unknown}" 0.8) |"
echo "| durable creates/s, ${BENCH_CONNECTIONS} concurrent clients | $(fmt_rate "${create_rps}")$(errors create-sqlite) | sqlite_group_insert --physical (bare table), 64 rows/commit: $(fmt_rate "${baseline_rows}") rows/s | ${r_create}x | >= 0.6x | $(verdict_ge "${r_create}" 0.6) |"
echo "| query page 0 (limit 10, type+principal, exact total), -c4: p50 / p99 ms | $(ms "${q0_p50}") / $(ms "${q0_p99}")$(errors query-page0) | — | — | p99 < 10 ms | $(verdict_lt "${q0_p99}" 10000) |"
echo "| query page 1000 (limit 10, type+principal, exact total), -c4: p50 / p99 ms | $(ms "${q1000_p50}") / $(ms "${q1000_p99}")$(errors query-page1000) | — | — | p99 < 20 ms | $(verdict_lt "${q1000_p99}" 20000) |"
echo "| RSS of tokend after the query scenario, MB | ${rss_mb} | — | — | < 300 MB | $(verdict_lt "${rss_mb}" 300) |"
echo "| ready to serve after start (${BENCH_TOKENS} tokens), ms (polled every 100 ms) | ${cold_ready_ms} | — | — | < 1000 ms | $(verdict_lt "${cold_ready_ms}" 1000) |"
gateway_rps=$(field "${WORK}/gateway-tokend.out" rps)
gateway_nginx_rps=$(field "${WORK}/gateway-nginx.out" rps)
r_gateway=$(ratio "${gateway_rps}" "${gateway_nginx_rps}")
echo "| requests/s through nginx checking each with GET /api/v2/token/check (auth_request), ${BENCH_CONNECTIONS} conns | $(fmt_rate "${gateway_rps}")$(errors gateway-tokend) | nginx passing them on unchecked: $(fmt_rate "${gateway_nginx_rps}")$(errors gateway-nginx) | ${r_gateway}x | — | — |"
tls_rps=$(field "${WORK}/introspect-tls.out" rps)
nginx_tls_rps=$(field "${WORK}/introspect-nginx-tls.out" rps)
r_tls=$(ratio "${tls_rps}" "${nginx_tls_rps}")
if [[ -z ${tls_note} ]]; then
  echo "| introspect req/s over TLS, ${BENCH_CONNECTIONS} keep-alive conns | $(fmt_rate "${tls_rps}")$(errors introspect-tls) | nginx fixed answer over TLS: $(fmt_rate "${nginx_tls_rps}")$(errors introspect-nginx-tls) | ${r_tls}x | >= 0.8x | $(verdict_ge "${r_tls}" 0.8) |"
else
  echo "| introspect req/s over TLS | ${tls_note} | — | — | — | n/a |"
fi
if [[ -z ${pg_note} ]]; then
  echo "| introspect req/s, PostgreSQL (${BENCH_PG_TOKENS} tokens) | $(fmt_rate "${pg_rps}")$(errors introspect-pg) | SQLite figure above: $(fmt_rate "${sqlite_rps}") | ${r_pg}x | >= 0.7x | $(verdict_ge "${r_pg}" 0.7) |"
  for page in 0 1000; do
    limit=10000
    [[ ${page} == 1000 ]] && limit=20000
    echo "| query page ${page} on PostgreSQL (${BENCH_PG_TOKENS} tokens; limit 10, type+principal, exact total), -c4: p50 / p99 ms | $(ms "$(field "${WORK}/query-pg-page${page}.out" p50_us)") / $(ms "$(field "${WORK}/query-pg-page${page}.out" p99_us)")$(errors "query-pg-page${page}") | — | — | p99 < $((limit / 1000)) ms | $(verdict_lt "$(field "${WORK}/query-pg-page${page}.out" p99_us)" "${limit}") |"
  done
  echo "| durable creates/s, PostgreSQL, ${BENCH_CONNECTIONS} concurrent clients | $(fmt_rate "${pg_create_rps}")$(errors create-pg) | pg_group_insert (bare table, libpq), 64 rows/commit: $(fmt_rate "${pg_baseline_rows}") rows/s | ${r_pg_create}x | >= 0.5x | $(verdict_ge "${r_pg_create}" 0.5) |"
else
  echo "| introspect req/s, PostgreSQL | ${pg_note} | — | — | >= 0.7x | n/a |"
fi
# query_curve PREFIX: "page N p50 / p99 ms" for every page measured.
query_curve() {
  local page out
  for page in $(printf '%s\n' 0 1000 ${BENCH_QUERY_PAGES} | sort -n -u); do
    out=${WORK}/$1${page}.out
    [[ -f ${out} ]] || continue
    printf '; page %s %s / %s' "${page}" "$(ms "$(field "${out}" p50_us)")" "$(ms "$(field "${out}" p99_us)")"
  done
}
echo
echo "Query latency against the page number (limit 10, type+principal, exact total, -c4; p50 / p99 ms):" \
  "SQLite: $(query_curve query-page | sed 's/^; //')."
if [[ -z ${pg_note} ]]; then
  echo "The same on PostgreSQL: $(query_curve query-pg-page | sed 's/^; //')."
fi
echo "Without the secret cache (--cache-capacity 0), introspect runs at $(fmt_rate "${nocache_rps}") req/s$(errors introspect-nocache):" \
  "${r_nocache}x of the cached SQLite figure."
echo "Durable creates against sqlite_group_insert with tokend's own migrations (counters, every index): $(fmt_rate "${schema_baseline_rows}") rows/s, ratio ${r_create_schema}x."
echo "The same with each row's audit event (everything a create writes): $(fmt_rate "${events_baseline_rows}") rows/s, ratio ${r_create_events}x;" \
  "that ceiling is ${r_events_physical}x of the physical one."
if [[ -f ${WORK}/create-pg-baseline-events.out ]]; then
  echo "PostgreSQL creates against pg_group_insert with tokend's migrations and each row's audit event: $(fmt_rate "${pg_events_baseline_rows}") rows/s, ratio ${r_pg_create_events}x;" \
    "that ceiling is ${r_pg_events_physical}x of the bare table's."
fi
echo "Cold run: $(field "${WORK}/introspect-cold.out" requests) requests in ${cold_seconds} s over $(wc -l <"${WORK}/stream.txt") distinct live secrets;" \
  "unknown run: ${unknown_seconds} s over $(wc -l <"${WORK}/unknown.txt") secrets;" \
  "CPU per request: cold $(num "$(cat "${WORK}/introspect-cold.cpu" 2>/dev/null || true)") µs" \
  "(and $(num "$(cat "${WORK}/introspect-cold-deferred.cpu" 2>/dev/null || true)") µs more after the walk, writing its last uses)," \
  "unknown $(num "$(cat "${WORK}/introspect-unknown.cpu" 2>/dev/null || true)") µs," \
  "hot $(num "$(cat "${WORK}/introspect-hot-stream.cpu" 2>/dev/null || true)") µs;" \
  "RSS of the restarted tokend at start / after the three runs: $(awk -v k="$(num "${cold_rss_start_kb}")" 'BEGIN { printf "%.0f", k / 1024 }') / $(awk -v k="$(num "${cold_rss_end_kb}")" 'BEGIN { printf "%.0f", k / 1024 }') MB;" \
  "its start-up work after the first 200 on /health took $(awk -v t="$(num "${startup_ticks}")" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", t * 1000 / hz }') ms of CPU (the cold walk starts after it)."
nginx_cpu=$(cat "${WORK}/introspect-nginx.cpu" 2>/dev/null || true)
beast_cpu=$(cat "${WORK}/introspect-beast.cpu" 2>/dev/null || true)
tokend_cpu=$(cat "${WORK}/introspect-sqlite.cpu" 2>/dev/null || true)
echo "Boost.Beast alone answering the same fixed body (bench/beast_hello.cc): $(fmt_rate "${beast_rps}") req/s$(errors introspect-beast);" \
  "tokend's introspection runs at ${r_beast}x of its own HTTP library."
echo "CPU time per introspect request (user + system, server processes only):" \
  "tokend $(num "${tokend_cpu}") µs, Beast alone $(num "${beast_cpu}") µs, nginx $(num "${nginx_cpu}") µs;" \
  "over TLS tokend $(num "$(cat "${WORK}/introspect-tls.cpu" 2>/dev/null || true)") µs," \
  "nginx $(num "$(cat "${WORK}/introspect-nginx-tls.cpu" 2>/dev/null || true)") µs."
echo "Query groups (type:principal=matching tokens): ${query_groups}"
echo "Query throughput at -c4: page 0 $(fmt_rate "$(field "${WORK}/query-page0.out" rps)") req/s," \
  "page 1000 $(fmt_rate "$(field "${WORK}/query-page1000.out" rps)") req/s." \
  "Create latency p50 / p99: $(ms "$(field "${WORK}/create-sqlite.out" p50_us)") / $(ms "$(field "${WORK}/create-sqlite.out" p99_us)") ms."
if [[ -s ${WORK}/core_bench.out ]]; then
  echo
  echo "### Micro-benchmarks (core_bench --benchmark_min_time=0.2, handler_bench --benchmark_min_time=0.5)"
  echo
  echo '```'
  grep -E '^(BM_|-|Benchmark|Run on|CPU|  L|Load)' "${WORK}/core_bench.out" || cat "${WORK}/core_bench.out"
  echo '```'
fi
exit 0
