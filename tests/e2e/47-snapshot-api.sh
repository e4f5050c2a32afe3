#!/bin/bash
# Snapshot through the API, restore after the monitor is killed: a guest
# program printing a counter (guest/interactive/counter.c) is paused,
# snapshotted with `vmon snapshot`, SIGKILLed, and `vmon restore` runs it on:
# the output before the kill and after the restore together count 0, 1, 2 ...
# with no number missing or repeated. Under emu, and kvm (SKIP without
# /dev/kvm). The restored monitor answers on its own API socket. Bad
# requests: no directory, a path that is a file.
set -u
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
export XDG_RUNTIME_DIR=$tmp/xdg
mkdir -p "$XDG_RUNTIME_DIR"

guest_programs "snapshot-api"
prog=$BUILD/guest/counter.elf

snap() {
	local accel=$1 sock=$tmp/$1.sock out=$tmp/$1.out out2=$tmp/$1.out2 dir=$tmp/$1.snap n problems=()
	"$VMON" run --accel "$accel" --kernel "$prog" --mem 64M --console "file:$out" \
		--api-sock "$sock" </dev/null 2>"$tmp/$accel.err" &
	local pid=$!
	pids+=("$pid")
	counter_wait "$out" 5 || problems+=("the counter did not start")
	"$VMON" pause "$sock" >/dev/null || problems+=("vmon pause failed")
	"$VMON" snapshot "$sock" "$dir" >/dev/null || problems+=("vmon snapshot failed")
	[ -s "$dir/state" ] && [ -e "$dir/memory" ] || problems+=("no state or memory file")
	"$VMON" info "$sock" | grep -q '"state": "paused"' ||
		problems+=("a paused VM did not stay paused after the snapshot")
	sleep 0.3
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	n=$(counter_lines "$out")
	"$VMON" restore "$dir" --accel "$accel" --console "file:$out2" --api-sock "$sock.2" \
		</dev/null 2>"$tmp/$accel.err2" &
	pid=$!
	pids+=("$pid")
	counter_wait "$out2" 5 || problems+=("the restored counter did not go on")
	"$VMON" info "$sock.2" | grep -q '"state": "running"' ||
		problems+=("the restored monitor does not answer on its --api-sock")
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	counter_consecutive "$out" "$out2" ||
		problems+=("before the kill and after the restore the counter is not one run:" \
			   "$(tr -d '\r' < "$out" | tail -n 2 | tr '\n' '|') / $(tr -d '\r' < "$out2" | head -n 2 | tr '\n' '|')")
	if [ ${#problems[@]} -eq 0 ]; then
		pass "snapshot-api: $accel counter snapshotted through the API, killed after line $n, restored without a gap"
	else
		fail "snapshot-api: $accel: ${problems[*]}"
		tail -n 5 "$tmp/$accel.err" "$tmp/$accel.err2" 2>/dev/null
	fi
}

snap emu
if have_kvm; then snap kvm; else skip "snapshot-api: kvm counter (no /dev/kvm)"; fi

# Bad requests leave the VM running.
sock=$tmp/bad.sock
"$VMON" run --accel emu --kernel "$prog" --mem 64M --console "file:$tmp/bad.out" \
	--api-sock "$sock" </dev/null 2>/dev/null &
pid=$!
pids+=("$pid")
counter_wait "$tmp/bad.out" 2
touch "$tmp/afile"
problems=()
"$VMON" snapshot "$sock" "$tmp/afile" >/dev/null 2>"$tmp/bad.err" &&
	problems+=("a file as DIR was accepted")
grep -q "Not a directory\|File exists" "$tmp/bad.err" || problems+=("no reason given: $(cat "$tmp/bad.err")")
"$VMON" snapshot "$sock" "$tmp/no/such/dir" >/dev/null 2>&1 && problems+=("a missing parent was accepted")
"$VMON" info "$sock" | grep -q '"state": "running"' || problems+=("the VM is not running after bad requests")
[ ! -e "$tmp/no" ] || problems+=("a bad request left files behind")
if [ ${#problems[@]} -eq 0 ]; then
	pass "snapshot-api: bad snapshot directories refused, the VM runs on"
else
	fail "snapshot-api: ${problems[*]}"
fi
