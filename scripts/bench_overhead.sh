#!/bin/sh
# What tracing costs an allocation-heavy program, measured in one run.
#
# The program is tests/progs/churn.c (a loop of malloc/free pairs, 1 in 16
# a realloc, timed inside the program so that a tracer's start-up is not
# counted), built here against a private copy of libc so that uprobes any
# other tracer put on the system libc do not slow it.
#
# Configurations, run round-robin (A B C ... A B C ...) so that drift on
# this noisy machine hits all alike; each run ends (tracer included) before
# the next starts:
#   alone           churn by itself
#   floor           memtrace --empty-probes: the same uprobes and uretprobes
#                   on memtrace's own sites, with programs that return at
#                   once: what the kernel's traps cost, the floor of exact
#                   tracing
#   --stack none    full tracing without stacks
#   --stack fp      full tracing, frame-pointer stacks
#   --stack dwarf   full tracing, DWARF stacks (the default)
#   --sample-bytes  DWARF stacks, one allocation per 512 KiB sampled
#                   (only where this memtrace has the option)
#   sampled, no session  the same with MEMTRACE_NO_UPROBE_SESSION=1: every
#                   return trapped, as on kernels without session uprobes
#   base            with MEMTRACE_BASE=PATH: that (older) memtrace's default
#                   mode, in the same rounds: a regression shows as a ratio
# Prints, for each, the median ns per malloc+free pair with the min-max of
# the rounds, and its ratio to the floor.
#
# CONFIGS="floor dwarf base" runs only those (the ratio needs floor).
# Usage: [MEMTRACE_BASE=old/memtrace] [CONFIGS=...] scripts/bench_overhead.sh [PAIRS] [ROUNDS]
set -eu
cd "$(dirname "$0")/.."
. scripts/bench/lib.sh
PAIRS=${1:-300000}
ROUNDS=${2:-5}
need_memtrace

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
CHURN=build/bench/churn
bench_private_libc tests/progs/churn.c "$CHURN"

configs="alone floor none fp dwarf"
"$MT" --help 2>&1 | grep -q -- --sample-bytes && configs="$configs sampled nosession"
BASE=${MEMTRACE_BASE:-}
[ -n "$BASE" ] && configs="$configs base"
configs=${CONFIGS:-$configs}

run() {
	case $1 in
	alone) "$CHURN" "$PAIRS" ;;
	floor) "$MT" -q -o /dev/null --empty-probes -- "$CHURN" "$PAIRS" ;;
	sampled) "$MT" -q -o /dev/null --sample-bytes 524288 -- "$CHURN" "$PAIRS" ;;
	nosession) MEMTRACE_NO_UPROBE_SESSION=1 \
		"$MT" -q -o /dev/null --sample-bytes 524288 -- "$CHURN" "$PAIRS" ;;
	base) "$BASE" -q -o /dev/null -- "$CHURN" "$PAIRS" ;;
	*) "$MT" -q -o /dev/null --stack "$1" -- "$CHURN" "$PAIRS" ;;
	esac
}

for r in $(seq "$ROUNDS"); do
	for c in $configs; do
		# memtrace -- CMD returns once CMD and memtrace have exited.
		run "$c" 2>/dev/null | sed -n 's/^churn: \([0-9.]*\) ns.*/\1/p' >> "$tmp/$c"
	done
done

set -- $(stats "$tmp/floor")
floor=$1
echo "churn, $PAIRS malloc+free pairs (1 in 16 a realloc), private libc,"
echo "$ROUNDS interleaved rounds: median ns per pair [min-max], ratio to the floor"
for c in $configs; do
	case $c in
	alone) label="alone" ;;
	floor) label="floor (empty probes)" ;;
	sampled) label="--sample-bytes 524288" ;;
	nosession) label="  ... without sessions" ;;
	base) label="base: $BASE" ;;
	*) label="memtrace --stack $c" ;;
	esac
	set -- $(stats "$tmp/$c")
	awk -v l="$label" -v m="$1" -v lo="$2" -v hi="$3" -v f="$floor" \
		'BEGIN { printf "  %-24s %9.1f  [%.1f-%.1f]  x%.2f\n", l, m, lo, hi, m / f }'
done
