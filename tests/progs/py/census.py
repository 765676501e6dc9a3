"""Objects of classes nothing else creates, for the type census
(tests/unit/python/test_py_census.c, tests/integration/test_python_types.py).

Prints "count NAME N" for each class, then "ready", and waits for a line:
"more" adds objects of each class (and prints the counts and "ready"
again), end of input ends the script. LeakA instances have a __dict__ and
live in a list, LeakB ones use __slots__ and live in a dict; LeakBytes are
bytes of distinct sizes (all under 512 B: pymalloc's), LeakLarge bytes of
600 B and more (malloc's: a census sees them only where memtrace tracked
their allocation).
"""
import sys


class LeakA:
    def __init__(self, i):
        self.i = i


class LeakB:
    __slots__ = ("x",)

    def __init__(self, x):
        self.x = x


class LeakBytes(bytes):
    pass


class LeakLarge(bytes):
    pass


KEEP_A = []
KEEP_B = {}
KEEP_BYTES = []
KEEP_LARGE = []


def add(na, nb, nbytes, nlarge):
    base = len(KEEP_B)
    KEEP_A.extend(LeakA(i) for i in range(na))
    for i in range(nb):
        KEEP_B[base + i] = LeakB(i)
    KEEP_BYTES.extend(LeakBytes(b"x" * (i % 400)) for i in range(nbytes))
    KEEP_LARGE.extend(LeakLarge(b"y" * (600 + i)) for i in range(nlarge))


def say():
    for name, n in (("LeakA", len(KEEP_A)), ("LeakB", len(KEEP_B)),
                    ("LeakBytes", len(KEEP_BYTES)), ("LeakLarge", len(KEEP_LARGE))):
        print("count", name, n)
    print("ready", flush=True)


add(12345, 6789, 1000, 0 if "--no-large-at-start" in sys.argv else 300)
say()
for line in sys.stdin:
    if line.strip() == "more":
        add(1000, 500, 250, 100)
        say()
