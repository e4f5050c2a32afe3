#!/bin/bash
# MSI-X interrupts of virtio devices through irqfd routes: the virtio_rng
# guest program (which waits for its queue's MSI-X interrupt) under kvm
# must give its expected output with every message sent through an
# irqfd, as vmon -v counts them when the device goes; under emu (no irqfd)
# the same messages go through the accelerator's send_msi.
set -u
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

T=${GUEST_TIMEOUT:-60}
elf=$BUILD/guest/virtio_rng.elf
guest_programs "irqfd"

# run ACCEL: the program's output must be right; prints "TOTAL IRQFD".
run() {
	timeout "$T" "$VMON" run -v --accel "$1" --kernel "$elf" --rng \
		--console "file:$tmp/$1.out" --mem 64M </dev/null >"$tmp/$1.log" 2>&1
	local rc=$?
	if [ "$rc" -ne 1 ] || ! cmp -s guest/tests/virtio_rng.expect "$tmp/$1.out"; then
		echo "exit status $rc; output:" >&2
		cat "$tmp/$1.out" "$tmp/$1.log" >&2
		return 1
	fi
	sed -n 's/.*virtio-rng [0-9a-f.]*: \([0-9]*\) MSI-X interrupts, \([0-9]*\) through irqfd$/\1 \2/p' \
		"$tmp/$1.log"
}

if ! have_kvm; then
	skip "irqfd: virtio-rng MSI-X under kvm (no /dev/kvm)"
elif ! counts=$(run kvm 2>"$tmp/err"); then
	fail "irqfd: virtio-rng MSI-X under kvm"
	tail -n 30 "$tmp/err"
else
	read -r total irqfd <<<"$counts"
	if [ -n "$total" ] && [ "$total" -gt 0 ] && [ "$irqfd" = "$total" ] &&
	   grep -q 'MSI-X vector 0 through an irqfd' "$tmp/kvm.log"; then
		pass "irqfd: virtio-rng MSI-X under kvm ($irqfd of $total through irqfd)"
	else
		fail "irqfd: virtio-rng MSI-X under kvm (counts '${counts}')"
		cat "$tmp/kvm.log"
	fi
fi

if ! counts=$(run emu 2>"$tmp/err"); then
	fail "irqfd: virtio-rng MSI-X under emu (send_msi)"
	tail -n 30 "$tmp/err"
else
	read -r total irqfd <<<"$counts"
	if [ -n "$total" ] && [ "$total" -gt 0 ] && [ "$irqfd" = 0 ]; then
		pass "irqfd: virtio-rng MSI-X under emu ($total through send_msi)"
	else
		fail "irqfd: virtio-rng MSI-X under emu (counts '${counts}')"
		cat "$tmp/emu.log"
	fi
fi
