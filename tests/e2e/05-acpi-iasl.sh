#!/bin/bash
# The ACPI tables checked by ACPICA's own tools: each table of a 2-CPU
# machine (dumped by the unit test in VMON_ACPI_DUMP mode) must disassemble
# with `iasl -d` without an error or warning, and the disassembly must
# compile back with 0 errors and 0 warnings; data tables must compile back
# to the same bytes (apart from the compiler id and checksum).
set -u
cd "$(dirname "$0")/../.."
. tests/lib.sh
if ! command -v iasl >/dev/null; then
	skip "acpi-iasl (iasl not installed: apt-get install acpica-tools)"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! make -s "$BUILD/tests/test_acpi" >"$tmp/build.log" 2>&1 ||
   ! VMON_ACPI_DUMP=$tmp "$BUILD/tests/test_acpi"; then
	fail "acpi-iasl: dump the tables"
	tail -20 "$tmp/build.log"
	exit 0
fi
pass "acpi-iasl: dump the tables"

# Only bytes 10 (checksum) and 29-36 (compiler id, revision) may differ.
same_bytes() {
	cmp -l "$1" "$2" 2>&1 | awk '$1 != 10 && ($1 < 29 || $1 > 36) { bad = 1 } END { exit bad }'
}

for sig in xsdt rsdt facp facs dsdt apic mcfg; do
	name="acpi-iasl: $sig"
	dat=$tmp/$sig.dat
	if [ ! -s "$dat" ]; then
		fail "$name (not dumped)"
		continue
	fi
	mkdir -p "$tmp/$sig"
	cp "$dat" "$tmp/$sig/"
	out=$(cd "$tmp/$sig" && iasl -d "$sig.dat" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] || [ ! -s "$tmp/$sig/$sig.dsl" ] ||
	   grep -qiE 'error|warning|incorrect|invalid|unknown|\*\*\*\*' <<<"$out"; then
		fail "$name (iasl -d, status $rc)"
		printf '%s\n' "$out" | tail -20
		continue
	fi
	mkdir -p "$tmp/$sig/rt"
	cp "$tmp/$sig/$sig.dsl" "$tmp/$sig/rt/"
	out=$(cd "$tmp/$sig/rt" && iasl "$sig.dsl" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] || ! grep -q ' 0 Errors, 0 Warnings' <<<"$out"; then
		fail "$name (recompile, status $rc)"
		printf '%s\n' "$out" | tail -20
		continue
	fi
	# The DSDT's AML may be re-encoded (shorter name paths); data tables not.
	if [ "$sig" != dsdt ] && ! same_bytes "$dat" "$tmp/$sig/rt/$sig.aml"; then
		fail "$name (recompiled table differs)"
		cmp -l "$dat" "$tmp/$sig/rt/$sig.aml" | head -10
		continue
	fi
	pass "$name"
done

# ACPICA's interpreter loads the tables and evaluates the objects Linux uses.
if ! command -v acpiexec >/dev/null; then
	skip "acpi-iasl: acpiexec (not installed)"
	exit 0
fi
name="acpi-iasl: acpiexec \\_S5, _CRS and _PRT"
out=$(cd "$tmp" && timeout 60 acpiexec -b 'evaluate \_S5; evaluate \_SB.PCI0._CRS; evaluate \_SB.MRES._CRS; evaluate \_SB.PCI0._PRT' \
	dsdt.dat facp.dat apic.dat mcfg.dat 2>&1)
rc=$?
s5=$(awk '/Evaluation of \\_S5/ { on = 1 } on && /\[Integer\]/ { printf "%s ", $NF; if (++n == 4) exit }' <<<"$out")
if [ $rc -eq 0 ] && ! grep -qiE 'error|warning' <<<"$out" &&
   grep -q 'Evaluation of \\_S5 returned' <<<"$out" &&
   [ "$s5" = "0000000000000005 0000000000000005 0000000000000000 0000000000000000 " ] &&
   grep -q 'Evaluation of \\_SB.PCI0._CRS returned' <<<"$out" &&
   grep -q 'Evaluation of \\_SB.MRES._CRS returned' <<<"$out" &&
   grep -q 'Evaluation of \\_SB.PCI0._PRT returned' <<<"$out" &&
   grep -q '\[Package\] Contains 128 Elements' <<<"$out"; then
	pass "$name"
else
	fail "$name (status $rc, _S5: $s5)"
	printf '%s\n' "$out" | grep -iE 'error|warning|evaluat' | head -20
fi

# Linux itself reads the tables: QEMU's microvm (with no ACPI tables of its
# own) runs the kernel with our BIOS area loaded at 0xE0000, where Linux's
# RSDP scan finds it. QEMU's microvm lacks our PM1 ports and ECAM, so only
# the parsing is judged here (the kernel then stops: no root device).
name="acpi-iasl: Linux parses the tables (QEMU microvm)"
kernel=${VMON_KERNEL:-$BUILD/images/vmlinuz}
if [ ! -r "$kernel" ]; then
	skip "$name (no kernel at $kernel; make guest)"
elif ! command -v qemu-system-x86_64 >/dev/null; then
	skip "$name (qemu-system-x86 not installed)"
else
	timeout 300 qemu-system-x86_64 -machine microvm,acpi=off,pic=on,pit=on,rtc=on,isa-serial=on \
		-accel tcg -smp 2 -m 256M -nographic -no-reboot -kernel "$kernel" \
		-append "console=ttyS0 panic=-1" \
		-device loader,file="$tmp/area.dat",addr=0xE0000,force-raw=on \
		</dev/null >"$tmp/linux.log" 2>&1
	missing=
	for want in 'ACPI: RSDP 0x00000000000E0000 000024 (v02 VMON  )' \
		'ACPI: PM-Timer IO Port: 0x608' \
		'ACPI: INT_SRC_OVR (bus 0 bus_irq 9 global_irq 9 high level)' \
		'IOAPIC[0]: apic_id 2, version' \
		'smp: Brought up 1 node, 2 CPUs' \
		'ACPI: PM: (supports S0 S5)' \
		'PCI: MMCONFIG at [mem 0xe0000000-0xefffffff] reserved in ACPI motherboard resources' \
		'ACPI: PCI Root Bridge [PCI0] (domain 0000 [bus 00-ff])' \
		'root bus resource [io  0x0d00-0xffff window]' \
		'root bus resource [mem 0xc0000000-0xdfffffff window]'; do
		grep -qF -- "$want" "$tmp/linux.log" || missing="$missing
  missing: $want"
	done
	# "Could not disable RealTimeClock events" comes from microvm having
	# no PM1 enable register (it reads all ones), not from the tables.
	bad=$(grep -E 'ACPI (BIOS )?(Error|Warning|Exception)|Firmware Bug|FW_BUG' "$tmp/linux.log" |
	      grep -v 'Could not disable RealTimeClock events')
	if [ -z "$missing" ] && [ -z "$bad" ]; then
		pass "$name"
	else
		fail "$name"
		printf '%s\n%s\n' "$missing" "$bad"
		grep -iE 'acpi|pci|smp' "$tmp/linux.log" | tail -20
	fi
fi
