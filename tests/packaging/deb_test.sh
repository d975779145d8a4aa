#!/usr/bin/env bash
# `make deb`'s package: built by CPack from the Release tree, its contents and
# control data checked, its maintainer scripts run in a sandbox against fake
# systemctl / deb-systemd-helper / deb-systemd-invoke, then (as root, on a
# machine where no tokend package is installed yet) installed with apt, run
# as its unit would run it, upgraded, removed and purged.
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
# The settings file is shipped 0640 root:root (the scripts do not chmod it).
env_entry=$(dpkg-deb -c "$deb" | awk '$NF == "./etc/tokend/tokend.env" {print $1, $2}')
[[ $env_entry == "-rw-r----- root/root" ]] || fail "tokend.env is shipped as '$env_entry', not -rw-r----- root/root"
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

# ---------------------------------------------------------------------------
# The maintainer scripts, run as dpkg runs them, in a sandbox: their absolute
# paths (/run, /var, /etc, ...) rewritten into a scratch root (with or without
# a run/systemd/system: systemd running or not), and a PATH of their own
# holding a fake systemctl that keeps tokend.service's state (enable link,
# mask, the binary it runs if running) in that root. deb-systemd-helper and
# deb-systemd-invoke, when this machine has them, are the real ones confined
# to the scratch root by DPKG_ROOT (so no policy-rc.d, no daemon-reload) and
# calling the fake systemctl. Nothing of this machine's systemd or files is
# touched, root or not. The sequences run with the helpers, then without them
# (plain systemctl), then with no systemctl at all.
sb="$control/sandbox"
version=$(dpkg-deb -f "$deb" Version)
ms_mode=
ms_fail() { echo "--- calls:" >&2; cat "$sb/log" >&2 2>/dev/null || true; fail "maintainer scripts ($ms_mode): $*"; }

ms_fresh() {  # MODE (helpers | plain | no-systemctl) [no-systemd]
  ms_mode="$1${2:+, $2}"
  rm -rf "$sb"
  mkdir -p "$sb/bin" "$sb/scripts" "$sb/root/usr/bin" "$sb/root/usr/lib/systemd/system" \
           "$sb/root/etc/tokend" "$sb/root/var/lib/tokend"
  : >"$sb/log"
  [[ ${2:-} == no-systemd ]] || mkdir -p "$sb/root/run/systemd/system"
  # The few tools the scripts and the fakes use; nothing else is on PATH.
  local tool
  for tool in sh cat chmod chown cp grep ln mkdir mv readlink rm rmdir sed touch; do
    ln -s "$(command -v "$tool")" "$sb/bin/$tool"
  done
  for script in preinst postinst prerm postrm; do
    [[ -f "$control/DEBIAN/$script" ]] || continue
    sed -E "s#(^|[[:space:]\"'=])/(run|var|etc|usr|lib|opt|srv)/#\1$sb/root/\2/#g" \
      "$control/DEBIAN/$script" >"$sb/scripts/$script"
    chmod 755 "$sb/scripts/$script"
    # Refuse to run a script still naming a path outside the sandbox.
    if sed -e 1d -e "s#$sb/root/##g" -e 's#/dev/null##g' "$sb/scripts/$script" \
         | grep -nE "(^|[[:space:]\"'=])/[A-Za-z]" >&2; then
      fail "$script names a path the sandbox does not cover"
    fi
  done
  [[ $1 == no-systemctl ]] && return 0
  cat >"$sb/bin/systemctl" <<FAKE
#!/bin/sh
# A fake systemctl: tokend.service's state lives in $sb/root.
echo "systemctl \$*" >>"$sb/log"
root="$sb/root"
FAKE
  cat >>"$sb/bin/systemctl" <<'FAKE'
wants="$root/etc/systemd/system/multi-user.target.wants/tokend.service"
mask="$root/etc/systemd/system/tokend.service"
unit_file="$root/usr/lib/systemd/system/tokend.service"
running="$root/../running"
verb= quiet=
for a; do
  case $a in
    -q|--quiet) quiet=1 ;;
    -*) ;;
    *) if [ -z "$verb" ]; then verb=$a
       elif [ "$a" != tokend.service ]; then echo "fake systemctl: unknown unit $a" >&2; exit 5; fi ;;
  esac
done
say() { [ -n "$quiet" ] || echo "$1"; }
masked() { [ "$(readlink "$mask" 2>/dev/null)" = /dev/null ]; }
loadable() { [ -f "$unit_file" ] && ! masked; }
case $verb in
  daemon-reload) ;;
  enable) loadable || exit 1; mkdir -p "${wants%/*}"
          ln -sfn /usr/lib/systemd/system/tokend.service "$wants" ;;
  disable) rm -f "$wants" ;;
  mask) ln -sfn /dev/null "$mask" ;;
  unmask) if masked; then rm -f "$mask"; fi ;;
  is-enabled) if masked; then say masked; exit 1
              elif [ -L "$wants" ]; then say enabled
              else say disabled; exit 1; fi ;;
  is-active) if [ -e "$running" ]; then say active; else say inactive; exit 3; fi ;;
  start) loadable || exit 5; [ -e "$running" ] || cat "$root/usr/bin/tokend" >"$running" ;;
  restart) loadable || exit 5; cat "$root/usr/bin/tokend" >"$running" ;;
  try-restart) if [ -e "$running" ]; then loadable || exit 5; cat "$root/usr/bin/tokend" >"$running"; fi ;;
  stop) rm -f "$running" ;;
  *) echo "fake systemctl: unexpected call: $*" >&2; exit 1 ;;
esac
FAKE
  chmod 755 "$sb/bin/systemctl"
  if [[ $1 == helpers ]]; then
    local helper
    for helper in deb-systemd-helper deb-systemd-invoke; do
      printf '#!/bin/sh\necho "%s $*" >>"%s/log"\nexport DPKG_ROOT="%s/root"\nexec %s "$@"\n' \
        "$helper" "$sb" "$sb" "$(command -v "$helper")" >"$sb/bin/$helper"
      chmod 755 "$sb/bin/$helper"
    done
  fi
}

ms_run() {  # SCRIPT ARG...: one maintainer script, as dpkg runs it
  [[ -f "$sb/scripts/$1" ]] || return 0
  echo "# $*" >>"$sb/log"
  env -i PATH="$sb/bin" LC_ALL=C DPKG_MAINTSCRIPT_PACKAGE=tokend DPKG_MAINTSCRIPT_NAME="$1" \
    "$sb/scripts/$1" "${@:2}" >"$sb/out" 2>"$sb/err" \
    || ms_fail "'$*' failed: $(cat "$sb/err")"
  [[ ! -s "$sb/out" && ! -s "$sb/err" ]] || ms_fail "'$*' is not quiet: $(cat "$sb/out" "$sb/err")"
}
ms_admin() {  # what an administrator does
  echo "# the administrator:" >>"$sb/log"
  env -i PATH="$sb/bin" systemctl "$@" >/dev/null
}
ms_generation=0
ms_unpack() {  # the package's files as dpkg unpacks them (a conffile already there stays)
  ms_generation=$((ms_generation + 1))
  echo "tokend, unpacked $ms_generation" >"$sb/root/usr/bin/tokend"  # the binary a start runs
  cp "$unit" "$sb/root/usr/lib/systemd/system/tokend.service"
  if [[ ! -e "$sb/root/etc/tokend/tokend.env" ]]; then
    cp "$control/root/etc/tokend/tokend.env" "$sb/root/etc/tokend/tokend.env"
    chmod 640 "$sb/root/etc/tokend/tokend.env"  # the archive's mode, checked above
  fi
}
ms_install() { ms_run preinst install; ms_unpack; ms_run postinst configure ""; }
ms_upgrade() {  # to the same version, as `dpkg -i` of it again
  ms_run prerm upgrade "$version"; ms_run preinst upgrade "$version"; ms_unpack
  ms_run postrm upgrade "$version"; ms_run postinst configure "$version"
}
ms_remove() {
  ms_run prerm remove
  rm -f "$sb/root/usr/bin/tokend" "$sb/root/usr/lib/systemd/system/tokend.service"
  ms_run postrm remove
}
ms_purge() { rm -f "$sb/root/etc/tokend/tokend.env"; ms_run postrm purge; }

ms_enabled() {  # the unit would start at boot: its enable link names a unit systemd loads
  local link="$sb/root/etc/systemd/system/multi-user.target.wants/tokend.service"
  [[ -L $link && -f "$sb/root$(readlink "$link")" && "$(readlink "$sb/root/etc/systemd/system/tokend.service")" != /dev/null ]]
}
ms_expect() {  # WHEN ENABLED(yes|no) RUNNING(no | current: the binary unpacked last | stale)
  local enabled=no running=no
  ms_enabled && enabled=yes
  if [[ -e "$sb/running" ]]; then
    running=stale
    [[ $(cat "$sb/running") == $(cat "$sb/root/usr/bin/tokend" 2>/dev/null) ]] && running=current
  fi
  [[ $enabled == "$2" ]] || ms_fail "$1: enabled=$enabled, expected $2"
  [[ $running == "$3" ]] || ms_fail "$1: running=$running, expected $3"
}
ms_expect_env_mode() {
  local mode
  mode=$(stat -c %a "$sb/root/etc/tokend/tokend.env")
  [[ $mode == "$2" ]] || ms_fail "$1: tokend.env has mode $mode, expected $2"
}
ms_expect_no_dangling_link() {  # an enable link left by a remove names a masked unit
  local link="$sb/root/etc/systemd/system/multi-user.target.wants/tokend.service"
  if [[ -L $link && ! -e "$sb/root$(readlink "$link")" ]] \
     && [[ "$(readlink "$sb/root/etc/systemd/system/tokend.service")" != /dev/null ]]; then
    ms_fail "$1: the enable link $(readlink "$link") names a removed, unmasked unit"
  fi
}
ms_expect_no_unit_state() {  # nothing of tokend.service's enablement is left
  local left
  left=$(find "$sb/root/etc/systemd" "$sb/root/var/lib/systemd" -name 'tokend.service*' 2>/dev/null || true)
  [[ -z $left ]] || ms_fail "$1: left behind: $left"
}

for ms_helpers in helpers plain; do
  if [[ $ms_helpers == helpers ]] \
     && ! { command -v deb-systemd-helper && command -v deb-systemd-invoke; } >/dev/null; then
    echo "maintainer scripts with deb-systemd-helper: not tried (not installed here)"
    continue
  fi
  # systemd running: a first install enables and starts.
  ms_fresh "$ms_helpers"
  ms_install
  ms_expect "first install" yes current
  ms_expect_env_mode "first install" 640
  # Upgrades keep the administrator's choices.
  ms_upgrade
  ms_expect "upgrade, enabled and running" yes current
  ms_admin disable tokend.service; ms_admin stop tokend.service
  chmod 600 "$sb/root/etc/tokend/tokend.env"
  ms_upgrade
  ms_expect "upgrade, disabled and stopped" no no
  ms_expect_env_mode "upgrade, mode 0600" 600
  ms_admin enable tokend.service
  ms_upgrade
  ms_expect "upgrade, enabled and stopped" yes no
  ms_admin disable tokend.service; ms_admin start tokend.service
  ms_upgrade
  ms_expect "upgrade, disabled and running" no current
  # Remove: stopped, data and settings kept, no enable link to a removed unit.
  ms_admin enable tokend.service
  ms_remove
  ms_expect "remove" no no
  ms_expect_no_dangling_link "remove"
  [[ -e "$sb/root/var/lib/tokend" ]] || ms_fail "remove deleted /var/lib/tokend"
  [[ -e "$sb/root/etc/tokend/tokend.env" ]] || ms_fail "remove deleted the settings file"
  # Installed again from the settings left (dpkg passes the version removed):
  # the removal's mask is lifted; deb-systemd-helper restores the enablement.
  ms_unpack; ms_run postinst configure "$version"
  [[ $(readlink "$sb/root/etc/systemd/system/tokend.service") != /dev/null ]] \
    || ms_fail "installed again after a remove, the unit stays masked"
  if [[ $ms_helpers == helpers ]]; then
    ms_expect "installed again after a remove" yes no
  fi
  # Purge: no enablement state, no data.
  ms_remove
  ms_purge
  ms_expect_no_unit_state "purge"
  [[ ! -e "$sb/root/var/lib/tokend" ]] || ms_fail "purge left /var/lib/tokend"
  [[ ! -e "$sb/root/etc/tokend" ]] || ms_fail "purge left /etc/tokend"

  # An upgrade from a package that never used deb-systemd-helper (no state of
  # its own) keeps the enablement it finds, either way.
  for ms_was in disabled enabled; do
    ms_fresh "$ms_helpers"
    ms_unpack
    [[ $ms_was == enabled ]] && ms_admin enable tokend.service
    ms_run postinst configure 0.9
    ms_expect "upgrade from a package without state, $ms_was" "$([[ $ms_was == enabled ]] && echo yes || echo no)" no
    ms_remove; ms_purge
    ms_expect_no_unit_state "purge after an upgrade from a package without state, $ms_was"
  done

  # systemd not running: nothing is started, stopped or reloaded; all succeeds.
  ms_fresh "$ms_helpers" no-systemd
  ms_install; ms_upgrade; ms_remove; ms_purge
  if grep -E '^(systemctl|deb-systemd-invoke) .*(start|stop|restart|reload)' "$sb/log" >&2; then
    ms_fail "services acted on without systemd running"
  fi
  ms_expect_no_unit_state "purge without systemd running"
done
# Neither systemd nor systemctl here at all: every step succeeds, quietly.
ms_fresh no-systemctl no-systemd
ms_install; ms_upgrade; ms_remove; ms_purge
rm -rf "$sb"
echo "maintainer scripts: ok"

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

apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -q "$@" >apt.log 2>&1; }
wants=/etc/systemd/system/multi-user.target.wants/tokend.service
masked() { [[ $(readlink /etc/systemd/system/tokend.service) == /dev/null ]]; }
# An upgrade (the package installed again: prerm upgrade, postinst configure
# with the version installed) keeps an administrator's stricter mode on the
# settings file, and the enablement found, enabled or disabled.
chmod 600 /etc/tokend/tokend.env
enabled_before=no; [[ -L $wants ]] && enabled_before=yes
apt_get install --reinstall "$build_dir/$deb" || { cat apt.log >&2; fail "installing the package again"; }
mode=$(stat -c %a /etc/tokend/tokend.env)
[[ $mode == 600 ]] || fail "an upgrade turned tokend.env's mode 600 into $mode"
enabled_after=no; [[ -L $wants ]] && enabled_after=yes
[[ $enabled_after == "$enabled_before" ]] || fail "an upgrade turned enabled=$enabled_before into $enabled_after"
if [[ $enabled_before == yes ]] && command -v systemctl >/dev/null; then
  systemctl disable -q tokend.service
  apt_get install --reinstall "$build_dir/$deb" || { cat apt.log >&2; fail "installing the package again"; }
  [[ ! -e $wants ]] || fail "an upgrade enabled the unit the administrator disabled"
  systemctl enable -q tokend.service
fi

# Remove: the settings and the store stay; an enable link kept for a
# reinstall names a masked unit, not a removed one.
apt_get remove tokend || { cat apt.log >&2; fail "apt remove"; }
[[ ! -e /usr/bin/tokend ]] || fail "remove left /usr/bin/tokend"
[[ -e /etc/tokend/tokend.env ]] || fail "remove deleted the settings file"
[[ -e /var/lib/tokend ]] || fail "remove deleted /var/lib/tokend"
if [[ -L $wants ]] && ! masked; then fail "remove left $wants naming a removed unit, unmasked"; fi

apt_get purge tokend || { cat apt.log >&2; fail "apt purge"; }
[[ ! -e /usr/bin/tokend ]] || fail "purge left /usr/bin/tokend"
[[ ! -e /etc/tokend ]] || fail "purge left /etc/tokend"
[[ ! -e /var/lib/tokend ]] || fail "purge left /var/lib/tokend"
[[ ! -e /var/lib/private/tokend ]] || fail "purge left /var/lib/private/tokend"
left=$(find /etc/systemd /var/lib/systemd -name 'tokend.service*' 2>/dev/null || true)
[[ -z $left ]] || fail "purge left the unit's enablement state: $left"
echo "install, serve, upgrade, remove, purge: ok"
