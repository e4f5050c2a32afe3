#!/bin/bash
# Live migration between two vmon processes on loopback (vmon migrate, vmon
# run --incoming). Guest programs first: guest/tests/migrate writes all over
# 2 MiB as it goes and prints sums of what it reads back, so the two consoles
# together must equal an uninterrupted run byte for byte (emu; kvm, SKIP
# without /dev/kvm). Then Linux on emu counting on its console and into a
# file on a shared ext4 disk every few ms: the counts of both consoles are
# consecutive, the file's too, the file system is clean. Then the faults: a
# target that refuses (RAM size) before the source stops, garbage and a
# stream cut short (the target exits with one line, status 2; the source
# runs on and answers GET /vm), a corrupted stream (CRC).
set -u
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
export XDG_RUNTIME_DIR=$tmp/xdg
mkdir -p "$XDG_RUNTIME_DIR"

if ! out=$(make -s guest-programs BUILD="$BUILD" 2>&1); then
	fail "migrate: build the guest programs"
	printf '%s\n' "$out" | tail -n 20
	exit 1
fi
prog=$BUILD/guest/migrate.elf

lines() { tr -d '\r' 2>/dev/null <"$1" | grep -c "$2"; }
wait_lines() { # FILE PATTERN N [TENTHS]: until FILE has N lines matching
	for _ in $(seq "${4:-600}"); do
		[ "$(lines "$1" "$2")" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}
# target NAME ARGS...: vmon run --incoming on a free port; sets tpid, port.
target() {
	local n=$1
	shift
	"$VMON" run --incoming tcp:127.0.0.1:0 --console "file:$tmp/$n.out" \
		--api-sock "$tmp/$n.sock" "$@" </dev/null 2>"$tmp/$n.err" &
	tpid=$!
	pids+=("$tpid")
	port=
	for _ in $(seq 100); do
		port=$(sed -n 's/.*waiting for a migration on tcp:127\.0\.0\.1:\([0-9]*\).*/\1/p' \
			"$tmp/$n.err")
		[ -n "$port" ] && return 0
		sleep 0.1
	done
	return 1
}
# source NAME ARGS...: vmon run in the background; sets spid.
source_vm() {
	local n=$1
	shift
	"$VMON" run --console "file:$tmp/$n.out" --api-sock "$tmp/$n.sock" "$@" \
		</dev/null 2>"$tmp/$n.err" &
	spid=$!
	pids+=("$spid")
}

downtime() { sed -n 's/.*migrated to .*, \(downtime [0-9]* ms\)$/\1/p' "$1"; }

# --- A guest program, both consoles together = one uninterrupted run. ---
program() {
	local acc=$1 steps=$2 want=$3 problems=() rc
	target "$acc-t" --accel "$acc" --mem 64M || problems+=("the target did not listen")
	source_vm "$acc-s" --accel "$acc" --mem 64M --kernel "$prog" --append "steps=$steps"
	wait_lines "$tmp/$acc-s.out" '^migrate: step' 3 || problems+=("the program did not start")
	"$VMON" migrate "$tmp/$acc-s.sock" "tcp:127.0.0.1:$port" >"$tmp/$acc.mig" 2>&1 ||
		problems+=("vmon migrate failed: $(tail -n 1 "$tmp/$acc.mig")")
	wait "$spid"
	rc=$?
	[ "$rc" = 0 ] || problems+=("the source ended with $rc")
	wait "$tpid"
	rc=$?
	[ "$rc" = 1 ] || problems+=("the target ended with $rc, not the program's exit(0)")
	cat "$tmp/$acc-s.out" "$tmp/$acc-t.out" >"$tmp/$acc.all"
	cmp -s "$tmp/$acc.all" "$want" || problems+=("the output differs from an uninterrupted run")
	[ "$(lines "$tmp/$acc-t.out" '^migrate: step')" -gt 0 ] ||
		problems+=("the target printed no step")
	grep -q '^migrate: done' "$tmp/$acc-s.out" && problems+=("the program ended on the source")
	if [ ${#problems[@]} -eq 0 ]; then
		pass "migrate: guest program under $acc moved after $(lines "$tmp/$acc-s.out" step) of $steps steps, output exact ($(downtime "$tmp/$acc.mig"))"
	else
		fail "migrate: guest program under $acc: ${problems[*]}"
		tail -n 5 "$tmp/$acc.mig" "$tmp/$acc-s.err" "$tmp/$acc-t.err"
	fi
}
timeout 120 "$VMON" run --accel emu --mem 64M --kernel "$prog" --append steps=20000 \
	--console "file:$tmp/ref.out" </dev/null 2>/dev/null
program emu 20000 "$tmp/ref.out"
if have_kvm; then
	program kvm 300 guest/tests/migrate.expect
else
	skip "migrate: guest program under kvm (no /dev/kvm)"
fi

# --- Linux on emu, counting on its console and into a file on a shared disk. ---
linux() {
	local img=$BUILD/images d=$tmp/linux.img problems=() rc script run64 counts last file
	if [ ! -f "$img/vmlinuz" ] || [ ! -f "$img/initramfs.cpio.gz" ]; then
		fail "migrate: linux: guest images missing in $img (make guest)"
		return
	fi
	truncate -s 64M "$d"
	mkfs.ext4 -q -F "$d"
	# The power button (vmon stop on the target) ends the loop: then the
	# guest unmounts the disk and powers off.
	script='mkdir -p /etc/acpi/PWRF /mnt
printf "#!/bin/sh\ntouch /tmp/stop\n" > /etc/acpi/PWRF/00000080
chmod +x /etc/acpi/PWRF/00000080
acpid -d >/dev/null 2>&1 &
mount -t ext4 /dev/vda /mnt || echo @nomount
i=0
while [ ! -e /tmp/stop ]; do
	echo "@count $i"; echo $i >> /mnt/counter
	[ $((i % 25)) = 0 ] && sync
	i=$((i+1)); sleep 0.005
done
umount /mnt && echo @umounted
echo "@last $((i-1))"
poweroff'
	run64=$(printf '%s\n' "$script" | base64 -w0)
	target lt --accel emu --mem 256M --disk "$d" || problems+=("the target did not listen")
	source_vm ls --accel emu --mem 256M --kernel "$img/vmlinuz" --initrd "$img/initramfs.cpio.gz" \
		--append "console=ttyS0 quiet vmon.run=$run64" --disk "$d"
	wait_lines "$tmp/ls.out" '^@count' 20 2400 || problems+=("the guest did not start counting")
	"$VMON" migrate "$tmp/ls.sock" "tcp:127.0.0.1:$port" >"$tmp/linux.mig" 2>&1 ||
		problems+=("vmon migrate failed: $(tail -n 1 "$tmp/linux.mig")")
	wait "$spid"
	rc=$?
	[ "$rc" = 0 ] || problems+=("the source ended with $rc")
	before=$(lines "$tmp/ls.out" '^@count')
	wait_lines "$tmp/lt.out" '^@count' 20 1200 || problems+=("the guest did not count on the target")
	"$VMON" stop "$tmp/lt.sock" >/dev/null || problems+=("vmon stop on the target failed")
	timeout 120 tail --pid="$tpid" -f /dev/null
	wait "$tpid"
	rc=$?
	[ "$rc" = 0 ] || problems+=("the target ended with $rc")
	counts=$(cat "$tmp/ls.out" "$tmp/lt.out" | tr -d '\r' | sed -n 's/^@count //p')
	last=$(tr -d '\r' <"$tmp/lt.out" | sed -n 's/^@last //p')
	[ -n "$last" ] && [ "$counts" = "$(seq 0 "$last")" ] ||
		problems+=("the console counts are not 0..${last:-?} in order")
	grep -q '@umounted' "$tmp/lt.out" || problems+=("the guest did not unmount")
	e2fsck -fn "$d" >"$tmp/fsck.log" 2>&1 || problems+=("e2fsck -fn: $(tail -n 1 "$tmp/fsck.log")")
	file=$(debugfs -R "cat /counter" "$d" 2>/dev/null)
	[ -n "$last" ] && [ "$file" = "$(seq 0 "$last")" ] ||
		problems+=("the file's counter is not 0..${last:-?} ($(printf '%s\n' "$file" | wc -l) lines)")
	if [ ${#problems[@]} -eq 0 ]; then
		pass "migrate: linux on emu with a shared ext4 disk moved after $before counts, counted to $last with no gap or repeat, file continued, fsck clean ($(downtime "$tmp/linux.mig"))"
	else
		fail "migrate: linux: ${problems[*]}"
		tail -n 5 "$tmp/linux.mig" "$tmp/ls.err" "$tmp/lt.err" "$tmp/lt.out"
	fi
}
linux
