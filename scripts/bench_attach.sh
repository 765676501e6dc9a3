#!/bin/sh
# How long `memtrace -p PID` takes to attach, from its start to the line
# that says it is tracing (every probe is live by then), interleaved round
# by round:
#   c             a C program (coreutils' sleep: glibc, nothing else)
#   python        Debian's python3.11, idle (Python frames, the default)
#   python-objects  the same with --python-objects (pymalloc's sites too;
#                 read back from the record a first, untimed run left)
#   python-objects-scan  the same with MEMTRACE_CACHE=off: the sites found
#                 by decoding the interpreter, as on a first run
#   sampled       the C program with --sample-bytes 524288 (session probes)
# Each run waits until no earlier memtrace is left, its detached child that
# unregisters the probe definitions included (wait_cleanups), then GAP
# seconds more (default 2): a memtrace started while definitions are being
# released waits for them (README, "Attach and exit times"); with only a
# fixed 10 s between runs, attaches after a --python-objects run took up
# to 5 s.
# With MEMTRACE_BASE=PATH, an older memtrace runs each configuration too
# (base-c, base-python, ...), in the same rounds.
# Prints the median, min and max milliseconds of each.
# CONFIGS="c sampled" runs only those.
# Usage: [GAP=seconds] [MEMTRACE_BASE=old/memtrace] [CONFIGS=...] scripts/bench_attach.sh [ROUNDS]
set -eu
cd "$(dirname "$0")/.."
. scripts/bench/lib.sh
ROUNDS=${1:-5}
GAP=${GAP:-2}
MT=${MEMTRACE:-build/memtrace}
BASE=${MEMTRACE_BASE:-}
PY=/usr/bin/python3.11
[ -x "$MT" ] || { echo "run make first" >&2; exit 1; }

tmp=$(mktemp -d)
targets=""
trap 'for t in $targets; do kill "$t" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT

now() { date +%s.%N; }

mkfifo "$tmp/err"
sleep 1000 & c_pid=$!
targets="$c_pid"
py_pid=""
configs="c sampled"
if [ -x "$PY" ]; then
	"$PY" -c 'import time; time.sleep(1000)' & py_pid=$!
	targets="$targets $py_pid"
	configs="c python python-objects python-objects-scan sampled"
else
	echo "($PY absent: the Python runs are left out)"
fi
configs=${CONFIGS:-$configs}

# one CONFIG: attach, note the time to the ready line, stop.
one() {
	bin=$MT
	# Each build keeps its own sites records: a record is believed only
	# by the build that wrote it, so with one directory the two builds
	# would scan and overwrite each other's in turn.
	cache=$tmp/cache-new
	case $1 in base-*) bin=$BASE; cache=$tmp/cache-base ;; esac
	mkdir -p -m 700 "$cache"
	case ${1#base-} in
	c) set -- -p "$c_pid" ;;
	sampled) set -- --sample-bytes 524288 -p "$c_pid" ;;
	python) set -- -p "$py_pid" ;;
	python-objects) set -- --python-objects -p "$py_pid" ;;
	python-objects-scan) set -- --python-objects -p "$py_pid"; cache=off ;;
	esac
	rm -f "$tmp/err.seen"
	t0=$(now)
	MEMTRACE_CACHE=$cache "$bin" -q -o /dev/null "$@" 2> "$tmp/err" &
	mt=$!
	wait_ready "$tmp/err" "$mt"
	t1=$(now)
	kill -INT "$mt"
	wait "$mt"
	echo "$t1 $t0" | awk '{ print ($1 - $2) * 1000 }'
}

if [ -n "$BASE" ]; then
	for c in $configs; do all="${all:-} $c base-$c"; done
	configs=$all
fi
sleep 1
# The records python-objects reads back: written by one run of each build.
for c in $configs; do
	case ${c#base-} in
	python-objects) wait_cleanups; one "$c" > /dev/null ;;
	esac
done
for r in $(seq "$ROUNDS"); do
	for c in $configs; do
		wait_cleanups
		sleep "$GAP"
		one "$c" >> "$tmp/$c"
	done
done

echo "attach, ms from start to the ready line: median (min - max) of $ROUNDS rounds"
for c in $configs; do
	set -- $(stats "$tmp/$c")
	printf "  %-16s %6.0f  (%.0f - %.0f)\n" "$c" "$1" "$2" "$3"
done
