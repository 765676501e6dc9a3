"""multiprocessing.Pool(2): each task leaks one 123456-byte bytearray in
the worker that runs it and says which worker that was; the parent writes
how many each worker leaked (the ground truth) to TRUTH.json.

Usage: mp_pool.py TRUTH.json
"""
import collections
import json
import multiprocessing
import os
import sys

KEEP = []


def task(i):
    KEEP.append(bytearray(123456))  # LEAK pool
    return os.getpid()


def main():
    counts = collections.Counter()
    with multiprocessing.Pool(2) as pool:
        for pid in pool.map(task, range(200), chunksize=5):
            counts[pid] += 1
        pool.close()
        pool.join()
    with open(sys.argv[1], "w") as f:
        json.dump({"file": os.path.abspath(__file__),
                   "counts": {str(p): n for p, n in counts.items()}}, f)


if __name__ == "__main__":
    main()
