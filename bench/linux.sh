#!/bin/bash
# bench part "linux" (issue 4): the Debian kernel and the busybox initramfs
# of `make guest` (build/images) under vmon --accel emu and QEMU -accel tcg
# in its fastest direct-kernel configuration, 512 MiB, 1 vCPU, the same
# kernel command line. One guest per run boots, runs the workloads of
# DESIGN.md (md5sum of 64 MiB, a 200 000-step busybox shell loop, gzip -1 of
# 64 MiB) and powers off; each is timed on the host from marker lines the
# guest prints ("@NAME"), not from the guest's clock. Writes
# build/bench/linux.md.
#
# Environment: BENCH_LINUX_RUNS (1: one run of vmon's side takes about
# five minutes today), BENCH_LINUX_LOOP (200000 steps), BENCH_LINUX_MIB (64:
# the data md5sum reads), BENCH_LINUX_GZIP_MIB (64: the first MiB of it
# that gzip -1 compresses, DESIGN.md's workload; 16 makes the part about
# three minutes shorter), and those of bench/lib.sh.
set -u
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
runs=${BENCH_LINUX_RUNS:-1}
steps=${BENCH_LINUX_LOOP:-200000}
mib=${BENCH_LINUX_MIB:-64}
gz=${BENCH_LINUX_GZIP_MIB:-64}
[ "$gz" -le "$mib" ] || bench_die "BENCH_LINUX_GZIP_MIB=$gz is more than BENCH_LINUX_MIB=$mib"
kernel=$BUILD/images/vmlinuz
initrd=$BUILD/images/initramfs.cpio.gz
bench_firstbyte
bench_qemu
[ -f "$kernel" ] && [ -f "$initrd" ] || bench_die "$kernel or $initrd is missing (make guest)"

# The guest's script (run by the initramfs's /init from vmon.run=BASE64).
# The data: 1 MiB of `seq` text (compressible, not trivially: gzip -1 makes
# it about 3 times smaller), repeated to $mib MiB in tmpfs, before any
# timing; md5sum reads it, gzip -1 compresses a copy of its first $gz MiB
# (also made before the timing). The 1 MiB period is far beyond gzip's
# 32 KiB window, so the data is no easier to compress than that much seq.
script="echo @boot
seq 1 200000 | head -c 1048576 > /tmp/chunk
i=0; while [ \$i -lt $mib ]; do cat /tmp/chunk; i=\$((i+1)); done > /tmp/data
head -c $((gz << 20)) /tmp/data > /tmp/gzdata
echo \"@data \$(wc -c < /tmp/data) \$(wc -c < /tmp/gzdata)\"
echo @md5-start
echo \"@md5-end \$(md5sum < /tmp/data | cut -d' ' -f1)\"
echo @loop-start
i=0; while [ \$i -lt $steps ]; do i=\$((i+1)); done
echo \"@loop-end \$i\"
echo @gzip-start
gzip -1 -c /tmp/gzdata > /tmp/data.gz
echo @gzip-end
echo \"@gzip-md5 \$(md5sum < /tmp/data.gz | cut -d' ' -f1) \$(wc -c < /tmp/data.gz)\"
echo @done
poweroff"
append="console=ttyS0 quiet vmon.run=$(printf '%s\n' "$script" | base64 -w0)"

# QEMU's fastest direct-kernel configuration here (bench/README.md): the pc
# machine with qboot, the minimal firmware, as its BIOS; the default CPU
# model (qemu64; -cpu max was the same within the noise). microvm hangs in
# TSC calibration under tcg. The kernel powers off through ACPI.
qemu_cmd=("$qemu" -M pc -bios /usr/share/qemu/qboot.rom -accel tcg -m 512M -smp 1
	-nodefaults -no-user-config -display none -serial stdio -no-reboot
	-kernel "$kernel" -initrd "$initrd" -append "$append")
vmon_cmd=("$VMON" run --accel "${BENCH_EMU_ACCEL:-emu}" --mem 512M --cpus 1 --console stdio
	--kernel "$kernel" --initrd "$initrd" --append "$append")

for m in vmon qemu; do
	if [ "$m" = vmon ]; then
		if ! bench_vmon_ok > "$out/linux-vmon.err"; then
			bench_note "- vmon failed: $(bench_why linux-vmon)"
			continue
		fi
		cmd=("${vmon_cmd[@]}")
	else
		cmd=("${qemu_cmd[@]}")
	fi
	bench_run "linux-$m" -n "$runs" -t "$BENCH_TIMEOUT" -x 0 -s @boot -e @done \
		-l "$out/linux-$m.serial" -- "${cmd[@]}" ||
		bench_note "- $m failed: $(bench_why "linux-$m")"
done

# secs M FROM TO: the median span in seconds, "fail" when missing.
secs() { fmt "$(bench_span "linux-$1" "$2" "$3")" 1000 %.2f; }
# boot_poweroff M: the whole run minus the workloads (@boot to @done).
boot_poweroff() {
	local total work
	total=$(bench_span "linux-$1" spawn exit)
	work=$(bench_span "linux-$1" boot "done")
	[ -n "$total" ] && [ -n "$work" ] || { echo fail; return; }
	calc "printf \"%.2f\", ($total - $work) / 1000"
}
# check M ROW MARK: the cell, marked wrong when the guest's result differs.
check() {
	local v=$1 mark=$2 got_v got_q
	got_v=$(bench_field "$out/linux-vmon.serial" "$mark")
	got_q=$(bench_field "$out/linux-qemu.serial" "$mark")
	if [ "$v" != fail ] && [ -n "$got_q" ] && [ "$got_v" != "$got_q" ]; then
		bench_note "- @$mark differs: vmon '$got_v', QEMU '$got_q'"
		echo "$v (wrong)"
		return
	fi
	echo "$v"
}

bench_table_begin "linux: Debian kernel + busybox initramfs, vmon emu vs QEMU tcg (median of $runs, $clock_label)"
bench_row "boot to the init script (spawn to \"@boot\"), s" "$(secs vmon spawn boot)" "$(secs qemu spawn boot)"
bench_row "boot to poweroff (whole run minus the workloads), s" "$(boot_poweroff vmon)" "$(boot_poweroff qemu)"
bench_row "md5sum of $mib MiB (tmpfs), s" "$(check "$(secs vmon md5-start md5-end)" md5-end)" "$(secs qemu md5-start md5-end)"
bench_row "busybox sh loop, $steps steps, s" "$(check "$(secs vmon loop-start loop-end)" loop-end)" "$(secs qemu loop-start loop-end)"
bench_row "gzip -1 of $gz MiB (tmpfs), s" "$(check "$(secs vmon gzip-start gzip-end)" gzip-md5)" "$(secs qemu gzip-start gzip-end)"
bench_note "vmon: \`$VMON run --accel ${BENCH_EMU_ACCEL:-emu} --mem 512M --cpus 1 --console stdio --kernel vmlinuz --initrd initramfs.cpio.gz --append \"console=ttyS0 quiet vmon.run=SCRIPT\"\`  "
bench_note "QEMU: \`$qemu -M pc -bios /usr/share/qemu/qboot.rom -accel tcg -m 512M -smp 1 -nodefaults -no-user-config -display none -serial stdio -no-reboot -kernel vmlinuz -initrd initramfs.cpio.gz -append (the same)\`  "
bench_note "Times between the guest's marker lines, taken on the host ($clock_label); lower is better. The guest's md5sum, loop count and gzip output (md5, size) are compared between the monitors."
bench_table_end linux
exit 0
