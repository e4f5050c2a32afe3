#!/bin/bash
# Linux on emu through pause, snapshot, SIGKILL and restore: the Debian
# kernel counts in a shell loop; once it has counted a few, `vmon pause`
# stops it (no new count while paused), `vmon resume` lets it go on, and
# `vmon snapshot` saves it; the monitor is SIGKILLed and `vmon restore` in a
# new monitor must go on counting from where it was, no number lost or
# repeated, to poweroff (status 0), without booting again.
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
counted() { tr -d '\r' 2>/dev/null <"$1" | grep -c '^@count'; }
wait_count() { # FILE N: until FILE has N counts (240 s at most)
	for _ in $(seq 2400); do
		[ "$(counted "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
run64=$(printf 'i=0; while [ $i -lt 40 ]; do echo "@count $i"; i=$((i+1)); sleep 0.2; done; echo @done; poweroff\n' | base64 -w0)
problems=()
"$VMON" run --accel emu --mem 256M --kernel "$img/vmlinuz" --initrd "$img/initramfs.cpio.gz" \
	--append "console=ttyS0 quiet vmon.run=$run64" --console "file:$tmp/p1" \
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
if [ ${#problems[@]} -eq 0 ]; then
	pass "snapshot-linux: Linux on emu paused, resumed, snapshotted, killed after $before counts, restored: it counts on to poweroff"
else
	fail "snapshot-linux: ${problems[*]}"
	tail -n 10 "$tmp/log"
fi
