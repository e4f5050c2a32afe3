#!/bin/bash
# make bench: vmon and QEMU side by side, in parts. Each part is a script
# bench/PART.sh that runs both monitors in the same run, prints a markdown
# table (measure, vmon, QEMU, vmon/QEMU) and writes build/bench/PART.md;
# this script runs the parts named in BENCH_PARTS (default: all of them, in
# the order below, then net if bench/net.sh exists) and concatenates their
# tables into build/bench/results.md. bench/README.md says what each number
# means. Timings are not tests: the script exits 0 whatever the numbers.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
out=$BUILD/bench
parts=${BENCH_PARTS:-micro cpu linux disk api migrate net}
mkdir -p "$out"

done_parts=()
for part in $parts; do
	script=bench/$part.sh
	if [ ! -f "$script" ]; then
		# net is written elsewhere; the others are part of this directory.
		[ "$part" = net ] && [ -z "${BENCH_PARTS:-}" ] && continue
		echo "bench: no part '$part' ($script)" >&2
		continue
	fi
	echo "bench: part $part" >&2
	rm -f "$out/$part.md"
	start=$(date +%s)
	bash "$script" || echo "bench: $script ended with status $?" >&2
	echo "bench: part $part took $(($(date +%s) - start)) s" >&2
	[ -f "$out/$part.md" ] && done_parts+=("$part")
done

{
	echo "# vmon vs QEMU ($(date -u '+%Y-%m-%d %H:%M UTC'))"
	echo
	echo "bench/README.md explains each number; ratios are vmon/QEMU of the numbers shown."
	echo
	for part in "${done_parts[@]}"; do
		cat "$out/$part.md"
	done
} > "$out/results.md"
echo "bench: results in $out/results.md (parts: ${done_parts[*]})" >&2
exit 0
