#!/bin/bash
# bench part "disk" (issue 5): sequential write and read throughput of a
# virtio-blk disk (a raw image file on the host) measured with dd in the
# Debian guest under vmon --accel emu (--disk) and QEMU -accel tcg
# (virtio-blk-pci), the same kernel, initramfs and guest script. Timed on
# the host from the guest's marker lines. Writes build/bench/disk.md.
#
# Environment: BENCH_DISK_RUNS (2), BENCH_DISK_MIB (128), and those of
# bench/lib.sh.
set -u
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
runs=${BENCH_DISK_RUNS:-2}
mib=${BENCH_DISK_MIB:-128}
kernel=$BUILD/images/vmlinuz
initrd=$BUILD/images/initramfs.cpio.gz
img=$out/disk.img
bench_firstbyte
bench_qemu
[ -f "$kernel" ] && [ -f "$initrd" ] || bench_die "$kernel or $initrd is missing (make guest)"

# Write: dd from /dev/zero (onto an image full of 0xff bytes, so the host
# can check that the zeros arrived) to the whole-disk device, 1 MiB blocks, and
# conv=fsync (the time includes the flush, which vmon and QEMU both turn
# into fdatasync on the image). Read: the guest's page cache is dropped
# first, so every block comes from the device (and on the host from its
# page cache, where the write left it: this measures the virtio-blk path,
# not the host's disk).
script="echo @boot
echo \"@size \$(cat /sys/block/vda/size)\"
echo @write-start
dd if=/dev/zero of=/dev/vda bs=1M count=$mib conv=fsync 2>/dev/null && echo @write-end
sync; echo 3 > /proc/sys/vm/drop_caches
echo @read-start
dd if=/dev/vda of=/dev/null bs=1M count=$mib 2>/dev/null && echo @read-end
echo @done
poweroff"
append="console=ttyS0 quiet vmon.run=$(printf '%s\n' "$script" | base64 -w0)"

# The same direct-kernel QEMU as the linux part, with the image on
# virtio-blk-pci. cache=writeback (QEMU's default, stated): writes land in
# the host's page cache, a guest flush is an fdatasync, as in vmon;
# aio=threads (the default) is a worker pool, as in vmon.
qemu_cmd=("$qemu" -M pc -bios /usr/share/qemu/qboot.rom -accel tcg -m 512M -smp 1
	-nodefaults -no-user-config -display none -serial stdio -no-reboot
	-drive "file=$img,if=none,format=raw,id=d,cache=writeback,aio=threads"
	-device virtio-blk-pci,drive=d
	-kernel "$kernel" -initrd "$initrd" -append "$append")
vmon_cmd=("$VMON" run --accel emu --mem 512M --cpus 1 --console stdio --disk "$img"
	--kernel "$kernel" --initrd "$initrd" --append "$append")

for m in vmon qemu; do
	if [ "$m" = vmon ]; then
		if ! bench_vmon_ok > "$out/disk-vmon.err"; then
			bench_note "- vmon failed: $(bench_why disk-vmon)"
			continue
		fi
		cmd=("${vmon_cmd[@]}")
	else
		cmd=("${qemu_cmd[@]}")
	fi
	# A fresh image for each monitor, full of 0xff bytes (allocated on the
	# host, like a used disk); afterwards the host checks that the guest's
	# zeros reached it.
	if [ "${BENCH_REPORT_ONLY:-0}" != 1 ]; then
		rm -f "$img"
		tr '\0' '\377' < /dev/zero | head -c "$(((mib + 16) << 20))" > "$img"
		bench_run "disk-$m" -n "$runs" -t "$BENCH_TIMEOUT" -x 0 -s @boot -e @done \
			-l "$out/disk-$m.serial" -- "${cmd[@]}" &&
			! cmp -s -n "$((mib << 20))" "$img" /dev/zero &&
			echo "the image does not hold the $mib MiB of zeros the guest wrote" >> "$out/disk-$m.err" &&
			: > "$out/disk-$m.runs"
	fi
	bench_ok "disk-$m" || bench_note "- $m failed: $(bench_why "disk-$m")"
done
rm -f "$img"

# mibs M FROM TO: MiB/s over the median span.
mibs() { per_s "$mib" "$(bench_span "disk-$1" "$2" "$3")" %.1f; }
bench_table_begin "disk: virtio-blk, dd in the guest, vmon emu vs QEMU tcg (median of $runs, $clock_label)"
bench_row "sequential write, $mib MiB, bs=1M conv=fsync, MiB/s" "$(mibs vmon write-start write-end)" "$(mibs qemu write-start write-end)"
bench_row "sequential read, $mib MiB, bs=1M after drop_caches, MiB/s" "$(mibs vmon read-start read-end)" "$(mibs qemu read-start read-end)"
bench_note "vmon: \`$VMON run --accel emu --mem 512M --cpus 1 --console stdio --disk disk.img --kernel vmlinuz --initrd initramfs.cpio.gz --append \"console=ttyS0 quiet vmon.run=SCRIPT\"\`  "
bench_note "QEMU: the linux part's command line plus \`-drive file=disk.img,if=none,format=raw,id=d,cache=writeback,aio=threads -device virtio-blk-pci,drive=d\`  "
bench_note "Throughput between the guest's marker lines, taken on the host ($clock_label); higher is better. Both: host page cache on, guest flush = fdatasync."
bench_table_end disk
exit 0
