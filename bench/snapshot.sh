#!/bin/bash
# bench/snapshot.sh: snapshot size and time, restore-to-running time, with
# guest/tests/snapshot.elf (256 MiB of RAM, 1 vCPU, emu), beside QEMU
# (-accel tcg, same program and RAM): QEMU's state goes out with
# "migrate exec:cat>FILE" from a VM stopped at start (-S), and comes back with
# -incoming; vmon's snapshot is taken by the test hook VMON_TEST_SNAPSHOT
# after 300 serial writes. Restore time: vmon's own measure (restore -v:
# state file read and checked, machine built, sections loaded) and, for both,
# the wall-clock time from start to the guest's exit (restore + the rest of
# the program). Firecracker publishes "restore under 8 ms" (its
# SPECIFICATION.md); it is not run here.
# Second table, a running guest (guest/interactive/counter.elf, 256 MiB,
# emu against tcg), each through its own control socket: vmon's PUT
# /vm/snapshot (pause, save, resume) against QMP "migrate exec:cat>FILE"
# until query-migrate says completed (QEMU's migration to a file, which
# stops the source); then a new monitor from the snapshot, from the
# process's start until its API (GET /vm) or QMP (query-status) says
# running. Timings are not tests.
# Environment: BUILD, VMON, QEMU, RUNS (5).
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
VMON=${VMON:-$BUILD/vmon}
QEMU=${QEMU:-qemu-system-x86_64}
RUNS=${RUNS:-5}
prog=$BUILD/guest/snapshot.elf
make -s guest-programs BUILD="$BUILD" >/dev/null || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now() { date +%s%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e6 }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

for i in $(seq "$RUNS"); do
	rm -rf "$tmp/v"; mkdir "$tmp/v"
	t0=$(now)
	VMON_TEST_SNAPSHOT=300:$tmp/v "$VMON" run --accel emu -m 256M --kernel "$prog" --console none 2>/dev/null
	t1=$(now)
	echo "$(ms "$t0" "$t1")" >>"$tmp/vsave"
	t0=$(now)
	"$VMON" restore -v --console none "$tmp/v" 2>"$tmp/vlog"
	t1=$(now)
	echo "$(ms "$t0" "$t1")" >>"$tmp/vrestore"
	sed -n 's/.* in \([0-9.]*\) ms$/\1/p' "$tmp/vlog" >>"$tmp/vinner"
done
vsize=$(( $(stat -c %s "$tmp/v/state") + $(stat -c %b "$tmp/v/memory") * $(stat -c %B "$tmp/v/memory") ))

qok=0
if command -v "$QEMU" >/dev/null; then
	for i in $(seq "$RUNS"); do
		rm -f "$tmp/q"
		t0=$(now)
		{ echo "migrate exec:cat>$tmp/q"; sleep 1; echo quit; } |
			"$QEMU" -M q35 -accel tcg -m 256M -kernel "$prog" -S -display none -serial none \
				-monitor stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 >/dev/null 2>&1
		t1=$(now)
		echo "$(ms "$t0" "$t1")" >>"$tmp/qsave"  # includes the 1 s wait
		t0=$(now)
		# The source was stopped, so the destination waits for "cont",
		# which it refuses until the incoming state is loaded: asked
		# every 10 ms.
		{ for _ in $(seq 2000); do echo cont; sleep 0.01; done; } |
			timeout 20 "$QEMU" -M q35 -accel tcg -m 256M -kernel "$prog" -display none \
				-serial none -monitor stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
				-incoming "exec:cat $tmp/q" >/dev/null 2>&1
		[ $? -eq 124 ] && { echo "bench: QEMU restore did not end" >&2; break; }
		t1=$(now)
		echo "$(ms "$t0" "$t1")" >>"$tmp/qrestore"
	done
	[ -s "$tmp/q" ] && qok=1
fi

vr=$(median <"$tmp/vrestore"); qr=n/a; ratio=n/a
printf '| measure (median of %s) | vmon | QEMU | vmon/QEMU |\n|---|---|---|---|\n' "$RUNS"
if [ $qok = 1 ]; then
	qsize=$(stat -c %s "$tmp/q")
	if [ -s "$tmp/qrestore" ]; then
		qr=$(median <"$tmp/qrestore")
		ratio=$(awk -v a="$vr" -v b="$qr" 'BEGIN { printf "%.2f", a / b }')
	else
		qr="fail (did not end in 20 s)"
	fi
	printf '| snapshot size on disk (bytes) | %s | %s | %s |\n' "$vsize" "$qsize" \
		"$(awk -v a="$vsize" -v b="$qsize" 'BEGIN { printf "%.2f", a / b }')"
else
	printf '| snapshot size on disk (bytes) | %s | fail | n/a |\n' "$vsize"
fi
printf '| boot + run to snapshot + save (ms) | %s | n/a (stopped at start) | n/a |\n' \
	"$(median <"$tmp/vsave")"
printf '| restore, start to guest exit (ms) | %s | %s | %s |\n' "$vr" "$qr" "$ratio"
printf '| restore to running, inside vmon (ms) | %s | n/a | Firecracker: < 8 |\n' \
	"$(median <"$tmp/vinner")"

# ---- a running guest through the control sockets ----
counter=$BUILD/guest/counter.elf
if command -v "$QEMU" >/dev/null; then
	echo
	python3 - "$VMON" "$QEMU" "$counter" "$tmp" "$RUNS" <<'PY'
import json, os, signal, socket, statistics, subprocess, sys, time
vmon, qemu, prog, tmp, runs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
DEVNULL = subprocess.DEVNULL

def connect(path, timeout=20):
    end = time.monotonic() + timeout
    while True:
        try:
            s = socket.socket(socket.AF_UNIX); s.connect(path); return s
        except OSError:
            if time.monotonic() > end: raise
            time.sleep(0.0005)

def http(path, method, url, body=b""):
    s = connect(path)
    s.sendall(f"{method} {url} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    data = b""
    while True:
        b = s.recv(65536)
        if not b: break
        data += b
    s.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest

class QMP:
    def __init__(self, path):
        self.s = connect(path); self.f = self.s.makefile("rwb"); self.read()
        self.cmd("qmp_capabilities")
    def read(self):
        while True:
            m = json.loads(self.f.readline())
            if "event" not in m: return m
    def cmd(self, c, **args):
        self.f.write(json.dumps({"execute": c, "arguments": args}).encode() + b"\n"); self.f.flush()
        m = self.read()
        if "return" not in m: raise RuntimeError(m)
        return m["return"]

def kill(p):
    p.kill(); p.wait()

def du(paths):
    return sum(os.stat(p).st_blocks * 512 for p in paths)

def vmon_run(i):
    d, sock = f"{tmp}/vs{i}", f"{tmp}/v{i}.sock"
    p = subprocess.Popen([vmon, "run", "--accel", "emu", "--mem", "256M", "--kernel", prog,
                          "--console", "none", "--api-sock", sock], stdin=DEVNULL, stderr=DEVNULL)
    connect(sock).close(); time.sleep(0.3)
    t = time.perf_counter()
    code, body = http(sock, "PUT", "/vm/snapshot", json.dumps({"snapshot_path": d}).encode())
    save = (time.perf_counter() - t) * 1e3
    kill(p)
    if code != 204 and code != 200: raise RuntimeError(f"vmon snapshot: {code} {body}")
    sock2 = f"{tmp}/v{i}r.sock"
    t = time.perf_counter()
    p = subprocess.Popen([vmon, "restore", d, "--console", "none", "--api-sock", sock2],
                         stdin=DEVNULL, stderr=DEVNULL)
    while True:
        try:
            code, body = http(sock2, "GET", "/vm")
            if code == 200 and json.loads(body).get("state") == "running": break
        except OSError:
            pass
        time.sleep(0.0005)
    restore = (time.perf_counter() - t) * 1e3
    kill(p)
    return save, restore, du([f"{d}/state", f"{d}/memory"])

def qemu_cmd(q, *extra):
    return [qemu, "-M", "q35", "-accel", "tcg", "-m", "256M", "-kernel", prog, "-display", "none",
            "-serial", "none", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-qmp", f"unix:{q},server=on,wait=off", *extra]

def qemu_run(i):
    f, q = f"{tmp}/qs{i}", f"{tmp}/q{i}.sock"
    p = subprocess.Popen(qemu_cmd(q), stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL)
    m = QMP(q); time.sleep(0.3)
    t = time.perf_counter()
    m.cmd("migrate", uri=f"exec:cat>{f}")
    while m.cmd("query-migrate").get("status") not in ("completed", "failed"):
        time.sleep(0.0005)
    save = (time.perf_counter() - t) * 1e3
    if m.cmd("query-migrate")["status"] != "completed": raise RuntimeError("QEMU migrate failed")
    kill(p)
    q2 = f"{tmp}/q{i}r.sock"
    t = time.perf_counter()
    p = subprocess.Popen(qemu_cmd(q2, "-incoming", f"exec:cat {f}"), stdin=DEVNULL,
                         stdout=DEVNULL, stderr=DEVNULL)
    m = QMP(q2)
    while m.cmd("query-status")["status"] != "running":
        time.sleep(0.0005)
    restore = (time.perf_counter() - t) * 1e3
    kill(p)
    return save, restore, os.stat(f).st_size

def med(rows, k):
    return statistics.median(r[k] for r in rows)

v, q, why = [], [], ""
for i in range(runs):
    v.append(vmon_run(i))
    try:
        q.append(qemu_run(i))
    except Exception as e:
        why = str(e)
print(f"Running guest (counter.elf, 256 MiB, emu / tcg), median of {runs}:\n")
print("| measure | vmon | QEMU | vmon/QEMU |\n|---|---|---|---|")
rows = [("snapshot of the running VM (ms): PUT /vm/snapshot / migrate to file", 0, "%.2f"),
        ("new monitor to running (ms): GET /vm / query-status", 1, "%.2f"),
        ("snapshot on disk (bytes)", 2, "%d")]
for name, k, fmt in rows:
    a = med(v, k)
    if q:
        b = med(q, k)
        print(f"| {name} | {fmt % a} | {fmt % b} | {a / b:.2f} |")
    else:
        print(f"| {name} | {fmt % a} | fail | n/a |")
if why:
    print(f"\nQEMU: {why}")
PY
fi
