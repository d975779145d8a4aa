#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL cluster.
#
#   scripts/with-postgres.sh CMD [ARGS...]
#
# Creates a fresh cluster in a temporary directory (owned by the `postgres`
# system user when run as root), listening on 127.0.0.1 at a random free port
# with trust authentication on loopback only, creates the database `tokend`,
# and runs CMD with:
#   TOKEND_TEST_PG_URL   postgresql://postgres@127.0.0.1:PORT/tokend
#   TOKEND_TEST_PG_BIN   the PostgreSQL binaries directory
#   TOKEND_TEST_PG_DATA  the cluster's data directory
#   TOKEND_TEST_PG_PORT  the port
#   TOKEND_TEST_PG_USER  the OS user that owns the cluster (for pg_ctl)
# The cluster is always stopped and removed on exit. Exits with CMD's status.
# Quiet unless something fails (then the server log is printed).
#
# PG_BIN may point at another PostgreSQL installation (default: the newest
# under /usr/lib/postgresql).
set -euo pipefail

if [[ $# -eq 0 ]]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

if [[ -z "${PG_BIN:-}" ]]; then
  if [[ -x /usr/lib/postgresql/15/bin/initdb ]]; then
    PG_BIN=/usr/lib/postgresql/15/bin
  else
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  fi
fi
if [[ -z "${PG_BIN}" || ! -x "${PG_BIN}/initdb" ]]; then
  echo "with-postgres: PostgreSQL server binaries not found (install postgresql-15 or set PG_BIN)" >&2
  exit 2
fi

# Run the server as an unprivileged user: PostgreSQL refuses to run as root.
if [[ $(id -u) -eq 0 ]]; then
  PG_USER=postgres
  if ! id "${PG_USER}" >/dev/null 2>&1; then
    echo "with-postgres: running as root needs the 'postgres' system user" >&2
    exit 2
  fi
  as_pg() { runuser -u "${PG_USER}" -- "$@"; }
else
  PG_USER=$(id -un)
  as_pg() { "$@"; }
fi

TMP_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/tokend-pg.XXXXXX")
chmod 0755 "${TMP_ROOT}"
SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DATA_DIR="${TMP_ROOT}/data"
SOCK_DIR="${TMP_ROOT}/sock"
LOG_FILE="${TMP_ROOT}/server.log"
mkdir -p "${SOCK_DIR}"
touch "${LOG_FILE}"
if [[ $(id -u) -eq 0 ]]; then
  chown -R "${PG_USER}:" "${TMP_ROOT}"
fi

started=0
cleanup() {
  local status=$?
  if [[ ${started} -eq 1 ]]; then
    as_pg "${PG_BIN}/pg_ctl" -D "${DATA_DIR}" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
  rm -rf "${TMP_ROOT}"
  exit "${status}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "with-postgres: $*" >&2
  if [[ -s "${LOG_FILE}" ]]; then
    echo "---- server log ----" >&2
    tail -n 50 "${LOG_FILE}" >&2 || true
  fi
  exit 1
}

pick_port() { bash "${SCRIPTS_DIR}/free-port.sh"; }

if ! init_out=$(as_pg "${PG_BIN}/initdb" -D "${DATA_DIR}" -U postgres -E UTF8 --locale=C --no-sync \
      --auth-local=trust --auth-host=reject 2>&1); then
  echo "${init_out}" >&2
  fail "initdb failed"
fi

# Trust on loopback only; everything else is refused.
cat >"${DATA_DIR}/pg_hba.conf" <<HBA
local   all   all                  trust
host    all   all   127.0.0.1/32   trust
HBA

cat >>"${DATA_DIR}/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '${SOCK_DIR}'
max_connections = 200
fsync = on
synchronous_commit = on
shared_buffers = 64MB
logging_collector = off
log_min_messages = warning
CONF

# The port may be taken between the check and the bind: retry a few times.
PORT=
for _ in 1 2 3 4 5; do
  PORT=$(pick_port) || fail "no free port found"
  : >"${LOG_FILE}"
  if as_pg "${PG_BIN}/pg_ctl" -D "${DATA_DIR}" -l "${LOG_FILE}" -o "-p ${PORT}" -w -t 60 \
        start >/dev/null 2>&1; then
    started=1
    break
  fi
  as_pg "${PG_BIN}/pg_ctl" -D "${DATA_DIR}" -m immediate stop >/dev/null 2>&1 || true
done
[[ ${started} -eq 1 ]] || fail "server did not start"

# The port is kept in postgresql.conf too, so that `pg_ctl start` without -o
# (fault tests restarting the server) comes back on the same port.
echo "port = ${PORT}" >>"${DATA_DIR}/postgresql.conf"

for _ in $(seq 1 100); do
  if "${PG_BIN}/pg_isready" -q -h 127.0.0.1 -p "${PORT}" -U postgres; then
    break
  fi
  sleep 0.1
done
"${PG_BIN}/pg_isready" -q -h 127.0.0.1 -p "${PORT}" -U postgres || fail "server not ready"

"${PG_BIN}/psql" -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${PORT}" -U postgres -d postgres \
  -c "CREATE DATABASE tokend" >/dev/null 2>"${TMP_ROOT}/psql.err" \
  || { cat "${TMP_ROOT}/psql.err" >&2; fail "CREATE DATABASE failed"; }

export TOKEND_TEST_PG_URL="postgresql://postgres@127.0.0.1:${PORT}/tokend"
export TOKEND_TEST_PG_BIN="${PG_BIN}"
export TOKEND_TEST_PG_DATA="${DATA_DIR}"
export TOKEND_TEST_PG_PORT="${PORT}"
export TOKEND_TEST_PG_USER="${PG_USER}"

# CMD runs in the background so that a signal to this script reaches the trap
# at once (and is passed on to CMD) instead of waiting for CMD to finish.
set +e
"$@" <&0 &
child=$!
trap 'kill -TERM "${child}" 2>/dev/null' INT TERM
wait "${child}"
status=$?
while kill -0 "${child}" 2>/dev/null; do
  wait "${child}"
  status=$?
done
set -e
exit "${status}"
