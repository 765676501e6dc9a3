"""Builds many small objects in one function, so that pymalloc maps arenas
for them there, and writes CPython's own count of the arenas it mapped
(sys._debugmallocstats, the ground truth) as JSON.

Usage: arenas.py TRUTH.json
  prints "ready" and waits for a line (a tracer attaches meanwhile), builds,
  writes TRUTH.json, prints "done" and waits for a line.
"""
import io
import json
import os
import re
import sys

KEEP = []


def arenas_now():
    """'arenas allocated current' from CPython's allocator statistics
    (written to the C stderr, so read through a pipe)."""
    r, w = os.pipe()
    saved = os.dup(2)
    os.dup2(w, 2)
    try:
        sys._debugmallocstats()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(w)
    with io.open(r, "r") as f:
        text = f.read()
    return int(re.search(r"# arenas allocated current\s*=\s*([\d,]+)", text)
               .group(1).replace(",", ""))


def build(n):
    for i in range(n):
        KEEP.append((i, str(i)))  # ARENAS


def main():
    truth = sys.argv[1]
    line = next(i for i, text in enumerate(open(__file__), 1)
                if text.rstrip().endswith("# ARENAS"))
    print("ready", flush=True)
    sys.stdin.readline()
    before = arenas_now()
    build(300000)
    after = arenas_now()
    with open(truth, "w") as f:
        json.dump({"function": "build", "line": line, "arenas": after - before,
                   "arena_bytes": 1 << 20 if sys.version_info >= (3, 10) else 256 << 10}, f)
    print("done", flush=True)
    sys.stdin.readline()


main()
