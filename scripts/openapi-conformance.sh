#!/usr/bin/env bash
# Proves docs/openapi.json against the real server: starts tokend (a fresh
# SQLite store in a temporary folder, a free port) and a validating proxy in
# front of it (Stoplight Prism, proxy mode, request and response validation),
# then
#   1. sends every request of tests/openapi/requests.json through the proxy
#      and fails on any allowed request the document refuses, any answer the
#      document does not describe, and any unexpected status;
#   2. generates a TypeScript client from the document (openapi-typescript,
#      openapi-fetch), compiles it strict and runs create, query, introspect
#      and delete through the proxy;
#   3. checks the proxy is awake: a deliberately wrong copy of the document
#      (a field the server never sends, a date pattern it does not write, an
#      `order` that refuses lower case) must be caught on both counts;
#   4. removes the store file under the running server and checks the 503
#      answers.
#
# Usage: scripts/openapi-conformance.sh TOKEND_BINARY [DOCUMENT]
#
# The tools are installed from npm, pinned by tests/openapi/package-lock.json,
# into $TOKEND_TOOLS_DIR (default: build/tools under the repository root) on
# first use. Exits 77 (a skip for CTest's SKIP_RETURN_CODE) when node/npm are
# missing or the tools cannot be installed; under CI=true that is a failure.
set -euo pipefail

skip_status=77
[[ "${CI:-}" == "true" ]] && skip_status=1

root=$(cd "$(dirname "$0")/.." && pwd)
tokend=${1:?usage: openapi-conformance.sh TOKEND_BINARY [DOCUMENT]}
document=${2:-$root/docs/openapi.json}
[[ "$tokend" == /* ]] || tokend="$PWD/$tokend"
[[ "$document" == /* ]] || document="$PWD/$document"
cd "$root"
suite=tests/openapi
tools_dir=${TOKEND_TOOLS_DIR:-build/tools}
[[ "$tools_dir" == /* ]] || tools_dir="$root/$tools_dir"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "openapi-conformance: $tool not found; skipping" >&2
    exit "$skip_status"
  fi
done
if [[ ! -x "$tokend" ]]; then
  echo "openapi-conformance: $tokend: no such program (build tokend first)" >&2
  exit 1
fi

source "$root/scripts/npm-tools.sh"
if ! install_dir=$(npm_tools_install openapi-conformance "$suite" "$tools_dir" \
  node_modules/.bin/prism node_modules/.bin/tsc node_modules/.bin/openapi-typescript); then
  echo "openapi-conformance: could not install the tools; skipping" >&2
  exit "$skip_status"
fi
bin="$install_dir/node_modules/.bin"

work=$(mktemp -d "${TMPDIR:-/tmp}/tokend-openapi.XXXXXX")
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $status -ne 0 ]]; then
    for log in "$work"/*.log; do
      [[ -f "$log" ]] || continue
      echo "---- $(basename "$log") (last lines)" >&2
      tail -n 20 "$log" >&2
    done
  fi
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT

free_port() { bash "${root}/scripts/free-port.sh"; }

# Waits until a TCP port on 127.0.0.1 accepts connections (20 s at most).
wait_port() {
  node -e '
    const net = require("net");
    const deadline = Date.now() + 20000;
    (function attempt() {
      const socket = net.connect(Number(process.argv[1]), "127.0.0.1");
      socket.on("connect", () => { socket.end(); process.exit(0); });
      socket.on("error", () => {
        if (Date.now() > deadline) process.exit(1);
        setTimeout(attempt, 100);
      });
    })();' "$1"
}

# tokend on a fresh store, with an expiry policy so that the policy route has
# something to say and user tokens get a default expiry.
mkdir -m 700 "$work/data"
"$tokend" serve --listen 127.0.0.1:0 --store "sqlite:$work/data/tokend.db" \
  --max-lifetime session=30d --default-lifetime user=90d 2>"$work/tokend.log" &
pids+=($!)
port=""
for _ in $(seq 200); do
  port=$(sed -n 's/.*tokend listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$work/tokend.log" | head -n 1)
  [[ -n "$port" && -s "$work/data/bootstrap-token" ]] && break
  sleep 0.1
done
if [[ -z "$port" ]]; then
  echo "openapi-conformance: tokend did not start" >&2
  exit 1
fi
admin=$(tr -d '\n' <"$work/data/bootstrap-token")

# Starts a validating proxy for a document in front of tokend; sets
# proxy_url. Not run in a command substitution: its subshell would keep the
# proxy's pid from the cleanup, and the proxy would outlive the run.
start_proxy() {
  local doc=$1 name=$2 proxy_port
  proxy_port=$(free_port)
  "$bin/prism" proxy --host 127.0.0.1 --port "$proxy_port" --errors=false -v warn \
    "$doc" "http://127.0.0.1:$port" >"$work/$name.log" 2>&1 &
  pids+=($!)
  if ! wait_port "$proxy_port"; then
    echo "openapi-conformance: the validating proxy for $name did not start" >&2
    return 1
  fi
  proxy_url="http://127.0.0.1:$proxy_port"
}

drive() {
  node "$suite/conformance.mjs" --requests "$suite/requests.json" --document "$document" "$@"
}

status=0
start_proxy "$document" prism
proxy=$proxy_url
drive --proxy "$proxy" --var "admin=$admin" --vars-out "$work/vars.json" || status=1

# The generated client, compiled strict.
client="$work/client"
mkdir "$client"
ln -s "$install_dir/node_modules" "$client/node_modules"
cp "$suite/client.mts" "$client/"
if ! "$bin/openapi-typescript" "$document" --output "$client/schema.d.ts" >"$work/generate.log" 2>&1; then
  echo "openapi-conformance: the client could not be generated" >&2
  cat "$work/generate.log" >&2
  status=1
elif ! "$bin/tsc" --strict --target es2022 --module nodenext --moduleResolution nodenext \
  --outDir "$client/out" "$client/client.mts" >"$work/tsc.log" 2>&1; then
  echo "openapi-conformance: the generated client does not compile" >&2
  cat "$work/tsc.log" >&2
  status=1
elif ! TOKEND_URL="$proxy" TOKEND_SECRET="$admin" node "$client/out/client.mjs"; then
  status=1
fi

# A wrong copy of the document must be caught: the proxy is awake.
wrong="$work/wrong-openapi.json"
node -e '
  const fs = require("fs");
  const doc = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  const schemas = doc.components.schemas;
  schemas.Token.required.push("neverSent");
  schemas.Token.properties.neverSent = { type: "string" };
  schemas.Token.properties.creationDate.pattern = "Z$";
  const order = doc.paths["/api/v2/token/query"].get.parameters.find((p) => p.name === "order");
  order.schema = { type: "string", enum: ["ASC", "DESC"] };
  fs.writeFileSync(process.argv[2], JSON.stringify(doc));' "$document" "$wrong"
start_proxy "$wrong" prism-wrong
wrong_proxy=$proxy_url
if drive --proxy "$wrong_proxy" --var "admin=$admin" --expect-violations >"$work/wrong.out" 2>&1; then
  echo "openapi-conformance: the wrong copy of the document was caught: $(tail -n 1 "$work/wrong.out")"
else
  echo "openapi-conformance: the validator did not catch a wrong copy of the document" >&2
  cat "$work/wrong.out" >&2
  status=1
fi

# The store file removed under the running server: 503 answers.
rm -f "$work/data/tokend.db" "$work/data/tokend.db-wal" "$work/data/tokend.db-shm"
drive --proxy "$proxy" --vars-in "$work/vars.json" --phase store-down || status=1

if [[ $status -eq 0 ]]; then
  echo "openapi-conformance: passed"
else
  echo "openapi-conformance: FAILED" >&2
fi
exit $status
