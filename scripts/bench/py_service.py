"""A Python service of N processes for scripts/bench_attach_exit.sh: the
first forks N-1 workers; each allocates and frees small objects and
buffers in a loop, with a short sleep, as a request handler would.
Prints "ready" once every worker runs, then serves until killed (the
caller kills its process group).

Usage: py_service.py N
"""
import os
import sys
import time


def serve():
    keep = []
    while True:
        keep.append({"k": bytearray(512), "v": str(time.monotonic())})
        if len(keep) > 64:
            keep.clear()
        time.sleep(0.001)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    workers = []
    for _ in range(n - 1):
        pid = os.fork()
        if pid == 0:
            serve()
        workers.append(pid)
    print("ready", flush=True)
    serve()


main()
