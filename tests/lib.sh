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
