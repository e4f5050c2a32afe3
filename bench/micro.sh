#!/bin/bash
# bench part "micro": start-up time, monitor memory and port-I/O exits, on
# the guest programs build/guest/hello.elf and build/guest/pio.elf, under
# vmon and QEMU (kvm where /dev/kvm works, else vmon emu against QEMU tcg).
# Writes build/bench/micro.md; bench/README.md says what each number means.
#
# Environment: BENCH_RUNS (20 runs of hello), BENCH_PIO_RUNS (3 runs of
# pio), BENCH_PIO_COUNT (1000000 OUTs), BENCH_ACCEL (kvm or emu), and those
# of bench/lib.sh.
set -u
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
runs=${BENCH_RUNS:-20}
pio_runs=${BENCH_PIO_RUNS:-3}
pio_count=${BENCH_PIO_COUNT:-1000000}
timeout=$BENCH_TIMEOUT
mem=64
hello=$BUILD/guest/hello.elf
pio=$BUILD/guest/pio.elf
bench_firstbyte
bench_qemu
if [ ! -f "$hello" ] || [ ! -f "$pio" ]; then
	bench_die "$hello or $pio is missing (make guest-programs builds them)"
fi

if [ -n "${BENCH_ACCEL:-}" ]; then
	accel=$BENCH_ACCEL
elif bench_kvm_ok; then
	accel=kvm
else
	accel=emu
fi
case $accel in
kvm) qaccel=(-accel kvm -cpu host) ;;
emu) qaccel=(-accel tcg) ;;
*) bench_die "BENCH_ACCEL=$accel: expected kvm or emu" ;;
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

for m in vmon qemu; do
	if [ "$m" = vmon ]; then
		cmd=("${vmon_cmd[@]}") kopt=--kernel aopt=--append
	else
		cmd=("${qemu_cmd[@]}") kopt=-kernel aopt=-append
	fi
	if [ "$m" = vmon ] && ! bench_vmon_ok > "$out/$m-hello.err"; then
		cp "$out/$m-hello.err" "$out/$m-pio.err"
		: > "$out/$m-hello.runs"
		: > "$out/$m-pio.runs"
		continue
	fi
	bench_run "$m-hello" -n "$runs" -t "$timeout" -x 1 -l "$out/$m-hello.serial" -- \
		"${cmd[@]}" "$kopt" "$hello"
	bench_run "$m-pio" -n "$pio_runs" -t "$timeout" -x 1 -m "$mem" -s start -e end \
		-l "$out/$m-pio.serial" -- "${cmd[@]}" "$kopt" "$pio" "$aopt" "n=$pio_count"
done

# v M PROG KEY DIV FMT: a median value, formatted.
v() { fmt "$(bench_get "$1-$2" "$3")" "$4" "$5"; }
rate() { per_s "$pio_count" "$(bench_get "$1-pio" start_end_ms)" %.0f; }

bench_table_begin "micro: start-up, memory, port I/O (vmon --accel $accel, QEMU ${qaccel[*]})"
bench_row "start to first serial byte, ms (median of $runs, hello)" \
	"$(v vmon hello first_byte_ms 1 %.1f)" "$(v qemu hello first_byte_ms 1 %.1f)"
bench_row "CPU time (user+sys) to first serial byte, ms" \
	"$(v vmon hello cpu_first_byte_ms 1 %.1f)" "$(v qemu hello cpu_first_byte_ms 1 %.1f)"
bench_row "monitor memory: RSS minus guest RAM, MiB (pio, at \"start\")" \
	"$(v vmon pio overhead_kib 1024 %.2f)" "$(v qemu pio overhead_kib 1024 %.2f)"
bench_row "monitor memory: peak RSS minus guest RAM, MiB" \
	"$(v vmon pio peak_overhead_kib 1024 %.2f)" "$(v qemu pio peak_overhead_kib 1024 %.2f)"
bench_row "port-I/O exits per second ($pio_count OUTs, median of $pio_runs)" \
	"$(rate vmon)" "$(rate qemu)"
for m in vmon qemu; do
	for p in hello pio; do
		[ -n "$(bench_get "$m-$p" first_byte_ms)" ] ||
			bench_note "- $m failed on $p: $(bench_why "$m-$p")"
	done
done
bench_note "vmon: \`${vmon_cmd[*]} --kernel GUEST.elf\`  "
bench_note "QEMU: \`${qemu_cmd[*]} -kernel GUEST.elf\`"
bench_table_end micro
exit 0
