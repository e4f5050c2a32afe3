#!/bin/bash
# The guest programs (guest/tests/NAME.c) under vmon, once per accelerator
# in $GUEST_ACCELS (default "kvm emu emu,jit=off": emu with its translator and
# the interpreter; empty for QEMU only),
# and under QEMU (-accel kvm, or tcg without /dev/kvm; $QEMU_ACCEL) as the
# reference machine that proves the expected outputs right. A check passes
# when the serial output equals guest/tests/NAME.expect byte for byte and
# the exit status is the one guest/tests/NAME.conf gives (default 1: exit(0)
# through isa-debug-exit). NAME.conf (optional, sourced): status=, args=
# (extra vmon arguments), qemu_args=, qemu_status= (empty: not checked;
# default: status), qemu_needs_kvm=1, kvm_native="what" (skipped under a KVM
# that emulates guest kernel code, as this host's does: its guests lack "what").
set -u
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

GUEST_ACCELS=${GUEST_ACCELS-kvm emu emu,jit=off}
GUEST_TIMEOUT=${GUEST_TIMEOUT:-60}
gbuild=$BUILD/guest

if ! out=$(make -s guest-programs BUILD="$BUILD" 2>&1); then
	fail "guest: build the programs"
	printf '%s\n' "$out" | tail -n 20
	exit 1
fi

# judge NAME OUT STATUS WANT_STATUS LOG: one PASS/FAIL line, details on failure.
judge() {
	local name=$1 out=$2 rc=$3 want=$4 log=$5 expect=guest/tests/${1%% *}.expect
	local why=
	if [ ! -f "$out" ]; then
		why="no console output file"
	elif ! cmp -s "$expect" "$out"; then
		why="output differs from $expect"
	fi
	if [ "$rc" -eq 124 ]; then
		why="${why:+$why; }timed out after ${GUEST_TIMEOUT}s"
	elif [ -n "$want" ] && [ "$rc" -ne "$want" ]; then
		why="${why:+$why; }exit status $rc, expected $want"
	fi
	if [ -z "$why" ]; then
		pass "guest: $name"
		return
	fi
	fail "guest: $name ($why)"
	[ -f "$out" ] && diff -u "$expect" "$out" | head -n 40
	tail -n 10 "$log"
}

# not_comparable OUT STATUS: the program found that this KVM runs CPL3
# code on the host's descriptor tables (PVM; guest/tests/native.h) and
# cannot be compared here (status 251, its last line says so).
not_comparable() {
	[ "$2" -eq 251 ] && [ -f "$1" ] && tail -n 1 "$1" | grep -q ': not comparable$'
}

qemu=$(command -v qemu-system-x86_64)
if have_kvm; then qemu_accel=${QEMU_ACCEL:-kvm}; else qemu_accel=${QEMU_ACCEL:-tcg}; fi
# qboot starts in well under a second; SeaBIOS takes ~20 s on a host whose
# KVM emulates CPL0 code. Both provide QEMU's ACPI tables.
qemu_bios=()
[ -f /usr/share/qemu/qboot.rom ] && qemu_bios=(-bios /usr/share/qemu/qboot.rom)

# A KVM that emulates guest kernel code (the PVM kind) says so to --accel auto.
kvm_emulating=
if have_kvm && "$VMON" run --accel auto --kernel "$gbuild/poweroff.elf" --console file:/dev/null \
	--mem 64M </dev/null 2>&1 | grep -q "it emulates it"; then
	kvm_emulating=1
fi

for src in guest/tests/*.c; do
	name=$(basename "$src" .c)
	elf=$gbuild/$name.elf
	status=1 args="" qemu_args="" qemu_status=unset qemu_needs_kvm=0 kvm_native=""
	# shellcheck disable=SC1090
	[ -f "guest/tests/$name.conf" ] && . "guest/tests/$name.conf"
	[ "$qemu_status" = unset ] && qemu_status=$status

	for accel in $GUEST_ACCELS; do
		if [ "$accel" = kvm ] && ! have_kvm; then
			skip "guest: $name ($accel) (no /dev/kvm)"
			continue
		fi
		if [ "$accel" = kvm ] && [ -n "$kvm_native" ] && [ -n "$kvm_emulating" ]; then
			skip "guest: $name ($accel) (this host's KVM emulates kernel code: no $kvm_native)"
			continue
		fi
		out=$tmp/$name.$accel.out
		# shellcheck disable=SC2086 # args holds several words
		timeout "$GUEST_TIMEOUT" "$VMON" run --accel "$accel" --kernel "$elf" \
			--console "file:$out" $args --mem 64M \
			</dev/null >"$tmp/$name.$accel.log" 2>&1
		rc=$?
		if [ "$accel" = kvm ] && not_comparable "$out" "$rc"; then
			skip "guest: $name ($accel) ($(tail -n 1 "$out"))"
			continue
		fi
		judge "$name ($accel)" "$out" $rc "$status" "$tmp/$name.$accel.log"
	done

	if [ -z "$qemu" ]; then
		skip "guest: $name (qemu) (qemu-system-x86_64 not installed)"
		continue
	fi
	if [ "$qemu_needs_kvm" = 1 ] && [ "$qemu_accel" != kvm ]; then
		skip "guest: $name (qemu) (needs -accel kvm)"
		continue
	fi
	if [ "$qemu_accel" = kvm ] && [ -n "$kvm_native" ] && [ -n "$kvm_emulating" ]; then
		skip "guest: $name (qemu) (this host's KVM emulates kernel code: no $kvm_native)"
		continue
	fi
	out=$tmp/$name.qemu.out
	# shellcheck disable=SC2086
	timeout "$GUEST_TIMEOUT" "$qemu" -M q35 -accel "$qemu_accel" "${qemu_bios[@]}" \
		-m 64M -kernel "$elf" -serial "file:$out" -display none -no-reboot \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 $qemu_args \
		</dev/null >"$tmp/$name.qemu.log" 2>&1
	rc=$?
	if [ "$qemu_accel" = kvm ] && not_comparable "$out" "$rc"; then
		skip "guest: $name (qemu) ($(tail -n 1 "$out"))"
		continue
	fi
	judge "$name (qemu)" "$out" $rc "$qemu_status" "$tmp/$name.qemu.log"
done
