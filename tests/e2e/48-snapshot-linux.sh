#!/bin/bash
# Linux on emu through pause, snapshot, SIGKILL and restore: the Debian
# kernel counts in a shell loop; once it has counted a few, `vmon pause`
# stops it (no new count while paused), `vmon resume` lets it go on, and
# `vmon snapshot` saves it; the monitor is SIGKILLed and `vmon restore` in a
# new monitor must go on counting from where it was, no number lost or
# repeated, to poweroff (status 0), without booting again. Its virtio disk
# (ext4, mounted noatime) holds a file of random bytes the guest wrote and
# synced before counting: after the restore the guest reads it back from
# the disk (page cache dropped) with the same md5, writes one more file and
# unmounts; on the host e2fsck -fn finds the file system clean and both
# files are there, the first with that md5.
set -u
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
export XDG_RUNTIME_DIR=$tmp/xdg
mkdir -p "$XDG_RUNTIME_DIR"

img=$BUILD/images
if [ ! -f "$img/vmlinuz" ] || [ ! -f "$img/initramfs.cpio.gz" ]; then
	fail "snapshot-linux: guest images missing in $img (scripts/guest-images.sh)"
	exit 0
fi
for tool in mkfs.ext4 debugfs e2fsck; do
	if ! command -v "$tool" >/dev/null; then
		fail "snapshot-linux: $tool missing (e2fsprogs)"
		exit 0
	fi
done
truncate -s 64M "$tmp/disk.img"
# Tables initialized now: no lazy init thread writes to it later.
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$tmp/disk.img"
counted() { tr -d '\r' 2>/dev/null <"$1" | grep -c '^@count'; }
wait_count() { # FILE N: until FILE has N counts (240 s at most)
	for _ in $(seq 2400); do
		[ "$(counted "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
# Nothing is written to the disk between the snapshot and the kill (noatime,
# the data synced before counting): the image stays the snapshot's.
script='mkdir -p /mnt && mount -t ext4 -o noatime /dev/vda /mnt &&
dd if=/dev/urandom of=/mnt/data bs=4096 count=64 2>/dev/null && sync &&
echo "@md5 $(md5sum </mnt/data | cut -d" " -f1)"
i=0; while [ $i -lt 40 ]; do echo "@count $i"; i=$((i+1)); sleep 0.2; done
sync; echo 3 >/proc/sys/vm/drop_caches
echo "@md5after $(md5sum </mnt/data | cut -d" " -f1)"
echo "written after the restore" >/mnt/after.txt && sync && umount /mnt && echo @unmounted
echo @done; poweroff'
run64=$(printf '%s\n' "$script" | base64 -w0)
problems=()
"$VMON" run --accel emu --mem 256M --kernel "$img/vmlinuz" --initrd "$img/initramfs.cpio.gz" \
	--disk "$tmp/disk.img" --append "console=ttyS0 quiet vmon.run=$run64" --console "file:$tmp/p1" \
	--api-sock "$tmp/s1" </dev/null >"$tmp/log" 2>&1 &
pid=$!
wait_count "$tmp/p1" 3 || problems+=("the guest did not start counting")
"$VMON" pause "$tmp/s1" >/dev/null || problems+=("pause failed")
a=$(counted "$tmp/p1"); sleep 1; b=$(counted "$tmp/p1")
[ "$a" = "$b" ] || problems+=("it counted while paused ($a -> $b)")
"$VMON" resume "$tmp/s1" >/dev/null || problems+=("resume failed")
wait_count "$tmp/p1" $((b + 2)) || problems+=("it did not go on after resume")
"$VMON" snapshot "$tmp/s1" "$tmp/snap" >/dev/null || problems+=("snapshot failed")
{ kill -9 "$pid"; wait "$pid"; } 2>/dev/null
pid=
before=$(counted "$tmp/p1")
timeout 300 "$VMON" restore "$tmp/snap" --console "file:$tmp/p2" --api-sock "$tmp/s2" \
	</dev/null >>"$tmp/log" 2>&1
rc2=$?
counts=$(cat "$tmp/p1" "$tmp/p2" 2>/dev/null | tr -d '\r' | sed -n 's/^@count //p' | tr '\n' ' ')
want=$(seq 0 39 | tr '\n' ' ')
[ "$rc2" -eq 0 ] || problems+=("restore ended with status $rc2")
[ "$counts" = "$want" ] || problems+=("counts before and after: $counts")
[ "$before" -lt 40 ] || problems+=("the snapshot came after the loop")
tr -d '\r' <"$tmp/p2" | grep -qx '@done' || problems+=("the restored guest did not finish")
grep -q 'Linux version' "$tmp/p2" && problems+=("the restored guest booted again")
md5() { tr -d '\r' <"$2" 2>/dev/null | sed -n "s/^@$1 //p" | head -n 1; }
sum1=$(md5 md5 "$tmp/p1")
sum2=$(md5 md5after "$tmp/p2")
[ -n "$sum1" ] || problems+=("the guest wrote no file on its disk")
[ "$sum1" = "$sum2" ] || problems+=("the file read back after the restore differs ($sum1, $sum2)")
tr -d '\r' <"$tmp/p2" | grep -qx '@unmounted' || problems+=("the restored guest did not unmount its disk")
e2fsck -fn "$tmp/disk.img" >"$tmp/fsck.log" 2>&1 || problems+=("e2fsck -fn: $(tail -n 1 "$tmp/fsck.log")")
host=$(debugfs -R "cat /data" "$tmp/disk.img" 2>/dev/null | md5sum | cut -d' ' -f1)
[ "$host" = "$sum1" ] || problems+=("the host reads another file ($host)")
after=$(debugfs -R "cat /after.txt" "$tmp/disk.img" 2>/dev/null)
[ "$after" = "written after the restore" ] || problems+=("no file written after the restore")
if [ ${#problems[@]} -eq 0 ]; then
	pass "snapshot-linux: Linux on emu paused, resumed, snapshotted, killed after $before counts, restored: it counts on to poweroff"
	pass "snapshot-linux: the file on its disk is intact after the restore (md5 $sum1 in the guest and on the host, e2fsck -fn clean)"
else
	fail "snapshot-linux: ${problems[*]}"
	tail -n 10 "$tmp/log"
fi
