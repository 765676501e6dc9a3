"""pymalloc's arenas, which CPython maps itself (1 MiB each from 3.10):
memtrace sees them as the program's own maps, with the Python stack of the
code that made the objects, and counts them apart in the reconciliation.

Ground truth: CPython's own count of the arenas it mapped while building
(sys._debugmallocstats), written by tests/integration/py/arenas.py.
"""
import json
import os
import signal
import subprocess

import pytest

from conftest import memtrace_cmd, read_reports, wait_for_line
from test_python import INTERPRETERS, need

SCRIPT = os.path.join(os.path.dirname(__file__), "py", "arenas.py")


def run(tmp_path, python, *options):
    truth_path, out = tmp_path / "truth.json", tmp_path / "out.json"
    proc = subprocess.Popen([python, SCRIPT, str(truth_path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        wait_for_line(proc.stdout, "ready")
        tracer = subprocess.Popen(memtrace_cmd("-q", "-n", "0", "--json", str(out),
                                               *options, "-p", str(proc.pid)),
                                  stderr=subprocess.PIPE, text=True)
        wait_for_line(tracer.stderr, "Ctrl-C to stop")
        proc.stdin.write("go\n")
        proc.stdin.flush()
        wait_for_line(proc.stdout, "done", timeout=120)
        tracer.send_signal(signal.SIGINT)
        _, err = tracer.communicate(timeout=60)
        assert tracer.returncode == 0, err
    finally:
        proc.kill()
        proc.wait()
    with open(truth_path) as f:
        return read_reports(out)[-1], json.load(f)


def arena_stacks(report, truth):
    """mmap stacks whose innermost Python frame is the building line."""
    found = []
    for s in report["stacks"]:
        py = [f for f in s["frames"] if f.get("python")]
        if s["allocator"] == "mmap" and py and py[0]["function"] == truth["function"] \
                and py[0].get("line") == truth["line"] \
                and py[0]["file"].endswith("arenas.py"):
            found.append(s)
    return found


@pytest.mark.parametrize("python", INTERPRETERS)
def test_arenas_on_the_building_line(tmp_path, python):
    need(python)
    report, truth = run(tmp_path, python)
    assert truth["arenas"] > 10, truth
    stacks = arena_stacks(report, truth)
    count = sum(s["count"] for s in stacks)
    assert count == truth["arenas"], \
        f"memtrace {count} arenas on {truth['function']}:{truth['line']}, CPython {truth}"
    assert sum(s["bytes"] for s in stacks) == truth["arenas"] * truth["arena_bytes"]
    # Marked as what they are: an estimate of the line's objects.
    assert all(s.get("python_arena") is True for s in stacks), stacks
    assert not any(s.get("python_arena") for s in report["stacks"]
                   if s["allocator"] != "mmap"), "only arenas are marked"
    mem = report["processes"][0]["memory"]
    # They are resident (every object was made), and counted as arenas.
    assert mem["python_arenas"] >= 0.9 * truth["arenas"] * truth["arena_bytes"], mem


def test_arenas_are_pymalloc_own_with_python_objects(tmp_path):
    """With --python-objects the objects are counted one by one; their
    arenas are then pymalloc's own memory, not maps of the program."""
    python = "/usr/bin/python3.11"
    need(python)
    report, truth = run(tmp_path, python, "--python-objects")
    assert arena_stacks(report, truth) == []
    assert report["accounting"]["maps_in_allocator"] >= truth["arenas"]
    assert report["processes"][0]["memory"]["python_arenas"] == 0
