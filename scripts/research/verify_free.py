#!/usr/bin/env python3
"""Check that both success exits of every inlined address_in_range() reach a free site.
usage: verify_free.py DIS SITES   (prints exits that reach no site within 12 insns)"""
import re, sys
lines, idx = [], {}
for l in open(sys.argv[1]):
    m = re.match(r'^ +([0-9a-f]+):\t(.*)$', l.rstrip('\n'))
    if m:
        idx[int(m.group(1), 16)] = len(lines)
        lines.append((int(m.group(1), 16), re.sub(r'\s+', ' ', m.group(2).split('#')[0]).strip()))
sites = {int(l.split()[1], 16) for l in open(sys.argv[2]) if l.startswith('free')}
def reaches(i, steps=12):
    while steps > 0 and i < len(lines):
        a, ins = lines[i]
        if a in sites: return True
        m = re.match(r'jmp ([0-9a-f]+) ', ins + ' ')
        if m:
            t = int(m.group(1), 16)
            if t not in idx: return False
            i = idx[t]
        elif ins.startswith('ret') or ins.startswith('call'): return False
        else: i += 1
        steps -= 1
    return False
n = bad = 0
for i, (a, ins) in enumerate(lines):
    if re.match(r'cmp %e\w+,0x4\(%\w+,%\w+,8\)$', ins) and lines[i + 1][1].split()[0] in ('jg', 'jle'):
        t = idx[int(lines[i + 1][1].split()[1], 16)]
        # tail < lo -> exit1; else 'cmp hi ; jg fail ; test hi ; je fail' -> exit2
        e1, second = (t, i + 2) if lines[i + 1][1].startswith('jg') else (i + 2, t)
        ok1 = reaches(e1)
        j2 = lines[second + 3][1]
        ok2 = reaches(second + 4) if j2.startswith('je ') else \
            reaches(idx[int(j2.split()[1], 16)]) if j2.startswith('jne ') else None
        n += 1
        if not ok1 or ok2 is not True:
            bad += 1; print('0x%x exit1 %s exit2 %s' % (a, ok1, ok2))
print('# %d address_in_range checks, %d with an exit reaching no free site' % (n, bad), file=sys.stderr)
