#!/bin/bash
# virtio-net under Linux on emu (the Debian kernel and the busybox initramfs
# of `make guest`; init runs the script given as vmon.run=BASE64).
# One boot with user-mode networking (libslirp, no root): the guest gets its
# address by DHCP (and the card's 64 KiB MTU), fetches 1 MiB from a busybox
# httpd on the host's loopback through the gateway 10.0.2.2 and prints its
# md5sum; then it serves a file on port 80, which the host fetches through a
# hostfwd port. A second boot,
# where root and /dev/net/tun allow it, does the same download over a tap.
set -u
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1
tmp=$(mktemp -d)
vpid= hpid= tap=
cleanup() {
	# vpid is timeout's: its child vmon first, or it outlives the test.
	[ -z "$vpid" ] || { pkill -9 -P "$vpid"; kill -9 "$vpid"; } 2>/dev/null
	[ -z "$hpid" ] || kill "$hpid" 2>/dev/null
	[ -z "$tap" ] || ip link del "$tap" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

T=${LINUX_TIMEOUT:-300}
kernel=${VMON_KERNEL:-$BUILD/images/vmlinuz}
initrd=${VMON_INITRD:-$BUILD/images/initramfs.cpio.gz}
probe=$BUILD/guest/debug_exit.elf

if [ ! -r "$kernel" ] || [ ! -r "$initrd" ]; then
	skip "virtio-net linux (no guest images in $BUILD/images; make guest)"
	exit 0
fi
if ! command -v busybox >/dev/null; then
	skip "virtio-net linux (busybox missing: busybox-static)"
	exit 0
fi
make -s guest-programs BUILD="$BUILD" >/dev/null 2>&1
if "$VMON" run --accel emu --kernel "$probe" --console none 2>&1 </dev/null |
	grep -q 'not available'; then
	skip "virtio-net linux (the emu accelerator is not available in this build)"
	exit 0
fi

# free_port: a TCP port nobody listens on now.
free_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 30000))
		ss -Hltn "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
	done
	echo 28123
}

# boot NAME SCRIPT NET-SPEC: Linux on emu in the background, SCRIPT run by init.
boot() {
	local run
	run=$(base64 -w0 <<<"$2")
	timeout "$T" "$VMON" run --accel emu --kernel "$kernel" --initrd "$initrd" \
		--append "console=ttyS0 quiet vmon.run=$run" --mem 256M --net "$3" \
		--console "file:$tmp/$1.out" </dev/null >"$tmp/$1.log" 2>&1 &
	vpid=$!
}
finish() { wait "$vpid"; local rc=$?; vpid=; return $rc; }
show() { tail -n 15 "$tmp/$1.out" "$tmp/$1.log" 2>/dev/null; }
# has NAME LINE: the guest printed LINE (a Linux console ends lines in CRLF).
has() { tr -d '\r' 2>/dev/null <"$tmp/$1.out" | grep -qxF -- "$2"; }
# wait_for NAME LINE: until the guest printed LINE or vmon ended.
wait_for() {
	for _ in $(seq $((T * 10))); do
		has "$1" "$2" && return 0
		kill -0 "$vpid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
fetch() {
	if command -v curl >/dev/null; then
		curl -sf --max-time 60 "$1"
	else
		timeout 60 busybox wget -q -O - "$1"
	fi
}

mkdir -p "$tmp/www"
head -c 1048576 /dev/urandom >"$tmp/www/file"
sum=$(md5sum <"$tmp/www/file" | cut -d' ' -f1)
port=$(free_port)
busybox httpd -f -p "127.0.0.1:$port" -h "$tmp/www" &
hpid=$!

# --- User mode: DHCP, a download from the host, a hostfwd to the guest. ---
secret="served by the guest $RANDOM$RANDOM"
fwd=$(free_port)
boot user "
udhcpc -i eth0 -q -n >/dev/null 2>&1
echo \"eth0: \$(ip -4 -o addr show eth0 | awk '{print \$4}') gw \$(ip route | awk '/^default/ {print \$3}') mtu \$(cat /sys/class/net/eth0/mtu)\"
wget -q -O /tmp/file http://10.0.2.2:$port/file && echo \"md5 \$(md5sum < /tmp/file | cut -d' ' -f1)\"
mkdir -p /srv && echo '$secret' > /srv/hello.txt
httpd -p 80 -h /srv && echo 'guest httpd up'
for i in \$(seq 600); do wget -q -O /dev/null http://10.0.2.2:$port/stop 2>/dev/null && break; sleep 0.5; done
echo 'host is done'
poweroff" "user,hostfwd=tcp:127.0.0.1:$fwd-:80"
got=
if wait_for user "guest httpd up"; then
	got=$(fetch "http://127.0.0.1:$fwd/hello.txt")
fi
touch "$tmp/www/stop"
finish
rc=$?
if [ "$rc" -eq 0 ] && has user "eth0: 10.0.2.15/24 gw 10.0.2.2 mtu 65520" && has user "md5 $sum"; then
	pass "virtio-net linux: DHCP, then 1 MiB from the host's loopback over user-mode networking (emu)"
else
	fail "virtio-net linux: DHCP, then 1 MiB from the host's loopback over user-mode networking (emu) (status $rc)"
	show user
fi
if [ "$got" = "$secret" ]; then
	pass "virtio-net linux: a hostfwd port reaches a server in the guest (emu)"
else
	fail "virtio-net linux: a hostfwd port reaches a server in the guest (emu) (got '$got')"
	show user
fi

# --- Tap: a static address, a download from the host's side of the tap. ---
if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ] || ! command -v ip >/dev/null; then
	skip "virtio-net linux: tap (needs root, /dev/net/tun and ip)"
	exit 0
fi
if ip -4 route show | grep -q '^192\.168\.100\.'; then
	skip "virtio-net linux: tap (192.168.100.0/24 is in use on this host)"
	exit 0
fi
tap=vmontap$((RANDOM % 10000))
if ! ip tuntap add dev "$tap" mode tap 2>"$tmp/tap.err" ||
   ! ip addr add 192.168.100.1/24 dev "$tap" 2>>"$tmp/tap.err" ||
   ! ip link set "$tap" up 2>>"$tmp/tap.err"; then
	skip "virtio-net linux: tap (cannot create a tap: $(head -n 1 "$tmp/tap.err"))"
	exit 0
fi
kill "$hpid" 2>/dev/null
wait "$hpid" 2>/dev/null
port=$(free_port)
busybox httpd -f -p "192.168.100.1:$port" -h "$tmp/www" &
hpid=$!
boot tap "
ip link set eth0 up && ip addr add 192.168.100.2/24 dev eth0
wget -q -O /tmp/file http://192.168.100.1:$port/file && echo \"md5 \$(md5sum < /tmp/file | cut -d' ' -f1)\"
poweroff" "tap,ifname=$tap,mac=52:54:00:ab:cd:ef"
finish
rc=$?
if [ "$rc" -eq 0 ] && has tap "md5 $sum"; then
	pass "virtio-net linux: 1 MiB from the host over a tap device (emu)"
else
	fail "virtio-net linux: 1 MiB from the host over a tap device (emu) (status $rc)"
	show tap
fi
