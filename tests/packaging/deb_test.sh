#!/usr/bin/env bash
# `make deb`'s package: built by CPack from the Release tree, its contents and
# control data checked, then (as root, on a machine where no tokend package
# is installed yet) installed with apt, run as its unit would run it, and
# purged.
#
# Usage: tests/packaging/deb_test.sh BUILD_DIR
# Exits 77 (a skip) when the install cannot be tried here and everything
# else passed; 1 on any failure.
set -euo pipefail

build_dir=$(cd "$1" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }

cd "$build_dir"
rm -rf package
cpack -G DEB >/dev/null 2>cpack.log || { cat cpack.log >&2; fail "cpack"; }
deb=$(ls package/tokend_*_*.deb)
[[ -f "$deb" ]] || fail "no package built"
echo "built $deb"

contents=$(dpkg-deb -c "$deb" | awk '{print $NF}')
for path in ./usr/bin/tokend ./usr/lib/systemd/system/tokend.service ./etc/tokend/tokend.env \
            ./usr/share/doc/tokend/API.md ./usr/share/doc/tokend/OPERATIONS.md \
            ./usr/share/doc/tokend/README.md ./usr/share/doc/tokend/openapi.json; do
  grep -qx -- "$path" <<<"$contents" || fail "the package lacks $path"
done
# Nothing else of the build (tests, benchmarks) is shipped.
[[ $(grep -c '^\./usr/bin/' <<<"$contents") -eq 2 ]] || fail "unexpected programs: $contents"

[[ $(dpkg-deb -f "$deb" Package) == tokend ]] || fail "package name"
depends=$(dpkg-deb -f "$deb" Depends)
for library in libsqlite3-0 libpq5 libssl3; do
  grep -q "$library" <<<"$depends" || fail "Depends lacks $library: $depends"
done
control=$(mktemp -d)
trap 'rm -rf "$control"' EXIT
dpkg-deb -e "$deb" "$control/DEBIAN"
grep -qx /etc/tokend/tokend.env "$control/DEBIAN/conffiles" || fail "tokend.env is not a conffile"
dpkg-deb -x "$deb" "$control/root"
unit="$control/root/usr/lib/systemd/system/tokend.service"
for directive in DynamicUser=yes ProtectSystem=strict StateDirectory=tokend NoNewPrivileges=yes \
                 EnvironmentFile=/etc/tokend/tokend.env 'ExecStart=/usr/bin/tokend serve'; do
  grep -qx -- "$directive" "$unit" || fail "the unit lacks $directive"
done
grep -qx 'TOKEND_STORE=sqlite:/var/lib/tokend/tokend.db' "$control/root/etc/tokend/tokend.env" \
  || fail "the settings file does not put the store in /var/lib/tokend"
"$control/root/usr/bin/tokend" --version | grep -q '^tokend ' || fail "the packaged binary does not run"
echo "contents and control data: ok"

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "SKIP: installing needs root and apt"; exit 77
fi
if dpkg -s tokend >/dev/null 2>&1; then
  echo "SKIP: a tokend package is already installed here; not touching it"; exit 77
fi

DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q "$build_dir/$deb" >apt.log 2>&1 \
  || { cat apt.log >&2; fail "apt install"; }
cleanup() {
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 purge -y -q tokend >/dev/null 2>&1 || true
  rm -rf "$control"
}
trap cleanup EXIT
[[ -x /usr/bin/tokend ]] || fail "installed, but no /usr/bin/tokend"
[[ $(stat -c %a /etc/tokend/tokend.env) == 640 ]] || fail "tokend.env is readable by others"
systemd-analyze verify --man=no /usr/lib/systemd/system/tokend.service \
  || fail "systemd-analyze finds the unit invalid"
# The check the settings file offers works as written (as root: without sudo).
hint=$(sed -n "s/^# sudo //p" /etc/tokend/tokend.env)
[[ $hint == *--check-config* ]] || fail "the settings file offers no check command"
mkdir -p -m 700 /var/lib/tokend
checked=$(bash -c "$hint" 2>&1) || fail "the settings file's check command fails: $checked"
[[ $checked == "configuration ok" ]] || fail "the settings file's check command says: $checked"

if [[ -d /run/systemd/system ]]; then
  # A running systemd: the package started the service.
  for _ in $(seq 50); do
    curl -fsS http://127.0.0.1:7700/health >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fsS http://127.0.0.1:7700/health | grep -q UP || fail "the service does not answer"
else
  # No systemd here: run tokend as the unit does, with its settings file and
  # its state folder, on a free port.
  mkdir -p -m 700 /var/lib/tokend
  log="$build_dir/deb-serve.log"
  (
    set -a; . /etc/tokend/tokend.env; set +a
    cd /var/lib/tokend
    /usr/bin/tokend serve --check-config >/dev/null
    exec /usr/bin/tokend serve --listen 127.0.0.1:0
  ) 2>"$log" &
  server=$!
  port=
  for _ in $(seq 50); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")
    [[ -n "$port" ]] && break
    sleep 0.2
  done
  [[ -n "$port" ]] || { cat "$log" >&2; fail "tokend did not start"; }
  curl -fsS "http://127.0.0.1:$port/health" | grep -q UP || { cat "$log" >&2; fail "tokend does not answer"; }
  [[ -f /var/lib/tokend/tokend.db ]] || fail "the store is not in /var/lib/tokend"
  secret=$(cat /var/lib/tokend/bootstrap-token)
  curl -fsS -H "Authorization: Bearer $secret" "http://127.0.0.1:$port/api/v2/token/self" \
    | grep -q '"type":"global"' || fail "the bootstrap secret does not authenticate"
  kill -TERM "$server"
  wait "$server" || fail "tokend did not stop cleanly on SIGTERM"
fi

DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 purge -y -q tokend >apt.log 2>&1 || { cat apt.log >&2; fail "apt purge"; }
[[ ! -e /usr/bin/tokend ]] || fail "purge left /usr/bin/tokend"
[[ ! -e /etc/tokend ]] || fail "purge left /etc/tokend"
[[ ! -e /var/lib/tokend ]] || fail "purge left /var/lib/tokend"
echo "install, serve, purge: ok"
