#!/bin/bash
# virtio-blk end to end with the guest program guest/tests/virtio_blk.c
# under vmon (kvm) and under QEMU (the reference): it reads a string the
# host put in sector 0, writes a pattern to sector 1, flushes, reads back
# and asks for the serial; the host then checks the image. Also: a
# read-only disk refuses the write, data flushed before a SIGKILL is in the
# image, a locked image and bad --disk values are refused.
set -u
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1
tmp=$(mktemp -d)
vpid=
trap '[ -n "$vpid" ] && kill -9 "$vpid" 2>/dev/null; rm -rf "$tmp"' EXIT

T=${GUEST_TIMEOUT:-60}
elf=$BUILD/guest/virtio_blk.elf
guest_programs "virtio-blk"

# new_image PATH: 1 MiB, a string in sector 0, zeroes elsewhere.
new_image() {
	rm -f "$1"
	truncate -s 1M "$1"
	printf 'hello from the host' | dd of="$1" conv=notrunc status=none
}
sector() { dd if="$1" bs=512 skip="$2" count=1 status=none; }
pattern() { for _ in $(seq 64); do printf VMONBLK1; done; }
pattern >"$tmp/pattern"
head -c 512 /dev/zero >"$tmp/zero"
new_image "$tmp/fresh"
sector "$tmp/fresh" 0 >"$tmp/sector0"

cat >"$tmp/want-rw" <<'EOF'
virtio-blk: 2048 sectors, flush yes, read-only no
read sector 0: status 0: hello from the host
write sector 1: status 0
flush: status 0
flushed
read sector 1: status 0, the pattern
get-id: status 0: vmon0
read past the end: status 1
EOF
cat >"$tmp/want-ro" <<'EOF'
virtio-blk: 2048 sectors, flush yes, read-only yes
read sector 0: status 0: hello from the host
write sector 1: status 1
flush: status 0
read sector 1: status 0, differs from the pattern
get-id: status 0: vmon0
read past the end: status 1
EOF

# judge NAME OUT WANT RC IMG SECTOR1 LOG: output, status 1, image contents.
judge() {
	local name=$1 out=$2 want=$3 rc=$4 img=$5 s1=$6 log=$7 why=
	[ -f "$out" ] || why="no console output"
	[ -z "$why" ] && ! cmp -s "$want" "$out" && why="output differs"
	[ "$rc" -eq 1 ] || why="${why:+$why; }exit status $rc, expected 1"
	cmp -s <(sector "$img" 1) "$s1" || why="${why:+$why; }sector 1 of the image is wrong"
	cmp -s <(sector "$img" 0) "$tmp/sector0" || why="${why:+$why; }sector 0 changed"
	if [ -z "$why" ]; then
		pass "virtio-blk: $name"
		return
	fi
	fail "virtio-blk: $name ($why)"
	[ -f "$out" ] && diff -u "$want" "$out" | head -n 20
	tail -n 10 "$log"
}

# --- QEMU: proves the program (and so the expected outputs) right. ---
qemu=$(command -v qemu-system-x86_64)
if have_kvm; then qaccel=kvm; else qaccel=tcg; fi
qbios=()
[ -f /usr/share/qemu/qboot.rom ] && qbios=(-bios /usr/share/qemu/qboot.rom)
qemu_run() { # ID NAME WANT SECTOR1 READONLY
	local id=$1 img=$tmp/$1.img
	shift
	new_image "$img"
	timeout "$T" "$qemu" -M q35 -accel "$qaccel" "${qbios[@]}" -m 64M -kernel "$elf" \
		-serial "file:$tmp/$id.out" -display none -no-reboot \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		-device virtio-blk-pci,drive=d0,serial=vmon0,disable-legacy=on \
		-drive "if=none,id=d0,file=$img,format=raw,readonly=$4" \
		</dev/null >"$tmp/$id.log" 2>&1
	judge "$1" "$tmp/$id.out" "$2" $? "$img" "$3" "$tmp/$id.log"
}
if [ -z "$qemu" ]; then
	skip "virtio-blk: qemu (qemu-system-x86_64 not installed)"
else
	qemu_run q-rw "read, write, flush, get-id (qemu)" "$tmp/want-rw" "$tmp/pattern" off
	qemu_run q-ro "read-only disk refuses the write (qemu)" "$tmp/want-ro" "$tmp/zero" on
fi

# --- Bad --disk values and images: one line, status 2. ---
bad() { # NAME SPEC MESSAGE
	local out rc
	out=$("$VMON" run --accel kvm --kernel "$elf" --console none --disk "$2" 2>&1 </dev/null)
	rc=$?
	if [ "$rc" -eq 2 ] && [ "$out" = "vmon: --disk $2: $3" ]; then
		pass "virtio-blk: $1"
	else
		fail "virtio-blk: $1 (status $rc: $out)"
	fi
}
truncate -s 1000 "$tmp/odd.img"
bad "empty path refused" ",readonly=on" "the path is empty"
bad "unknown key refused" "$tmp/fresh,cache=none" "unknown key 'cache' (expected readonly, serial, format, bps, iops or burst)"
bad "bad readonly value refused" "$tmp/fresh,readonly=yes" "readonly=yes: expected on or off"
bad "long serial refused" "$tmp/fresh,serial=123456789012345678901" \
	"serial is longer than 20 characters"

if ! have_kvm; then
	skip "virtio-blk: vmon runs (no /dev/kvm)"
	exit 0
fi
bad "missing image refused" "$tmp/missing.img" "No such file or directory"
bad "directory refused" "$tmp" "is a directory"
bad "odd-sized image refused" "$tmp/odd.img" "the image size is not a multiple of 512 bytes"

# --- vmon. ---
vmon_run() { # ID NAME WANT SECTOR1 EXTRA-DISK-OPTIONS
	local id=$1 img=$tmp/$1.img
	shift
	new_image "$img"
	timeout "$T" "$VMON" run --accel kvm --kernel "$elf" --disk "$img,serial=vmon0$4" \
		--console "file:$tmp/$id.out" --mem 64M </dev/null >"$tmp/$id.log" 2>&1
	judge "$1" "$tmp/$id.out" "$2" $? "$img" "$3" "$tmp/$id.log"
}
vmon_run v-rw "read, write, flush, get-id (kvm)" "$tmp/want-rw" "$tmp/pattern" ""
vmon_run v-ro "read-only disk refuses the write (kvm)" "$tmp/want-ro" "$tmp/zero" ",readonly=on"

# Durability: the guest writes and flushes, prints "flushed" and waits;
# vmon dies by SIGKILL right then; the data must be in the image. While it
# runs, the image is locked against a second vmon.
img=$tmp/durable.img
new_image "$img"
"$VMON" run --accel kvm --kernel "$elf" --disk "$img,serial=vmon0" --append "spin=1" \
	--console "file:$tmp/durable.out" --mem 64M </dev/null >"$tmp/durable.log" 2>&1 &
vpid=$!
for _ in $(seq $((T * 20))); do
	grep -q '^flushed$' "$tmp/durable.out" 2>/dev/null && break
	kill -0 "$vpid" 2>/dev/null || break
	sleep 0.05
done
if grep -q '^flushed$' "$tmp/durable.out" 2>/dev/null; then
	kill -9 "$vpid"
	wait "$vpid" 2>/dev/null
	vpid=
	if cmp -s <(sector "$img" 1) "$tmp/pattern"; then
		pass "virtio-blk: flushed data survives SIGKILL (kvm)"
	else
		fail "virtio-blk: flushed data survives SIGKILL (kvm) (sector 1 is not the pattern)"
	fi
else
	kill -9 "$vpid" 2>/dev/null
	wait "$vpid" 2>/dev/null
	vpid=
	fail "virtio-blk: flushed data survives SIGKILL (kvm) (no \"flushed\" from the guest)"
	cat "$tmp/durable.out" "$tmp/durable.log" 2>/dev/null | tail -n 10
fi

# The lock: held by a running vmon, gone with it.
"$VMON" run --accel kvm --kernel "$elf" --disk "$img" --append "spin=1" \
	--console "file:$tmp/holder.out" --mem 64M </dev/null >/dev/null 2>&1 &
vpid=$!
for _ in $(seq $((T * 20))); do
	grep -q '^flushed$' "$tmp/holder.out" 2>/dev/null && break
	sleep 0.05
done
out=$("$VMON" run --accel kvm --kernel "$elf" --disk "$img" --console none 2>&1 </dev/null)
rc=$?
kill -9 "$vpid" 2>/dev/null
wait "$vpid" 2>/dev/null
vpid=
if [ "$rc" -eq 2 ] && [ "$out" = "vmon: --disk $img: the image is in use elsewhere (locked)" ]; then
	pass "virtio-blk: an image in use is refused (kvm)"
else
	fail "virtio-blk: an image in use is refused (kvm) (status $rc: $out)"
fi
"$VMON" run --accel kvm --kernel "$elf" --disk "$img,serial=vmon0" --console "file:$tmp/after.out" \
	--mem 64M </dev/null >/dev/null 2>&1
check "virtio-blk: the lock goes with the process (kvm)" cmp "$tmp/want-rw" "$tmp/after.out"
