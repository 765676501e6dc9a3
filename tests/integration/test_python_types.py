"""Live objects by type, from outside (--types): tests/progs/py/census.py
makes objects of classes nothing else creates and prints how many; every
report's census must count exactly as many, and the growth between two
reports must be what the script added. Objects over 512 B are malloc's:
counted as far as memtrace saw them allocated. With --python-objects, the
types name the stack that made them."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import memtrace_cmd, read_reports, wait_for_line
from test_python import INTERPRETERS, need

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "progs", "py", "census.py")
CLASSES = ("LeakA", "LeakB", "LeakBytes", "LeakLarge")


def read_counts(stream):
    counts = {}
    for line in wait_for_line(stream, "ready", timeout=60):
        if line.startswith("count "):
            _, name, n = line.split()
            counts[name] = int(n)
    return counts


def reports_with_types(path):
    try:
        return [r for r in read_reports(path) if r.get("types")]
    except (FileNotFoundError, json.JSONDecodeError):
        return []


def wait_reports(path, n, timeout=60):
    deadline = time.monotonic() + timeout
    while len(reports_with_types(path)) < n:
        assert time.monotonic() < deadline, f"fewer than {n} reports with a census"
        time.sleep(0.05)
    return reports_with_types(path)


def by_name(report):
    [t] = report["types"]
    assert t["error"] is None, t
    assert not t["census"]["cut_short"] and t["census"]["pools_changed"] == 0, t["census"]
    rows = {}
    for row in t["types"]:
        # Two types may share a name; these classes are each one type.
        assert row["name"] not in rows or row["name"] not in CLASSES, row
        rows[row["name"]] = row
    return rows


def census_run(tmp_path, python, *options, launch=False):
    """Start census.py (attached to, or launched), take the census of two
    reports around the script's "more"; returns (reports, counts before,
    counts after)."""
    out = tmp_path / "out.json"
    args = ("-q", "-i", "1", "-n", "1", "-o", os.devnull, "--json", str(out),
            "--types=100") + options
    if launch:
        tracer = subprocess.Popen(memtrace_cmd(*args, "--", python, SCRIPT),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        script_in, script_out, proc = tracer.stdin, tracer.stdout, None
    else:
        proc = subprocess.Popen([python, SCRIPT, "--no-large-at-start"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        script_in, script_out = proc.stdin, proc.stdout
    try:
        before = read_counts(script_out)
        if not launch:
            tracer = subprocess.Popen(memtrace_cmd(*args, "-p", str(proc.pid)),
                                      stderr=subprocess.PIPE, text=True)
            wait_for_line(tracer.stderr, "Ctrl-C to stop")
        n = len(wait_reports(out, 1))
        # Right after a report: the next one is a second away, and the
        # script adds its objects in well under that.
        script_in.write("more\n")
        script_in.flush()
        after = read_counts(script_out)
        reports = wait_reports(out, n + 2)
        tracer.send_signal(signal.SIGINT)
        _, err = tracer.communicate(timeout=60)
        assert tracer.returncode == 0, err
    finally:
        if proc:
            proc.kill()
            proc.wait()
        else:
            tracer.kill()
            tracer.wait()
    return reports, n, before, after


@pytest.mark.parametrize("python", INTERPRETERS)
def test_types_counted_exactly_and_their_growth(tmp_path, python):
    need(python)
    reports, n, before, after = census_run(tmp_path, python)
    first, last = by_name(reports[n - 1]), by_name(reports[-1])
    for name in ("LeakA", "LeakB", "LeakBytes"):
        print(f"{name}: memtrace {first[name]['count']} then {last[name]['count']}, "
              f"the script {before[name]} then {after[name]}")
        assert first[name]["count"] == before[name]
        assert last[name]["count"] == after[name]
    # The growth the report says, between two reports, is what was added.
    grown = {name: 0 for name in CLASSES}
    for r in reports[n:]:
        rows = by_name(r)
        for name in CLASSES:
            grown[name] += rows[name]["growth_count"] if name in rows else 0
    for name in CLASSES:
        assert grown[name] == after[name] - before[name], (name, grown)
    # Allocated while traced: the big ones made by "more" only.
    assert last["LeakLarge"]["count"] == after["LeakLarge"] - before["LeakLarge"]
    census = reports[-1]["types"][0]["census"]
    print(f"census: {census}")
    assert census["objects"] > 20000 and census["large_objects"] >= 100


@pytest.mark.parametrize("python", INTERPRETERS[:1] + INTERPRETERS[2:3])
def test_types_counted_in_launch_mode(tmp_path, python):
    """Launched: every allocation is traced, the big objects too."""
    need(python)
    reports, n, before, after = census_run(tmp_path, python, launch=True)
    first, last = by_name(reports[n - 1]), by_name(reports[-1])
    for name in CLASSES:
        assert first[name]["count"] == before[name], name
        assert last[name]["count"] == after[name], name


@pytest.mark.parametrize("python", INTERPRETERS[:1] + INTERPRETERS[2:3])
def test_types_and_stacks_combine(tmp_path, python):
    """--python-objects: each type's objects allocated while traced come
    with the stack that made them: 1000 LeakA from add()'s line."""
    need(python)
    reports, n, before, after = census_run(tmp_path, python, "--python-objects")
    [t] = reports[-1]["types"]
    row = next(r for r in t["types"] if r["name"] == "LeakA")
    assert row["count"] == after["LeakA"]
    site = row["site"]
    assert site, row
    with open(SCRIPT) as f:
        line = next(i for i, l in enumerate(f, 1) if "KEEP_A.extend(" in l)
    assert site["frame"]["file"].endswith("census.py") and site["frame"]["line"] == line, site
    assert site["count"] == after["LeakA"] - before["LeakA"], site


def test_unreadable_interpreter_is_said(tmp_path):
    """A Python whose census cannot be taken (3.10: not supported) says so
    and is traced natively, never a crash."""
    from test_python import pyenv_python
    python = pyenv_python(10)
    need(python)
    out = tmp_path / "out.json"
    proc = subprocess.Popen([python, SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        read_counts(proc.stdout)
        tracer = subprocess.run(memtrace_cmd("-q", "-d", "1", "--types", "--json", str(out),
                                             "-p", str(proc.pid)),
                                capture_output=True, text=True, timeout=60)
        assert tracer.returncode == 0, tracer.stderr
    finally:
        proc.kill()
        proc.wait()
    report = read_reports(out)[-1]
    assert any("not supported" in w for w in report["warnings"])
    assert not report.get("types")
