# shellcheck shell=bash disable=SC2034  # clock_label, out, fb: used by the parts
# bench/lib.sh: what the parts of `make bench` share (sourced by
# bench/<part>.sh). Each part runs vmon and QEMU in the same run and prints
# one markdown table (measure, vmon, QEMU, vmon/QEMU), also written to
# build/bench/<part>.md. Timings are not tests: a part exits 0 whatever the
# numbers, and a monitor that fails shows "fail" with the reason under the
# table.
#
# Environment: BUILD (build), VMON (build/vmon), BENCH_TIMEOUT (seconds per
# run, 1800), QEMU (qemu-system-x86_64), BENCH_CLOCK (wall: spans between
# marker lines in host wall-clock time, the default; cpu: in the monitor
# process's CPU time, user+sys of all its threads, steadier on a loaded
# host), BENCH_REPORT_ONLY (1: run nothing, make the tables again from the
# raw data of the last run, e.g. with the other BENCH_CLOCK).

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
BUILD=${BUILD:-build}
VMON=${VMON:-$BUILD/vmon}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-1800}
BENCH_CLOCK=${BENCH_CLOCK:-wall}
case $BENCH_CLOCK in
wall) clock_label="wall-clock" ;;
cpu) clock_label="monitor CPU time" ;;
*) echo "bench: BENCH_CLOCK=$BENCH_CLOCK: expected wall or cpu" >&2; exit 1 ;;
esac
out=$BUILD/bench
fb=$out/firstbyte
mkdir -p "$out"

bench_die() { echo "bench: $*" >&2; exit 1; }

# bench_firstbyte: builds bench/firstbyte.c into $fb when it is out of date.
bench_firstbyte() {
	[ "$fb" -nt bench/firstbyte.c ] && return 0
	gcc -std=gnu17 -Wall -Wextra -Werror -O2 -o "$fb" bench/firstbyte.c -lm ||
		bench_die "cannot build bench/firstbyte.c"
}

# bench_qemu: sets $qemu to qemu-system-x86_64 (or $QEMU) or dies.
bench_qemu() {
	qemu=$(command -v "${QEMU:-qemu-system-x86_64}") ||
		bench_die "qemu-system-x86_64 is not installed (scripts/deps.sh bench)"
	qemu_version=$("$qemu" --version | head -n 1)
}

# bench_kvm_ok: /dev/kvm is there and usable by us.
bench_kvm_ok() { [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; }

# bench_vmon_ok: vmon is built (else the reason is printed).
bench_vmon_ok() {
	[ -x "$VMON" ] && return 0
	echo "$VMON is not built (make)"
	return 1
}

# median: the median of the numbers on stdin (one per line), empty if none.
median() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) exit
		if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2]
		else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_run NAME FIRSTBYTE-ARGS -- COMMAND...: runs firstbyte; the per-run
# lines go to $out/NAME.runs, stderr to $out/NAME.err. Status 0 when every
# run ended as expected. With BENCH_REPORT_ONLY=1: only that status, from
# the last run's files.
bench_run() {
	local name=$1 rc
	shift
	if [ "${BENCH_REPORT_ONLY:-0}" = 1 ]; then
		bench_ok "$name"
		return
	fi
	echo "bench: $name" >&2
	"$fb" "$@" > "$out/$name.runs" 2> "$out/$name.err"
	rc=$?
	[ "$rc" -le 128 ] || echo "firstbyte was killed by signal $((rc - 128))" >> "$out/$name.err"
	[ "$rc" -eq 0 ] && grep -q '^median ' "$out/$name.runs"
}

# bench_ok NAME: the last run of NAME ended as expected (has its medians).
bench_ok() { grep -q '^median ' "$out/$1.runs" 2>/dev/null; }

# bench_get NAME KEY: KEY's value on the median line of $out/NAME.runs.
bench_get() {
	sed -n 's/^median //p' "$out/$1.runs" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# bench_span NAME FROM TO: the median over the runs of the time (ms) from
# the guest's marker line @FROM to its marker line @TO (host timestamps);
# FROM may be "spawn" (the monitor's start), TO "exit" (its exit). Empty
# when no run has both. With BENCH_CLOCK=cpu: the monitor's CPU time.
bench_span() {
	local from="@$2=" to="@$3="
	if [ "$BENCH_CLOCK" = cpu ]; then
		from="cpu@$2=" to="cpu@$3="
		[ "$3" = exit ] && to=cpu_total_ms=
	else
		[ "$3" = exit ] && to=total_ms=
	fi
	[ "$2" = spawn ] && from=spawn
	grep '^run ' "$out/$1.runs" 2>/dev/null | awk -v from="$from" -v to="$to" '{
		a = b = ""
		if (from == "spawn") a = 0
		for (i = 1; i <= NF; i++) {
			if (index($i, from) == 1) a = substr($i, length(from) + 1)
			if (index($i, to) == 1) b = substr($i, length(to) + 1)
		}
		if (a != "" && b != "") printf "%.3f\n", b - a }' | median
}

# bench_field LOG MARK: the rest of the guest's line "@MARK ..." in a serial
# log (first one, CR stripped), empty when absent.
bench_field() {
	tr -d '\r' < "$1" 2>/dev/null | sed -n "s/^@$2 //p" | head -n 1
}

# bench_why NAME: the last lines of $out/NAME.err, on one line.
bench_why() {
	grep -v -e '^$' -e 'warning: host doesn' "$out/$1.err" 2>/dev/null |
		tail -n 2 | paste -sd ';' | sed 's/;/; /g'
}

# calc AWK-EXPR: prints the result.
calc() { awk "BEGIN { $1 }" 2>/dev/null; }

# fmt VALUE DIVISOR FORMAT: VALUE/DIVISOR formatted, "fail" when empty.
fmt() {
	[ -n "$1" ] || { echo fail; return; }
	calc "printf \"$3\", $1 / $2"
}

# per_s AMOUNT MS FORMAT: AMOUNT per second over MS, "fail" when MS is
# empty or 0.
per_s() {
	[ -n "$2" ] || { echo fail; return; }
	calc "if ($2 > 0) printf \"$3\", $1 * 1000 / $2; else print \"fail\""
}

# ratio A B: A/B, "-" when either is not a number.
ratio() {
	case "$1$2" in *fail*|*wrong*|*-*|"") echo "-"; return ;; esac
	calc "if ($2 > 0) printf \"%.2f\", $1 / $2; else print \"-\""
}

# The table of a part: bench_table_begin TITLE; bench_row MEASURE VMON QEMU
# (the ratio is computed); bench_note TEXT (a line under the table);
# bench_table_end PART (prints it and writes $out/PART.md).
bench_table_begin() {
	bench_title=$1
	bench_rows=()
	bench_notes=()
}
bench_row() { bench_rows+=("| $1 | $2 | $3 | $(ratio "$2" "$3") |"); }
bench_note() { bench_notes+=("$1"); }
bench_table_end() {
	{
		echo "## $bench_title"
		echo
		echo "$(date -u '+%Y-%m-%d %H:%M UTC'); host $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); ${qemu_version:-QEMU}."
		echo
		echo "| measure | vmon | QEMU | vmon/QEMU |"
		echo "|---|---:|---:|---:|"
		printf '%s\n' "${bench_rows[@]}"
		if [ ${#bench_notes[@]} -gt 0 ]; then
			echo
			printf '%s\n' "${bench_notes[@]}"
		fi
		echo
	} > "$out/$1.md"
	cat "$out/$1.md"
}
