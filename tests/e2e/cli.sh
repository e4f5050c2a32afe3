#!/bin/bash
# The command line: help, bad input. Each bad input gives one line naming
# the problem, exit status 2, and leaves nothing behind.
set -u
. "$(dirname "$0")/../lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'not a kernel at all\n' > "$tmp/junk"
head -c 4096 /dev/zero > "$tmp/zeros"

# expect_bad NAME PATTERN ARGS...: status 2, one line on stderr matching PATTERN.
expect_bad() {
	local name=$1 pat=$2 rc
	shift 2
	"$VMON" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	if [ "$rc" -eq 2 ] && [ "$(wc -l < "$tmp/err")" -eq 1 ] && grep -qE -- "$pat" "$tmp/err"; then
		pass "cli: $name"
	else
		fail "cli: $name (status $rc)"
		cat "$tmp/err"
	fi
}

if "$VMON" --help | grep -q 'run' && "$VMON" run --help | grep -q -- '--kernel'; then
	pass "cli: --help"
else
	fail "cli: --help"
fi
expect_bad "no command" 'no command given'
expect_bad "unknown command" "unknown command 'frob'" frob
expect_bad "unknown option" "unknown option '--frob'" run --frob
expect_bad "no kernel" '--kernel is required' run
expect_bad "missing kernel" 'nonexistent.*No such file' run --kernel "$tmp/nonexistent"
expect_bad "kernel is a directory" 'not a regular file' run --kernel "$tmp"
expect_bad "not a kernel" 'junk: not a kernel' run --kernel "$tmp/junk" --accel emu
expect_bad "missing initrd" 'initrd.*No such file' run --kernel "$tmp/junk" --initrd "$tmp/initrd"
expect_bad "--mem 0" '--mem 0' run --kernel "$tmp/junk" --mem 0
expect_bad "--mem 1T" '--mem 1T.*host' run --kernel "$tmp/junk" --mem 1T
expect_bad "--mem abc" '--mem abc' run --kernel "$tmp/junk" --mem abc
expect_bad "--cpus 0" '--cpus 0' run --kernel "$tmp/junk" --cpus 0
expect_bad "--cpus 100000" '--cpus 100000' run --kernel "$tmp/junk" --cpus 100000
expect_bad "--accel bogus" '--accel bogus' run --kernel "$tmp/junk" --accel bogus
expect_bad "--console bogus" '--console bogus' run --kernel "$tmp/junk" --console bogus
expect_bad "option without value" '--mem needs a value' run --kernel "$tmp/junk" --mem
expect_bad "console file not created on error" 'not a kernel' \
	run --kernel "$tmp/zeros" --console "file:$tmp/console.log" --accel emu
if [ -e "$tmp/console.log" ]; then
	fail "cli: a failed start leaves no console file behind"
else
	pass "cli: a failed start leaves no console file behind"
fi
expect_bad "--net bogus" "--net bogus: 'bogus' is not a network type" run --kernel "$tmp/junk" --net bogus
expect_bad "--net bad port" '--net user,hostfwd=tcp::99999-:80: .*a port is not a number' \
	run --kernel "$tmp/junk" --net user,hostfwd=tcp::99999-:80
expect_bad "--net bad mac" 'mac=52:54:zz:00:00:01: expected six hex bytes' \
	run --kernel "$tmp/junk" --net user,mac=52:54:zz:00:00:01
expect_bad "--net tap key for user" "unknown key 'ifname' for user" \
	run --kernel "$tmp/junk" --net user,ifname=tap0
expect_bad "five --net" 'at most 4 network cards' run --kernel "$tmp/junk" \
	--net user --net user --net user --net user --net user
# A forwarded port that cannot be bound (here: the same one twice).
probe=$BUILD/guest/debug_exit.elf
if [ -r "$probe" ]; then
	expect_bad "--net hostfwd port in use" 'hostfwd tcp:127.0.0.1:[0-9]+: cannot listen there' \
		run --kernel "$probe" --accel emu --console none \
		--net "user,hostfwd=tcp:127.0.0.1:27183-:80,hostfwd=tcp:127.0.0.1:27183-:81"
else
	skip "cli: --net hostfwd port in use (no $probe; make guest-programs)"
fi
