#!/bin/sh
# What tracing costs an allocation-heavy program, measured in one run,
# interleaved round by round so that drift on this noisy machine hits all
# alike:
#   alone           build/progs/churn by itself
#   empty probes    memtrace --empty-probes: the same uprobes and uretprobes
#                   with programs that return at once (the cost of the traps)
#   --stack none    full tracing without stacks
#   --stack fp      full tracing, frame-pointer stacks
#   --stack dwarf   full tracing, DWARF stacks (the default)
# churn times its own loop, so memtrace's start-up is not counted.
# Prints the median ns per malloc+free pair of each, and its ratio to alone.
# Usage: scripts/bench_overhead.sh [PAIRS] [ROUNDS]
set -eu
cd "$(dirname "$0")/.."
PAIRS=${1:-300000}
ROUNDS=${2:-5}
MT=${MEMTRACE:-build/memtrace}
CHURN=build/progs/churn
[ -x "$MT" ] && [ -x "$CHURN" ] || { echo "run make first" >&2; exit 1; }

ns() { sed -n 's/^churn: \([0-9.]*\) ns.*/\1/p'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for r in $(seq "$ROUNDS"); do
	"$CHURN" "$PAIRS" | ns >> "$tmp/alone"
	"$MT" -q -o /dev/null --empty-probes -- "$CHURN" "$PAIRS" 2>/dev/null | ns >> "$tmp/empty"
	for mode in none fp dwarf; do
		"$MT" -q -o /dev/null --stack $mode -- "$CHURN" "$PAIRS" 2>/dev/null |
			ns >> "$tmp/$mode"
	done
done

a=$(median < "$tmp/alone")
echo "churn, $PAIRS malloc+free pairs (1 in 16 a realloc), median of $ROUNDS rounds:"
for run in alone empty none fp dwarf; do
	v=$(median < "$tmp/$run")
	case $run in
	alone) label="alone" ;;
	empty) label="empty probes" ;;
	*) label="memtrace --stack $run" ;;
	esac
	awk -v l="$label" -v v="$v" -v a="$a" \
		'BEGIN { printf "  %-22s %9.1f ns/pair  x%.1f\n", l, v, v / a }'
done
