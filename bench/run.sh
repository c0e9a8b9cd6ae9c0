#!/usr/bin/env bash
# Builds and runs the benchmarks, printing their figures. Needs root and the test packages (scripts/deps.sh).
#   bench/run.sh image [--iterations N] [--many N] [--large]
#   bench/run.sh runtime [--iterations N]
#   bench/run.sh pod [--iterations N]
#   bench/run.sh stream [--iterations N] [--megabytes N]
#   bench/run.sh footprint [--requests N] [--pulls N]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
# Peers measured beside crio-lite, never used by it.
command -v skopeo >/dev/null || apt-get install -y -qq skopeo >/dev/null
command -v runc >/dev/null || apt-get install -y -qq runc >/dev/null
[ -x /usr/bin/containerd ] || apt-get install -y -qq containerd >/dev/null
[ -d build ] || meson setup build >/dev/null
ninja -C build crio-lite crio-lite-runtime crio-lite-monitor bench/bench-image bench/bench-runtime bench/bench-pod \
	bench/bench-stream bench/bench-footprint >/dev/null
what=${1:-image}
shift || true
case "$what" in
image)
	CRIO_LITE_BIN=$PWD/build/crio-lite CRIO_LITE_FIXTURES=$PWD/tests/fixtures build/bench/bench-image "$@"
	;;
runtime)
	CRIO_LITE_RUNTIME_BIN=$PWD/build/crio-lite-runtime CRIO_LITE_MONITOR_BIN=$PWD/build/crio-lite-monitor \
		build/bench/bench-runtime "$@"
	;;
pod)
	CRIO_LITE_BIN=$PWD/build/crio-lite CRIO_LITE_FIXTURES=$PWD/tests/fixtures build/bench/bench-pod "$@"
	;;
stream)
	CRIO_LITE_BIN=$PWD/build/crio-lite CRIO_LITE_FIXTURES=$PWD/tests/fixtures build/bench/bench-stream "$@"
	;;
footprint)
	CRIO_LITE_BIN=${CRIO_LITE_BIN:-$PWD/build/crio-lite} CRIO_LITE_FIXTURES=$PWD/tests/fixtures \
		build/bench/bench-footprint "$@"
	;;
*)
	echo "unknown benchmark $what (image, runtime, pod, stream, footprint)" >&2
	exit 2
	;;
esac
