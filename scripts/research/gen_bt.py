#!/usr/bin/env python3
"""Generate a bpftrace program (run with --unsafe, BPFTRACE_MAP_KEYS_MAX>=live blocks) that
counts, per phase of workload.py (libc sched_yield marks phases), the hits of function-entry
probes and of the pymalloc freelist pop/push sites (find_sites.py output), and tracks the
live blocks the sites see.  Counters: @c[id, phase]; the id legend is printed on stderr.
usage: gen_bt.py BINARY VADDR_MINUS_FILEOFF SITES NEWPOOL_VADDR name=vaddr ... > prog.bt"""
import sys
binary, delta, sites, newpool = sys.argv[1], int(sys.argv[2], 16), sys.argv[3], int(sys.argv[4], 16)
libc = '/lib/x86_64-linux-gnu/libc.so.6'
P = lambda va, k='uprobe': '%s:%s:0x%x' % (k, binary, va - delta)
ids = ['S_alloc', 'S_free', 'dup_alloc', 'freed_known', 'freed_unknown', 'newpool_ret']
print('uprobe:%s:sched_yield /pid == cpid/ { @ph = @ph + 1; }' % libc)
for kv in sys.argv[5:]:
    name, va = kv.split('=')
    ids.append(name)
    print('%s /pid == cpid/ { @c[%d, @ph] = count(); }' % (P(int(va, 16)), len(ids) - 1))
ALLOC = '@c[0, @ph] = count(); if (@live[$p]) { @c[2, @ph] = count(); } @live[$p] = 1;'
print('%s /pid == cpid && retval != 0/ { $p = retval; @c[5, @ph] = count(); %s }' % (P(newpool, 'uretprobe'), ALLOC))
for l in open(sites):
    f = l.split()
    kind, va, reg = f[:3]
    reg = reg[1:] if reg[0] == 'r' and not reg[1].isdigit() else reg
    # mode 'pool' (cheap_points.py): the block is pool->freeblock = *(reg + 8)
    get = '*(uint64 *)(reg("%s") + 8)' % reg if len(f) > 3 and f[3] == 'pool' else 'reg("%s")' % reg
    if kind == 'alloc':
        print('%s /pid == cpid/ { $p = %s; %s }' % (P(int(va, 16)), get, ALLOC))
    else:
        print('%s /pid == cpid/ { $p = %s; @c[1, @ph] = count(); if (@live[$p]) { delete(@live[$p]); @c[3, @ph] = count(); } else { @c[4, @ph] = count(); } }' % (P(int(va, 16)), get))
print('END { clear(@live); }')
sys.stderr.write(' '.join('%d=%s' % x for x in enumerate(ids)) + '\n')
