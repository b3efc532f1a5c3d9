#!/usr/bin/env bash
# Installs the Debian packages meshlet's tests and demo need (as root), quietly, and only those missing.
# Usage: scripts/deps.sh [test|demo|bench]   (default: test)
set -euo pipefail

case "${1:-test}" in
  demo)  packages=(iproute2 iptables runc procps openssl) ;;
  test)  packages=(iproute2 iptables runc procps openssl nginx-light haproxy prometheus chromium fonts-dejavu-core) ;;
  bench) packages=(iproute2 iptables runc procps openssl nginx-light haproxy wrk hey nghttp2-client) ;;
  *) echo "deps: unknown set '$1' (test, demo, bench)" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
  exit 0
fi

echo "deps: installing ${missing[*]}" >&2
# Package scripts must not start nginx, haproxy or prometheus as services: tests start their own.
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=1
fi
trap '[ $created_policy -eq 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
