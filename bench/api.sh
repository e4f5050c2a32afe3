#!/bin/bash
# bench/api.sh: the management plane, vmon's API against QEMU's QMP, both on
# a UNIX socket, both running guest/interactive/counter.elf (vmon emu, QEMU
# tcg): a status query round trip (GET /vm vs query-status), pause
# (PUT /vm/pause vs stop) and resume (PUT /vm/resume vs cont), each from the
# request sent to the reply read, median of BENCH_API_N (default 200, pause
# and resume N/4) on one connection per request for vmon (its protocol) and
# one QMP session for QEMU (its protocol). Writes build/bench/api.md.
set -u
. "$(dirname "$0")/lib.sh"
n=${BENCH_API_N:-200}
qemu=${QEMU:-qemu-system-x86_64}
make -s guest-programs BUILD="$BUILD" >/dev/null 2>&1 || bench_die "cannot build the guest programs"
prog=$BUILD/guest/counter.elf
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT

"$VMON" run --accel emu --kernel "$prog" --mem 64M --console none \
	--api-sock "$tmp/vmon.sock" </dev/null 2>"$tmp/vmon.err" &
pids+=($!)
"$qemu" -M q35 -accel tcg -m 64M -kernel "$prog" -serial none -display none \
	-qmp "unix:$tmp/qmp.sock,server=on,wait=off" </dev/null >"$tmp/qemu.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	[ -S "$tmp/vmon.sock" ] && [ -S "$tmp/qmp.sock" ] && break
	sleep 0.1
done

python3 - "$tmp/vmon.sock" "$tmp/qmp.sock" "$n" > "$out/api.md" <<'PY'
import json, socket, statistics, sys, time
vsock, qsock, n = sys.argv[1], sys.argv[2], int(sys.argv[3])

def vmon(method, path):
    t = time.perf_counter()
    s = socket.socket(socket.AF_UNIX); s.connect(vsock)
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
    data = b""
    while True:
        b = s.recv(65536)
        if not b: break
        data += b
    s.close()
    assert data.startswith(b"HTTP/1.1 200"), data
    return (time.perf_counter() - t) * 1e6

q = socket.socket(socket.AF_UNIX); q.connect(qsock); qf = q.makefile("rwb")
def qread():
    while True:
        m = json.loads(qf.readline())
        if "event" not in m: return m
qread()  # greeting
def qmp(cmd):
    t = time.perf_counter()
    qf.write(json.dumps({"execute": cmd}).encode() + b"\n"); qf.flush()
    m = qread()
    assert "return" in m, m
    return (time.perf_counter() - t) * 1e6
qmp("qmp_capabilities")

def med(f, *a, k=n):
    return statistics.median(f(*a) for _ in range(k))
def cycle(f, p, r, k):
    ps, rs = [], []
    for _ in range(k):
        ps.append(f(*p)); time.sleep(0.01); rs.append(f(*r)); time.sleep(0.01)
    return statistics.median(ps), statistics.median(rs)

rows = [("status round trip (GET /vm / query-status), us", med(vmon, "GET", "/vm"),
         med(qmp, "query-status"))]
vp, vr = cycle(vmon, ("PUT", "/vm/pause"), ("PUT", "/vm/resume"), max(n // 4, 1))
qp, qr = cycle(qmp, ("stop",), ("cont",), max(n // 4, 1))
rows += [("pause (PUT /vm/pause / stop), us", vp, qp), ("resume (PUT /vm/resume / cont), us", vr, qr)]
print("| | vmon emu | QEMU tcg | vmon/QEMU |")
print("|---|---:|---:|---:|")
for name, v, qv in rows:
    print(f"| {name}, median of {n if 'status' in name else max(n // 4, 1)} | {v:.0f} | {qv:.0f} | {v / qv:.2f} |")
PY
cat "$out/api.md"
