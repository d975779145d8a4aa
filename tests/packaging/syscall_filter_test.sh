#!/usr/bin/env bash
# The package's unit lets tokend make every system call it makes: its
# SystemCallFilter= lines, expanded by systemd-analyze into the set of calls
# allowed, hold every call `tokend serve` made under strace while it started
# on a new store, served TLS requests (create, introspect, query, rotate,
# revoke, forward auth), reloaded its certificate on SIGHUP and stopped on
# SIGTERM; and `serve --check-config` (the unit's ExecStartPre) the same.
# Under systemd a call outside the set kills the service (SIGSYS).
#
# Usage: tests/packaging/syscall_filter_test.sh TOKEND UNIT_FILE
# Exits 77 (a skip) without systemd-analyze or strace; 1 on any failure.
set -euo pipefail

tokend=$(realpath "$1")
unit=$(realpath "$2")
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v systemd-analyze >/dev/null || { echo "SKIP: no systemd-analyze"; exit 77; }
command -v strace >/dev/null || { echo "SKIP: no strace"; exit 77; }

work=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The system calls a filter item names: a group (@name, groups nested in it
# expanded too) or one call.
expand() {
  local item=$1
  if [[ $item != @* ]]; then
    echo "$item"
    return
  fi
  local line
  while read -r line; do
    [[ -z $line || $line == \#* || $line == "$item" ]] && continue
    expand "$line"
  done < <(systemd-analyze syscall-filter --no-pager "$item")
}

# The unit's lines in order: the first is an allow list (the unit's default
# action kills), each later one adds (plain) or removes (~) calls.
: >"$work/allowed"
first=1
while IFS= read -r value; do
  remove=0
  if [[ $value == ~* ]]; then remove=1; value=${value#\~}; fi
  (( first && remove )) && fail "the unit's first SystemCallFilter= is a deny list"
  calls=$(for item in $value; do expand "$item"; done | sort -u)
  if (( remove )); then
    comm -23 "$work/allowed" <(echo "$calls") >"$work/next"
  else
    sort -u "$work/allowed" <(echo "$calls") >"$work/next"
  fi
  mv "$work/next" "$work/allowed"
  first=0
done < <(sed -n 's/^SystemCallFilter=//p' "$unit")
(( first )) && fail "the unit has no SystemCallFilter="
grep -qx read "$work/allowed" || fail "the expanded filter lacks read: $(wc -l <"$work/allowed") calls"

# As the unit's DynamicUser runs it: not root (SQLite, say, changes the owner
# of its journal files only as root).
as_user=()
if [[ $(id -u) == 0 ]]; then
  as_user=(-u nobody)
  chown nobody "$work"
fi

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
chmod 600 "$work/key.pem"
[[ $(id -u) == 0 ]] && chown nobody "$work/key.pem" "$work/cert.pem"
serve=(serve --listen 127.0.0.1:0 --store "sqlite:$work/data/tokend.db"
       --tls-cert "$work/cert.pem" --tls-key "$work/key.pem")

strace -f -qq "${as_user[@]}" -o "$work/check.trace" "$tokend" "${serve[@]}" --check-config >/dev/null 2>&1 ||
  fail "serve --check-config"

strace -f -qq "${as_user[@]}" -o "$work/serve.trace" "$tokend" "${serve[@]}" 2>"$work/serve.log" &
server_pid=$!
port=
for _ in $(seq 1 200); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/serve.log" | head -1)
  [[ -n $port ]] && break
  sleep 0.05
done
[[ -n $port ]] || fail "tokend did not start: $(cat "$work/serve.log")"
admin=$(cat "$work/data/bootstrap-token")
call() {  # METHOD PATH [BODY]: the answer's status
  curl -sk -o "$work/body" -w '%{http_code}' -X "$1" "https://127.0.0.1:$port$2" \
    -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' ${3:+--data "$3"}
}
[[ $(call POST /api/v2/token '{"type":"team","name":"f","principal":"p","permissions":["workflow/read"]}') == 200 ]] ||
  fail "create: $(cat "$work/body")"
id=$(sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p' "$work/body")
secret=$(sed -n 's/.*"token":"\([^"]*\)".*/\1/p' "$work/body")
[[ $(call POST /api/v2/token/introspect "{\"token\":\"$secret\"}") == 200 ]] || fail "introspect"
[[ $(call GET '/api/v2/token/query?types=team') == 200 ]] || fail "query"
[[ $(call GET '/api/v2/token/check?permission=workflow/read') == 204 ]] || fail "check"
[[ $(call POST "/api/v2/token/$id/rotate" '{"overlapSeconds":0}') == 200 ]] || fail "rotate"
[[ $(call POST /api/v2/token/revoke "{\"token\":\"$secret\"}") == 200 ]] || fail "revoke by value"
[[ $(call GET /api/v2/token/audit) == 200 ]] || fail "audit"
[[ $(call GET /metrics) == 200 ]] || fail "metrics"
tokend_pid=$(pgrep -P "$server_pid" -x tokend) || fail "no tokend process under strace"
kill -HUP "$tokend_pid"
sleep 0.5
grep -q 'SIGHUP: reloaded' "$work/serve.log" || fail "no reload: $(cat "$work/serve.log")"
kill -TERM "$tokend_pid"
wait "$server_pid" || fail "tokend did not stop cleanly: $(cat "$work/serve.log")"
server_pid=

# Every call strace saw begin, by name ("PID name(" or "PID <... name resumed>").
made=$(sed -nE 's/^[0-9]+ +(<\.\.\. )?([a-z0-9_]+)[( ].*/\2/p' "$work/check.trace" "$work/serve.trace" | sort -u)
grep -qx setpriority <<<"$made" || fail "the run made no setpriority call: it no longer covers the store's fill thread"
outside=$(comm -23 <(echo "$made") "$work/allowed")
[[ -z $outside ]] || fail "calls the unit's SystemCallFilter= forbids (systemd would kill tokend): $(echo $outside)"
echo "ok: $(wc -l <<<"$made") system calls made, all allowed by the unit"
