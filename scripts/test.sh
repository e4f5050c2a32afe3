#!/bin/bash
# make test: every test group in order. Each group prints lines
# "PASS name", "FAIL name" or "SKIP name (why)"; this script counts them
# and ends with "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
log=$BUILD/test-log
mkdir -p "$log"
: > "$log/results"

group() {
	local name=$1
	shift
	echo "== $name"
	"$@" 2>&1 | tee "$log/$name.log" | grep -E '^(PASS|FAIL|SKIP) ' | tee -a "$log/results"
	local rc=${PIPESTATUS[0]}
	if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$log/$name.log"; then
		echo "FAIL $name (exit status $rc; see $log/$name.log)" | tee -a "$log/results"
		tail -n 30 "$log/$name.log"
	fi
}

group build        tests/build.sh
group unit         tests/unit.sh "$BUILD"
group asan         tests/unit.sh "$BUILD/asan" asan
group fuzz         tests/fuzz.sh
group cli          tests/e2e/cli.sh
for t in tests/e2e/[0-9]*.sh; do
	[ -e "$t" ] && group "$(basename "$t" .sh)" "$t"
done

pass=$(grep -c '^PASS ' "$log/results")
fail=$(grep -c '^FAIL ' "$log/results")
skip=$(grep -c '^SKIP ' "$log/results")
if [ "$fail" -ne 0 ]; then
	echo
	echo "Failed:"
	grep '^FAIL ' "$log/results"
fi
echo
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
