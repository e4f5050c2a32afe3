#!/bin/bash
# Linux on emu through a snapshot: the Debian kernel counts in a shell loop,
# is stopped partway (the test hook VMON_TEST_SNAPSHOT=N:DIR after N serial
# writes; the boot log is about 18.6 KB), saved, and `vmon restore` in a new
# monitor must go on counting from where it stopped, no number lost or
# repeated, to poweroff (status 0), without booting again.
set -u
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

img=$BUILD/images
if [ ! -f "$img/vmlinuz" ] || [ ! -f "$img/initramfs.cpio.gz" ]; then
	fail "snapshot-linux: guest images missing in $img (scripts/guest-images.sh)"
	exit 0
fi
run64=$(printf 'i=0; while [ $i -lt 30 ]; do echo "@count $i"; i=$((i+1)); sleep 0.1; done; echo @done; poweroff\n' | base64 -w0)
lx=$tmp/linux
mkdir -p "$lx"
VMON_TEST_SNAPSHOT=18800:$lx timeout 300 "$VMON" run --accel emu --mem 256M \
	--kernel "$img/vmlinuz" --initrd "$img/initramfs.cpio.gz" \
	--append "console=ttyS0 vmon.run=$run64" --console "file:$tmp/p1" </dev/null >"$tmp/log" 2>&1
rc1=$?
timeout 300 "$VMON" restore "$lx" --console "file:$tmp/p2" </dev/null >>"$tmp/log" 2>&1
rc2=$?
counts=$(cat "$tmp/p1" "$tmp/p2" 2>/dev/null | tr -d '\r' | sed -n 's/^@count //p' | tr '\n' ' ')
want=$(seq 0 29 | tr '\n' ' ')
before=$(tr -d '\r' <"$tmp/p1" | grep -c '^@count')
if [ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ] && [ "$counts" = "$want" ] && [ "$before" -gt 0 ] &&
   tr -d '\r' <"$tmp/p2" | grep -qx '@done' && ! grep -q 'Linux version' "$tmp/p2"; then
	pass "snapshot-linux: the count goes on after restore under emu ($before lines before the snapshot)"
else
	fail "snapshot-linux: run $rc1, restore $rc2, counts: $counts"
	tail -n 10 "$tmp/log"
fi
