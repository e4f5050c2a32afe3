#!/bin/bash
# virtio-blk under Linux on emu (the Debian kernel and the busybox initramfs
# of `make guest`, whose init loads the virtio modules and runs the script
# given as vmon.run=BASE64): an ext4 image made on the host is mounted, a
# file the host put there is read, a file is written and synced; after
# poweroff the host finds it (debugfs). A read-only disk refuses writes. A
# file synced right before vmon dies by SIGKILL is in the image.
set -u
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1
tmp=$(mktemp -d)
vpid=
trap '[ -n "$vpid" ] && { pkill -9 -P "$vpid"; kill -9 "$vpid"; } 2>/dev/null; rm -rf "$tmp"' EXIT

T=${LINUX_TIMEOUT:-300}
kernel=${VMON_KERNEL:-$BUILD/images/vmlinuz}
initrd=${VMON_INITRD:-$BUILD/images/initramfs.cpio.gz}
probe=$BUILD/guest/debug_exit.elf

if [ ! -r "$kernel" ] || [ ! -r "$initrd" ]; then
	skip "virtio-blk linux (no guest images in $BUILD/images; make guest)"
	exit 0
fi
for tool in mkfs.ext4 debugfs e2fsck; do
	if ! command -v "$tool" >/dev/null; then
		skip "virtio-blk linux ($tool missing: e2fsprogs)"
		exit 0
	fi
done
make -s guest-programs BUILD="$BUILD" >/dev/null 2>&1
if "$VMON" run --accel emu --kernel "$probe" --console none 2>&1 </dev/null |
	grep -q 'not available'; then
	skip "virtio-blk linux (the emu accelerator is not available in this build)"
	exit 0
fi

# new_image PATH: 64 MiB of ext4 holding hello.txt.
mkdir -p "$tmp/root"
echo "hello from the host" >"$tmp/root/hello.txt"
new_image() {
	rm -f "$1"
	truncate -s 64M "$1"
	mkfs.ext4 -q -F -d "$tmp/root" "$1"
}

# boot NAME SCRIPT DISK-SPEC [bg]: Linux on emu with SCRIPT run by init.
boot() {
	local run
	run=$(base64 -w0 <<<"$2")
	local cmd=("$VMON" run --accel emu --kernel "$kernel" --initrd "$initrd"
		--append "console=ttyS0 quiet vmon.run=$run" --mem 256M --disk "$3"
		--console "file:$tmp/$1.out")
	# In the background vpid must be vmon itself (the SIGKILL below is
	# for it); the caller bounds the wait.
	if [ "${4:-}" = bg ]; then
		"${cmd[@]}" </dev/null >"$tmp/$1.log" 2>&1 &
		vpid=$!
		return 0
	fi
	timeout "$T" "${cmd[@]}" </dev/null >"$tmp/$1.log" 2>&1 &
	vpid=$!
	wait "$vpid"
	local rc=$?
	vpid=
	return $rc
}

show() { tail -n 15 "$tmp/$1.out" "$tmp/$1.log" 2>/dev/null; }
# has NAME LINE: the guest printed LINE (a Linux console ends lines in CRLF).
has() { tr -d '\r' 2>/dev/null <"$tmp/$1.out" | grep -qxF -- "$2"; }

# --- Read, write, sync, poweroff; the host reads the file back. ---
new_image "$tmp/rw.img"
boot rw '
mkdir -p /mnt
echo "vda: $(cat /sys/block/vda/size) sectors, serial $(cat /sys/block/vda/serial), $(cat /sys/block/vda/queue/write_cache)"
mount -t ext4 /dev/vda /mnt && cat /mnt/hello.txt
echo "written by the guest" > /mnt/guest.txt && sync && umount /mnt && echo unmounted
poweroff -f' "$tmp/rw.img,serial=vmon-linux"
rc=$?
got=$(debugfs -R "cat /guest.txt" "$tmp/rw.img" 2>/dev/null)
if [ "$rc" -eq 0 ] && has rw "vda: 131072 sectors, serial vmon-linux, write back" &&
   has rw "hello from the host" && has rw unmounted &&
   [ "$got" = "written by the guest" ]; then
	pass "virtio-blk linux: mount, read, write, sync; the host finds the file (emu)"
else
	fail "virtio-blk linux: mount, read, write, sync; the host finds the file (emu) (status $rc, file: '$got')"
	show rw
fi

# --- Read-only: the guest sees it and cannot write; the image is unchanged. ---
new_image "$tmp/ro.img"
before=$(md5sum <"$tmp/ro.img")
boot ro '
mkdir -p /mnt
echo "read-only: $(cat /sys/block/vda/ro)"
mount -t ext4 -o ro /dev/vda /mnt && cat /mnt/hello.txt
echo x > /mnt/new.txt 2>/dev/null || echo "file write refused"
dd if=/dev/zero of=/dev/vda bs=512 count=1 2>/dev/null || echo "raw write refused"
umount /mnt
poweroff -f' "$tmp/ro.img,readonly=on"
rc=$?
if [ "$rc" -eq 0 ] && has ro "read-only: 1" &&
   has ro "hello from the host" && has ro "file write refused" &&
   has ro "raw write refused" && [ "$(md5sum <"$tmp/ro.img")" = "$before" ]; then
	pass "virtio-blk linux: a read-only disk refuses writes (emu)"
else
	fail "virtio-blk linux: a read-only disk refuses writes (emu) (status $rc)"
	show ro
fi

# --- Durability: sync, then SIGKILL at once; the journal has the file. ---
new_image "$tmp/kill.img"
boot kill '
mkdir -p /mnt
mount -t ext4 /dev/vda /mnt && echo "synced before the kill" > /mnt/durable.txt && sync && echo synced
sleep 1000' "$tmp/kill.img" bg
for _ in $(seq $((T * 10))); do
	has kill synced && break
	kill -0 "$vpid" 2>/dev/null || break
	sleep 0.1
done
if has kill synced; then
	kill -9 "$vpid"
	wait "$vpid" 2>/dev/null
	vpid=
	# The file system was not unmounted: replay its journal first.
	e2fsck -fy "$tmp/kill.img" >"$tmp/fsck.log" 2>&1
	got=$(debugfs -R "cat /durable.txt" "$tmp/kill.img" 2>/dev/null)
	if [ "$got" = "synced before the kill" ]; then
		pass "virtio-blk linux: data synced before SIGKILL is in the image (emu)"
	else
		fail "virtio-blk linux: data synced before SIGKILL is in the image (emu) (file: '$got')"
		tail -n 10 "$tmp/fsck.log"
	fi
else
	kill -9 "$vpid" 2>/dev/null
	wait "$vpid" 2>/dev/null
	vpid=
	fail "virtio-blk linux: data synced before SIGKILL is in the image (emu) (no \"synced\")"
	show kill
fi
