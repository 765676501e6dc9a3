#!/usr/bin/env python3
"""Find pymalloc alloc/free fast paths (inlined or not) in an `objdump -d --no-show-raw-insn` listing.
usage: find_sites.py DIS
alloc: `mov 0x8(%P),%B` (bp = pool->freeblock) with, nearby, `mov (%B),%N`, `mov %N,0x8(%P)`
       and `addl $0x1,(%P)` (++pool->ref.count).  Site = insn right after the load; %B = block.
free:  `mov %B,0x8(%P)` (pool->freeblock = p) with, just before, `mov 0x8(%P),%X` (lastfree),
       near it a read or decrement of (%P) (--pool->ref.count), and `and $~0x3fff,%P` in the function.
       Site = that store; %B = block being freed.
Prints: kind vaddr reg function."""
import re, sys
lines, fn, fns = [], None, []
for l in open(sys.argv[1]):
    h = re.match(r'^([0-9a-f]+) <(.*)>:$', l)
    if h: fn = h.group(2); continue
    m = re.match(r'^ +([0-9a-f]+):\t(.*)$', l.rstrip('\n'))
    if m:
        lines.append((int(m.group(1), 16), re.sub(r'\s+', ' ', m.group(2).split('#')[0]).strip())); fns.append(fn)
def near(i, lo, hi, pat):
    return any(re.match(pat + '$', lines[k][1]) for k in range(max(0, i + lo), min(len(lines), i + hi + 1)) if k != i)
def infunc(i, pat):  # anywhere in the same (objdump-labelled) function
    lo = hi = i
    while lo > 0 and fns[lo - 1] == fns[i]: lo -= 1
    while hi + 1 < len(lines) and fns[hi + 1] == fns[i]: hi += 1
    return near(i, lo - i, hi - i, pat)
for i, (a, ins) in enumerate(lines):
    m = re.match(r'mov 0x8\(%(\w+)\),%(\w+)$', ins)
    if m:
        P, B = m.groups()
        if near(i, 1, 6, r'mov (0x0)?\(%' + B + r'\),%\w+') and near(i, -4, 6, r'mov %\w+,0x8\(%' + P + r'\)') \
           and near(i, -4, 6, r'addl \$0x1,(0x0)?\(%' + P + r'\)'):
            print('alloc 0x%x %s %s' % (lines[i + 1][0], B, fns[i]))
    m = re.match(r'mov %(\w+),0x8\(%(\w+)\)$', ins)
    if m:
        B, P = m.groups()
        if near(i, -6, -1, r'mov 0x8\(%' + P + r'\),%\w+') and (near(i, -6, 4, r'(mov \(%' + P + r'\),%\w+|subl \$0x1,\(%' + P + r'\))') or
                near(i, -6, -1, r'mov %\w+,(0x0)?\(%' + B + r'\)')) \
           and infunc(i, r'and \$0xffffffffffffc000,%' + P):
            print('free  0x%x %s %s' % (a, B, fns[i]))
