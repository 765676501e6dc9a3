"""Leaks known amounts from known lines, the ways Python services leak, and
writes tracemalloc's own account of them (the ground truth) as JSON.

Usage: leaks.py SCENARIO TRUTH.json
  prints "ready" and waits for a line (a tracer attaches meanwhile), leaks,
  writes TRUTH.json, stops tracemalloc (freeing its own bookkeeping, which
  the workload's objects do not need), prints "done" and waits for a line.
Scenarios: cache, buffers, closure, small, gil.
The lines that leak are marked "# LEAK"; the truth file maps each line of
this file to the bytes and blocks tracemalloc holds for it.
"""
import ctypes
import gc
import json
import sys
import threading
import tracemalloc

CACHE = {}
BUFFERS = []
LISTENERS = []
KEEP = []


def handle_request(i):
    payload = b"%06d" % i + bytes(4090)  # LEAK cache: 4 KiB per request
    CACHE[i] = payload


def scenario_cache():
    for i in range(1500):
        handle_request(i)


def scenario_buffers():
    for _ in range(80):
        BUFFERS.append(bytearray(40000))  # LEAK buffers: 40 KB each


def make_listener(n):
    table = [n] * 150000  # LEAK closure: a 1.2 MB list per listener
    def on_event():
        return len(table)
    return on_event


def scenario_closure():
    for n in range(3):
        LISTENERS.append(make_listener(n))


def scenario_small():
    KEEP.extend((i, str(i)) for i in range(30000))  # LEAK small objects


def spin(stop):
    x = 0
    while not stop.is_set():
        x += 1  # holds the GIL, in Python
    return x


def leak_without_gil(libc, n):
    for _ in range(n):
        KEEP.append(libc.malloc(777777))  # LEAK gil: malloc with the GIL released


def scenario_gil():
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    stop = threading.Event()
    spinner = threading.Thread(target=spin, args=(stop,))
    spinner.start()
    worker = threading.Thread(target=leak_without_gil, args=(libc, 20))
    worker.start()
    worker.join()
    stop.set()
    spinner.join()


def main():
    scenario, out = sys.argv[1], sys.argv[2]
    tracemalloc.start(1)
    print("ready", flush=True)
    sys.stdin.readline()
    globals()["scenario_" + scenario]()
    snapshot = tracemalloc.take_snapshot()
    lines = {}
    for stat in snapshot.statistics("lineno"):
        frame = stat.traceback[0]
        if frame.filename == __file__:
            lines[str(frame.lineno)] = {"bytes": stat.size, "blocks": stat.count}
    small = sum(1 for t in snapshot.traces if t.size <= 512)
    # The snapshot holds a tuple per trace: drop it, and tracemalloc's own
    # bookkeeping, so that only the workload's objects stay live.
    del snapshot
    tracemalloc.stop()
    gc.collect()
    with open(out, "w") as f:
        json.dump({"file": __file__, "lines": lines, "small_blocks": small,
                   "version": list(sys.version_info[:3])}, f)
    print("done", flush=True)
    sys.stdin.readline()


main()
