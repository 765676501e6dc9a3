#!/bin/sh
# How long memtrace's type census (--types) of one Python process takes:
# the process holds N tuples of two ints (8 M: about 1 GiB of pymalloc
# arenas) and waits; memtrace attaches for a few reports and prints each
# census's figures from its JSON.
# Usage: scripts/bench_python_census.sh [PYTHON] [N]
set -eu
cd "$(dirname "$0")/.."
. scripts/bench/lib.sh
PY=${1:-/usr/bin/python3.11}
N=${2:-8000000}
need_memtrace
tmp=$(mktemp -d)
fifo=$tmp/in
mkfifo "$fifo"
"$PY" -c "
import os, sys
keep = [(i, i + 1) for i in range($N)]
print(os.getpid(), flush=True)
sys.stdin.readline()
" < "$fifo" > "$tmp/pid" &
exec 3> "$fifo"
while [ ! -s "$tmp/pid" ]; do sleep 0.2; done
pid=$(cat "$tmp/pid")
grep VmRSS "/proc/$pid/status"
"$MT" -q -o /dev/null -i 2 -d 7 --types=3 --json "$tmp/out.json" -p "$pid" 2>/dev/null
exec 3>&-
wait
/usr/bin/python3 -c "
import json
for l in open('$tmp/out.json'):
    for t in json.loads(l).get('types', []):
        c = t['census']
        print(f\"census: {c['arena_bytes'] / 2**20:.1f} MiB of arenas, {c['pools']} pools, \"
              f\"{c['objects']} objects in {c['seconds']:.3f} s (limit {c['limit_s']:.0f} s, \"
              f\"cut short: {c['cut_short']})\")
"
rm -rf "$tmp"
