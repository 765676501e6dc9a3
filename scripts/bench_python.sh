#!/bin/sh
# What tracing costs an allocation-heavy Python script (scripts/bench/
# py_churn.py, timed inside the script), measured in one run, interleaved
# round by round:
#   alone                 the script by itself
#   --python off          memtrace, native stacks only
#   default               memtrace, Python frames merged into the stacks
#   --python-objects      memtrace, and pymalloc's small objects traced too
# and where --python-objects' time goes:
#   objects, empty probes the same probes, whose programs return at once:
#                         the kernel's traps alone
#   objects, --stack none the probes' work without walking stacks
# and, for comparison, the in-process tracer people use:
#   -X tracemalloc=1      tracemalloc, innermost frame only
#   -X tracemalloc=25     tracemalloc, 25 frames
# Prints the median time per round of each, its ratio to alone and its
# ratio to -X tracemalloc=25, the in-process tracer of equal coverage.
# Usage: scripts/bench_python.sh [PYTHON] [ROUNDS] [REPEATS]
set -eu
cd "$(dirname "$0")/.."
. scripts/bench/lib.sh
PY=${1:-/usr/bin/python3.11}
ROUNDS=${2:-5000}
REPEATS=${3:-3}
need_memtrace

us() { sed -n 's/^py_churn: \([0-9.]*\) us.*/\1/p'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for r in $(seq "$REPEATS"); do
	"$PY" scripts/bench/py_churn.py "$ROUNDS" | us >> "$tmp/alone"
	"$MT" -q -o /dev/null --python off -- "$PY" scripts/bench/py_churn.py "$ROUNDS" \
		2>/dev/null | us >> "$tmp/native"
	"$MT" -q -o /dev/null -- "$PY" scripts/bench/py_churn.py "$ROUNDS" \
		2>/dev/null | us >> "$tmp/python"
	"$MT" -q -o /dev/null --python-objects -- "$PY" scripts/bench/py_churn.py \
		"$ROUNDS" 2>/dev/null | us >> "$tmp/objects"
	"$MT" -q -o /dev/null --python-objects --empty-probes -- "$PY" \
		scripts/bench/py_churn.py "$ROUNDS" 2>/dev/null | us >> "$tmp/traps"
	"$MT" -q -o /dev/null --python-objects --stack none -- "$PY" \
		scripts/bench/py_churn.py "$ROUNDS" 2>/dev/null | us >> "$tmp/nostack"
	"$PY" -X tracemalloc=1 scripts/bench/py_churn.py "$ROUNDS" | us >> "$tmp/tm1"
	"$PY" -X tracemalloc=25 scripts/bench/py_churn.py "$ROUNDS" | us >> "$tmp/tm25"
done

a=$(median < "$tmp/alone")
t=$(median < "$tmp/tm25")
echo "$PY scripts/bench/py_churn.py $ROUNDS, median of $REPEATS runs:"
echo "  (µs per round, ratio to alone, ratio to -X tracemalloc=25)"
for run in alone native python objects traps nostack tm1 tm25; do
	v=$(median < "$tmp/$run")
	case $run in
	alone) label="alone" ;;
	native) label="memtrace --python off" ;;
	python) label="memtrace (Python frames)" ;;
	objects) label="memtrace --python-objects" ;;
	traps) label="  same, empty probes" ;;
	nostack) label="  same, --stack none" ;;
	tm1) label="python -X tracemalloc=1" ;;
	tm25) label="python -X tracemalloc=25" ;;
	esac
	awk -v l="$label" -v v="$v" -v a="$a" -v t="$t" \
		'BEGIN { if (v == "") printf "  %-28s    (no result)\n", l;
			 else printf "  %-28s %9.1f us/round  x%.1f  x%.2f\n", l, v, v / a,
				     t == "" ? 0 : v / t }'
done
