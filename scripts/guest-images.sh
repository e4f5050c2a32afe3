#!/bin/bash
# make guest: the stock guest that vmon boots in its end-to-end tests.
# Usage: guest-images.sh [OUTDIR]   (default build/images)
#
# Writes into OUTDIR:
#   vmlinuz            Debian's cloud kernel (a bzImage, lz4-compressed payload)
#   vmlinux            the same kernel uncompressed: an ELF with a PVH entry note
#   initramfs.cpio.gz  busybox-static, the kernel's virtio modules, and /init
#   cache/             the kernel .deb and its extracted tree
# Each output is remade only when it is missing or older than this script;
# the .deb is downloaded only when the cache lacks it.
#
# The guest's /init (below) mounts proc, sys and devtmpfs, prints
# "vmon guest: <uname -r>" on the console, insmods the modules listed in
# /etc/modules-order (a failure is reported and skipped), then runs, in order:
#   - /etc/rc.local, if present (add it to the initramfs to script a guest);
#   - vmon.run=<base64 of a shell script> from the kernel command line, if
#     given: the way tests inject commands without rebuilding the initramfs,
#     e.g. --append "console=ttyS0 vmon.run=$(printf 'uname -r; poweroff\n' | base64 -w0)";
#   (a virtio-net card is eth0: `udhcpc -i eth0 -q -n` sets its address,
#   default route and /etc/resolv.conf through /usr/share/udhcpc/default.script)
#   - an interactive shell on the console (setsid cttyhack sh: it has the
#     console as its controlling tty, so job control and ^C work).
# When the shell exits the guest powers off (poweroff -f). poweroff, halt
# and reboot typed in the shell or used in those scripts act at once.
set -euo pipefail

out=${1:-build/images}
script=$(realpath "$0")
cache=$out/cache
meta=linux-image-cloud-amd64
PATH=$PATH:/usr/sbin:/sbin

# The modules the initramfs loads, with everything modules.dep says they need.
# Names that this kernel has built in (ext4, crc16, rng-core...) are skipped.
want_modules="virtio virtio_ring virtio_pci virtio_pci_modern_dev virtio_pci_legacy_dev
	virtio_blk virtio_net net_failover failover virtio_console virtio-rng rng-core
	ext4 jbd2 mbcache crc16 crc32c_generic button evdev"

say() { echo "guest-images: $*"; }
die() { echo "guest-images: $*" >&2; exit 1; }

# fresh FILE: FILE exists, is not empty and is newer than this script (and,
# once the kernel is extracted, than that extraction: outputs from an older
# kernel package are remade together).
from=
fresh() { [ -s "$1" ] && [ "$1" -nt "$script" ] && { [ -z "$from" ] || [ "$1" -nt "$from" ]; }; }

# An interrupted run leaves no half-written output or download behind.
dl=
cleanup() {
	rm -f "$out"/vmlinuz.tmp "$out"/vmlinux.tmp "$out"/initramfs.cpio.gz.tmp
	[ -z "$dl" ] || rm -rf "$dl"
}
trap cleanup EXIT

mkdir -p "$cache"
[ ! -e "$cache/root/.from" ] || from=$cache/root/.from
if fresh "$out/vmlinuz" && fresh "$out/vmlinux" && fresh "$out/initramfs.cpio.gz"; then
	say "$out: vmlinuz, vmlinux, initramfs.cpio.gz up to date"
	exit 0
fi

# resolve_pkg: the versioned kernel package the metapackage depends on.
resolve_pkg() {
	apt-cache depends "$meta" 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-cloud-amd64$/ { print $2; exit }'
}

# Finds (or downloads) the kernel .deb; sets deb.
pkg=$(resolve_pkg || true)
if [ -z "$pkg" ] && ! ls "$cache"/linux-image-*-cloud-amd64_*.deb >/dev/null 2>&1; then
	[ "$(id -u)" -eq 0 ] || die "apt does not know $meta; run apt-get update as root"
	say "apt-get update"
	stamp=/var/lib/apt/periodic/vmon-update-stamp
	apt-get update -q >/dev/null
	mkdir -p "$(dirname "$stamp")" && touch "$stamp"
	pkg=$(resolve_pkg || true)
	[ -n "$pkg" ] || die "apt cannot resolve $meta (is a Debian archive in sources.list?)"
fi
if [ -n "$pkg" ]; then
	deb=$(ls -t "$cache/${pkg}"_*.deb 2>/dev/null | head -n 1 || true)
	if [ -z "$deb" ]; then
		say "downloading $pkg"
		dl=$(mktemp -d "$cache/dl.XXXXXX")
		sandbox=()
		[ "$(id -u)" -ne 0 ] || sandbox=(-o APT::Sandbox::User=root)
		(cd "$dl" && apt-get download -q "${sandbox[@]}" "$pkg" >/dev/null) ||
			die "apt-get download $pkg failed"
		mv "$dl"/*.deb "$cache/" && rmdir "$dl" && dl=
		deb=$(ls -t "$cache/${pkg}"_*.deb | head -n 1)
	fi
else
	deb=$(ls -t "$cache"/linux-image-*-cloud-amd64_*.deb | head -n 1)
	say "apt cannot resolve $meta; using cached $(basename "$deb")"
fi

# Extracts the package once per .deb; depmod writes the modules.dep it lacks.
root=$cache/root
if [ ! -e "$root/.from" ] || [ "$(cat "$root/.from")" != "$(basename "$deb")" ]; then
	say "extracting $(basename "$deb")"
	rm -rf "$root"
	dpkg-deb -x "$deb" "$root"
	kver=$(ls "$root/lib/modules")
	depmod -b "$root" "$kver"
	basename "$deb" > "$root/.from"
fi
from=$root/.from
kver=$(ls "$root/lib/modules")
[ "$(echo "$kver" | wc -l)" -eq 1 ] || die "$deb: expected one kernel, found: $kver"
moddir=$root/lib/modules/$kver
bzimage=$root/boot/vmlinuz-$kver
[ -f "$bzimage" ] || die "$deb: no boot/vmlinuz-$kver"

# install_file SRC DST: copy through a temporary name.
install_file() { cp "$1" "$2.tmp" && mv -f "$2.tmp" "$2"; }

if fresh "$out/vmlinuz"; then
	say "vmlinuz up to date"
else
	say "vmlinuz ($kver)"
	install_file "$bzimage" "$out/vmlinuz"
fi

# le32 FILE OFFSET: the little-endian 32-bit word at OFFSET.
le32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }

# vmlinux: the setup header says where the compressed kernel is: it starts
# payload_offset (0x248) bytes into the protected-mode code, which begins
# after (setup_sects + 1) sectors (setup_sects at 0x1f1; 0 means 4). The
# kernel's lz4 payload is a legacy lz4 stream followed by the 4-byte
# little-endian uncompressed size.
if fresh "$out/vmlinux"; then
	say "vmlinux up to date"
else
	say "vmlinux (from the bzImage's payload)"
	[ "$(dd if="$bzimage" bs=1 skip=$((0x202)) count=4 status=none)" = HdrS ] ||
		die "$bzimage: no Linux boot protocol header"
	sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$bzimage" | tr -d ' ')
	[ "$sects" -ne 0 ] || sects=4
	poff=$(le32 "$bzimage" $((0x248)))
	plen=$(le32 "$bzimage" $((0x24c)))
	start=$(( (sects + 1) * 512 + poff ))
	if [ "$plen" -le 4 ] || [ $((start + plen)) -gt "$(stat -c %s "$bzimage")" ]; then
		die "$bzimage: payload $start+$plen lies outside the file"
	fi
	magic=$(od -An -tx1 -j "$start" -N4 "$bzimage" | tr -d ' ')
	[ "$magic" = 02214c18 ] || die "$bzimage: payload is not lz4 (magic $magic); extend this script"
	size=$(le32 "$bzimage" $((start + plen - 4)))
	dd if="$bzimage" iflag=skip_bytes,count_bytes skip="$start" count=$((plen - 4)) \
		bs=1M status=none | lz4 -dc > "$out/vmlinux.tmp" ||
		die "lz4 could not decompress the payload of $bzimage"
	[ "$(stat -c %s "$out/vmlinux.tmp")" -eq "$size" ] ||
		die "vmlinux: got $(stat -c %s "$out/vmlinux.tmp") bytes, the bzImage says $size"
	[ "$(od -An -tx1 -N4 "$out/vmlinux.tmp" | tr -d ' ')" = 7f454c46 ] ||
		die "vmlinux: the payload is not an ELF file"
	mv -f "$out/vmlinux.tmp" "$out/vmlinux"
fi

# norm NAME: module names treat - and _ alike.
norm() { echo "${1//-/_}"; }

# modules_in_order: prints the module files (relative to moddir) to load,
# dependencies first (a depth-first walk over modules.dep).
modules_in_order() {
	local -A path=() deps=() builtin=() seen=()
	local line file name m
	while IFS= read -r line; do
		file=${line%%:*}
		name=$(basename "$file"); name=$(norm "${name%%.ko*}")
		path[$name]=$file
		deps[$name]=${line#*:}
	done < "$moddir/modules.dep"
	while IFS= read -r file; do
		name=$(basename "$file"); builtin[$(norm "${name%%.ko*}")]=1
	done < "$moddir/modules.builtin"
	visit() {
		local n=$1 d dn
		[ -z "${seen[$n]:-}" ] || return 0
		seen[$n]=1
		for d in ${deps[$n]}; do
			dn=$(basename "$d"); visit "$(norm "${dn%%.ko*}")"
		done
		echo "${path[$n]}"
	}
	for m in $want_modules; do
		m=$(norm "$m")
		if [ -n "${path[$m]:-}" ]; then
			visit "$m"
		elif [ -z "${builtin[$m]:-}" ]; then
			die "module $m is neither in modules.dep nor built into $kver"
		fi
	done
}

# cpio_node NAME INO MODE MAJOR MINOR: one newc archive member for a device
# node, written by hand so that building the initramfs needs no root.
cpio_node() {
	local name=$1 n=$((${#1} + 1)) pad
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%s\0' \
		"$2" "$3" 0 0 1 0 0 0 0 "$4" "$5" "$n" 0 "$name"
	pad=$(( (4 - (110 + n) % 4) % 4 ))
	head -c "$pad" /dev/zero
}

if fresh "$out/initramfs.cpio.gz"; then
	say "initramfs.cpio.gz up to date"
else
	say "initramfs.cpio.gz (busybox, modules, /init)"
	bb=$(command -v busybox || true)
	[ -n "$bb" ] || die "busybox not found (apt-get install busybox-static)"
	! readelf -l "$bb" 2>/dev/null | grep -q 'program interpreter' ||
		die "$bb is not statically linked (apt-get install busybox-static)"
	stage=$cache/initramfs
	rm -rf "$stage"
	mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,mnt}
	cp "$bb" "$stage/bin/busybox"
	for link in $("$bb" --list-full); do
		[ "$link" = bin/busybox ] || [ -e "$stage/$link" ] || ln -s /bin/busybox "$stage/$link"
	done
	[ -e "$stage/bin/sh" ] || die "busybox has no sh applet"

	# Modules: uncompressed (busybox insmod cannot load compressed ones),
	# at their usual paths so that busybox modprobe also finds them.
	order=$(modules_in_order)
	: > "$stage/etc/modules-order"
	mkdir -p "$stage/lib/modules/$kver"
	for f in $order; do
		dst=$stage/lib/modules/$kver/${f%.xz}; dst=${dst%.zst}; dst=${dst%.gz}
		mkdir -p "$(dirname "$dst")"
		case $f in
		*.ko) cp "$moddir/$f" "$dst" ;;
		*.ko.xz) xz -dc "$moddir/$f" > "$dst" ;;
		*.ko.zst) zstd -qdc "$moddir/$f" > "$dst" ;;
		*.ko.gz) gzip -dc "$moddir/$f" > "$dst" ;;
		*) die "$f: unknown module compression" ;;
		esac
		echo "/lib/modules/$kver/${dst#"$stage/lib/modules/$kver/"}" >> "$stage/etc/modules-order"
		grep -E "^${f//./\\.}:" "$moddir/modules.dep" |
			sed -E 's/\.ko\.(xz|zst|gz)/.ko/g' >> "$stage/lib/modules/$kver/modules.dep"
	done
	say "modules: $(for f in $order; do basename "${f%%.ko*}"; done | tr '\n' ' ')"

	cat > "$stage/init" <<'EOF'
#!/bin/sh
# vmon guest init, written by vmon's scripts/guest-images.sh (see there).
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root TERM=${TERM:-linux}
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
ip link set lo up 2>/dev/null
echo "vmon guest: $(uname -r)"
while read -r mod; do
	[ -n "$mod" ] || continue
	err=$(insmod "$mod" 2>&1) || echo "vmon guest: insmod ${mod##*/} failed: $err"
done < /etc/modules-order
# PID 1 is this shell: it runs each command below in the foreground (a
# background job would start with ^C ignored, and keep it so), and a shell
# acts on busybox poweroff's signal to PID 1 only once that command ends.
# So the scripts and the interactive shell get functions that power off
# at once (/etc/vmon-power.sh); the traps catch the rest.
trap 'poweroff -f' USR1 USR2
trap 'reboot -f' TERM
[ -f /etc/rc.local ] && sh -c '. /etc/vmon-power.sh; . /etc/rc.local'
for arg in $(cat /proc/cmdline); do
	case $arg in
	vmon.run=*)
		if echo "${arg#vmon.run=}" | base64 -d > /tmp/vmon-run.sh; then
			sh -c '. /etc/vmon-power.sh; . /tmp/vmon-run.sh'
		else
			echo "vmon guest: vmon.run is not valid base64"
		fi ;;
	esac
done
setsid cttyhack sh -l </dev/console >/dev/console 2>&1
poweroff -f
EOF
	cat > "$stage/etc/vmon-power.sh" <<'EOF'
# poweroff, halt and reboot act at once: PID 1 is a plain shell (see /init).
poweroff() { sync; busybox poweroff -f; }
halt() { sync; busybox halt -f; }
reboot() { sync; busybox reboot -f; }
EOF
	# `udhcpc -i eth0 -q -n` configures the network card through this
	# (Debian's busybox looks in /etc/udhcpc, upstream's in /usr/share/udhcpc).
	mkdir -p "$stage/usr/share/udhcpc" "$stage/etc/udhcpc"
	cat > "$stage/usr/share/udhcpc/default.script" <<'UDHCPC'
#!/bin/sh
# busybox udhcpc hook (vmon guest): address, default route, resolv.conf.
case "$1" in
deconfig)
	ip link set "$interface" up
	ip -4 addr flush dev "$interface" ;;
bound|renew)
	ip -4 addr flush dev "$interface"
	ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up
	if [ -n "$router" ]; then
		while route del default gw 0.0.0.0 dev "$interface" 2>/dev/null; do :; done
		for r in $router; do route add default gw "$r" dev "$interface"; break; done
	fi
	: > /etc/resolv.conf
	[ -z "$domain" ] || echo "search $domain" >> /etc/resolv.conf
	for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
	echo "udhcpc: $interface $ip via ${router:-none}" ;;
esac
exit 0
UDHCPC
	chmod 755 "$stage/usr/share/udhcpc/default.script"
	ln -s /usr/share/udhcpc/default.script "$stage/etc/udhcpc/default.script"
	printf '. /etc/vmon-power.sh\n' > "$stage/etc/profile"
	chmod 755 "$stage/init"
	echo "vmon" > "$stage/etc/hostname"
	printf 'root:x:0:0:root:/root:/bin/sh\n' > "$stage/etc/passwd"
	printf 'root:x:0:\n' > "$stage/etc/group"

	# The kernel reads concatenated archives: the tree, then /dev/console
	# (which the kernel opens for init before devtmpfs is mounted).
	{
		(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
			cpio -o -H newc --owner=0:0 --quiet)
		cpio_node dev/console 1 $((0020000 | 0600)) 5 1
		cpio_node TRAILER!!! 0 0 0 0
	} | gzip -9 -n > "$out/initramfs.cpio.gz.tmp"
	mv -f "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
fi
say "done: $out/vmlinuz $out/vmlinux $out/initramfs.cpio.gz"
