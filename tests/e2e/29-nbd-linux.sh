#!/bin/bash
# A network disk under Linux on emu: an ext4 image served by qemu-nbd on
# loopback (TCP, then a unix socket), given as --disk nbd://... The guest
# reads the file the host put there and writes one; after poweroff the
# host finds it (debugfs). A server that is not there: one line, exit 2.
set -u
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1
tmp=$(mktemp -d)
vpid= npid=
trap '[ -n "$vpid" ] && kill -9 "$vpid"; [ -n "$npid" ] && kill "$npid"; rm -rf "$tmp"' EXIT 2>/dev/null

T=${LINUX_TIMEOUT:-300}
kernel=${VMON_KERNEL:-$BUILD/images/vmlinuz}
initrd=${VMON_INITRD:-$BUILD/images/initramfs.cpio.gz}
probe=$BUILD/guest/debug_exit.elf

if [ ! -r "$kernel" ] || [ ! -r "$initrd" ]; then
	skip "nbd linux (no guest images in $BUILD/images; make guest)"
	exit 0
fi
for tool in mkfs.ext4 debugfs qemu-nbd; do
	if ! command -v "$tool" >/dev/null; then
		skip "nbd linux ($tool missing: e2fsprogs, qemu-utils)"
		exit 0
	fi
done
make -s guest-programs BUILD="$BUILD" >/dev/null 2>&1
if "$VMON" run --accel emu --kernel "$probe" --console none 2>&1 </dev/null |
	grep -q 'not available'; then
	skip "nbd linux (the emu accelerator is not available in this build)"
	exit 0
fi

mkdir -p "$tmp/root"
echo "hello over nbd" >"$tmp/root/hello.txt"

# serve NAME ARGS...: qemu-nbd exporting $tmp/NAME.img as "disk".
serve() {
	local name=$1
	shift
	rm -f "$tmp/$name.img"
	truncate -s 64M "$tmp/$name.img"
	mkfs.ext4 -q -F -d "$tmp/root" "$tmp/$name.img"
	qemu-nbd -f raw -x disk -t "$@" "$tmp/$name.img" >"$tmp/$name.nbd.log" 2>&1 &
	npid=$!
	for _ in $(seq 50); do
		grep -qs . "$tmp/$name.nbd.log" && break
		{ [ -S "$tmp/nbd.sock" ] || ss -ltn 2>/dev/null | grep -q ":$port "; } && break
		sleep 0.1
	done
	sleep 0.3
}
stop() { kill "$npid" 2>/dev/null; wait "$npid" 2>/dev/null; npid=; }

boot() {
	local run
	run=$(base64 -w0 <<<"$2")
	timeout "$T" "$VMON" run --accel emu --kernel "$kernel" --initrd "$initrd" \
		--append "console=ttyS0 quiet vmon.run=$run" --mem 256M --disk "$3" \
		--console "file:$tmp/$1.out" </dev/null >"$tmp/$1.log" 2>&1 &
	vpid=$!
	wait "$vpid"
	local rc=$?
	vpid=
	return $rc
}
has() { tr -d '\r' 2>/dev/null <"$tmp/$1.out" | grep -qxF -- "$2"; }
show() { tail -n 15 "$tmp/$1.out" "$tmp/$1.log" 2>/dev/null; }

script='
mkdir -p /mnt
echo "vda: $(cat /sys/block/vda/size) sectors"
mount -t ext4 /dev/vda /mnt && cat /mnt/hello.txt
echo "written over nbd" > /mnt/guest.txt && sync && umount /mnt && echo unmounted
poweroff -f'

# check NAME URI-KIND: the boot's result and the file on the server's image.
check() {
	local rc=$1 name=$2 what=$3 got
	stop
	got=$(debugfs -R "cat /guest.txt" "$tmp/$name.img" 2>/dev/null)
	if [ "$rc" -eq 0 ] && has "$name" "vda: 131072 sectors" && has "$name" "hello over nbd" &&
	   has "$name" unmounted && [ "$got" = "written over nbd" ]; then
		pass "nbd linux: the guest reads and writes an export over $what (emu)"
	else
		fail "nbd linux: the guest reads and writes an export over $what (emu) (status $rc, file '$got')"
		show "$name"
		cat "$tmp/$name.nbd.log"
	fi
}

port=$((20000 + RANDOM % 20000))
serve tcp -b 127.0.0.1 -p "$port"
boot tcp "$script" "nbd://127.0.0.1:$port/disk"
check $? tcp "TCP"

port=0
serve unix -k "$tmp/nbd.sock"
boot unix "$script" "nbd+unix:///disk?socket=$tmp/nbd.sock"
check $? unix "a unix socket"

"$VMON" run --accel emu --kernel "$probe" --console none --disk "nbd+unix:///disk?socket=$tmp/none.sock" \
	</dev/null >"$tmp/bad.log" 2>&1
rc=$?
if [ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/bad.log")" -eq 1 ]; then
	pass "nbd: no server there is one line, exit 2"
else
	fail "nbd: no server there is one line, exit 2 (status $rc)"
	cat "$tmp/bad.log"
fi
