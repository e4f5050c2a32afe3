#!/bin/bash
# virtio-console end to end under kvm with the guest program
# guest/tests/virtio_console.c: its line reaches the --vconsole file, and
# host input on --vconsole stdio comes back through the guest (echo=1).
set -u
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! have_kvm; then
	skip "virtio-console (no /dev/kvm)"
	exit 0
fi
if ! make -s guest-programs BUILD="$BUILD" >"$tmp/build.log" 2>&1; then
	fail "virtio-console: build the guest programs"
	tail -n 20 "$tmp/build.log"
	exit 0
fi
elf=$BUILD/guest/virtio_console.elf

timeout 60 "$VMON" run --accel kvm --kernel "$elf" --console "file:$tmp/serial" \
	--vconsole "file:$tmp/hvc" --mem 64M </dev/null >"$tmp/log" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && [ "$(cat "$tmp/hvc" 2>/dev/null)" = "hello from hvc0" ]; then
	pass "virtio-console: output to a file"
else
	fail "virtio-console: output to a file (status $rc)"
	cat "$tmp/serial" "$tmp/hvc" "$tmp/log" 2>/dev/null | tail -n 20
fi

printf 'ping from the host\n' | timeout 60 "$VMON" run --accel kvm --kernel "$elf" \
	--console "file:$tmp/serial2" --vconsole stdio --append echo=1 --mem 64M \
	>"$tmp/hvc2" 2>"$tmp/log2"
rc=$?
if [ "$rc" -eq 1 ] && [ "$(cat "$tmp/hvc2")" = "$(printf 'hello from hvc0\nping from the host')" ]; then
	pass "virtio-console: input from stdio comes back"
else
	fail "virtio-console: input from stdio comes back (status $rc)"
	cat "$tmp/serial2" "$tmp/hvc2" "$tmp/log2" 2>/dev/null | tail -n 20
fi
