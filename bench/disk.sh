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
# run_fmt raw|qcow2: both monitors on a fresh image of that format (raw:
# full of 0xff bytes, allocated on the host like a used disk; qcow2: empty,
# made by qemu-img, so the writes allocate clusters); afterwards the host
# checks that the guest's zeros reached it (and qemu-img check the qcow2).
run_fmt() {
	local fmt=$1 img=$out/disk.$1 tag
	local qemu_cmd=("$qemu" -M pc -bios /usr/share/qemu/qboot.rom -accel tcg -m 512M -smp 1
		-nodefaults -no-user-config -display none -serial stdio -no-reboot
		-drive "file=$img,if=none,format=$fmt,id=d,cache=writeback,aio=threads"
		-device virtio-blk-pci,drive=d
		-kernel "$kernel" -initrd "$initrd" -append "$append")
	local vmon_cmd=("$VMON" run --accel emu --mem 512M --cpus 1 --console stdio --disk "$img"
		--kernel "$kernel" --initrd "$initrd" --append "$append")
	for m in vmon qemu; do
		tag=disk-$m
		[ "$fmt" = qcow2 ] && tag=disk-qcow2-$m
		if [ "$m" = vmon ]; then
			if ! bench_vmon_ok > "$out/$tag.err"; then
				bench_note "- vmon failed: $(bench_why "$tag")"
				continue
			fi
			cmd=("${vmon_cmd[@]}")
		else
			cmd=("${qemu_cmd[@]}")
		fi
		if [ "${BENCH_REPORT_ONLY:-0}" != 1 ]; then
			rm -f "$img"
			if [ "$fmt" = qcow2 ]; then
				qemu-img create -q -f qcow2 "$img" "$(((mib + 16) << 20))"
			else
				tr '\0' '\377' < /dev/zero | head -c "$(((mib + 16) << 20))" > "$img"
			fi
			if bench_run "$tag" -n "$runs" -t "$BENCH_TIMEOUT" -x 0 -s @boot -e @done \
				-l "$out/$tag.serial" -- "${cmd[@]}"; then
				bad=
				if [ "$fmt" = qcow2 ]; then
					truncate -s "$((mib << 20))" "$out/zeros.raw"
					qemu-img check -q "$img" >> "$out/$tag.err" 2>&1 ||
						bad="qemu-img check failed on the qcow2 image"
					qemu-img compare -q -f qcow2 -F raw "$img" "$out/zeros.raw" >/dev/null 2>&1 ||
						bad="the image does not hold the $mib MiB of zeros the guest wrote"
					rm -f "$out/zeros.raw"
				elif ! cmp -s -n "$((mib << 20))" "$img" /dev/zero; then
					bad="the image does not hold the $mib MiB of zeros the guest wrote"
				fi
				[ -n "$bad" ] && echo "$bad" >> "$out/$tag.err" && : > "$out/$tag.runs"
			fi
		fi
		bench_ok "$tag" || bench_note "- $m ($fmt) failed: $(bench_why "$tag")"
	done
	rm -f "$img"
}
run_fmt raw
run_fmt qcow2

# mibs M FROM TO: MiB/s over the median span.
mibs() { per_s "$mib" "$(bench_span "disk-$1" "$2" "$3")" %.1f; }
bench_table_begin "disk: virtio-blk, dd in the guest, vmon emu vs QEMU tcg (median of $runs, $clock_label)"
bench_row "sequential write, $mib MiB, bs=1M conv=fsync, MiB/s" "$(mibs vmon write-start write-end)" "$(mibs qemu write-start write-end)"
bench_row "sequential read, $mib MiB, bs=1M after drop_caches, MiB/s" "$(mibs vmon read-start read-end)" "$(mibs qemu read-start read-end)"
bench_row "qcow2 (new, empty) sequential write, $mib MiB, MiB/s" "$(mibs qcow2-vmon write-start write-end)" "$(mibs qcow2-qemu write-start write-end)"
bench_row "qcow2 sequential read, $mib MiB, MiB/s" "$(mibs qcow2-vmon read-start read-end)" "$(mibs qcow2-qemu read-start read-end)"
bench_note "vmon: \`$VMON run --accel emu --mem 512M --cpus 1 --console stdio --disk disk.img --kernel vmlinuz --initrd initramfs.cpio.gz --append \"console=ttyS0 quiet vmon.run=SCRIPT\"\`  "
bench_note "QEMU: the linux part's command line plus \`-drive file=disk.img,if=none,format=raw (qcow2 for the qcow2 rows),id=d,cache=writeback,aio=threads -device virtio-blk-pci,drive=d\`  "
bench_note "Throughput between the guest's marker lines, taken on the host ($clock_label); higher is better. Both: host page cache on, guest flush = fdatasync."
bench_table_end disk
exit 0
