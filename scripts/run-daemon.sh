#!/usr/bin/env bash
# Builds crio-lite and runs it in the foreground with the shipped default configuration (crio-lite.conf):
# socket unix:///run/crio-lite/crio-lite.sock, root /var/lib/crio-lite, runroot /run/crio-lite.
# Extra arguments go to the daemon, e.g. scripts/run-daemon.sh --log-level debug
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
[ -d build ] || meson setup build >/dev/null
ninja -C build crio-lite
exec build/crio-lite --config "$PWD/crio-lite.conf" "$@"
