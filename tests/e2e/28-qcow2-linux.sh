#!/bin/bash
# qcow2 under Linux on emu: an overlay made by qemu-img on a qcow2 base
# holding ext4; the guest reads the base's file and writes files whose
# checksums it prints. Afterwards QEMU's tools check the overlay (qemu-img
# check clean, compare with its raw conversion), debugfs finds the files
# with those checksums, a second boot verifies them through vmon, and the
# base is byte for byte what it was. Then SIGKILL during writes: qemu-img
# check finds no corruption (leaks at most) and the synced file is there.
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
	skip "qcow2 linux (no guest images in $BUILD/images; make guest)"
	exit 0
fi
for tool in mkfs.ext4 debugfs e2fsck qemu-img; do
	if ! command -v "$tool" >/dev/null; then
		skip "qcow2 linux ($tool missing: e2fsprogs, qemu-utils)"
		exit 0
	fi
done
make -s guest-programs BUILD="$BUILD" >/dev/null 2>&1
if "$VMON" run --accel emu --kernel "$probe" --console none 2>&1 </dev/null |
	grep -q 'not available'; then
	skip "qcow2 linux (the emu accelerator is not available in this build)"
	exit 0
fi

boot() {
	local run
	run=$(base64 -w0 <<<"$2")
	local cmd=("$VMON" run --accel emu --kernel "$kernel" --initrd "$initrd"
		--append "console=ttyS0 quiet vmon.run=$run" --mem 256M --disk "$3"
		--console "file:$tmp/$1.out")
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
out() { tr -d '\r' 2>/dev/null <"$tmp/$1.out"; }
has() { out "$1" | grep -qxF -- "$2"; }

# The base: ext4 holding hello.txt, as qcow2; overlays name it relatively.
mkdir -p "$tmp/root"
echo "hello from the base" >"$tmp/root/hello.txt"
truncate -s 64M "$tmp/base.raw"
mkfs.ext4 -q -F -d "$tmp/root" "$tmp/base.raw"
qemu-img convert -q -f raw -O qcow2 "$tmp/base.raw" "$tmp/base.qcow2"
base_sum=$(sha256sum <"$tmp/base.qcow2")
(cd "$tmp" && qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 ov.qcow2)

# --- Write files through the overlay; QEMU's tools check it. ---
boot rw '
mkdir -p /mnt
echo "vda: $(cat /sys/block/vda/size) sectors"
mount -t ext4 /dev/vda /mnt && cat /mnt/hello.txt
dd if=/dev/urandom of=/mnt/big.bin bs=64k count=48 2>/dev/null
echo "small file from the guest" > /mnt/small.txt
rm -f /mnt/hello.txt
cd /mnt && sha256sum big.bin small.txt > sums && cd /
sed "s/^/sum /" /mnt/sums
sync && umount /mnt && echo unmounted
poweroff -f' "$tmp/ov.qcow2"
rc=$?
if [ "$rc" -eq 0 ] && has rw "vda: 131072 sectors" && has rw "hello from the base" &&
   has rw unmounted; then
	pass "qcow2 linux: the guest mounts the overlay, reads the base's file, writes (emu)"
else
	fail "qcow2 linux: the guest mounts the overlay, reads the base's file, writes (emu) (status $rc)"
	show rw
fi
if qemu-img check -q "$tmp/ov.qcow2" >"$tmp/check.log" 2>&1; then
	pass "qcow2 linux: qemu-img check finds the overlay clean"
else
	fail "qcow2 linux: qemu-img check finds the overlay clean"
	tail -n 10 "$tmp/check.log"
fi
qemu-img convert -q -O raw "$tmp/ov.qcow2" "$tmp/ov.raw"
if qemu-img compare -q "$tmp/ov.qcow2" "$tmp/ov.raw" &&
   ! qemu-img compare -q "$tmp/ov.qcow2" "$tmp/base.raw" &&
   e2fsck -fn "$tmp/ov.raw" >"$tmp/fsck.log" 2>&1; then
	pass "qcow2 linux: qemu-img compare and e2fsck on the converted overlay"
else
	fail "qcow2 linux: qemu-img compare and e2fsck on the converted overlay"
	tail -n 10 "$tmp/fsck.log"
fi
ok=1
for f in big.bin small.txt; do
	want=$(out rw | awk -v f="$f" '$1 == "sum" && $3 == f { print $2 }')
	got=$(debugfs -R "cat /$f" "$tmp/ov.raw" 2>/dev/null | sha256sum | cut -d' ' -f1)
	[ -n "$want" ] && [ "$want" = "$got" ] || ok=0
done
gone=$(debugfs -R "stat /hello.txt" "$tmp/ov.raw" 2>&1 | grep -c "not found")
if [ "$ok" = 1 ] && [ "$gone" -ge 1 ]; then
	pass "qcow2 linux: debugfs finds the guest's files with the guest's checksums"
else
	fail "qcow2 linux: debugfs finds the guest's files with the guest's checksums"
fi
if [ "$(sha256sum <"$tmp/base.qcow2")" = "$base_sum" ] &&
   qemu-img compare -q "$tmp/base.qcow2" "$tmp/base.raw"; then
	pass "qcow2 linux: the base image is unchanged (sha256)"
else
	fail "qcow2 linux: the base image is unchanged (sha256)"
fi

# --- A second boot verifies the checksums through vmon. ---
boot verify '
mkdir -p /mnt
mount -t ext4 -o ro /dev/vda /mnt && cd /mnt && sha256sum -c sums && cd / && echo verified
umount /mnt
poweroff -f' "$tmp/ov.qcow2,readonly=on"
rc=$?
if [ "$rc" -eq 0 ] && has verify "big.bin: OK" && has verify "small.txt: OK" &&
   has verify verified; then
	pass "qcow2 linux: a second boot reads the files back with their checksums (emu)"
else
	fail "qcow2 linux: a second boot reads the files back with their checksums (emu) (status $rc)"
	show verify
fi

# --- SIGKILL while the guest writes: no corruption, the synced file is there. ---
(cd "$tmp" && qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 kill.qcow2)
boot kill '
mkdir -p /mnt
mount -t ext4 /dev/vda /mnt && echo "synced before the kill" > /mnt/durable.txt && sync && echo synced
i=0; while :; do dd if=/dev/urandom of=/mnt/w$i bs=64k count=8 conv=fsync 2>/dev/null; i=$((i+1)); done' \
	"$tmp/kill.qcow2" bg
for _ in $(seq $((T * 10))); do
	has kill synced && break
	kill -0 "$vpid" 2>/dev/null || break
	sleep 0.1
done
if has kill synced; then
	sleep 2 # into the writes
	kill -9 "$vpid"
	wait "$vpid" 2>/dev/null
	vpid=
	qemu-img check "$tmp/kill.qcow2" >"$tmp/kcheck.log" 2>&1
	crc=$?
	qemu-img convert -q -O raw "$tmp/kill.qcow2" "$tmp/kill.raw"
	e2fsck -fy "$tmp/kill.raw" >"$tmp/kfsck.log" 2>&1
	got=$(debugfs -R "cat /durable.txt" "$tmp/kill.raw" 2>/dev/null)
	# 0: clean; 3: leaked clusters only.
	if { [ "$crc" -eq 0 ] || [ "$crc" -eq 3 ]; } && [ "$got" = "synced before the kill" ] &&
	   [ "$(sha256sum <"$tmp/base.qcow2")" = "$base_sum" ]; then
		pass "qcow2 linux: SIGKILL during writes leaves a consistent overlay with the synced file (check status $crc)"
	else
		fail "qcow2 linux: SIGKILL during writes leaves a consistent overlay with the synced file (check status $crc, file '$got')"
		tail -n 10 "$tmp/kcheck.log"
	fi
else
	kill -9 "$vpid" 2>/dev/null
	wait "$vpid" 2>/dev/null
	vpid=
	fail "qcow2 linux: SIGKILL during writes (no \"synced\")"
	show kill
fi

# --- Bad input: a corrupt image is refused at open with one line, exit 2. ---
cp "$tmp/base.qcow2" "$tmp/bad.qcow2"
printf '\x00\x00\x00\x1e' | dd of="$tmp/bad.qcow2" bs=1 seek=20 conv=notrunc 2>/dev/null
"$VMON" run --accel emu --kernel "$probe" --console none --disk "$tmp/bad.qcow2" \
	</dev/null >"$tmp/bad.log" 2>&1
rc=$?
if [ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/bad.log")" -eq 1 ] && grep -q "cluster_bits" "$tmp/bad.log"; then
	pass "qcow2: a corrupt header is refused with one line, exit 2"
else
	fail "qcow2: a corrupt header is refused with one line, exit 2 (status $rc)"
	cat "$tmp/bad.log"
fi
