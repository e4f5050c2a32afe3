#!/bin/bash
# Builds vmon, the unit tests and the guest programs.
set -u
. "$(dirname "$0")/lib.sh"
check "build vmon" make -j2 all
check "build unit tests" make -j2 unit
if [ -f guest/Makefile ]; then
	check "build guest programs" make -j2 guest-programs
fi
# The Debian kernel and busybox initramfs that the Linux tests boot.
check "build guest images (make guest)" make -s guest
