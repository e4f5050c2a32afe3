#!/bin/bash
# Snapshot and restore end to end: guest/tests/snapshot.elf is stopped after
# N serial writes by the test hook VMON_TEST_SNAPSHOT=N:DIR (saves a snapshot
# and ends vmon), then `vmon restore DIR` must print exactly the rest of an
# uninterrupted run. Under emu always, under kvm where /dev/kvm exists.
# Then every kind of bad snapshot: one line, exit status 2, nothing started.
set -u
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

guest_programs "snapshot"
prog=$BUILD/guest/snapshot.elf
want=guest/tests/snapshot.expect

# roundtrip SAVE_ACCEL RESTORE_ACCEL N
roundtrip() {
	local sa=$1 ra=$2 n=$3 d=$tmp/$1-$2-$3 rc
	mkdir -p "$d/snap"
	VMON_TEST_SNAPSHOT=$n:$d/snap timeout 60 "$VMON" run --accel "$sa" --kernel "$prog" \
		--console "file:$d/part" 2>"$d/log1"
	rc=$?
	if [ $rc -ne 0 ] || [ ! -s "$d/snap/state" ] || [ ! -f "$d/snap/memory" ]; then
		fail "snapshot: save under $sa after $n writes (status $rc)"
		tail -n 5 "$d/log1"
		return
	fi
	if ls -A "$d/snap" | grep -q tmp; then
		fail "snapshot: temporary files left in the snapshot directory"
		return
	fi
	timeout 60 "$VMON" restore --accel "$ra" --console "file:$d/rest" "$d/snap" 2>"$d/log2"
	rc=$?
	cat "$d/part" "$d/rest" >"$d/all"
	if [ $rc -eq 1 ] && cmp -s "$d/all" "$want" && [ -s "$d/part" ] && [ -s "$d/rest" ]; then
		pass "snapshot: $sa -> $ra after $n serial writes continues exactly"
	else
		fail "snapshot: $sa -> $ra after $n serial writes (restore status $rc)"
		diff <(cat "$d/part" "$d/rest") "$want" | head -n 10
		tail -n 5 "$d/log2"
	fi
}

roundtrip emu emu 20
roundtrip emu emu 300
roundtrip emu emu 700
if have_kvm; then
	roundtrip kvm kvm 300
else
	skip "snapshot: kvm -> kvm (no /dev/kvm)"
fi

# A virtio device (queues, MSI-X) saved mid-run: guest/tests/virtio_rng.
d2=$tmp/rng; mkdir -p "$d2/snap"
VMON_TEST_SNAPSHOT=100:$d2/snap timeout 60 "$VMON" run --accel emu --rng \
	--kernel "$BUILD/guest/virtio_rng.elf" --console "file:$d2/part" 2>/dev/null
timeout 60 "$VMON" restore --console "file:$d2/rest" "$d2/snap" 2>/dev/null
rc=$?
check "snapshot: virtio-rng mid-run continues exactly (status $rc)" \
	cmp <(cat "$d2/part" "$d2/rest") guest/tests/virtio_rng.expect

# Sparse memory: the file has the RAM's size but few blocks.
d=$tmp/emu-emu-300/snap
size=$(stat -c %s "$d/memory")
used=$(( $(stat -c %b "$d/memory") * $(stat -c %B "$d/memory") ))
check "snapshot: memory file is RAM-sized and sparse" test "$size" -eq $((256 << 20)) -a "$used" -lt $((16 << 20))

# bad NAME WHAT-IN-MESSAGE: restoring $tmp/bad must fail with status 2, one line.
bad() {
	local name=$1 what=$2 rc
	"$VMON" restore --console "file:$tmp/bad.out" "$tmp/bad" 2>"$tmp/bad.err"
	rc=$?
	if [ $rc -eq 2 ] && [ "$(wc -l <"$tmp/bad.err")" -eq 1 ] && grep -q "$what" "$tmp/bad.err" &&
	   [ ! -e "$tmp/bad.out" ]; then
		pass "snapshot: refuses $name"
	else
		fail "snapshot: refuses $name (status $rc)"
		cat "$tmp/bad.err"
	fi
	rm -f "$tmp/bad.out"
}
fresh() { rm -rf "$tmp/bad"; cp -a "$d" "$tmp/bad"; }
patch_byte() { printf "$2" | dd of="$tmp/bad/state" bs=1 seek="$1" conv=notrunc status=none; }

fresh; patch_byte 0 'X'; bad "bad magic" "magic"
fresh; patch_byte 8 '\x07'; bad "a wrong format version" "version"
fresh; patch_byte 5000 '\xff'; bad "a corrupt state file" "checksum"
fresh; truncate -s 4000 "$tmp/bad/state"; bad "a truncated state file" "truncated"
fresh; rm "$tmp/bad/state"; bad "a missing state file" "state"
fresh; truncate -s 1M "$tmp/bad/memory"; bad "a memory file of the wrong size" "memory"
fresh; rm "$tmp/bad/memory"; bad "a missing memory file" "memory"
fresh; "$VMON" restore "$tmp/bad" --accel nope 2>"$tmp/bad.err"
check "snapshot: refuses --accel nope" [ $? -eq 2 ]
"$VMON" restore 2>/dev/null
check "snapshot: restore without a directory is a usage error" [ $? -eq 2 ]
