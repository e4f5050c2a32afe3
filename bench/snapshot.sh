#!/bin/bash
# bench/snapshot.sh: snapshot size and time, restore-to-running time, with
# guest/tests/snapshot.elf (256 MiB of RAM, 1 vCPU, emu), beside QEMU
# (-accel tcg, same program and RAM): QEMU's state goes out with
# "migrate exec:cat>FILE" from a VM stopped at start (-S), and comes back with
# -incoming; vmon's snapshot is taken by the test hook VMON_TEST_SNAPSHOT
# after 300 serial writes. Restore time: vmon's own measure (restore -v:
# state file read and checked, machine built, sections loaded) and, for both,
# the wall-clock time from start to the guest's exit (restore + the rest of
# the program). Firecracker publishes "restore under 8 ms" (its
# SPECIFICATION.md); it is not run here. Timings are not tests.
# Environment: BUILD, VMON, QEMU, RUNS (5).
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
VMON=${VMON:-$BUILD/vmon}
QEMU=${QEMU:-qemu-system-x86_64}
RUNS=${RUNS:-5}
prog=$BUILD/guest/snapshot.elf
make -s guest-programs BUILD="$BUILD" >/dev/null || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now() { date +%s%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e6 }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

for i in $(seq "$RUNS"); do
	rm -rf "$tmp/v"; mkdir "$tmp/v"
	t0=$(now)
	VMON_TEST_SNAPSHOT=300:$tmp/v "$VMON" run --accel emu -m 256M --kernel "$prog" --console none
	t1=$(now)
	echo "$(ms "$t0" "$t1")" >>"$tmp/vsave"
	t0=$(now)
	"$VMON" restore -v --console none "$tmp/v" 2>"$tmp/vlog"
	t1=$(now)
	echo "$(ms "$t0" "$t1")" >>"$tmp/vrestore"
	sed -n 's/.* in \([0-9.]*\) ms$/\1/p' "$tmp/vlog" >>"$tmp/vinner"
done
vsize=$(( $(stat -c %s "$tmp/v/state") + $(stat -c %b "$tmp/v/memory") * $(stat -c %B "$tmp/v/memory") ))

qok=0
if command -v "$QEMU" >/dev/null; then
	for i in $(seq "$RUNS"); do
		rm -f "$tmp/q"
		t0=$(now)
		{ echo "migrate exec:cat>$tmp/q"; sleep 1; echo quit; } |
			"$QEMU" -M q35 -accel tcg -m 256M -kernel "$prog" -S -display none -serial none \
				-monitor stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 >/dev/null 2>&1
		t1=$(now)
		echo "$(ms "$t0" "$t1")" >>"$tmp/qsave"  # includes the 1 s wait
		t0=$(now)
		# The source was stopped, so the destination waits for "cont".
		{ sleep 0.05; echo cont; sleep 20; } |
			timeout 20 "$QEMU" -M q35 -accel tcg -m 256M -kernel "$prog" -display none \
				-serial none -monitor stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
				-incoming "exec:cat $tmp/q" >/dev/null 2>&1
		[ $? -eq 124 ] && { echo "bench: QEMU restore did not end" >&2; break; }
		t1=$(now)
		echo "$(ms "$t0" "$t1")" >>"$tmp/qrestore"
	done
	[ -s "$tmp/q" ] && qok=1
fi

vr=$(median <"$tmp/vrestore"); qr=n/a; ratio=n/a
printf '| measure (median of %s) | vmon | QEMU | vmon/QEMU |\n|---|---|---|---|\n' "$RUNS"
if [ $qok = 1 ]; then
	qsize=$(stat -c %s "$tmp/q")
	if [ -s "$tmp/qrestore" ]; then
		qr=$(median <"$tmp/qrestore")
		ratio=$(awk -v a="$vr" -v b="$qr" 'BEGIN { printf "%.2f", a / b }')
	else
		qr="fail (did not end in 20 s)"
	fi
	printf '| snapshot size on disk (bytes) | %s | %s | %s |\n' "$vsize" "$qsize" \
		"$(awk -v a="$vsize" -v b="$qsize" 'BEGIN { printf "%.2f", a / b }')"
else
	printf '| snapshot size on disk (bytes) | %s | fail | n/a |\n' "$vsize"
fi
printf '| boot + run to snapshot + save (ms) | %s | n/a (stopped at start) | n/a |\n' \
	"$(median <"$tmp/vsave")"
printf '| restore, start to guest exit (ms) | %s | %s | %s |\n' "$vr" "$qr" "$ratio"
printf '| restore to running, inside vmon (ms) | %s | n/a | Firecracker: < 8 |\n' \
	"$(median <"$tmp/vinner")"
