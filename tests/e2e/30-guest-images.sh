#!/bin/bash
# The guest images of `make guest`: built (downloaded once, then cached),
# well-formed, and they boot under QEMU's TCG -- both the bzImage and the
# vmlinux through its PVH entry -- to the banner, run commands, power off.
set -u
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1
img=$BUILD/images
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! make -s guest BUILD="$BUILD" > "$tmp/make.log" 2>&1; then
	fail "guest images: make guest"
	tail -n 30 "$tmp/make.log"
	exit 0
fi
pass "guest images: make guest"

# A second run must do nothing.
if make -s guest BUILD="$BUILD" 2>&1 | grep -q 'up to date'; then
	pass "guest images: make guest again is a no-op"
else
	fail "guest images: make guest again is a no-op"
fi

check "guest images: vmlinuz has a Linux boot header" \
	test "$(dd if="$img/vmlinuz" bs=1 skip=$((0x202)) count=4 status=none)" = HdrS
check "guest images: vmlinux is an x86-64 ELF executable" \
	bash -c "readelf -h '$img/vmlinux' | grep -q 'Type:.*EXEC' &&
		readelf -h '$img/vmlinux' | grep -q 'Machine:.*X86-64'"
# XEN_ELFNOTE_PHYS32_ENTRY (18): the 32-bit PVH entry point.
check "guest images: vmlinux has a PVH entry note" \
	bash -c "readelf -n '$img/vmlinux' | grep -qE 'Xen.*(0x00000012|PHYS32_ENTRY)'"

zcat "$img/initramfs.cpio.gz" | cpio -tv --quiet > "$tmp/list" 2>/dev/null
zcat "$img/initramfs.cpio.gz" | (cd "$tmp" && cpio -id --quiet etc/modules-order init 2>/dev/null)
has() { grep -qE " $1\$" "$tmp/list"; }
check "guest images: initramfs has an executable init" \
	bash -c "grep -qE '^-rwx.* init\$' '$tmp/list' && head -n 1 '$tmp/init' | grep -q '^#!/bin/sh'"
check "guest images: initramfs has bin/busybox and its applets" \
	bash -c "grep -qE ' bin/busybox\$' '$tmp/list' && grep -qE ' bin/sh -> /bin/busybox\$' '$tmp/list' &&
		grep -qE ' sbin/insmod -> /bin/busybox\$' '$tmp/list'"
missing=
for m in virtio_ring virtio virtio_pci virtio_blk virtio_net virtio_console virtio-rng; do
	grep -q "/$m\.ko\$" "$tmp/etc/modules-order" 2>/dev/null || missing="$missing $m"
done
while read -r f; do
	has "${f#/}" || missing="$missing $f"
done < "$tmp/etc/modules-order"
check "guest images: initramfs has the virtio modules in etc/modules-order" test -z "$missing"
[ -z "$missing" ] || echo "missing:$missing"
# Dependencies first: virtio_ring before virtio before virtio_pci.
check "guest images: modules-order puts dependencies first" \
	bash -c "grep -n -e '/virtio_ring.ko' -e '/virtio.ko' -e '/virtio_pci.ko' '$tmp/etc/modules-order' |
		cut -d: -f2 | sed 's|.*/||' | tr '\n' ' ' | grep -qx 'virtio_ring.ko virtio.ko virtio_pci.ko '"

if ! command -v qemu-system-x86_64 > /dev/null; then
	skip "guest images: boot under QEMU (qemu-system-x86_64 not installed)"
	exit 0
fi

# prompts: how many shell prompts the console shows after the banner.
prompts() { sed -n '/vmon guest: /,$p' "$tmp/out" | grep -o '# ' | wc -l; }

# qemu_boot KERNEL APPEND [TYPED...]: boots under QEMU TCG with the serial
# console on a FIFO and a file. Once a shell prompt follows the banner, it
# presses Enter until a new prompt shows that input arrives (a keystroke
# can be lost while the shell sets up its terminal), then types each TYPED
# (a line, or a control character), 2 s apart. The console output is in
# $tmp/out, QEMU's exit status in $tmp/rc.
qemu_boot() {
	local kernel=$1 append=$2 pid w next=0 seen=0 awake=
	shift 2
	rm -f "$tmp/in" && mkfifo "$tmp/in"
	timeout 120 qemu-system-x86_64 -accel tcg -m 512M \
		-kernel "$kernel" -initrd "$img/initramfs.cpio.gz" -append "$append" \
		-nographic -no-reboot < "$tmp/in" > "$tmp/out" 2>&1 &
	pid=$!
	exec {w}> "$tmp/in"
	while kill -0 "$pid" 2>/dev/null; do
		if [ $# -gt 0 ] && [ "$SECONDS" -ge "$next" ]; then
			local n
			n=$(prompts)
			if [ -n "$awake" ]; then
				printf '%s' "$1" >&"$w"
				shift
				next=$((SECONDS + 2))
			elif [ "$n" -gt "$seen" ] && [ "$seen" -gt 0 ]; then
				awake=1
			elif [ "$n" -gt 0 ]; then
				seen=$n
				printf '\r' >&"$w"
				next=$((SECONDS + 3))
			fi
		fi
		sleep 0.2
	done
	wait "$pid"
	echo $? > "$tmp/rc"
	exec {w}>&-
	sed -i 's/\r$//' "$tmp/out"
}

# booted NAME EXPECTED...: the boot ended with status 0 and printed each line.
booted() {
	local name=$1 e ok=1
	shift
	[ "$(cat "$tmp/rc")" = 0 ] || ok=
	for e in "$@"; do
		grep -qE "$e" "$tmp/out" || ok=
	done
	if [ -n "$ok" ]; then
		pass "$name"
	else
		fail "$name (QEMU status $(cat "$tmp/rc"))"
		tail -n 25 "$tmp/out"
	fi
}

kver='[0-9]+\.[0-9]+\.[0-9]+-[0-9]+-cloud-amd64'
start=$(date +%s%N)
# Ctrl-C must reach the foreground job: the shell has a controlling tty.
qemu_boot "$img/vmlinuz" "console=ttyS0" $'sleep 600\r' $'\003' $'echo interrupted\r' \
	$'uname -a; nproc; poweroff\r'
echo "bzImage boot, typed commands, poweroff: $(( ($(date +%s%N) - start) / 1000000 )) ms (about 9 s of it pauses between keystrokes)"
booted "guest images: vmlinuz boots under QEMU TCG, shell runs typed commands, Ctrl-C, poweroff" \
	"^interrupted\$" \
	"vmon guest: $kver" "Linux [(]none[)] $kver .* x86_64" "^1\$" "reboot: Power down"
# /dev/console comes from the hand-written second cpio archive.
if grep -q 'unable to open an initial console' "$tmp/out"; then
	fail "guest images: the kernel opens /dev/console for init"
else
	pass "guest images: the kernel opens /dev/console for init"
fi
if grep -q 'insmod .* failed' "$tmp/out"; then
	fail "guest images: every module loads"
	grep 'insmod .* failed' "$tmp/out"
else
	pass "guest images: every module loads"
fi

script=$(printf 'echo "run: $(cat /proc/sys/kernel/osrelease)"\nls /sys/bus/virtio/drivers\n' | base64 -w0)
start=$(date +%s%N)
qemu_boot "$img/vmlinux" "console=ttyS0 vmon.run=$script" $'exit\r'
echo "vmlinux (PVH) boot, vmon.run script, shell exit: $(( ($(date +%s%N) - start) / 1000000 )) ms"
booted "guest images: vmlinux boots through PVH under QEMU TCG, runs vmon.run, exit powers off" \
	"vmon guest: $kver" "run: $kver" "virtio_blk" "reboot: Power down"
