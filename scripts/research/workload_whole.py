"""Whole-process check: a mixed stdlib workload, then sched_yield(); compare sites' live count
(allocs - frees over phase 0) with sys.getallocatedblocks() (which also counts PyObject_Malloc's
>512-byte fallbacks to malloc, raw_allocated_blocks)."""
import os, sys, json, re, collections, decimal, email.parser, asyncio, dataclasses, textwrap, difflib
data = [{'id': i, 'name': 'n%d' % i, 'tags': ['a', 'b', str(i)], 'v': i * 1.5} for i in range(20000)]
s = json.dumps(data); back = json.loads(s)
words = re.findall(r'\w+', s)[:50000]
cnt = collections.Counter(words)
d = [decimal.Decimal(i) / 7 for i in range(5000)]
async def f(i): return i * 2
r = asyncio.run(asyncio.gather(*(f(i) for i in range(2000))) if False else f(3))
diff = list(difflib.unified_diff(textwrap.wrap(s[:20000], 60), textwrap.wrap(s[10:20010], 60)))
keep = (back, cnt, d, diff)
del data, s, words
n = sys.getallocatedblocks()
os.sched_yield()
with open(sys.argv[1], 'w') as fh: fh.write('%d\n' % n)
