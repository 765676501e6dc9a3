"""Timing loop for probe-cost comparison: ~3M small allocations + frees (tuple/int churn)."""
import time, os
t = time.perf_counter()
for r in range(10):
    x = [(i, i + 1000) for i in range(100000)]
    del x
print('%.3f s' % (time.perf_counter() - t))
