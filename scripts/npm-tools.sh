# Sourced by the test scripts that run tools from npm (a browser driver, an
# OpenAPI mock server and compiler). Defines
#
#   npm_tools_install NAME SUITE_DIR TOOLS_DIR FILE...
#
# which installs SUITE_DIR's package.json and package-lock.json with `npm ci`
# into TOOLS_DIR/NAME-<hash of the lock file>, unless every FILE (relative to
# that directory) is already there, and prints that directory. A changed lock
# file installs anew; two runs installing at once keep whichever finished
# first. npm is tried twice; returns 1 when both fail.
npm_tools_install() {
  local name=$1 suite=$2 tools_dir=$3
  shift 3
  local lock_id install_dir staging file ready=1
  export npm_config_update_notifier=false
  lock_id=$(sha256sum "$suite/package-lock.json" | cut -c1-12)
  install_dir="$tools_dir/$name-$lock_id"
  for file in "$@"; do
    [[ -e "$install_dir/$file" ]] || ready=0
  done
  if ((!ready)); then
    echo "$name: installing the pinned npm packages into $install_dir" >&2
    mkdir -p "$tools_dir"
    staging=$(mktemp -d "$tools_dir/.$name-install.XXXXXX")
    cp "$suite/package.json" "$suite/package-lock.json" "$staging/"
    # A second try: a registry hiccup, or another suite's install sharing
    # npm's cache at the same moment, should not fail a test run.
    if ! (cd "$staging" && npm ci --no-audit --no-fund --loglevel=error >&2) &&
      ! (cd "$staging" && sleep 2 && npm ci --no-audit --no-fund --loglevel=error >&2); then
      rm -rf "$staging"
      return 1
    fi
    mv -T "$staging" "$install_dir" 2>/dev/null || rm -rf "$staging"
  fi
  echo "$install_dir"
}
