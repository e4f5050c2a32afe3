# Shared by the test scripts: report lines that scripts/test.sh counts.
BUILD=${BUILD:-build}
VMON=${VMON:-$BUILD/vmon}

pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; }
skip() { echo "SKIP $*"; }

# check NAME CMD...: PASS when CMD succeeds; its output is shown on failure.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		pass "$name"
	else
		fail "$name"
		printf '%s\n' "$out" | tail -n 40
	fi
}

# Whether this host has a usable /dev/kvm.
have_kvm() { [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; }

# guest_programs NAME: builds the guest programs, or reports FAIL for NAME
# with the build's last lines and ends the script.
guest_programs() {
	local out
	if ! out=$(make -s guest-programs BUILD="$BUILD" 2>&1); then
		fail "$1: build the guest programs"
		printf '%s\n' "$out" | tail -n 20
		exit 1
	fi
}

# The counter guest programs print "count N" lines (guest/interactive/counter.c).
# counter_lines FILE: how many FILE holds.
counter_lines() { tr -d '\r' 2>/dev/null <"$1" | grep -c '^count '; }
# counter_wait FILE N: until FILE holds N of them (30 s at most).
counter_wait() {
	for _ in $(seq 300); do
		[ "$(counter_lines "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
# counter_consecutive FILE...: the counts across the files are 0, 1, 2 ...
# with none missing or repeated.
counter_consecutive() {
	cat "$@" | tr -d '\r' | grep '^count ' | awk '$2 != NR - 1 { bad = 1 } END { exit bad }'
}
