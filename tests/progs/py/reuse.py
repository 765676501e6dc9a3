# A code object freed and another allocated at its address, for the cache
# of tests/unit/python/test_python_symbols.c: prints the first (truth.py
# records), waits for a line on stdin, frees it, prints the second (or
# "noreuse"), waits for stdin to close.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import truth  # noqa: E402


def template():
    x = 1
    return x + 2


first = template.__code__.replace(co_qualname="first_code",
                                  co_filename="first.py", co_firstlineno=100)
truth.report(first)
print("ready", flush=True)
sys.stdin.readline()

# Made now, so that only the code object itself is allocated after the
# first is freed, and takes its place.
names = [(f"second_code_{i}", f"second_{i}.py") for i in range(1000)]
addr = id(first)
del first
misses = []
for qualname, filename in names:
    second = template.__code__.replace(co_qualname=qualname,
                                       co_filename=filename,
                                       co_firstlineno=200)
    if id(second) == addr:
        truth.report(second)
        break
    misses.append(second)
else:
    print("noreuse")
print("ready", flush=True)
sys.stdin.readline()
