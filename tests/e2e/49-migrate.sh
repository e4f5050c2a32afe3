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
