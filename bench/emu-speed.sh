#!/bin/bash
# The CPU-bound Linux workloads of DESIGN.md on vmon's emu (and, with
# QEMU=1, on qemu-system-x86_64 -accel tcg in the same run): boot to the
# shell, a busybox shell loop, md5sum and gzip -1 of a file in the
# initramfs's RAM. The guest times each workload with /proc/uptime and
# prints "@name seconds"; the boot time is the host's wall clock from exec
# to the guest's first marker. Wall times move with the host's load: the
# monitor's CPU seconds per workload (from /proc/PID/stat) move less.
#
# Environment: BUILD (build), VMON (build/vmon), LOOP (200000 steps),
# MB (64 MiB of data), QEMU (1: also run QEMU tcg), RUNS (1), PREFIX (a
# command that runs vmon, e.g. "perf record -g -o perf.data").
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
VMON=${VMON:-$BUILD/vmon}
LOOP=${LOOP:-200000}
MB=${MB:-64}
RUNS=${RUNS:-1}
img=$BUILD/images
if [ ! -f "$img/vmlinuz" ] || [ ! -f "$img/initramfs.cpio.gz" ]; then
	echo "emu-speed: $img/vmlinuz or initramfs.cpio.gz missing (make guest)" >&2
	exit 1
fi

script="t() { cut -d' ' -f1 /proc/uptime; }
dd if=/dev/urandom of=/tmp/data bs=1M count=$MB 2>/dev/null
echo @go
a=\$(t); i=0; while [ \$i -lt $LOOP ]; do i=\$((i+1)); done; b=\$(t)
echo \"@loop \$(echo \"\$a \$b\" | awk '{print \$2 - \$1}')\"
a=\$(t); md5sum /tmp/data > /dev/null; b=\$(t)
echo \"@md5sum \$(echo \"\$a \$b\" | awk '{print \$2 - \$1}')\"
a=\$(t); gzip -1 -c /tmp/data > /dev/null; b=\$(t)
echo \"@gzip \$(echo \"\$a \$b\" | awk '{print \$2 - \$1}')\"
poweroff -f"
run64=$(printf '%s\n' "$script" | base64 -w0)
append="console=ttyS0 quiet vmon.run=$run64"

# cpu PID: the process's user+sys CPU time in seconds.
cpu() {
	local f
	read -ra f < "/proc/$1/stat" 2>/dev/null || { echo 0; return; }
	awk "BEGIN { print (${f[13]} + ${f[14]}) / $(getconf CLK_TCK) }"
}

# one NAME COMMAND...: runs it, prints "NAME boot loop md5sum gzip" as
# guest seconds, and the monitor's CPU seconds for each workload.
one() {
	local name=$1 t0 line boot=- now fd pid c0 c1 k
	local -A wall=() cpus=()
	shift
	t0=$EPOCHREALTIME
	exec {fd}< <(exec timeout 600 "$@" 2>"$BUILD/emu-speed-$name.err" </dev/null)
	pid=$!
	sleep 0.2
	pid=$(pgrep -P "$pid" | head -n 1)
	c0=0
	while IFS= read -r -u "$fd" line; do
		line=${line%$'\r'}
		now=$EPOCHREALTIME
		case $line in
		@go)
			boot=$(awk "BEGIN { printf \"%.2f\", $now - $t0 }")
			c0=$(cpu "$pid") ;;
		"@loop "* | "@md5sum "* | "@gzip "*)
			k=${line%% *}
			k=${k#@}
			wall[$k]=${line#* }
			c1=$(cpu "$pid")
			cpus[$k]=$(awk "BEGIN { printf \"%.2f\", $c1 - $c0 }")
			c0=$c1 ;;
		esac
	done
	exec {fd}<&-
	printf '%-6s %8s %8s %8s %8s  guest s\n' "$name" "$boot" "${wall[loop]:--}" \
		"${wall[md5sum]:--}" "${wall[gzip]:--}"
	printf '%-6s %8s %8s %8s %8s  CPU s\n' "" "" "${cpus[loop]:--}" "${cpus[md5sum]:--}" \
		"${cpus[gzip]:--}"
}

printf '%-6s %8s %8s %8s %8s   (seconds; loop=%s steps, %s MiB)\n' \
	"" boot loop md5sum gzip "$LOOP" "$MB"
for _ in $(seq "$RUNS"); do
	# shellcheck disable=SC2086 # PREFIX is a command line (perf record ...)
	one emu ${PREFIX:-} "$VMON" run --accel emu --mem 512M --kernel "$img/vmlinuz" \
		--initrd "$img/initramfs.cpio.gz" --append "$append" --console stdio
	if [ "${QEMU:-0}" = 1 ]; then
		one qemu qemu-system-x86_64 -accel tcg -m 512M -smp 1 -nodefaults \
			-no-user-config -display none -serial stdio -no-reboot \
			-kernel "$img/vmlinuz" -initrd "$img/initramfs.cpio.gz" -append "$append"
	fi
done
