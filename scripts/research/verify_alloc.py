#!/usr/bin/env python3
"""Check that every inlined `pool != pool->nextpool` test (pymalloc_alloc) reaches an alloc site
on its pool-not-empty branch.  usage: verify_alloc.py DIS SITES"""
import re, sys
lines, idx = [], {}
for l in open(sys.argv[1]):
    m = re.match(r'^ +([0-9a-f]+):\t(.*)$', l.rstrip('\n'))
    if m:
        idx[int(m.group(1), 16)] = len(lines)
        lines.append((int(m.group(1), 16), re.sub(r'\s+', ' ', m.group(2).split('#')[0]).strip()))
sites = {int(l.split()[1], 16) for l in open(sys.argv[2]) if l.startswith('alloc')}
def reaches(i, steps=8):
    while steps > 0 and i < len(lines):
        a, ins = lines[i]
        if a in sites: return True
        m = re.match(r'jmp ([0-9a-f]+) ', ins + ' ')
        if m: i = idx.get(int(m.group(1), 16), len(lines))
        elif ins.startswith(('ret', 'call')): return False
        else: i += 1
        steps -= 1
    return False
n = bad = 0
for i, (a, ins) in enumerate(lines[:-2]):
    m = re.match(r'mov 0x10\(%(\w+)\),%(\w+)$', ins)
    if not m: continue
    P, X = m.groups()
    c, j = lines[i + 1][1], lines[i + 2][1]
    if c not in ('cmp %%%s,%%%s' % (P, X), 'cmp %%%s,%%%s' % (X, P)): continue
    if not re.match(r'j(e|ne) ', j): continue
    # is it pymalloc? the pool pointer must come from usedpools: require addl $1,(%P) on the other side
    t = idx.get(int(j.split()[1], 16))
    nonempty = i + 3 if j.startswith('je') else t
    if nonempty is None: continue
    seq = ' '.join(x[1] for x in lines[nonempty:nonempty + 4])
    if 'addl $0x1,(%' + P + ')' not in seq and 'addl $0x1,0x0(%' + P + ')' not in seq: continue
    n += 1
    if not reaches(nonempty):
        bad += 1; print('0x%x: %s' % (a, seq))
print('# %d pool-not-empty tests, %d reaching no alloc site' % (n, bad), file=sys.stderr)
