#!/bin/bash
# The control API and its CLI clients: a guest program printing a counter
# (guest/interactive/counter.c) under emu and kvm (SKIP without /dev/kvm) is
# paused (no new line while paused) and resumed (it goes on from the next
# number) with vmon pause/resume; bad requests (curl --unix-socket, raw
# garbage, a connection closed mid-request, a huge body) get their codes and
# the VM keeps running; a socket in use is refused, a stale one replaced;
# the Debian kernel on emu is paused and resumed, then vmon stop powers it
# off through the ACPI power button with status 0.
set -u
. "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")/../.." || exit 1
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
export XDG_RUNTIME_DIR=$tmp/xdg
mkdir -p "$XDG_RUNTIME_DIR"

guest_programs "api"
prog=$BUILD/guest/counter.elf

# code SOCK CURL-ARGS...: the HTTP status curl gets.
code() { local s=$1; shift; curl -s -o /dev/null -w '%{http_code}' --unix-socket "$s" "$@"; }

counter() {
	local accel=$1 sock=$tmp/$1.sock out=$tmp/$1.out n a b problems=()
	"$VMON" run --accel "$accel" --kernel "$prog" --mem 64M --console "file:$out" \
		--name "ctr-$accel" --api-sock "$sock" </dev/null 2>"$tmp/$accel.err" &
	local pid=$!
	pids+=("$pid")
	counter_wait "$out" 3 || problems+=("the counter did not start")
	"$VMON" pause "$sock" >/dev/null || problems+=("vmon pause failed")
	[ "$("$VMON" info "$sock" | grep -c '"state": "paused"')" = 1 ] ||
		problems+=("vmon info does not say paused")
	a=$(counter_lines "$out")
	sleep 1
	b=$(counter_lines "$out")
	[ "$a" = "$b" ] || problems+=("the counter went on while paused ($a -> $b lines)")
	"$VMON" pause "$sock" >/dev/null || problems+=("a second pause is not idempotent")
	"$VMON" resume "$sock" >/dev/null || problems+=("vmon resume failed")
	counter_wait "$out" $((b + 3)) || problems+=("the counter did not go on after resume")
	counter_consecutive "$out" || problems+=("the counter skipped or repeated numbers")
	[ ${#problems[@]} -eq 0 ] && pass "api: $accel: pause stops the counter, resume continues it" ||
		fail "api: $accel: pause/resume: ${problems[*]}"

	# Bad requests: the right codes, the VM unaffected.
	problems=()
	[ "$(code "$sock" http://x/nope)" = 404 ] || problems+=("unknown path not 404")
	[ "$(code "$sock" -X DELETE http://x/vm)" = 405 ] || problems+=("DELETE /vm not 405")
	[ "$(code "$sock" -X PUT -d '{"x":' http://x/vm/pause)" = 400 ] || problems+=("bad JSON not 400")
	[ "$(code "$sock" -X PUT -d '[1]' http://x/vm/pause)" = 400 ] || problems+=("non-object not 400")
	head -c 200000 /dev/zero | tr '\0' 'a' > "$tmp/big"
	[ "$(code "$sock" -X PUT --data-binary @"$tmp/big" http://x/vm/pause)" = 413 ] ||
		problems+=("200 kB body not 413")
	curl -s --unix-socket "$sock" -X PUT http://x/vm/shutdown -o /dev/null
	"$VMON" pause "$sock" >/dev/null
	[ "$(code "$sock" -X PUT http://x/vm/shutdown)" = 409 ] || problems+=("shutdown while paused not 409")
	"$VMON" resume "$sock" >/dev/null
	python3 - "$sock" <<'PY' || problems+=("raw garbage / closed mid-request")
import socket, sys
def conn():
    s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1]); return s
s = conn(); s.sendall(b"\x00\xff garbage\r\n\r\n"); r = s.recv(4096); s.close()
assert r.startswith(b"HTTP/1.1 400"), r
s = conn(); s.sendall(b"PUT /vm/pause HTTP/1.1\r\nContent-Length: 100\r\n\r\n{"); s.close()
s = conn(); s.close()
s = conn(); s.sendall(b"GET /vm HTTP/1.1\r\n\r\n"); r = s.recv(65536); s.close()
assert r.startswith(b"HTTP/1.1 200") and b'"state":"running"' in r, r
PY
	n=$(counter_lines "$out")
	counter_wait "$out" $((n + 3)) || problems+=("the VM stopped running after bad requests")
	[ "$(code "$sock" http://x/metrics)" = 200 ] || problems+=("GET /metrics not 200")
	curl -s --unix-socket "$sock" http://x/metrics | grep -q '"PUT /vm/pause":{"count":' ||
		problems+=("metrics lack per-route counts")
	[ ${#problems[@]} -eq 0 ] && pass "api: $accel: bad requests get 400/404/405/409/413, the VM runs on" ||
		fail "api: $accel: bad requests: ${problems[*]}"

	# A second monitor on the same socket: refused, one line, status 2.
	"$VMON" run --accel "$accel" --kernel "$prog" --mem 64M --console none \
		--api-sock "$sock" </dev/null >/dev/null 2>"$tmp/dup.err"
	local rc=$?
	[ "$rc" = 2 ] && [ "$(wc -l < "$tmp/dup.err")" = 1 ] && grep -q 'in use' "$tmp/dup.err" &&
		pass "api: $accel: a socket in use is refused (status 2)" ||
		fail "api: $accel: socket in use: status $rc, $(cat "$tmp/dup.err")"

	"$VMON" list | grep -q "^ctr-$accel " || true
	"$VMON" stop --force "$sock" >/dev/null
	wait "$pid"
	rc=$?
	[ "$rc" = 0 ] && [ ! -e "$sock" ] && pass "api: $accel: stop --force ends it (0), socket removed" ||
		fail "api: $accel: stop --force: status $rc, socket $( [ -e "$sock" ] && echo left || echo gone)"
}

counter emu
if have_kvm; then counter kvm; else skip "api: kvm (no usable /dev/kvm)"; fi

# The default socket, vmon list, a stale socket replaced.
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' \
	"$XDG_RUNTIME_DIR/vmon/stale.sock" 2>/dev/null ||
	{ mkdir -p "$XDG_RUNTIME_DIR/vmon"; python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$XDG_RUNTIME_DIR/vmon/stale.sock"; }
"$VMON" run --accel emu --kernel "$prog" --mem 64M --console "file:$tmp/s.out" --name stale \
	</dev/null 2>"$tmp/stale.err" &
pid=$!
pids+=("$pid")
counter_wait "$tmp/s.out" 2
listed=$("$VMON" list)
"$VMON" stop --force stale >/dev/null
wait "$pid"
rc=$?
printf '%s\n' "$listed" | grep -qE "^stale +$pid running$" && [ "$rc" = 0 ] &&
	[ ! -e "$XDG_RUNTIME_DIR/vmon/stale.sock" ] &&
	pass "api: default socket, vmon list, a stale socket replaced" ||
	fail "api: default socket: status $rc, list: $listed $(cat "$tmp/stale.err")"

# Linux on emu: paused, resumed, powered off by the ACPI power button.
img=$BUILD/images
if [ ! -f "$img/vmlinuz" ] || [ ! -f "$img/initramfs.cpio.gz" ]; then
	make -s guest >/dev/null 2>&1 || { fail "api: linux: make guest"; exit 0; }
fi
script='mkdir -p /etc/acpi/PWRF
printf "#!/bin/sh\necho @acpi-power >/dev/console\npoweroff -f\n" > /etc/acpi/PWRF/00000080
chmod +x /etc/acpi/PWRF/00000080
acpid -d >/dev/null 2>&1 &
sleep 1
i=0; while :; do echo "count $i"; i=$((i+1)); sleep 0.2; done'
run64=$(printf '%s\n' "$script" | base64 -w0)
out=$tmp/linux.out
sock=$tmp/linux.sock
timeout 300 "$VMON" run --accel emu --mem 512M --kernel "$img/vmlinuz" \
	--initrd "$img/initramfs.cpio.gz" --append "console=ttyS0 vmon.run=$run64" \
	--console "file:$out" --api-sock "$sock" </dev/null 2>"$tmp/linux.err" &
pid=$!
pids+=("$pid")
problems=()
for _ in $(seq 240); do [ "$(counter_lines "$out")" -ge 3 ] && break; sleep 0.5; done
[ "$(counter_lines "$out")" -ge 3 ] || problems+=("the guest's counter did not start")
"$VMON" pause "$sock" >/dev/null || problems+=("pause failed")
a=$(counter_lines "$out")
sleep 2
b=$(counter_lines "$out")
[ "$a" = "$b" ] || problems+=("the counter went on while paused ($a -> $b)")
"$VMON" resume "$sock" >/dev/null || problems+=("resume failed")
counter_wait "$out" $((b + 3)) || problems+=("the counter did not go on after resume")
"$VMON" stop "$sock" >/dev/null || problems+=("vmon stop failed")
wait "$pid"
rc=$?
[ "$rc" = 0 ] || problems+=("exit status $rc, not 0")
grep -q '@acpi-power' "$out" || problems+=("the guest saw no power button event")
[ ${#problems[@]} -eq 0 ] && pass "api: linux on emu: paused, resumed, vmon stop powers off by ACPI" ||
	{ fail "api: linux on emu: ${problems[*]}"; tail -n 5 "$out"; cat "$tmp/linux.err"; }
