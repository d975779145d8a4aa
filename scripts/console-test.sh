#!/usr/bin/env bash
# Drives the web console in a real browser: Debian's Chromium under
# Playwright (npm playwright-core, pinned by tests/console/package-lock.json)
# against the real tokend on a fresh SQLite store (tests/console/console.test.mjs
# starts and stops it). Screenshots of the main screens are written to
# $TOKEND_CONSOLE_SCREENSHOTS when it is set (docs/ holds the committed ones).
#
# Usage: scripts/console-test.sh TOKEND_BINARY
#
# playwright-core is installed into $TOKEND_TOOLS_DIR (default: build/tools
# under the repository root) on first use; it never downloads a browser.
# Exits 77 (a skip for CTest's SKIP_RETURN_CODE) when node, npm or
# /usr/bin/chromium are missing or the install fails; under CI=true that is
# a failure.
set -euo pipefail

skip_status=77
[[ "${CI:-}" == "true" ]] && skip_status=1

root=$(cd "$(dirname "$0")/.." && pwd)
tokend=${1:?usage: console-test.sh TOKEND_BINARY}
[[ "$tokend" == /* ]] || tokend="$PWD/$tokend"
cd "$root"
suite=tests/console
tools_dir=${TOKEND_TOOLS_DIR:-build/tools}
[[ "$tools_dir" == /* ]] || tools_dir="$root/$tools_dir"
chromium=${TOKEND_CHROMIUM:-/usr/bin/chromium}

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "console-test: $tool not found; skipping" >&2
    exit "$skip_status"
  fi
done
if [[ ! -x "$chromium" ]]; then
  echo "console-test: $chromium not found (Debian package chromium); skipping" >&2
  exit "$skip_status"
fi
if [[ ! -x "$tokend" ]]; then
  echo "console-test: $tokend: no such program (build tokend first)" >&2
  exit 1
fi

# Never fetch a browser of Playwright's own: the test runs Debian's Chromium.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
source "$root/scripts/npm-tools.sh"
if ! install_dir=$(npm_tools_install console-test "$suite" "$tools_dir" \
  node_modules/playwright-core/package.json); then
  echo "console-test: could not install playwright-core; skipping" >&2
  exit "$skip_status"
fi

export TOKEND_BINARY="$tokend" TOKEND_CHROMIUM="$chromium"
export TOKEND_CONSOLE_MODULES="$install_dir/node_modules"
exec node --test --test-reporter=spec --test-timeout=170000 "$suite/console.test.mjs"
