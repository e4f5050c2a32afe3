#!/bin/bash
# An iSCSI disk under Linux on emu: an ext4 image exported as LUN 1 by tgtd
# (the Linux SCSI target framework's user-space daemon) on loopback, given
# as --disk iscsi://127.0.0.1:PORT/IQN/1. The guest reads the host's file and
# writes one; after poweroff the host finds it (debugfs). A write-protected
# LUN without readonly=on, and a portal with no target, are one line, exit 2.
set -u
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1
tmp=$(mktemp -d)
vpid= tpid=
trap '[ -n "$vpid" ] && kill -9 "$vpid"; [ -n "$tpid" ] && kill -9 "$tpid"; rm -rf "$tmp"' EXIT 2>/dev/null

T=${LINUX_TIMEOUT:-300}
kernel=${VMON_KERNEL:-$BUILD/images/vmlinuz}
initrd=${VMON_INITRD:-$BUILD/images/initramfs.cpio.gz}
probe=$BUILD/guest/debug_exit.elf
iqn=iqn.2026-12.org.vmon:e2e

if [ ! -r "$kernel" ] || [ ! -r "$initrd" ]; then
	skip "iscsi linux (no guest images in $BUILD/images; make guest)"
	exit 0
fi
for tool in mkfs.ext4 debugfs tgtd tgtadm; do
	if ! command -v "$tool" >/dev/null; then
		skip "iscsi linux ($tool missing: e2fsprogs, tgt)"
		exit 0
	fi
done
make -s guest-programs BUILD="$BUILD" >/dev/null 2>&1

# serve IMAGE [readonly]: tgtd with LUN 1 on IMAGE, on a free port; sets
# $port, $ctl (tgtd's control-socket number, so parallel runs stay apart).
serve() {
	ctl=$((100 + RANDOM % 800))
	port=$((20000 + RANDOM % 20000))
	tgtd -f -C "$ctl" --iscsi portal="127.0.0.1:$port" >"$tmp/tgtd.log" 2>&1 &
	tpid=$!
	local adm="tgtadm -C $ctl --lld iscsi"
	for _ in $(seq 50); do
		$adm --op show --mode sys >/dev/null 2>&1 && break
		sleep 0.1
	done
	$adm --op new --mode target --tid 1 -T "$iqn" &&
	$adm --op new --mode logicalunit --tid 1 --lun 1 -b "$1" &&
	{ [ -z "${2:-}" ] || $adm --op update --mode logicalunit --tid 1 --lun 1 --params readonly=1; } &&
	$adm --op bind --mode target --tid 1 -I ALL
}
# tgtd ignores SIGTERM while it has targets: drop the target, then kill it
# (its writes are in the host's page cache already; the guest flushed).
stop() {
	tgtadm -C "$ctl" --lld iscsi --op delete --mode target --force --tid 1 >/dev/null 2>&1
	kill -9 "$tpid" 2>/dev/null
	wait "$tpid" 2>/dev/null
	tpid=
}

mkdir -p "$tmp/root"
echo "hello over iscsi" >"$tmp/root/hello.txt"
truncate -s 64M "$tmp/disk.img"
mkfs.ext4 -q -F -d "$tmp/root" "$tmp/disk.img"

if ! serve "$tmp/disk.img"; then
	fail "iscsi linux: tgtd did not start"
	cat "$tmp/tgtd.log"
	exit 0
fi
script='
mkdir -p /mnt
echo "vda: $(cat /sys/block/vda/size) sectors"
mount -t ext4 /dev/vda /mnt && cat /mnt/hello.txt
dd if=/dev/urandom of=/mnt/big bs=64k count=64 2>/dev/null && md5sum /mnt/big
echo "written over iscsi" > /mnt/guest.txt && sync && umount /mnt && echo unmounted
poweroff -f'
timeout "$T" "$VMON" run --accel emu --kernel "$kernel" --initrd "$initrd" \
	--append "console=ttyS0 quiet vmon.run=$(base64 -w0 <<<"$script")" --mem 256M \
	--disk "iscsi://127.0.0.1:$port/$iqn/1" --console "file:$tmp/out" \
	</dev/null >"$tmp/log" 2>&1 &
vpid=$!
wait "$vpid"
rc=$?
vpid=
stop
has() { tr -d '\r' <"$tmp/out" | grep -qxF -- "$1"; }
got=$(debugfs -R "cat /guest.txt" "$tmp/disk.img" 2>/dev/null)
sum=$(tr -d '\r' <"$tmp/out" | awk '$2 == "/mnt/big" { print $1 }')
host=$(debugfs -R "dump /big $tmp/big" "$tmp/disk.img" >/dev/null 2>&1 && md5sum <"$tmp/big" | cut -d' ' -f1)
if [ "$rc" -eq 0 ] && has "vda: 131072 sectors" && has "hello over iscsi" && has unmounted &&
   [ "$got" = "written over iscsi" ] && [ -n "$sum" ] && [ "$sum" = "$host" ]; then
	pass "iscsi linux: the guest reads and writes a LUN served by tgtd (emu; 4 MiB md5 $sum)"
else
	fail "iscsi linux: the guest reads and writes a LUN served by tgtd (status $rc, file '$got', md5 '$sum' vs '$host')"
	tail -n 15 "$tmp/out" "$tmp/log" "$tmp/tgtd.log" 2>/dev/null
fi
e2fsck -fn "$tmp/disk.img" >"$tmp/fsck" 2>&1 && pass "iscsi linux: e2fsck finds the LUN's file system clean" ||
	{ fail "iscsi linux: e2fsck finds the LUN's file system clean"; tail "$tmp/fsck"; }

# one_line NAME URI WHY: vmon refuses URI with one line that says WHY, exit 2.
one_line() {
	local name=$1 uri=$2 why=$3
	"$VMON" run --accel emu --kernel "$probe" --console none --disk "$uri" \
		</dev/null >"$tmp/bad.log" 2>&1
	local rc=$?
	if [ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/bad.log")" -eq 1 ] && grep -qF -- "$why" "$tmp/bad.log"; then
		pass "iscsi: $name is one line, exit 2 ($(cat "$tmp/bad.log"))"
	else
		fail "iscsi: $name is one line, exit 2 (status $rc)"
		cat "$tmp/bad.log"
	fi
}
serve "$tmp/disk.img" readonly || { fail "iscsi: tgtd did not start"; cat "$tmp/tgtd.log"; }
one_line "a write-protected LUN without readonly=on" "iscsi://127.0.0.1:$port/$iqn/1" \
	"write-protected (use readonly=on)"
"$VMON" run --accel emu --kernel "$probe" --console none \
	--disk "iscsi://127.0.0.1:$port/$iqn/1,readonly=on" </dev/null >"$tmp/ro.log" 2>&1
rc=$?
# 85: the probe's own exit through the debug-exit port, (0x2a << 1) | 1.
[ "$rc" -eq 85 ] && pass "iscsi: a write-protected LUN opens with readonly=on" ||
	{ fail "iscsi: a write-protected LUN opens with readonly=on (status $rc)"; cat "$tmp/ro.log"; }
one_line "a LUN that does not exist" "iscsi://127.0.0.1:$port/$iqn/7" "cannot log in"
stop
one_line "a portal with no server" "iscsi://127.0.0.1:$port/$iqn/1" "cannot log in"
one_line "a URL without a target" "iscsi://127.0.0.1:$port" "bad iSCSI URL"
