#!/bin/bash
# bench/profile.sh WORKLOAD [TOP]: where vmon's emu accelerator spends its
# time on one workload. vmon runs it under --accel emu; perf samples the
# vmon process (cpu-clock, every thread) only between the guest's start and
# end marker lines, so boot and set-up stay out of the profile (for "boot",
# the whole boot to poweroff is sampled). `perf report --no-children` gives
# the TOP symbols (default 25), written as a markdown table to
# build/bench/profile-WORKLOAD.md (raw data: build/bench/profile-WORKLOAD.data).
#
# Workloads: the cpu part's programs (int, memcpy-rep, memcpy-sse2, sort,
# syscall) and the linux part's (boot, md5, loop, gzip).
# Environment: BUILD, VMON, BENCH_TIMEOUT (seconds, 1800), PERF (perf),
# PROFILE_FREQ (samples per second, 999), PROFILE_ACCEL (emu,jit-size=512: its translator;
# emu,jit=off the interpreter;
# translated code shows up as guest_RIP_N, from the perf map vmon writes
# under VMON_PERF_MAP=1).
set -u
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
workload=${1:-}
top=${2:-25}
perf=${PERF:-perf}
freq=${PROFILE_FREQ:-999}
# The default cache of 512 MiB is never flushed, so no two translations
# share an address in the perf map (a refill would mix their samples).
accel=${PROFILE_ACCEL:-emu,jit-size=512}
export VMON_PERF_MAP=1
kernel=$BUILD/images/vmlinuz
initrd=$BUILD/images/initramfs.cpio.gz

usage() {
	echo "usage: bench/profile.sh int|memcpy-rep|memcpy-sse2|sort|syscall|boot|md5|loop|gzip [TOP]" >&2
	exit 2
}
command -v "$perf" >/dev/null || bench_die "perf is not installed (apt-get install linux-perf)"
bench_vmon_ok >&2 || exit 1

data_file=$out/profile-$workload.data
serial=$out/profile-$workload.serial
md=$out/profile-$workload.md

# linux LINES...: the vmon command line for the Debian guest running LINES.
linux() {
	local script
	script=$(printf '%s\n' "echo @boot" "$@" "poweroff")
	cmd=("$VMON" run --accel "$accel" --mem 512M --cpus 1 --console "file:$serial" --kernel "$kernel"
		--initrd "$initrd" --append "console=ttyS0 quiet vmon.run=$(printf '%s\n' "$script" | base64 -w0)")
}
# program ELF ARGS: the vmon command line for a cpu-part program.
program() {
	elf=$BUILD/guest/$1.elf
	cmd=("$VMON" run --accel "$accel" --mem 128M --console "file:$serial" --kernel "$elf"
		--append "$2")
}
data='seq 1 200000 | head -c 1048576 > /tmp/chunk
i=0; while [ $i -lt 64 ]; do cat /tmp/chunk; i=$((i+1)); done > /tmp/data'
from=@start to=@end
case $workload in
int) program cpu_int n=20000000 ;;
memcpy-rep) program memcpy "reps=4 sse=0" ;;
memcpy-sse2) program memcpy "reps=16 sse=1" ;;
sort) program sort n=2000000 ;;
syscall) program syscall n=2000000 ;;
boot) linux; from="" to="" ;;
md5) linux "$data" "echo @start" "md5sum < /tmp/data" "echo @end" ;;
loop) linux "echo @start" 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done' "echo @end" ;;
gzip) linux "$data" "head -c 16777216 /tmp/data > /tmp/gzdata" "echo @start" \
	"gzip -1 -c /tmp/gzdata > /tmp/data.gz" "echo @end" ;;
*) usage ;;
esac
case $workload in boot|md5|loop|gzip)
	[ -f "$kernel" ] && [ -f "$initrd" ] || bench_die "$kernel or $initrd is missing (make guest)" ;;
*)
	[ -f "$elf" ] || bench_die "$elf is missing (make guest-programs)" ;;
esac

vpid="" ppid=""
cleanup() {
	[ -n "$ppid" ] && kill -INT "$ppid" 2>/dev/null
	[ -n "$vpid" ] && kill -KILL "$vpid" 2>/dev/null
}
trap cleanup EXIT

# wait_for TEXT: until the serial log has TEXT at a line start (or vmon ended).
wait_for() {
	local deadline=$((SECONDS + BENCH_TIMEOUT))
	while ! tr -d '\r' < "$serial" | grep -q "^$1\( \|\$\)"; do
		if ! kill -0 "$vpid" 2>/dev/null; then
			tr -d '\r' < "$serial" | grep -q "^$1\( \|\$\)"
			return
		fi
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

: > "$serial"
echo "profile: $workload: ${cmd[*]:0:8} ..." >&2
if [ -z "$from" ]; then
	timeout "$BENCH_TIMEOUT" "$perf" record -q -e cpu-clock -F "$freq" -g -o "$data_file" -- \
		"${cmd[@]}" < /dev/null 2> "$out/profile-$workload.err" ||
		bench_die "vmon or perf failed ($out/profile-$workload.err)"
else
	"${cmd[@]}" < /dev/null 2> "$out/profile-$workload.err" &
	vpid=$!
	wait_for "$from" || bench_die "vmon ended before '$from' ($serial, $out/profile-$workload.err)"
	"$perf" record -q -e cpu-clock -F "$freq" -g -p "$vpid" -o "$data_file" 2>> "$out/profile-$workload.err" &
	ppid=$!
	wait_for "$to" || bench_die "vmon ended before '$to' ($serial)"
	kill -INT "$ppid" 2>/dev/null
	wait "$ppid"
	ppid=
	# The guest powers off next: vmon then writes the code cache's bytes
	# (/tmp/vmon-jit-PID.bin), which a kill would cut short.
	for _ in $(seq 600); do
		kill -0 "$vpid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$vpid" 2>/dev/null
	wait "$vpid" 2>/dev/null
	vpid=
fi

report=$("$perf" report -i "$data_file" --no-children -g none --stdio --sort dso,symbol 2>/dev/null)
# Translated code: perf gives offsets in the code cache's memfd; the map
# vmon wrote names the block (guest_RIP_INSNS) each offset falls in.
jmap=$(ls -t /tmp/vmon-jit-*.map 2>/dev/null | head -n 1)
if [ -n "$jmap" ] && printf '%s\n' "$report" | grep -q 'memfd:vmon-emu-jit'; then
	report=$( {
		printf '%s\n' "$report" | grep -v 'memfd:vmon-emu-jit'
		{
			awk '{ print $1, 0, $2, $3 }' "$jmap"
			printf '%s\n' "$report" | awk '/memfd:vmon-emu-jit/ {
				for (i = 2; i <= NF; i++) if ($i ~ /^0x/) a = $i
				sub(/^0x/, "", a); p = $1; sub(/%/, "", p)
				print a, 1, p }'
		} | sort | awk '
			$2 == 0 { end = $3; name = $4; next }
			{ n = ($1 < end) ? name : "unmapped"; sum[n] += $3 }
			END { for (n in sum) printf "    %.2f%%  memfd:vmon-emu-jit  [.] %s\n", sum[n], n }'
	} | sort -t% -k1 -g -r)
fi
samples=$(printf '%s\n' "$report" | sed -n 's/^# Samples: \([^ ]*\) .*/\1/p' | head -n 1)
{
	echo "## Profile of vmon --accel $accel: $workload"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'); \`perf record -e cpu-clock -F $freq -g\` on the vmon process, $samples samples; \`perf report --no-children\`, top $top symbols (self time)."
	echo
	echo "| self % | object | symbol |"
	echo "|---:|---|---|"
	printf '%s\n' "$report" | awk -v top="$top" '
		/^ +[0-9.]+%/ && n < top {
			pct = $1; dso = $2; sym = ""
			for (i = 4; i <= NF; i++) sym = sym (sym == "" ? "" : " ") $i
			sub(/( -)+$/, "", sym)
			gsub(/\|/, "\\|", sym)
			printf "| %s | %s | `%s` |\n", pct, dso, sym
			n++
		}'
	echo
} > "$md"
cat "$md"
