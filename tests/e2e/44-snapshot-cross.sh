#!/bin/bash
# Snapshots across accelerators: guest/tests/snapshot_cross.elf (LAPIC timer
# interrupts pacing every step, values held in xmm registers, kvmclock and
# TSC checked monotonic without a jump) is saved under one accelerator by
# the test hook VMON_TEST_SNAPSHOT=N:DIR, left on disk for 2 s, and restored
# under the other; the output must be exactly that of an uninterrupted run.
# Then emu -> kvm -> emu in two hops, and a 2-vCPU VM (guest/interactive/
# counter, the AP waiting for INIT) paused and snapshotted through the API,
# killed and restored under the other accelerator: the count goes on
# without a gap.
# Needs /dev/kvm: SKIPs without it.
set -u
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
export XDG_RUNTIME_DIR=$tmp/xdg
mkdir -p "$XDG_RUNTIME_DIR"

if ! have_kvm; then
	skip "snapshot-cross: emu <-> kvm (no usable /dev/kvm)"
	exit 0
fi
guest_programs "snapshot-cross"
prog=$BUILD/guest/snapshot_cross.elf
want=guest/tests/snapshot_cross.expect

# save ACCEL N DIR OUT [restore DIR2]: run (or restore) until N serial writes, save to DIR.
save() {
	local accel=$1 n=$2 d=$3 out=$4
	shift 4
	mkdir -p "$d"
	if [ $# -gt 0 ]; then
		VMON_TEST_SNAPSHOT=$n:$d timeout 60 "$VMON" restore --accel "$accel" \
			--console "file:$out" "$2" 2>>"$tmp/log"
	else
		VMON_TEST_SNAPSHOT=$n:$d timeout 60 "$VMON" run --accel "$accel" --kernel "$prog" \
			--console "file:$out" 2>>"$tmp/log"
	fi
	[ $? -eq 0 ] && [ -s "$d/state" ]
}

# cross SAVE RESTORE N
cross() {
	local sa=$1 ra=$2 n=$3 d=$tmp/$1-$2-$3 rc
	if ! save "$sa" "$n" "$d/snap" "$d/part"; then
		fail "snapshot-cross: save under $sa after $n writes"
		tail -n 5 "$tmp/log"
		return
	fi
	sleep 2   # a clock that followed the host would jump by this
	timeout 60 "$VMON" restore --accel "$ra" --console "file:$d/rest" "$d/snap" 2>>"$tmp/log"
	rc=$?
	if [ $rc -eq 1 ] && cmp -s <(cat "$d/part" "$d/rest") "$want" && [ -s "$d/rest" ]; then
		pass "snapshot-cross: $sa -> $ra after $n serial writes continues exactly"
	else
		fail "snapshot-cross: $sa -> $ra after $n serial writes (restore status $rc)"
		diff <(cat "$d/part" "$d/rest") "$want" | head -n 10
		tail -n 5 "$tmp/log"
	fi
}

cross emu kvm 300
cross emu kvm 1500
cross kvm emu 300
cross kvm emu 1500

# emu -> kvm -> emu: the second snapshot is taken by the kvm restore.
d=$tmp/hop
if save emu 400 "$d/s1" "$d/p1" && save kvm 800 "$d/s2" "$d/p2" restore "$d/s1" &&
   timeout 60 "$VMON" restore --accel emu --console "file:$d/p3" "$d/s2" 2>>"$tmp/log"; [ $? -eq 1 ] &&
   cmp -s <(cat "$d/p1" "$d/p2" "$d/p3") "$want"; then
	pass "snapshot-cross: emu -> kvm -> emu continues exactly"
else
	fail "snapshot-cross: emu -> kvm -> emu"
	diff <(cat "$d/p1" "$d/p2" "$d/p3" 2>/dev/null) "$want" | head -n 10
	tail -n 5 "$tmp/log"
fi

# api_cross SAVE RESTORE: the counter on 2 vCPUs through vmon snapshot.
api_cross() {
	local sa=$1 ra=$2 d=$tmp/api-$1-$2 pid problems=()
	mkdir -p "$d"
	"$VMON" run --accel "$sa" --cpus 2 --kernel "$BUILD/guest/counter.elf" --mem 64M \
		--console "file:$d/p1" --api-sock "$d/s1" </dev/null 2>>"$tmp/log" &
	pid=$!
	pids+=("$pid")
	counter_wait "$d/p1" 3 || problems+=("the counter did not start")
	# Paused first, so that it prints nothing between the snapshot and the kill.
	"$VMON" pause "$d/s1" >/dev/null || problems+=("vmon pause failed")
	"$VMON" snapshot "$d/s1" "$d/snap" >/dev/null || problems+=("vmon snapshot failed")
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	"$VMON" restore "$d/snap" --accel "$ra" --console "file:$d/p2" --api-sock "$d/s2" \
		</dev/null 2>>"$tmp/log" &
	pid=$!
	pids+=("$pid")
	counter_wait "$d/p2" 3 || problems+=("the restored counter did not go on")
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	cat "$d/p1" "$d/p2" | tr -d '\r' | grep '^count ' |
		awk '$2 != NR - 1 { bad = 1 } END { exit bad }' ||
		problems+=("the count has a gap: $(tail -n 1 "$d/p1") / $(head -n 1 "$d/p2")")
	if [ ${#problems[@]} -eq 0 ]; then
		pass "snapshot-cross: a 2-vCPU VM snapshotted through the API under $sa, killed, restored under $ra: the count goes on"
	else
		fail "snapshot-cross: 2 vCPUs through the API, $sa -> $ra: ${problems[*]}"
		tail -n 5 "$tmp/log"
	fi
}

api_cross emu kvm
api_cross kvm emu
