#!/usr/bin/env bash
# Validates docs/openapi.json (the document GET /api/docs/spec serves) with
# Redocly CLI's "recommended-strict" ruleset (the recommended rules, every
# warning raised to an error: examples must match their schemas, no unused
# components, ...). Exits non-zero when the file is not strict JSON or when
# the linter reports any problem.
#
# Usage: scripts/lint-openapi.sh [FILE]      (default: docs/openapi.json)
#
# Redocly CLI is installed from npm, pinned, into $TOKEND_TOOLS_DIR (default:
# build/tools under the repository root) the first time it is needed.
# Exits 77 (a skip for CTest's SKIP_RETURN_CODE) when node/npm are missing or
# the tool cannot be installed.
set -euo pipefail

# In CI a missing linter is a failure, not a skip.
skip_status=77
[[ "${CI:-}" == "true" ]] && skip_status=1

# 2.55.0: supports node 20.19+ and 22.12+; later 2.x releases print a
# node 20 deprecation banner on every run.
REDOCLY_VERSION=2.55.0

root=$(cd "$(dirname "$0")/.." && pwd)
spec=${1:-$root/docs/openapi.json}
[[ "$spec" == /* ]] || spec="$PWD/$spec"
cd "$root"
tools_dir=${TOKEND_TOOLS_DIR:-build/tools}
case "$tools_dir" in
  /*) ;;
  *) tools_dir="$root/$tools_dir" ;;
esac
install_dir="$tools_dir/redocly-cli-$REDOCLY_VERSION"
redocly="$install_dir/node_modules/.bin/redocly"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "lint-openapi: $tool not found; skipping" >&2
    exit "$skip_status"
  fi
done

if [[ ! -f "$spec" ]]; then
  echo "lint-openapi: $spec: no such file" >&2
  exit 1
fi

# The document is served as application/json: it must be strict JSON, which
# the linter (a YAML parser) would not insist on.
if ! node -e '
  const fs = require("fs");
  const file = process.argv[1];
  try { JSON.parse(fs.readFileSync(file, "utf8")); }
  catch (e) { console.error("lint-openapi: " + file + ": not valid JSON: " + e.message); process.exit(1); }
' "$spec"; then
  exit 1
fi

export REDOCLY_TELEMETRY=off
export REDOCLY_SUPPRESS_UPDATE_NOTICE=true
export npm_config_update_notifier=false

if [[ ! -x "$redocly" ]]; then
  echo "lint-openapi: installing @redocly/cli@$REDOCLY_VERSION into $install_dir" >&2
  mkdir -p "$tools_dir"
  staging=$(mktemp -d "$tools_dir/.redocly-install.XXXXXX")
  trap 'rm -rf "$staging"' EXIT
  if ! npm install --no-audit --no-fund --no-save --loglevel=error \
         --prefix "$staging" "@redocly/cli@$REDOCLY_VERSION" >&2; then
    echo "lint-openapi: could not install @redocly/cli@$REDOCLY_VERSION; skipping" >&2
    exit "$skip_status"
  fi
  # Another run may have finished first; keep whichever landed.
  mv -T "$staging" "$install_dir" 2>/dev/null || rm -rf "$staging"
  trap - EXIT
  if [[ ! -x "$redocly" ]]; then
    echo "lint-openapi: $redocly missing after install" >&2
    exit 1
  fi
fi

exec "$redocly" lint --extends recommended-strict --format stylish "$spec"
