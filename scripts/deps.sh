#!/usr/bin/env bash
# Installs the Debian 12 packages crio-lite needs. Usage: scripts/deps.sh [build|test]
#   build: what building the daemon needs; test (default): that plus what the tests use.
set -euo pipefail
what="${1:-test}"
build_pkgs=(
	meson ninja-build pkg-config gcc
	libgrpc-dev protobuf-compiler protobuf-c-compiler libprotobuf-c-dev
	libyajl-dev libseccomp-dev libcurl4-openssl-dev libarchive-dev libzstd-dev libisal-dev libssl-dev
	# The streaming server (exec, attach, port-forward): HTTP and its upgrades; zlib for SPDY header blocks.
	libmicrohttpd-dev zlib1g-dev
)
test_pkgs=(
	libcmocka-dev
	# Status reports NetworkReady from real CNI plugin binaries in /usr/lib/cni; the CNI test runs them (bridge
	# and portmap need ip and iptables) in a network namespace of its own.
	containernetworking-plugins iproute2 iptables
	# The image tests: a real registry, images built from busybox-static (zstd for zstd layers), htpasswd for
	# the basic-auth registry; tests/fixtures/registry.py is python3 (already there: meson needs it).
	docker-registry busybox-static zstd apache2-utils python3
	# crio-lite-runtime stands in for runc under the tooling that drives runc: conmon drives it in a test. And the
	# monitor drives an external OCI runtime for a RuntimeClass handler: tested with Debian's runc.
	conmon runc
)
pkgs=("${build_pkgs[@]}")
[ "$what" = test ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages (${missing[*]}); run as root to install them" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
