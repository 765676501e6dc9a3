"""Keeps 20 000 small objects of each common kind alive, one kind per line,
with tracemalloc off: then the interpreter calls pymalloc the way it does in
production (on Debian's python3.11, through the copies inlined into its
callers), not through tracemalloc's hooks. The ground truth is pymalloc's
own count of allocated blocks, sys.getallocatedblocks(), before and after
each line.

Usage: small_kinds.py TRUTH.json
  prints "ready", waits for a line, allocates, writes TRUTH.json
  ({"file": ..., "lines": {lineno: blocks}}), prints "done", waits for a line.
"""
import json
import sys

KEEP = []
N = 20000


class Instance:
    pass


def kinds():
    """(line, build) per kind; each build keeps N objects of that kind."""
    return [
        (lambda: [i + 1000000 for i in range(N)]),          # KIND int
        (lambda: [str(i) for i in range(N)]),               # KIND str
        (lambda: [(i, None) for i in range(N)]),            # KIND tuple
        (lambda: [i * 0.5 for i in range(N)]),              # KIND float
        (lambda: [[] for _ in range(N)]),                   # KIND list
        (lambda: [{} for _ in range(N)]),                   # KIND dict
        (lambda: [b"x" * (i % 50 + 2) for i in range(N)]),  # KIND bytes
        (lambda: [Instance() for _ in range(N)]),           # KIND instance
    ]


def main():
    out = sys.argv[1]
    builds = kinds()
    print("ready", flush=True)
    sys.stdin.readline()
    lines = {}
    for build in builds:
        before = sys.getallocatedblocks()
        KEEP.append(build())
        lines[str(build.__code__.co_firstlineno)] = sys.getallocatedblocks() - before
    with open(out, "w") as f:
        json.dump({"file": __file__, "lines": lines}, f)
    print("done", flush=True)
    sys.stdin.readline()


main()
