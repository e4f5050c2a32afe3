#!/bin/bash
# The serial console on a terminal: raw mode, input reaches the guest,
# Ctrl-A x quits with status 0, Ctrl-A Ctrl-A sends one Ctrl-A, and the
# terminal's settings are restored on the way out. Driven through a pty.
set -u
. "$(dirname "$0")/../lib.sh"
prog=$BUILD/guest/echo.elf
[ -f "$prog" ] || make -s guest-programs >/dev/null
for accel in ${CONSOLE_ACCELS:-kvm emu}; do
	if [ "$accel" = kvm ] && ! have_kvm; then
		skip "console ($accel) (no usable /dev/kvm)"
		continue
	fi
	python3 - "$VMON" "$prog" "$accel" <<'PY'
import os, pty, select, sys, termios, time

vmon, prog, accel = sys.argv[1:4]

def run(keys, want_status, name):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(vmon, [vmon, "run", "--accel", accel, "--kernel", prog, "--mem", "64M"])
    before = termios.tcgetattr(fd)
    out, ok = b"", True
    def expect(text, secs=60):
        nonlocal out
        end = time.time() + secs
        while text not in out and time.time() < end:
            r, _, _ = select.select([fd], [], [], 0.5)
            if r:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    break
        return text in out
    ok = expect(b"echo: ready")
    for k, reply in keys:
        if not ok:
            break
        os.write(fd, k)
        if reply:
            ok = expect(reply)
    deadline = time.time() + 30
    status = None
    while time.time() < deadline:
        wpid, st = os.waitpid(pid, os.WNOHANG)
        if wpid:
            status = os.waitstatus_to_exitcode(st)
            break
        try:
            select.select([fd], [], [], 0.2) and os.read(fd, 4096)
        except OSError:
            pass
    if status is None:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    try:
        after = termios.tcgetattr(fd)
    except termios.error:
        after = before  # the pty closed with the child: nothing left to restore
    good = ok and status == want_status and after == before
    print(("PASS" if good else "FAIL") + f" console ({accel}): {name}")
    if not good:
        print(f"  status {status} (want {want_status}), saw input echoed: {ok}, "
              f"termios restored: {after == before}")
        print("  output: " + repr(out[-300:]))

run([(b"hello\r", b"hello"), (b"\x01\x01", b"\x01"), (b"\x01x", None)], 0,
    "input reaches the guest, Ctrl-A Ctrl-A, Ctrl-A x quits with 0")
run([(b"abc", b"abc"), (b"q", b"echo: bye")], 35, "guest exit status through debug-exit")
PY
done
