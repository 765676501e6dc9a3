#!/bin/sh
# What a stack costs per allocation, by stack source: the same malloc/free
# loop run at the bottom of a shallow and of a deep call chain, under
# memtrace --stack none, fp and dwarf, interleaved round by round so that
# this noisy machine's drift hits all alike. From the medians:
#   per frame = (deep - shallow) / (frames added)
#   fixed     = shallow - none - shallow frames x per frame
# and the ratios of each source against --stack none and against fp.
#
# With MEMTRACE_B set to a second memtrace binary (another build, e.g. the
# one before a change), every measurement is also taken with it, right
# after the first binary's (A B A B ...), and the ratios B/A are printed.
#
# Usage: [MEMTRACE=A] [MEMTRACE_B=B] scripts/bench_unwind.sh [PAIRS] [ROUNDS]
set -eu
cd "$(dirname "$0")/.."
PAIRS=${1:-200000}
ROUNDS=${2:-5}
MT=${MEMTRACE:-build/memtrace}
MT_B=${MEMTRACE_B:-}
PROG=build/progs/churn_deep
[ -x "$MT" ] && [ -x "$PROG" ] || { echo "run make first" >&2; exit 1; }
[ -z "$MT_B" ] || [ -x "$MT_B" ] || { echo "$MT_B: not executable" >&2; exit 1; }
SHALLOW=2
DEEP=62
# Frames below descend(): churn, main, __libc_start_call_main,
# __libc_start_main, _start.
BASE=5

ns() { sed -n 's/^churn_deep: \([0-9.]*\) ns.*/\1/p'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tags=A
[ -n "$MT_B" ] && tags="A B"

for r in $(seq "$ROUNDS"); do
	for mode in none fp dwarf; do
		for d in $SHALLOW $DEEP; do
			for tag in $tags; do
				bin=$MT
				[ "$tag" = B ] && bin=$MT_B
				"$bin" -q -o /dev/null --stack $mode -- "$PROG" "$PAIRS" $d 2>/dev/null |
					ns >> "$tmp/$tag.$mode.$d"
			done
		done
	done
done

report() {
	tag=$1
	for mode in none fp dwarf; do
		for d in $SHALLOW $DEEP; do
			eval "${mode}_$d=$(median < "$tmp/$tag.$mode.$d")"
		done
	done
	printf "  %-8s %12s %12s\n" "stack" "depth $SHALLOW" "depth $DEEP"
	for mode in none fp dwarf; do
		eval "printf '  %-8s %12.1f %12.1f\n' $mode \$${mode}_$SHALLOW \$${mode}_$DEEP"
	done
	awk -v n2="$none_2" -v n62="$none_62" -v f2="$fp_2" -v f62="$fp_62" \
	    -v d2="$dwarf_2" -v d62="$dwarf_62" -v s="$SHALLOW" -v dd="$DEEP" -v b="$BASE" 'BEGIN {
		added = dd - s
		dpf = ((d62 - n62) - (d2 - n2)) / added
		fpf = ((f62 - n62) - (f2 - n2)) / added
		dfix = (d2 - n2) - (s + b) * dpf
		ffix = (f2 - n2) - (s + b) * fpf
		printf "dwarf: %.0f ns fixed per unwind + %.1f ns per frame\n", dfix, dpf
		printf "fp:    %.0f ns fixed per walk + %.1f ns per frame\n", ffix, fpf
		printf "ratios at depth %d: dwarf/none x%.2f, fp/none x%.2f, dwarf/fp x%.2f\n", s, d2 / n2, f2 / n2, d2 / f2
		printf "ratios at depth %d: dwarf/none x%.2f, fp/none x%.2f, dwarf/fp x%.2f\n", dd, d62 / n62, f62 / n62, d62 / f62
	}'
}

echo "ns per malloc+free pair, median of $ROUNDS rounds of $PAIRS pairs"
echo "(stack depth = call depth + $BASE frames below it):"
[ -n "$MT_B" ] && echo "A = $MT"
report A
if [ -n "$MT_B" ]; then
	echo "B = $MT_B"
	report B
	echo "B/A, per measurement (median of the rounds' ratios):"
	for mode in none fp dwarf; do
		for d in $SHALLOW $DEEP; do
			paste "$tmp/A.$mode.$d" "$tmp/B.$mode.$d" | awk '{print $2 / $1}' | median |
				awk -v m=$mode -v d=$d '{printf "  %-6s depth %2d: x%.3f\n", m, d, $1}'
		done
	done
fi
