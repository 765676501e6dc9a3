#!/usr/bin/env python3
"""For each site of find_sites.py, find an equivalent probe point whose instruction the x86
uprobe code emulates (a jcc) instead of single-stepping: the first jcc after the site, reached
by straight-line code that no other branch enters.  At that jcc the block is either still in
the site's register ("reg") or, for a free, readable as pool->freeblock = *(P+8) ("pool").
A duplicated free tail `store ; jmp X` whose X is inside another free site's segment (same P)
is folded into that site's jcc.
usage: cheap_points.py DIS SITES  ->  kind site reg | jcc_addr mode [P]  (or '- reason')"""
import re, sys
lines, idx, srcs = [], {}, {}
for l in open(sys.argv[1]):
    m = re.match(r'^ +([0-9a-f]+):\t(.*)$', l.rstrip('\n'))
    if m:
        ins = re.sub(r'\s+', ' ', m.group(2).split('#')[0]).strip()
        a = int(m.group(1), 16); idx[a] = len(lines); lines.append((a, ins))
        t = re.match(r'(j\w+|call) ([0-9a-f]+) ', ins + ' ')
        if t: srcs.setdefault(int(t.group(2), 16), []).append(a)
R64 = {'eax': 'rax', 'ebx': 'rbx', 'ecx': 'rcx', 'edx': 'rdx', 'esi': 'rsi', 'edi': 'rdi', 'ebp': 'rbp'}
def writes(ins, reg):
    m = re.match(r'(\w+) (.*)$', ins)
    if not m or m.group(1) in ('test', 'cmp'): return False
    dst = m.group(2).split(',')[-1].strip()
    if '(' in dst: return False
    dst = dst.lstrip('%'); dst = R64.get(dst, dst[:-1] if re.match(r'r\d+d$', dst) else dst)
    return dst == reg
sites = [l.split()[:3] for l in open(sys.argv[2])]
def pool_of(i):  # P of a free store `mov %B,0x8(%P)`
    m = re.match(r'mov %\w+,0x8\(%(\w+)\)$', lines[i][1]); return m and m.group(1)
def scan(i, reg, P, allow_entry=()):
    for k in range(i, min(i + 10, len(lines))):
        a, ins = lines[k]
        if k > i and a in srcs and not set(srcs[a]) <= set(allow_entry): return '- entered at 0x%x' % a, None
        if re.match(r'j(?!mp)\w+ ', ins): return a, ('reg' if reg else 'pool')
        if ins.startswith(('jmp', 'call', 'ret')): return '- %s' % ins.split()[0], None
        if reg and writes(ins, reg): reg = None
        if P and writes(ins, P): P = None
        if not reg and not P: return '- overwritten', None
    return '- none', None
folded = {}
for kind, va, B in sites:  # duplicated free tails: `store ; jmp X`
    i = idx[int(va, 16)]
    m = re.match(r'jmp ([0-9a-f]+)\b', lines[i + 1][1]) if kind == 'free' else None
    if m: folded[int(m.group(1), 16)] = (va, pool_of(i), lines[i + 1][0])
for kind, va, B in sites:
    i = idx[int(va, 16)]
    if va in [f[0] for f in folded.values()]:
        print(kind, va, B, '| - folded into the jcc after 0x%x' % [x for x, f in folded.items() if f[0] == va][0]); continue
    P = pool_of(i) if kind == 'free' else None
    allow = [f[2] for x, f in folded.items() if f[1] == P and i < idx.get(x, -1) <= i + 10]
    a, mode = scan(i, B if not allow else None, P, allow)
    print(kind, va, B, '|', ('0x%x %s %s' % (a, mode, P if mode == 'pool' else B)) if mode else a)
