#!/bin/bash
# Builds every libFuzzer target and runs each for a short while
# (FUZZ_SECONDS, default 10) on its seed corpus.
set -u
. "$(dirname "$0")/lib.sh"
secs=${FUZZ_SECONDS:-10}
if ! make -j2 fuzz >"$BUILD/fuzz-build.log" 2>&1; then
	fail "build fuzz targets"
	tail -30 "$BUILD/fuzz-build.log"
	exit 0
fi
pass "build fuzz targets"
for f in "$BUILD"/fuzz/bin/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	corpus=$BUILD/fuzz/corpus/$name
	mkdir -p "$corpus"
	seeds=fuzz/corpus/$name
	[ -d "$seeds" ] || seeds=
	check "fuzz $name (${secs}s)" "$f" -max_total_time="$secs" -timeout=10 \
		-artifact_prefix="$BUILD/fuzz/crash-$name-" \
		-rss_limit_mb=2048 -print_final_stats=1 "$corpus" $seeds
done
