#!/bin/bash
# Live migration between two vmon processes on loopback (vmon migrate, vmon
# run --incoming). Guest programs first: guest/tests/migrate writes all over
# 2 MiB as it goes and prints sums of what it reads back, so the two consoles
# together must equal an uninterrupted run byte for byte (emu; kvm, SKIP
# without /dev/kvm). Then Linux on emu counting on its console and into a
# file on a shared ext4 disk as fast as it can (a sync every 25): the counts
# of both consoles are consecutive, the file's too, the file system is
# clean. Then the faults: a target that refuses (RAM size) before the source
# stops, garbage and a stream cut short (the target exits with one line,
# status 2; the source runs on and answers GET /vm), a corrupted stream
# (CRC), and after them all a last migration of the same source.
set -u
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
export XDG_RUNTIME_DIR=$tmp/xdg
mkdir -p "$XDG_RUNTIME_DIR"

guest_programs "migrate"
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
	local acc=$1 steps=$2 want=$3 problems=() rc passes
	shift 3
	target "$acc-t" --accel "$acc" --mem 64M || problems+=("the target did not listen")
	source_vm "$acc-s" --accel "$acc" --mem 64M --kernel "$prog" --append "steps=$steps"
	wait_lines "$tmp/$acc-s.out" '^migrate: step' 3 || problems+=("the program did not start")
	"$VMON" migrate "$tmp/$acc-s.sock" "tcp:127.0.0.1:$port" "$@" >"$tmp/$acc.mig" 2>&1 ||
		problems+=("vmon migrate failed: $(tail -n 1 "$tmp/$acc.mig")")
	passes=$(sed -n 's/.*: pass \([0-9]*\):.*/\1/p' "$tmp/$acc.mig" | tail -n 1)
	[ $# = 0 ] || [ "${passes:-0}" -ge 2 ] || problems+=("only $passes pre-copy passes with $*")
	timeout 120 tail --pid="$spid" -f /dev/null
	kill -9 "$spid" 2>/dev/null
	wait "$spid"
	rc=$?
	[ "$rc" = 0 ] || problems+=("the source ended with $rc")
	timeout 120 tail --pid="$tpid" -f /dev/null
	kill -9 "$tpid" 2>/dev/null
	wait "$tpid"
	rc=$?
	[ "$rc" = 1 ] || problems+=("the target ended with $rc, not the program's exit(0)")
	cat "$tmp/$acc-s.out" "$tmp/$acc-t.out" >"$tmp/$acc.all"
	cmp -s "$tmp/$acc.all" "$want" || problems+=("the output differs from an uninterrupted run")
	[ "$(lines "$tmp/$acc-t.out" '^migrate: step')" -gt 0 ] ||
		problems+=("the target printed no step")
	grep -q '^migrate: done' "$tmp/$acc-s.out" && problems+=("the program ended on the source")
	if [ ${#problems[@]} -eq 0 ]; then
		pass "migrate: guest program under $acc moved after $(lines "$tmp/$acc-s.out" step) of $steps steps in $passes pre-copy passes${*:+ ($*)}, output exact ($(downtime "$tmp/$acc.mig"))"
	else
		fail "migrate: guest program under $acc: ${problems[*]}"
		tail -n 5 "$tmp/$acc.mig" "$tmp/$acc-s.err" "$tmp/$acc-t.err"
	fi
}
timeout 120 "$VMON" run --accel emu --mem 64M --kernel "$prog" --append steps=20000 \
	--console "file:$tmp/ref.out" </dev/null 2>/dev/null
# A downtime target it cannot meet: every pass re-sends what the program
# wrote meanwhile, 30 passes, then stop-and-copy.
program emu 20000 "$tmp/ref.out" --downtime 1
if have_kvm; then
	program kvm 100 guest/tests/migrate.expect
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
	i=$((i+1))
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
	timeout 60 tail --pid="$spid" -f /dev/null
	kill -9 "$spid" 2>/dev/null
	wait "$spid"
	rc=$?
	[ "$rc" = 0 ] || problems+=("the source ended with $rc")
	before=$(lines "$tmp/ls.out" '^@count')
	wait_lines "$tmp/lt.out" '^@count' 20 1200 || problems+=("the guest did not count on the target")
	"$VMON" stop "$tmp/lt.sock" >/dev/null || problems+=("vmon stop on the target failed")
	timeout 120 tail --pid="$tpid" -f /dev/null
	kill -9 "$tpid" 2>/dev/null
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

# --- Faults: the source runs on through each, then still migrates. ---
# proxy PORTFILE TARGETPORT LIMIT FLIP: forwards one connection to the target,
# cutting it after LIMIT bytes from the source (-1: never) or inverting the
# byte at offset FLIP (-1: none).
proxy() {
	python3 - "$@" >/dev/null 2>&1 <<'PY' &
import select, socket, sys
pf, tport, limit, flip = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(1)
with open(pf + ".tmp", "w") as f:
    f.write(str(l.getsockname()[1]))
import os
os.rename(pf + ".tmp", pf)
s, _ = l.accept()
t = socket.create_connection(("127.0.0.1", tport))
n = 0
try:
    while True:
        r, _, _ = select.select([s, t], [], [], 30)
        if not r:
            break
        if t in r:
            d = t.recv(65536)
            if not d:
                break
            s.sendall(d)
        if s in r:
            d = s.recv(65536)
            if not d:
                break
            if 0 <= flip - n < len(d):
                b = bytearray(d)
                b[flip - n] ^= 0xFF
                d = bytes(b)
            if limit >= 0 and n + len(d) >= limit:
                t.sendall(d[: limit - n])
                break
            n += len(d)
            t.sendall(d)
except OSError:
    pass
s.close()
t.close()
PY
	pids+=($!)
	for _ in $(seq 100); do [ -s "$1" ] && break; sleep 0.05; done
}
# target_failed NAME WHAT: the target NAME ended with 2 and one line of
# stderr after its "waiting" line, matching WHAT; else why says what.
target_failed() {
	local n=$1 what=$2 rc msg
	why=
	timeout 60 tail --pid="$tpid" -f /dev/null
	kill -9 "$tpid" 2>/dev/null
	wait "$tpid"
	rc=$?
	msg=$(grep -v 'waiting for a migration' "$tmp/$n.err")
	[ "$rc" = 2 ] && [ "$(printf '%s\n' "$msg" | wc -l)" = 1 ] &&
		printf '%s\n' "$msg" | grep -qE "$what" || why="target: status $rc: $msg"
}
# source_runs: the source answers GET /vm as running and its program goes
# on; else why2 says what.
source_runs() {
	local n
	why2=
	"$VMON" info "$tmp/fs.sock" 2>&1 | grep -q '"state": "running"' || why2="GET /vm: not running"
	n=$(lines "$tmp/fs.out" step)
	wait_lines "$tmp/fs.out" step $((n + 3)) 100 || why2="$why2 the source's program stopped"
	kill -0 "$spid" 2>/dev/null || why2="$why2 the source ended"
}

# The source has a disk (the program leaves it alone): every target needs it.
fdisk=$tmp/f.img
truncate -s 8M "$fdisk"
# Long enough to outlast every case below (stopped at the end).
source_vm fs --accel emu --mem 64M --kernel "$prog" --append steps=10000000 --disk "$fdisk"
wait_lines "$tmp/fs.out" '^migrate: step' 3

# Bad command lines: one line, status 2.
bad_cli() { # NAME PATTERN ARGS...
	local name=$1 pat=$2 rc
	shift 2
	"$VMON" "$@" >/dev/null 2>"$tmp/cli.err" </dev/null
	rc=$?
	if [ $rc = 2 ] && [ "$(wc -l <"$tmp/cli.err")" = 1 ] && grep -qE -- "$pat" "$tmp/cli.err"; then
		pass "migrate: cli: $name"
	else
		fail "migrate: cli: $name (status $rc: $(cat "$tmp/cli.err"))"
	fi
}
bad_cli "--incoming with a bad URI" 'ftp:x: expected tcp:HOST:PORT or unix:PATH' \
	run --incoming ftp:x --accel emu
bad_cli "--incoming with a bad port" 'expected tcp:HOST:PORT' run --incoming tcp:h:99999 --accel emu
bad_cli "migrate without a URI" 'needs NAME and URI' migrate "$tmp/fs.sock"
bad_cli "migrate --downtime 0" 'downtime' migrate "$tmp/fs.sock" tcp:127.0.0.1:1 --downtime 0
"$VMON" migrate "$tmp/fs.sock" tcp:127.0.0.1:1 >/dev/null 2>"$tmp/cli.err"
rc=$?
source_runs
[ $rc = 1 ] && grep -q 'cannot connect' "$tmp/cli.err" && [ -z "$why2" ] &&
	pass "migrate: no target listening: vmon migrate fails (status 1), the source runs on" ||
	fail "migrate: no target listening (status $rc: $(cat "$tmp/cli.err")) $why2"

target f1 --accel emu --mem 128M --disk "$fdisk"
msg=$("$VMON" migrate "$tmp/fs.sock" "tcp:127.0.0.1:$port" 2>&1)
rc=$?
target_failed f1 'refused the VM: the VM has 64 MiB of RAM, this monitor 128 MiB'
source_runs
if [ $rc = 1 ] && printf '%s' "$msg" | grep -q 'refused.*RAM' && [ -z "$why" ] && [ -z "$why2" ]; then
	pass "migrate: a target with other RAM refuses before the source stops; the source runs on"
else
	fail "migrate: RAM mismatch (migrate status $rc: $msg) $why $why2"
fi

target f2 --accel emu --mem 64M
{ exec 3<>"/dev/tcp/127.0.0.1/$port" && head -c 65536 /dev/urandom >&3; exec 3>&-; } 2>/dev/null
target_failed f2 'not a vmon migration stream'
[ -z "$why" ] && pass "migrate: garbage to --incoming: the target exits with status 2, one line" ||
	fail "migrate: garbage to --incoming: $why"

target f3 --accel emu --mem 64M
{ exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'VMONMIGR\001\000\000\000\000\000\000\000' >&3 &&
	head -c 65536 /dev/urandom >&3; exec 3>&-; } 2>/dev/null
target_failed f3 'chunk 0'
[ -z "$why" ] && pass "migrate: garbage chunks after a good header: status 2, one line" ||
	fail "migrate: garbage chunks: $why"

# cut NAME LIMIT FLIP WHAT TITLE
cut() {
	local n=$1 msg rc
	target "$n" --accel emu --mem 64M --disk "$fdisk"
	proxy "$tmp/$n.port" "$port" "$2" "$3"
	msg=$("$VMON" migrate "$tmp/fs.sock" "tcp:127.0.0.1:$(cat "$tmp/$n.port")" 2>&1)
	rc=$?
	target_failed "$n" "$4"
	source_runs
	if [ $rc = 1 ] && [ -z "$why" ] && [ -z "$why2" ]; then
		pass "migrate: $5: the target exits with status 2, one line; the source runs on and answers GET /vm"
	else
		fail "migrate: $5 (migrate status $rc: $(printf '%s' "$msg" | tail -n 1)) $why $why2"
	fi
}
cut f4 1000000 -1 'truncated|ended' "connection dropped mid-stream (1 MB)"
cut f5 -1 700000 'checksum|bad length|unknown type|sequence' "a byte flipped mid-stream"
cut f6 48 -1 'truncated|ended' "connection dropped inside the offer"

# A target that fails after the source stopped (it cannot create its console
# file): the source takes its disk's lock back and runs on.
"$VMON" run --incoming tcp:127.0.0.1:0 --accel emu --mem 64M --disk "$fdisk" \
	--console "file:$tmp/no/such/dir/f8.out" --api-sock "$tmp/f8.sock" </dev/null 2>"$tmp/f8.err" &
tpid=$!
pids+=("$tpid")
port=
for _ in $(seq 100); do
	port=$(sed -n 's/.*waiting for a migration on tcp:127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/f8.err")
	[ -n "$port" ] && break
	sleep 0.1
done
msg=$("$VMON" migrate "$tmp/fs.sock" "tcp:127.0.0.1:$port" 2>&1)
rc=$?
timeout 60 tail --pid="$tpid" -f /dev/null
kill -9 "$tpid" 2>/dev/null
wait "$tpid"
trc=$?
source_runs
"$VMON" run --accel emu --kernel "$prog" --disk "$fdisk" --console none </dev/null >/dev/null 2>"$tmp/lock.err"
lrc=$?
if [ $rc = 1 ] && printf '%s' "$msg" | grep -q 'cannot build the VM' && [ $trc -ne 0 ] &&
   [ -z "$why2" ] && [ $lrc = 2 ] && grep -q 'locked' "$tmp/lock.err"; then
	pass "migrate: a target failing after the stop-and-copy: the source resumes, its disk locked again"
else
	fail "migrate: target failing after the stop-and-copy (migrate $rc: $(printf '%s' "$msg" | tail -n 1), target $trc, lock check $lrc: $(cat "$tmp/lock.err")) $why2"
fi

# After all that, the same source still migrates, exactly (over a UNIX socket).
"$VMON" run --incoming "unix:$tmp/f7.mig.sock" --accel emu --mem 64M --disk "$fdisk" --console "file:$tmp/f7.out" \
	--api-sock "$tmp/f7.sock" </dev/null 2>"$tmp/f7.err" &
tpid=$!
pids+=("$tpid")
for _ in $(seq 100); do [ -S "$tmp/f7.mig.sock" ] && break; sleep 0.1; done
"$VMON" migrate "$tmp/fs.sock" "unix:$tmp/f7.mig.sock" >"$tmp/f7.mig" 2>&1
rc=$?
timeout 60 tail --pid="$spid" -f /dev/null
kill -9 "$spid" 2>/dev/null
wait "$spid"
src=$?
wait_lines "$tmp/f7.out" step 20 100
"$VMON" stop --force "$tmp/f7.sock" >/dev/null
timeout 60 tail --pid="$tpid" -f /dev/null
kill -9 "$tpid" 2>/dev/null
wait "$tpid"
dst=$?
# The first n steps of any run are the same: compare with a run of n steps
# (the last line, perhaps cut by the stop, left out).
cat "$tmp/fs.out" "$tmp/f7.out" >"$tmp/f7.all"
n=$(($(grep -c '^migrate: step' "$tmp/f7.all") - 1))
timeout 300 "$VMON" run --accel emu --mem 64M --kernel "$prog" --append "steps=$n" \
	--console "file:$tmp/f7.ref" </dev/null 2>/dev/null
if [ $rc = 0 ] && [ $src = 0 ] && [ $dst = 0 ] && [ "$(lines "$tmp/f7.out" step)" -ge 20 ] &&
   cmp -s <(head -n "$n" "$tmp/f7.all") <(head -n "$n" "$tmp/f7.ref"); then
	pass "migrate: after the failed attempts the source migrates (unix:), $n steps exact"
else
	fail "migrate: migrating after failures (migrate $rc, source $src, target $dst, $n steps)"
	tail -n 3 "$tmp/f7.mig" "$tmp/f7.err"
fi
