"""A Flask app for Debian's gunicorn that leaks known bytes at known lines
on every request, and keeps its own ground truth: each worker runs
tracemalloc and, when it exits (gunicorn's workers leave through
sys.exit on SIGTERM, SIGINT or SIGQUIT), writes what tracemalloc holds for
each line of this file to $TRUTH_DIR/worker-PID.json, then leaves at once
(os._exit), holding its leaks to the end as a killed worker would:
Python's own shutdown would free them.

Routes: /ping (leaks nothing), /work/N (leaks on the two "# LEAK" lines);
both answer with the worker's PID.
"""
import atexit
import json
import os
import tracemalloc

from flask import Flask

tracemalloc.start(1)
app = Flask(__name__)
TRUTH_DIR = os.environ["TRUTH_DIR"]
CACHE = []
SESSIONS = {}


def remember(n):
    CACHE.append(bytearray(40000))  # LEAK cache: 40 KB per request


def open_session(n):
    SESSIONS[n] = b"s" * 25000  # LEAK session: 25 KB per request


def write_truth():
    lines = {}
    for stat in tracemalloc.take_snapshot().statistics("lineno"):
        frame = stat.traceback[0]
        if frame.filename == __file__:
            lines[str(frame.lineno)] = {"bytes": stat.size, "blocks": stat.count}
    path = os.path.join(TRUTH_DIR, "worker-%d.json" % os.getpid())
    with open(path + ".tmp", "w") as f:
        json.dump({"file": __file__, "pid": os.getpid(), "lines": lines}, f)
    os.rename(path + ".tmp", path)


def truth_and_exit():
    write_truth()
    os._exit(0)


atexit.register(truth_and_exit)


@app.route("/ping")
def ping():
    return "pong %d" % os.getpid()


@app.route("/work/<int:n>")
def work(n):
    remember(n)
    open_session(n)
    return "ok %d" % os.getpid()
