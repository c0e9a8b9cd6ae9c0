#!/usr/bin/env bash
# The test command: installs the Debian packages, builds, runs unit + integration tests, then builds again with
# AddressSanitizer + UndefinedBehaviorSanitizer and runs everything once more. Needs root (the integration tests
# run the real daemon; later ones make namespaces, mounts and cgroups). Ends with "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
scripts/deps.sh test

total_pass=0
total_fail=0

# count BUILD_DIR: adds the meson results of the last run in BUILD_DIR to the totals.
count() {
	local res
	res=$(python3 - "$1/meson-logs/testlog.json" <<'PY'
import json, sys
p = f = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"):
        p += 1
    elif r != "SKIP":
        f += 1
print(p, f)
PY
)
	total_pass=$((total_pass + ${res% *}))
	total_fail=$((total_fail + ${res#* }))
}

run_suite() {
	local dir=$1
	shift
	if [ -d "$dir" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
	ninja -C "$dir"
	local rc=0
	meson test -C "$dir" --print-errorlogs --num-processes 2 || rc=$?
	count "$dir"
	return $rc
}

status=0
echo "== build and test (-Wall -Wextra -Werror)"
run_suite build -Dwerror=true || status=1

echo "== build and test under AddressSanitizer + UndefinedBehaviorSanitizer"
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
run_suite build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug || status=1
if grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' build-asan/meson-logs/testlog.txt >/dev/null 2>&1; then
	echo "sanitizer reports found in build-asan/meson-logs/testlog.txt" >&2
	status=1
fi

echo "total: $total_pass passed, $total_fail failed"
exit $status
