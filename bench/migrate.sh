#!/bin/bash
# bench part "migrate" (issue 11): live migration on loopback of the
# Debian kernel + busybox initramfs of bench/linux.sh (512 MiB, 1 vCPU),
# vmon --accel emu (vmon run --incoming / vmon migrate) beside QEMU -accel
# tcg (-incoming tcp: / QMP migrate), downtime target 300 ms on both, for
# two guests: idle (a line a second) and memory-writing (rewrites a
# BENCH_MIGRATE_MIB file of random bytes in tmpfs with dd, over and over).
# Each side reports its own total time (migrate command to the target
# running) and downtime (guest paused on the source to running on the
# target); the target must then go on printing the guest's lines. Under the
# table: the cost of dirty-page tracking on emu (guest programs with the
# test hook VMON_TEST_DIRTY=20, a collect every 20 ms, against none).
# Writes build/bench/migrate.md.
#
# Environment: BENCH_MIGRATE_RUNS (1), BENCH_MIGRATE_MIB (32),
# BENCH_MIGRATE_OVH_RUNS (5), BENCH_MIGRATE_WAIT (300 s for a boot or a
# migration), and those of bench/lib.sh.
set -u
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
runs=${BENCH_MIGRATE_RUNS:-1}
mib=${BENCH_MIGRATE_MIB:-32}
ovh_runs=${BENCH_MIGRATE_OVH_RUNS:-5}
wait_s=${BENCH_MIGRATE_WAIT:-300}
kernel=$BUILD/images/vmlinuz
initrd=$BUILD/images/initramfs.cpio.gz
bench_firstbyte
bench_qemu
[ -f "$kernel" ] && [ -f "$initrd" ] || bench_die "$kernel or $initrd is missing (make guest)"
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# The guests' scripts (the initramfs's /init runs vmon.run=BASE64).
idle_script='echo @ready
i=0; while :; do i=$((i+1)); echo "@tick $i"; sleep 1; done'
write_script="head -c $((mib << 20)) /dev/urandom > /tmp/src
echo @ready
i=0; while :; do dd if=/tmp/src of=/tmp/w bs=1M conv=notrunc 2>/dev/null; i=\$((i+1)); echo \"@tick \$i\"; done"
append_of() { echo "console=ttyS0 quiet vmon.run=$(printf '%s\n' "$1" | base64 -w0)"; }

qemu_base=("$qemu" -M pc -bios /usr/share/qemu/qboot.rom -accel tcg -m 512M -smp 1
	-nodefaults -no-user-config -display none -no-reboot -kernel "$kernel" -initrd "$initrd")
vmon_base=("$VMON" run --accel emu --mem 512M --cpus 1)

port() { echo $((20000 + RANDOM % 20000)); }
# last_tick SERIAL: the number of the last "@tick N" line, 0 when none.
last_tick() { [ -f "$1" ] || { echo 0; return; }; tr -d '\r' < "$1" 2>/dev/null | sed -n 's/^@tick //p' | tail -n 1 | grep . || echo 0; }
# first_tick SERIAL: the number of the first "@tick N" line, 0 when none.
first_tick() { [ -f "$1" ] || { echo 0; return; }; tr -d '\r' < "$1" | sed -n 's/^@tick //p' | head -n 1 | grep . || echo 0; }
# wait_for SERIAL N [S]: until the guest printed "@tick N" or later, S
# seconds at most (default $wait_s; status 1 on timeout).
wait_for() {
	local i
	for ((i = 0; i < ${3:-$wait_s} * 10; i++)); do
		[ "$(last_tick "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
stop_all() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	pids=()
}

# QMP client of the source: sets the downtime target and no bandwidth cap
# (vmon has none), migrates, polls query-migrate; prints
# "total=MS downtime=MS passes=N" or "fail WHY".
qmp_migrate() {
	python3 - "$1" "$2" "$wait_s" <<'PY'
import json, socket, sys, time
path, uri, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_UNIX)
s.connect(path)
f = s.makefile("rw")
def cmd(name, args=None):
    msg = {"execute": name}
    if args:
        msg["arguments"] = args
    f.write(json.dumps(msg) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            return r
json.loads(f.readline())  # greeting
cmd("qmp_capabilities")
cmd("migrate-set-parameters", {"downtime-limit": 300, "max-bandwidth": 1 << 40})
r = cmd("migrate", {"uri": uri})
if "error" in r:
    print("fail", r["error"].get("desc", "migrate refused")); sys.exit()
end = time.time() + limit
while time.time() < end:
    m = cmd("query-migrate")["return"]
    st = m.get("status")
    if st == "completed":
        print("total=%d downtime=%d passes=%d" % (m["total-time"], m["downtime"],
              m.get("ram", {}).get("dirty-sync-count", 0)))
        sys.exit()
    if st in ("failed", "cancelled"):
        print("fail", m.get("error-desc", st)); sys.exit()
    time.sleep(0.05)
cmd("migrate_cancel")
print("fail did not complete in %d s" % limit)
PY
}

# one_run M GUEST N: migrates once; appends "total downtime passes" to
# $tmp/M-GUEST.res or a reason to $tmp/M-GUEST.why.
one_run() {
	local m=$1 g=$2 n=$3 d=$tmp/$1-$2-$3 p res before first script keep=0
	mkdir -p "$d"
	script=$idle_script
	[ "$g" = write ] && script=$write_script
	p=$(port)
	if [ "$m" = vmon ]; then
		"${vmon_base[@]}" --console "file:$d/dst.serial" --api-sock "$d/dst.sock" \
			--incoming "tcp:127.0.0.1:$p" > "$d/dst.err" 2>&1 &
		pids+=($!)
		"${vmon_base[@]}" --console "file:$d/src.serial" --api-sock "$d/src.sock" \
			--kernel "$kernel" --initrd "$initrd" --append "$(append_of "$script")" \
			> "$d/src.err" 2>&1 &
		pids+=($!)
	else
		"${qemu_base[@]}" -append "$(append_of "$script")" -serial "file:$d/dst.serial" \
			-qmp "unix:$d/dst.qmp,server=on,wait=off" -incoming "tcp:127.0.0.1:$p" \
			> "$d/dst.err" 2>&1 &
		pids+=($!)
		"${qemu_base[@]}" -append "$(append_of "$script")" -serial "file:$d/src.serial" \
			-qmp "unix:$d/src.qmp,server=on,wait=off" > "$d/src.err" 2>&1 &
		pids+=($!)
	fi
	# Migrated once the workload has run a while (two lines).
	if ! wait_for "$d/src.serial" 2; then
		echo "run $n: the source did not boot in $wait_s s ($(tail -n 1 "$d/src.err"))" >> "$tmp/$m-$g.why"
		stop_all
		return
	fi
	if [ "$m" = vmon ]; then
		"$VMON" migrate "$d/src.sock" "tcp:127.0.0.1:$p" > "$d/migrate.out" 2>&1
		res=$(sed -n 's/.* in \([0-9]*\) ms, downtime \([0-9]*\) ms$/total=\1 downtime=\2/p' "$d/migrate.out")
		[ -n "$res" ] && res="$res passes=$(grep -c ': pass ' "$d/migrate.out")"
		[ -n "$res" ] || res="fail $(tail -n 1 "$d/migrate.out")"
	else
		res=$(qmp_migrate "$d/src.qmp" "tcp:127.0.0.1:$p" 2>&1 | tail -n 1)
	fi
	cp "$d"/*.out "$out/migrate-$m-$g.log" 2>/dev/null
	case $res in
	total=*)
		# The guest goes on where it was: a later line on the target.
		before=$(last_tick "$d/src.serial")
		if wait_for "$d/dst.serial" $((before + 1)) 60; then
			# total=T downtime=D passes=P -> "T D P"
			echo "$res" | sed 's/[a-z]*=//g' >> "$tmp/$m-$g.res"
			first=$(first_tick "$d/dst.serial")
			[ "$first" -le $((before + 1)) ] ||
				echo "run $n: the source's last line was @tick $before, the target's first @tick $first" >> "$tmp/$m-$g.why"
		else
			echo "run $n: migrated, but the target printed nothing after @tick $before in 60 s (logs: $out/migrate-$m-$g-$n.*)" >> "$tmp/$m-$g.why"
			keep=1
		fi ;;
	*) echo "run $n: ${res#fail } (logs: $out/migrate-$m-$g-$n.*)" >> "$tmp/$m-$g.why"; keep=1 ;;
	esac
	stop_all
	if [ "${keep:-0}" = 1 ]; then
		for f in "$d"/*.serial "$d"/*.err; do
			[ -f "$f" ] && cp "$f" "$out/migrate-$m-$g-$n.$(basename "$f")"
		done
	fi
}

for g in idle write; do
	for m in vmon qemu; do
		if [ "$m" = vmon ] && ! bench_vmon_ok > /dev/null; then
			echo "$(bench_vmon_ok)" >> "$tmp/$m-$g.why"
			continue
		fi
		for ((n = 1; n <= runs; n++)); do
			echo "bench: migrate $m $g run $n" >&2
			one_run "$m" "$g" "$n"
		done
	done
done

# col M G K: the median of column K (1 total, 2 downtime, 3 passes), "fail" when none.
col() {
	local v
	v=$(awk -v k="$3" '{ print $k }' "$tmp/$1-$2.res" 2>/dev/null | median)
	[ -n "$v" ] && printf '%.0f\n' "$v" || echo fail
}

# The cost of tracking on emu: guest programs, tracking off and on.
ovh_rows=()
if bench_vmon_ok > /dev/null; then
	make -s guest-programs BUILD="$BUILD" > /dev/null 2>&1
	for p in "memcpy|reps=64 sse=1|memcpy 4 MiB x 64, SSE2 loop" "sort|n=2000000|quicksort of 2*10^6 ints" \
		"cpu_int|n=20000000|integer loop, 2*10^7 steps"; do
		IFS='|' read -r prog args what <<<"$p"
		elf=$BUILD/guest/$prog.elf
		[ -f "$elf" ] || continue
		for t in off on; do
			id=migrate-ovh-$prog-$t
			env=()
			[ "$t" = on ] && env=(VMON_TEST_DIRTY=20)
			if env "${env[@]}" "$fb" -n "$ovh_runs" -t "$BENCH_TIMEOUT" -x 1 -s @start -e @end \
				-l "$out/$id.serial" -- "$VMON" run --accel emu --mem 128M --console stdio \
				--kernel "$elf" --append "$args" > "$out/$id.runs" 2> "$out/$id.err" &&
				grep -q '^median ' "$out/$id.runs"; then
				# CPU time of the whole monitor (the collecting thread's
				# too): steadier than wall time on a shared host.
				printf -v "t_$t" '%s' "$(fmt "$(BENCH_CLOCK=cpu bench_span "$id" start end)" 1000 %.3f)"
			else
				printf -v "t_$t" '%s' fail
			fi
		done
		# shellcheck disable=SC2154  # t_off, t_on: set by printf -v
		ovh_rows+=("| $what | $t_off | $t_on | $(ratio "$t_on" "$t_off") |")
	done
fi

bench_table_begin "migrate: live migration on loopback, Linux 512 MiB, vmon emu vs QEMU tcg (median of $runs)"
for g in idle write; do
	label="idle guest"
	[ "$g" = write ] && label="guest rewriting $mib MiB"
	bench_row "$label: total migration time, ms" "$(col vmon $g 1)" "$(col qemu $g 1)"
	bench_row "$label: downtime, ms" "$(col vmon $g 2)" "$(col qemu $g 2)"
	bench_row "$label: RAM passes (pre-copy rounds / QEMU dirty syncs)" "$(col vmon $g 3)" "$(col qemu $g 3)"
	for m in vmon qemu; do
		[ -s "$tmp/$m-$g.why" ] && while read -r line; do
			bench_note "- $m, $label: $line"
		done < "$tmp/$m-$g.why"
	done
done
bench_note "vmon: target \`$VMON run --accel emu --mem 512M --cpus 1 --console file:DST --incoming tcp:127.0.0.1:PORT\`, source the same with \`--kernel vmlinuz --initrd initramfs.cpio.gz --append SCRIPT\`, then \`$VMON migrate SRC.sock tcp:127.0.0.1:PORT\` (downtime target 300 ms); its own total and downtime (\"migrated ... in T ms, downtime D ms\").  "
bench_note "QEMU: \`${qemu_base[*]} -append SCRIPT -serial file:F -qmp unix:Q\`, the target with \`-incoming tcp:127.0.0.1:PORT\`; QMP migrate-set-parameters downtime-limit 300 and max-bandwidth 1 TiB/s (no cap, as vmon), migrate, then query-migrate's total-time and downtime.  "
bench_note "Migrated after the guest's second line; a result counts once the target prints the next line within 60 s (a note when a line is missing between the two sides). Lower is better."
if [ ${#ovh_rows[@]} -gt 0 ]; then
	bench_note ""
	bench_note "Dirty-page tracking on emu: guest programs (bench/cpu.sh's) with tracking off and on (VMON_TEST_DIRTY=20: on from the start, a collect every 20 ms), monitor CPU time (all threads, the collector's too) from \"@start\" to \"@end\", s, median of $ovh_runs:"
	bench_note ""
	bench_note "| program | tracking off | on | on/off |"
	bench_note "|---|---:|---:|---:|"
	for r in "${ovh_rows[@]}"; do bench_note "$r"; done
fi
bench_table_end migrate
exit 0
