#!/bin/bash
# bench part "cpu" (issue 3): CPU-bound guest programs of the kit
# (guest/bench/{cpu_int,memcpy,sort,syscall}.c) under vmon --accel emu and
# QEMU -accel tcg, and, where /dev/kvm works, under vmon kvm and QEMU kvm.
# Each program prints "@start" and "@end CHECKSUM"; the time between the two
# lines is taken on the host (bench/firstbyte.c), the checksums of the two
# monitors are compared. Writes build/bench/cpu.md.
#
# Environment: BENCH_CPU_RUNS (3), BENCH_CPU_KVM (1: also the kvm rows
# where /dev/kvm works; 0: not), and those of bench/lib.sh.
set -u
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
runs=${BENCH_CPU_RUNS:-3}
mem=128
bench_firstbyte
bench_qemu

# name|program|command line|what one run does (for the measure column)
progs=(
	"int|cpu_int|n=20000000|integer loop: 2*10^7 LCG+hash steps, s"
	"memcpy-rep|memcpy|reps=4 sse=0|memcpy 4 MiB x 4, rep movsb, s"
	"memcpy-sse2|memcpy|reps=16 sse=1|memcpy 4 MiB x 16, SSE2 loop, s"
	"sort|sort|n=2000000|quicksort of 2*10^6 ints, s"
	"syscall|syscall|n=2000000|2*10^6 SYSCALL/SYSRETQ round trips, s"
)

for p in "${progs[@]}"; do
	IFS='|' read -r name prog _ _ <<<"$p"
	[ -f "$BUILD/guest/$prog.elf" ] ||
		bench_die "$BUILD/guest/$prog.elf is missing (make guest-programs)"
done

# QEMU's fastest configuration for a PVH ELF (bench/README.md): microvm.
qemu_machine=microvm,x-option-roms=off,pit=off,pic=off,rtc=off,acpi=off
qemu_base=("$qemu" -M "$qemu_machine" -m "${mem}M" -smp 1 -nodefaults -no-user-config
	-display none -serial stdio -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=4)

# BENCH_EMU_ACCELS="emu emu,jit=off": emu with and without its translator.
read -ra accels <<<"${BENCH_EMU_ACCELS:-emu}"
if [ "${BENCH_CPU_KVM:-1}" = 1 ] && bench_kvm_ok; then
	accels+=(kvm)
fi

bench_table_begin "cpu: guest programs, vmon emu vs QEMU tcg (median of $runs, $clock_label)"
for accel in "${accels[@]}"; do
	case $accel in
	emu*) qaccel=(-accel tcg) ;;
	kvm) qaccel=(-accel kvm -cpu host) ;;
	esac
	for p in "${progs[@]}"; do
		IFS='|' read -r name prog args what <<<"$p"
		elf=$BUILD/guest/$prog.elf
		v=fail q=fail
		for m in vmon qemu; do
			id=cpu-$accel-$name-$m
			if [ "$m" = vmon ]; then
				if ! bench_vmon_ok > "$out/$id.err"; then
					bench_note "- vmon ($accel) failed on $name: $(bench_why "$id")"
					continue
				fi
				cmd=("$VMON" run --accel "$accel" --mem "${mem}M" --console stdio
					--kernel "$elf" --append "$args")
			else
				cmd=("${qemu_base[@]}" "${qaccel[@]}" -kernel "$elf" -append "$args")
			fi
			if bench_run "$id" -n "$runs" -t "$BENCH_TIMEOUT" -x 1 -s @start -e @end \
				-l "$out/$id.serial" -- "${cmd[@]}"; then
				printf -v "${m:0:1}" '%s' "$(fmt "$(bench_span "$id" start end)" 1000 %.3f)"
			else
				bench_note "- $m ($accel) failed on $name: $(bench_why "$id")"
			fi
		done
		sum_v=$(bench_field "$out/cpu-$accel-$name-vmon.serial" end)
		sum_q=$(bench_field "$out/cpu-$accel-$name-qemu.serial" end)
		if [ "$v" != fail ] && [ "$q" != fail ] && [ "$sum_v" != "$sum_q" ]; then
			bench_note "- $name ($accel): checksums differ: vmon $sum_v, QEMU $sum_q"
			v="$v (wrong)"
		fi
		label=$what
		[ "$accel" != emu ] && label="$what ($accel)"
		bench_row "$label" "$v" "$q"
	done
done
bench_note "vmon: \`$VMON run --accel emu|kvm --mem ${mem}M --console stdio --kernel GUEST.elf --append ARGS\`  "
bench_note "QEMU: \`${qemu_base[*]} -accel tcg (kvm: -accel kvm -cpu host) -kernel GUEST.elf -append ARGS\`  "
bench_note "Time from the guest's \"@start\" line to its \"@end CHECKSUM\" line, taken on the host ($clock_label); lower is better. Checksums equal on both unless a note says otherwise."
bench_table_end cpu
exit 0
