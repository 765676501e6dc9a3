#!/bin/bash
# usage: run_catch.sh PROG.bt LEGEND PYTHON [tm] -- runs workload.py for each kind under bpftrace,
# prints per kind: getallocatedblocks deltas and the per-phase counters (phase 1 = build, 3 = drop).
# needs: tracefs mounted, bpftrace; env BPFTRACE_MAP_KEYS_MAX set by this script.
bt=$1 legend=$2 py=$3 tm=$4
here=$(cd "$(dirname "$0")" && pwd)
export BPFTRACE_MAP_KEYS_MAX=2000000
for k in ${KINDS:-tuple str int float list dict inst slots bytes mixed}; do
	out=$(mktemp); res=$(mktemp)
	timeout 600 bpftrace --unsafe "$bt" -c "$py $here/workload.py $k ${N:-100000} $res $tm" > "$out" 2>&1
	python3 - "$out" "$res" "$legend" <<'PY'
import re, sys
out, res, legend = sys.argv[1:]
names = dict(x.split('=') for x in open(legend).read().split())
c = {}
for l in open(out):
    m = re.match(r'@c\[(\d+), (\d+)\]: (\d+)', l)
    if m: c[(names[m.group(1)], int(m.group(2)))] = int(m.group(3))
r = open(res).read().split('\n')
kind, n, d1, d3 = r[0].split()
if len(r) > 1 and r[1]: print('   ' + r[1])
d1, d3 = int(d1), -int(d3)
g = lambda k, p: c.get((k, p), 0)
print('%-6s N=%s  blocks+%d  blocks-%d' % (kind, n, d1, d3))
print('   phase1 build: site alloc %d free %d net %d (%.1f%% of blocks+); dup %d newpool %d' % (
    g('S_alloc', 1), g('S_free', 1), g('S_alloc', 1) - g('S_free', 1), 100.0 * (g('S_alloc', 1) - g('S_free', 1)) / max(d1, 1), g('dup_alloc', 1), g('newpool_ret', 1)))
print('   phase3 drop : site free %d (%.1f%% of blocks-), matched %d unmatched %d, site alloc %d' % (
    g('S_free', 3), 100.0 * g('S_free', 3) / max(d3, 1), g('freed_known', 3), g('freed_unknown', 3), g('S_alloc', 3)))
ent = sorted(set(k for k, p in c if k.startswith('E_')))
print('   entries ph1: ' + ' '.join('%s=%d' % (k[2:], g(k, 1)) for k in ent if g(k, 1)))
print('   entries ph3: ' + ' '.join('%s=%d' % (k[2:], g(k, 3)) for k in ent if g(k, 3)))
PY
	rm -f "$out" "$res"
done
