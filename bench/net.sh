#!/bin/bash
# Network throughput, vmon emu against QEMU tcg on the same guest: the
# Debian kernel and the busybox initramfs of `make guest` with a virtio-net
# card on user-mode networking (vmon --net user, QEMU -netdev user +
# virtio-net-pci). The guest gets its address by DHCP, prints a start
# marker, downloads NET_MIB MiB from a busybox httpd on the host's loopback
# (through the gateway 10.0.2.2) to /dev/null, prints an end marker and
# powers off; bench/firstbyte times the markers on the serial console from
# the host. Prints a markdown table and writes it to build/bench/net.md.
# Each monitor runs as it comes: vmon's user-mode card has a 64 KiB MTU
# (VIRTIO_NET_F_MTU), QEMU's -netdev user the usual 1500 bytes.
#
# Environment: BUILD (build), VMON (build/vmon), NET_MIB (64), NET_RUNS (1),
# BENCH_TIMEOUT (seconds per run, 900), VMON_KERNEL, VMON_INITRD.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
VMON=${VMON:-$BUILD/vmon}
mib=${NET_MIB:-64}
runs=${NET_RUNS:-1}
timeout=${BENCH_TIMEOUT:-900}
kernel=${VMON_KERNEL:-$BUILD/images/vmlinuz}
initrd=${VMON_INITRD:-$BUILD/images/initramfs.cpio.gz}
out=$BUILD/bench
fb=$out/firstbyte
mem=256

die() { echo "bench/net: $*" >&2; exit 1; }

[ -r "$kernel" ] && [ -r "$initrd" ] || die "no $kernel or $initrd (make guest)"
qemu=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 is not installed"
command -v busybox >/dev/null || die "busybox is not installed (busybox-static)"
mkdir -p "$out"
gcc -std=gnu17 -Wall -Wextra -Werror -O2 -o "$fb" bench/firstbyte.c -lm ||
	die "cannot build bench/firstbyte.c"

tmp=$(mktemp -d)
hpid=
trap '[ -z "$hpid" ] || kill "$hpid" 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/www"
head -c "$((mib << 20))" /dev/urandom >"$tmp/www/blob"
port=
for _ in $(seq 100); do
	p=$((20000 + RANDOM % 30000))
	ss -Hltn "sport = :$p" 2>/dev/null | grep -q . || { port=$p; break; }
done
[ -n "$port" ] || die "no free TCP port found"
busybox httpd -f -p "127.0.0.1:$port" -h "$tmp/www" &
hpid=$!

# The markers are only in the base64 script, never on the console but
# when the guest prints them.
script="udhcpc -i eth0 -q -n >/dev/null 2>&1
echo NETBENCH-START
wget -q -O /dev/null http://10.0.2.2:$port/blob && echo NETBENCH-END
poweroff"
append="console=ttyS0 quiet vmon.run=$(base64 -w0 <<<"$script")"

vmon_cmd=("$VMON" run --accel emu --mem "${mem}M" --console stdio --net user
	--kernel "$kernel" --initrd "$initrd")
# shellcheck disable=SC2054 # commas inside QEMU option values
qemu_cmd=("$qemu" -accel tcg -m "${mem}M" -smp 1 -nodefaults -no-user-config
	-display none -serial stdio -no-reboot -netdev user,id=n0
	-device virtio-net-pci,netdev=n0 -kernel "$kernel" -initrd "$initrd")

# measure NAME CMD...: seconds between the markers (median), or "fail".
measure() {
	local name=$1 line
	shift
	echo "bench/net: $name" >&2
	if "$fb" -n "$runs" -t "$timeout" -x 0 -s NETBENCH-START -e NETBENCH-END \
		-l "$out/net-$name.serial" -- "$@" >"$out/net-$name.runs" 2>"$out/net-$name.err" &&
	   line=$(grep '^median ' "$out/net-$name.runs"); then
		printf '%s\n' "$line" | tr ' ' '\n' | sed -n 's/^start_end_ms=//p' |
			awk '{ printf "%.2f", $1 / 1000 }'
	else
		echo fail
	fi
}

t_vmon=fail
if [ -x "$VMON" ]; then
	t_vmon=$(measure vmon "${vmon_cmd[@]}" --append "$append")
else
	echo "$VMON is not built (make)" >"$out/net-vmon.err"
fi
t_qemu=$(measure qemu "${qemu_cmd[@]}" -append "$append")

rate() { case $1 in fail|"") echo fail ;; *) awk "BEGIN { printf \"%.2f\", $mib / $1 }" ;; esac; }
ratio() {
	case "$1$2" in *fail*) echo "-" ;;
	*) awk "BEGIN { if ($2 > 0) printf \"%.2f\", $1 / $2; else print \"-\" }" ;; esac
}
r_vmon=$(rate "$t_vmon")
r_qemu=$(rate "$t_qemu")

{
	echo "# Network: vmon emu vs QEMU tcg ($(date -u '+%Y-%m-%d %H:%M UTC'))"
	echo
	echo "Host: $(uname -sr), $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "Guest: $(basename "$kernel") + $(basename "$initrd"), $mem MiB, 1 vCPU; virtio-net on"
	echo "user-mode networking; the guest's busybox wget fetches $mib MiB from a busybox"
	echo "httpd on the host's loopback to /dev/null (median of $runs, timed between the"
	echo "guest's serial markers); MTU 65520 on vmon's user-mode card, 1500 on QEMU's."
	echo "$("$qemu" --version | head -n 1)."
	echo
	echo "| | vmon | QEMU | vmon/QEMU |"
	echo "|---|---:|---:|---:|"
	echo "| download of $mib MiB, s | $t_vmon | $t_qemu | $(ratio "$t_vmon" "$t_qemu") |"
	echo "| throughput, MiB/s | $r_vmon | $r_qemu | $(ratio "$r_vmon" "$r_qemu") |"
	echo
	echo "vmon: \`${vmon_cmd[*]} --append ...\`  "
	echo "QEMU: \`${qemu_cmd[*]} -append ...\`"
	for m in vmon qemu; do
		v=t_$m
		[ "${!v}" = fail ] || continue
		echo
		echo "- $m failed: $(tail -n 2 "$out/net-$m.err" | paste -sd ';' | sed 's/;/; /g')"
	done
} | tee "$out/net.md"
