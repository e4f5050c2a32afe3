#!/bin/bash
# The Debian kernel with the busybox initramfs on emu, with 1 and 2 vCPUs:
# commands run in the guest, their output is checked on the host, dmesg has
# no BUG/Oops/WARNING, the guest keeps time with kvm-clock and its date is
# the host's, and poweroff ends vmon with status 0. Once per accelerator in
# $EMU_ACCELS (default "emu emu,jit=off": the translator and the interpreter).
set -u
. "$(dirname "$0")/../lib.sh"
img=$BUILD/images
if [ ! -f "$img/vmlinuz" ] || [ ! -f "$img/initramfs.cpio.gz" ]; then
	make -s guest >/dev/null 2>&1 || { fail "linux-emu: make guest"; exit 0; }
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
script='echo "@uname $(uname -sm)"
echo "@nproc $(nproc)"
echo "@cpuinfo $(grep -c ^processor /proc/cpuinfo)"
echo "@sum $(seq 1 20000 | md5sum | cut -d" " -f1)"
echo "@calc $((123456789 * 987654321 % 1000000007))"
echo "@dmesg-bad $(dmesg | grep -cE "BUG|Oops|WARNING|Call Trace")"
echo "@kvmclock $(dmesg | grep -c "kvm-clock: Using msrs 4b564d01 and 4b564d00")"
echo "@clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
echo "@date $(date +%s)"
poweroff'
run64=$(printf '%s\n' "$script" | base64 -w0)
want_sum=$(seq 1 20000 | md5sum | cut -d' ' -f1)
want_calc=$((123456789 * 987654321 % 1000000007))
read -ra accels <<<"${EMU_ACCELS:-${EMU_ACCEL:-emu emu,jit=off}}"
for accel in "${accels[@]}"; do
for cpus in 1 2; do
	out=$tmp/linux-$cpus.log
	timeout 300 "$VMON" run --accel "$accel" --cpus "$cpus" --mem 512M \
		--kernel "$img/vmlinuz" --initrd "$img/initramfs.cpio.gz" \
		--append "console=ttyS0 vmon.run=$run64" --console "file:$out" </dev/null
	rc=$?
	host_end=$(date +%s)
	tr -d '\r' < "$out" > "$out.txt"
	problems=()
	[ "$rc" -eq 0 ] || problems+=("exit status $rc, not 0 (poweroff)")
	grep -qx '@uname Linux x86_64' "$out.txt" || problems+=("uname")
	grep -qx "@nproc $cpus" "$out.txt" || problems+=("nproc is not $cpus")
	grep -qx "@cpuinfo $cpus" "$out.txt" || problems+=("/proc/cpuinfo does not list $cpus CPUs")
	grep -qx "@sum $want_sum" "$out.txt" || problems+=("md5sum differs from the host's")
	grep -qx "@calc $want_calc" "$out.txt" || problems+=("arithmetic differs from the host's")
	grep -qx '@dmesg-bad 0' "$out.txt" || problems+=("dmesg has BUG/Oops/WARNING")
	# The KVM clock: Linux finds it, keeps time with it, and its wall clock
	# is the host's (the guest printed @date just before poweroff).
	grep -qx '@kvmclock 1' "$out.txt" || problems+=("dmesg lacks kvm-clock: Using msrs 4b564d01 and 4b564d00")
	grep -qx '@clocksource kvm-clock' "$out.txt" || problems+=("clocksource is not kvm-clock")
	guest_date=$(sed -n 's/^@date \([0-9]*\)$/\1/p' "$out.txt")
	if [ -z "$guest_date" ] || [ "$guest_date" -lt $((host_end - 15)) ] ||
		[ "$guest_date" -gt $((host_end + 2)) ]; then
		problems+=("guest date ${guest_date:-missing} is not the host's ($host_end)")
	fi
	if [ ${#problems[@]} -eq 0 ]; then
		pass "linux-emu ($accel): boots to a shell with $cpus vCPU(s), runs commands, powers off with 0"
	else
		fail "linux-emu ($accel): $cpus vCPU(s): ${problems[*]}"
		tail -n 40 "$out.txt"
	fi
done
done
