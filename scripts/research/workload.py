"""Workload for probe catch-rate measurement.  usage: python workload.py KIND N OUTFILE [tm]
Phases are delimited by os.sched_yield() (probe libc sched_yield to follow them):
  1 = build N objects of KIND and keep them, 3 = drop them.  (2, 4 = measuring, not counted)
Writes: kind N live_delta_after_build live_delta_after_drop (sys.getallocatedblocks deltas);
with tm: tracemalloc is started first and its live-trace deltas are written too."""
import gc, os, sys, tracemalloc
kind, N, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
tm = len(sys.argv) > 4 and sys.argv[4] == 'tm'
class C:
    def __init__(self, i): self.a = i; self.b = None
class S:
    __slots__ = ('a',)
    def __init__(self, i): self.a = i
def build(k, n):
    if k == 'tuple': return [(i, i + 1000) for i in range(n)]
    if k == 'str':   return ['k%d' % i for i in range(n)]
    if k == 'int':   return [i * 1000 + 7 for i in range(n)]
    if k == 'float': return [i * 0.5 for i in range(n)]
    if k == 'list':  return [[i] for i in range(n)]
    if k == 'dict':  return [{'a': i} for i in range(n)]
    if k == 'inst':  return [C(i) for i in range(n)]
    if k == 'slots': return [S(i) for i in range(n)]
    if k == 'bytes': return [bytes(i % 400 + 1) for i in range(n)]
    if k == 'mixed': return [((i, i + 1000), 'k%d' % i, i * 0.5, [i], {'a': i}, C(i), bytes(i % 400 + 1)) for i in range(n // 7)]
    raise SystemExit('unknown kind')
if tm: tracemalloc.start()
b, t = [0, 0, 0], [0, 0, 0]
ntr = lambda: len(tracemalloc._get_traces()) if tm else 0
t[0] = ntr()
b[0] = sys.getallocatedblocks()
os.sched_yield()
objs = build(kind, N)
os.sched_yield()
b[1] = sys.getallocatedblocks()
t[1] = ntr()
os.sched_yield()
del objs
os.sched_yield()
b[2] = sys.getallocatedblocks()
t[2] = ntr()
with open(out, 'w') as f:
    f.write('%s %d %d %d\n' % (kind, N, b[1] - b[0], b[2] - b[1]))
    if tm: f.write('tracemalloc traces %+d %+d\n' % (t[1] - t[0], t[2] - t[1]))
