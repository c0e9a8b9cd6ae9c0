#!/usr/bin/env bash
# Builds and runs the benchmarks, printing their figures. Needs root and the test packages (scripts/deps.sh).
#   bench/run.sh [image] [--iterations N] [--many N] [--large]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
command -v skopeo >/dev/null || { apt-get install -y -qq skopeo >/dev/null; }
[ -d build ] || meson setup build >/dev/null
ninja -C build crio-lite bench/bench-image >/dev/null
what=${1:-image}
shift || true
case "$what" in
image)
	CRIO_LITE_BIN=$PWD/build/crio-lite CRIO_LITE_FIXTURES=$PWD/tests/fixtures build/bench/bench-image "$@"
	;;
*)
	echo "unknown benchmark $what (image)" >&2
	exit 2
	;;
esac
