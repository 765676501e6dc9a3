"""An allocation-heavy Python workload for benchmarks: builds and drops
records (dicts, tuples, short strings, lists, 2 KB bytes buffers), and
prints how long it took, timed inside the script so that a tracer's
start-up is not counted.

Usage: py_churn.py [ROUNDS]
"""
import sys
import time


def make_record(i):
    return {"id": i, "name": "user%d" % i, "tags": ("a", "b", str(i)),
            "payload": bytes(2048)}


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    start = time.perf_counter()
    kept = []
    for i in range(rounds):
        batch = [make_record(i * 10 + k) for k in range(10)]
        kept.append(batch[0]["name"])
        if len(kept) > 1000:
            kept = kept[500:]
    elapsed = time.perf_counter() - start
    print("py_churn: %.1f us per round (%d rounds)" % (elapsed / rounds * 1e6, rounds))


main()
