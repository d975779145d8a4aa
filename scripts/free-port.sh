#!/usr/bin/env bash
# Prints a loopback TCP port that nothing listens on, taken below the
# kernel's ephemeral range. A port inside that range may be held by an
# outgoing connection or its TIME_WAIT (a benchmark client's, a test's),
# which no check by connecting sees and which makes a later listen on it
# fail with "address already in use".
set -euo pipefail

low=32768
if [[ -r /proc/sys/net/ipv4/ip_local_port_range ]]; then
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range
fi
first=10000
(( low - first >= 1000 )) || first=1024
for _ in $(seq 1 100); do
  port=$(( first + RANDOM % (low - first) ))
  # bash's /dev/tcp connects: success means something listens there.
  if ! (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then
    echo "${port}"
    exit 0
  fi
done
echo "free-port: no free loopback port found below ${low}" >&2
exit 1
