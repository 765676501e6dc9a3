"""Code objects created, run and freed in a loop while another thread
allocates: the case where a Python frame could be given another function's
name (a code object freed and another made at its address before memtrace
reads it).

Usage: code_churn.py TRUTH.json wait|run
  wait: prints "ready" and waits for a line (a tracer attaches meanwhile),
        churns, writes TRUTH.json, prints "done" and waits for a line;
  run:  churns at once, writes TRUTH.json, prints "done" and exits without
        freeing anything (os._exit), for a tracer that launched it.
Each round keeps one bytearray of a size no other round uses, allocated by
code made for that round only: a function exec'd from generated source, a
nested function of one, or a function of a generated module imported and
then dropped. TRUTH.json maps each size to the Python frames (qualname,
file, line; innermost first) that allocated it.
"""
import importlib
import json
import os
import sys
import tempfile
import threading

ROUNDS = int(os.environ.get("CHURN_ROUNDS", "1000"))
BASE = 100000          # sizes BASE + 8 * i: from malloc, one per round
KEPT = []
TRUTH = {}


def other_thread(stop):
    junk = []
    while not stop.is_set():
        junk.append(bytes(2000))
        junk.append([0] * 50)
        if len(junk) > 200:
            junk.clear()


def one_round(i, moddir):
    size = BASE + 8 * i
    kind = i % 3
    if kind == 0:      # a function exec'd from generated source
        name, fname = f"gen_{i}", f"<churn-{i}>"
        ns = {}
        exec(compile(f"def {name}():\n    return bytearray({size})\n", fname, "exec"), ns)
        KEPT.append(ns[name]())
        frames = [[name, fname, 2]]
    elif kind == 1:    # a nested function of one
        name, fname = f"inner_{i}", f"<churn-{i}>"
        ns = {}
        src = (f"def outer():\n    def {name}():\n        return bytearray({size})\n"
               f"    return {name}\n")
        exec(compile(src, fname, "exec"), ns)
        KEPT.append(ns["outer"]()())
        frames = [[f"outer.<locals>.{name}", fname, 3]]
    else:              # a generated module, imported, then dropped
        mod = f"churnmod_{i}"
        fname = os.path.join(moddir, mod + ".py")
        with open(fname, "w") as f:
            f.write(f"import sys\ndef leak_{i}():\n    return bytearray({size})\n"
                    f"sys.modules[__name__].KEEP = leak_{i}()\n")
        m = importlib.import_module(mod)
        KEPT.append(m.KEEP)
        del sys.modules[mod], m
        frames = [[f"leak_{i}", fname, 3], ["<module>", fname, 4]]
    TRUTH[size] = frames


def main():
    truth_path, mode = sys.argv[1], sys.argv[2]
    moddir = tempfile.mkdtemp(prefix="memtrace_churn_")
    sys.path.insert(0, moddir)
    sys.dont_write_bytecode = True
    if mode == "wait":
        print("ready", flush=True)
        sys.stdin.readline()
    stop = threading.Event()
    worker = threading.Thread(target=other_thread, args=(stop,))
    worker.start()
    for i in range(ROUNDS):
        one_round(i, moddir)
    stop.set()
    worker.join()
    with open(truth_path, "w") as f:
        json.dump(TRUTH, f)
    print("done", flush=True)
    if mode == "wait":
        sys.stdin.readline()
    else:
        sys.stdout.flush()
        os._exit(0)


main()
