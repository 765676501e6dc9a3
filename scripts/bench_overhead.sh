#!/bin/sh
# What tracing costs an allocation-heavy program, measured three ways in
# one run, interleaved so that drift on this noisy machine hits all three:
#   alone          build/progs/churn by itself
#   empty probes   memtrace --empty-probes: the same uprobes and uretprobes,
#                  programs that return at once (the cost of the traps)
#   memtrace       full tracing with frame-pointer stacks
#   memtrace -s none  full tracing without stacks
# churn times its own loop, so memtrace's start-up is not counted.
# Prints the median ns per malloc+free pair of each and the ratios.
# Usage: scripts/bench_overhead.sh [PAIRS] [ROUNDS]
set -eu
cd "$(dirname "$0")/.."
PAIRS=${1:-1000000}
ROUNDS=${2:-5}
MT=${MEMTRACE:-build/memtrace}
CHURN=build/progs/churn
[ -x "$MT" ] && [ -x "$CHURN" ] || { echo "run make first" >&2; exit 1; }

ns() { sed -n 's/^churn: \([0-9.]*\) ns.*/\1/p'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

: > /tmp/bench.alone; : > /tmp/bench.empty; : > /tmp/bench.full; : > /tmp/bench.nostack
for r in $(seq "$ROUNDS"); do
	"$CHURN" "$PAIRS" | ns >> /tmp/bench.alone
	"$MT" -q --empty-probes -- "$CHURN" "$PAIRS" 2>/dev/null | ns >> /tmp/bench.empty
	"$MT" -q -o /dev/null -- "$CHURN" "$PAIRS" 2>/dev/null | ns >> /tmp/bench.full
	"$MT" -q -o /dev/null --stack none -- "$CHURN" "$PAIRS" 2>/dev/null | ns >> /tmp/bench.nostack
done
a=$(median < /tmp/bench.alone); e=$(median < /tmp/bench.empty)
f=$(median < /tmp/bench.full); n=$(median < /tmp/bench.nostack)
echo "churn, $PAIRS malloc+free pairs (1 in 16 a realloc), median of $ROUNDS rounds:"
printf "  %-26s %9.1f ns/pair  x%.1f\n" "alone" "$a" 1
awk -v a="$a" -v e="$e" -v f="$f" -v n="$n" 'BEGIN {
	printf "  %-26s %9.1f ns/pair  x%.1f\n", "empty probes", e, e / a
	printf "  %-26s %9.1f ns/pair  x%.1f\n", "memtrace --stack none", n, n / a
	printf "  %-26s %9.1f ns/pair  x%.1f\n", "memtrace (fp stacks)", f, f / a
	printf "work beyond the traps: %.0f ns/pair (x%.2f of empty probes)\n", f - e, f / e
}'
