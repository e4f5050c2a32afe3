#!/bin/bash
# Runs every unit-test binary of a build directory: unit.sh BUILD [asan].
set -u
. "$(dirname "$0")/lib.sh"
dir=$1
tag=${2:+ ($2)}
if [ "${2:-}" = asan ]; then
	make -j2 asan >/dev/null 2>&1 || { fail "build unit tests$tag"; make asan 2>&1 | tail -30; exit 0; }
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
found=0
for t in "$dir"/tests/test_*; do
	[ -x "$t" ] || continue
	found=1
	check "unit $(basename "$t")$tag" "$t"
done
[ "$found" = 1 ] || fail "unit$tag: no test binaries in $dir/tests"
