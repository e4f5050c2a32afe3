#!/bin/sh
# Installs the Debian packages a step needs (as root), or says exactly which
# are missing. Usage: deps.sh build|test|guest|bench
set -e
case "$1" in
build) pkgs="gcc make libc6-dev liblz4-dev libzstd-dev liblzma-dev zlib1g-dev libbz2-dev liblzo2-dev libslirp-dev libnbd-dev libiscsi-dev libseccomp-dev libcap-ng-dev libhttp-parser-dev libjansson-dev" ;;
test)  pkgs="libcmocka-dev clang libclang-rt-dev busybox-static cpio qemu-system-x86 qemu-utils tgt e2fsprogs acpica-tools curl" ;;
guest) pkgs="busybox-static cpio kmod zstd xz-utils lz4" ;;
bench) pkgs="qemu-system-x86 qemu-utils" ;;
*) echo "usage: $0 build|test|guest|bench" >&2; exit 2 ;;
esac
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "vmon: missing Debian packages:$missing" >&2
	echo "vmon: install them with: sudo apt-get install$missing" >&2
	exit 1
fi
echo "vmon: installing$missing" >&2
stamp=/var/lib/apt/periodic/vmon-update-stamp
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +600 2>/dev/null)" ]; then
	apt-get update -q >/dev/null
	mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
