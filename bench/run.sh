#!/bin/bash
# make bench: vmon and QEMU side by side in one run, on the same guest
# programs (build/guest/hello.elf, build/guest/pio.elf). Prints a table and
# writes it to build/bench/results.md; bench/README.md says what each number
# means. A monitor that fails shows "fail" and the script still exits 0.
#
# Environment: BUILD (build), VMON (build/vmon), BENCH_RUNS (20 runs of
# hello), BENCH_PIO_RUNS (3 runs of pio), BENCH_PIO_COUNT (1000000 OUTs),
# BENCH_TIMEOUT (seconds per run, 300), BENCH_ACCEL (kvm where /dev/kvm
# works, else emu against QEMU's tcg).
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
VMON=${VMON:-$BUILD/vmon}
runs=${BENCH_RUNS:-20}
pio_runs=${BENCH_PIO_RUNS:-3}
pio_count=${BENCH_PIO_COUNT:-1000000}
timeout=${BENCH_TIMEOUT:-300}
mem=64
out=$BUILD/bench
hello=$BUILD/guest/hello.elf
pio=$BUILD/guest/pio.elf
fb=$out/firstbyte

die() { echo "bench: $*" >&2; exit 1; }

mkdir -p "$out"
gcc -std=gnu17 -Wall -Wextra -Werror -O2 -o "$fb" bench/firstbyte.c -lm ||
	die "cannot build bench/firstbyte.c"
if [ ! -f "$hello" ] || [ ! -f "$pio" ]; then
	die "$hello or $pio is missing (make guest-programs builds them)"
fi
qemu=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 is not installed"

if [ -n "${BENCH_ACCEL:-}" ]; then
	accel=$BENCH_ACCEL
elif [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	accel=kvm
else
	accel=emu
fi
case $accel in
kvm) qaccel=(-accel kvm -cpu host) ;;
emu) qaccel=(-accel tcg) ;;
*) die "BENCH_ACCEL=$accel: expected kvm or emu" ;;
esac

# QEMU's fastest configuration for a guest program that needs no PCI, no
# firmware tables and no timers: microvm (about half the first-byte time of
# q35 or pc with qboot here) without option ROMs, PIT, PIC, RTC or ACPI
# (unused by the programs), the ISA serial port and isa-debug-exit. The
# kernel is entered through its PVH note.
qemu_machine=microvm,x-option-roms=off,pit=off,pic=off,rtc=off,acpi=off
# shellcheck disable=SC2054 # commas inside QEMU option values
qemu_cmd=("$qemu" -M "$qemu_machine"
	"${qaccel[@]}" -m "${mem}M" -smp 1 -nodefaults -no-user-config -display none
	-serial stdio -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=4)
vmon_cmd=("$VMON" run --accel "$accel" --mem "${mem}M" --console stdio)

# measure NAME RESULTVAR FIRSTBYTE-ARGS -- COMMAND...: the median line, or
# "fail" with the reason kept in $out/NAME.err.
measure() {
	local name=$1 var=$2 line rc
	shift 2
	echo "bench: $name" >&2
	"$fb" "$@" > "$out/$name.runs" 2> "$out/$name.err"
	rc=$?
	if [ "$rc" -eq 0 ] && line=$(grep '^median ' "$out/$name.runs"); then
		printf -v "$var" '%s' "$line"
	else
		[ "$rc" -le 128 ] || echo "firstbyte was killed by signal $((rc - 128))" >> "$out/$name.err"
		printf -v "$var" 'fail'
	fi
}

# get LINE KEY: a value from a median line, empty when absent.
get() { [ "$1" != fail ] && printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

hello_vmon=fail hello_qemu=fail pio_vmon=fail pio_qemu=fail
for m in vmon qemu; do
	if [ "$m" = vmon ]; then
		cmd=("${vmon_cmd[@]}") kopt=--kernel aopt=--append
	else
		cmd=("${qemu_cmd[@]}") kopt=-kernel aopt=-append
	fi
	if [ "$m" = vmon ] && [ ! -x "$VMON" ]; then
		echo "$VMON is not built (make)" | tee "$out/$m-hello.err" > "$out/$m-pio.err"
		printf -v "hello_$m" fail
		printf -v "pio_$m" fail
		continue
	fi
	measure "$m-hello" "hello_$m" -n "$runs" -t "$timeout" -x 1 -l "$out/$m-hello.serial" -- \
		"${cmd[@]}" "$kopt" "$hello"
	measure "$m-pio" "pio_$m" -n "$pio_runs" -t "$timeout" -x 1 -m "$mem" -s start -e end \
		-l "$out/$m-pio.serial" -- "${cmd[@]}" "$kopt" "$pio" "$aopt" "n=$pio_count"
done

# calc AWK-EXPR: prints the value, or "fail" when an operand is missing.
calc() { awk "BEGIN { $1 }" 2>/dev/null; }
cell() {
	local v=$1 div=$2 fmt=$3
	[ -n "$v" ] || { echo fail; return; }
	calc "printf \"$fmt\", $v / $div"
}
rate() {
	local ms=$1
	[ -n "$ms" ] && calc "if ($ms > 0) printf \"%.0f\", $pio_count * 1000 / $ms; else print \"fail\""
	[ -n "$ms" ] || echo fail
}
ratio() {
	case "$1$2" in *fail*|"") echo "-"; return ;; esac
	calc "if ($2 > 0) printf \"%.2f\", $1 / $2; else print \"-\""
}

rows=()
row() { rows+=("| $1 | $2 | $3 | $(ratio "$2" "$3") |"); }
row "start to first serial byte, ms (median of $runs, hello)" \
	"$(cell "$(get "$hello_vmon" first_byte_ms)" 1 %.1f)" "$(cell "$(get "$hello_qemu" first_byte_ms)" 1 %.1f)"
row "CPU time (user+sys) to first serial byte, ms" \
	"$(cell "$(get "$hello_vmon" cpu_first_byte_ms)" 1 %.1f)" "$(cell "$(get "$hello_qemu" cpu_first_byte_ms)" 1 %.1f)"
row "monitor memory: RSS minus guest RAM, MiB (pio, at \"start\")" \
	"$(cell "$(get "$pio_vmon" overhead_kib)" 1024 %.2f)" "$(cell "$(get "$pio_qemu" overhead_kib)" 1024 %.2f)"
row "monitor memory: peak RSS minus guest RAM, MiB" \
	"$(cell "$(get "$pio_vmon" peak_overhead_kib)" 1024 %.2f)" "$(cell "$(get "$pio_qemu" peak_overhead_kib)" 1024 %.2f)"
row "port-I/O exits per second ($pio_count OUTs, median of $pio_runs)" \
	"$(rate "$(get "$pio_vmon" start_end_ms)")" "$(rate "$(get "$pio_qemu" start_end_ms)")"

notes=()
for m in vmon qemu; do
	for p in hello pio; do
		v=${p}_$m
		[ "${!v}" = fail ] || continue
		notes+=("- $m failed on $p: $(grep -v -e '^$' -e 'warning: host doesn' "$out/$m-$p.err" |
			tail -n 2 | paste -sd ';' | sed 's/;/; /g')")
	done
done

{
	echo "# vmon vs QEMU ($(date -u '+%Y-%m-%d %H:%M UTC'))"
	echo
	echo "Host: $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "Accelerator: vmon --accel $accel, QEMU ${qaccel[*]} ($("$qemu" --version | head -n 1))."
	echo "Guest RAM $mem MiB, 1 vCPU. bench/README.md explains each number."
	echo
	echo "| | vmon | QEMU | vmon/QEMU |"
	echo "|---|---:|---:|---:|"
	printf '%s\n' "${rows[@]}"
	echo
	echo "vmon: \`${vmon_cmd[*]} --kernel GUEST.elf\`  "
	echo "QEMU: \`${qemu_cmd[*]} -kernel GUEST.elf\`"
	if [ ${#notes[@]} -gt 0 ]; then
		echo
		printf '%s\n' "${notes[@]}"
	fi
} > "$out/results.md"
cat "$out/results.md"
if [ "$hello_vmon" = fail ] || [ "$pio_vmon" = fail ]; then
	echo
	echo "bench: vmon failed (see above and $out/vmon-*.err); QEMU's numbers stand alone."
fi
exit 0
