"""Shared helpers for the integration tests: they run the real memtrace
binary, which loads real BPF programs, against real test programs.

Ground truth never comes from memtrace: the test programs write what they
allocated and leaked themselves.
"""
import glob
import json
import os
import re
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MEMTRACE = os.path.join(ROOT, os.environ.get("MEMTRACE", "build/memtrace"))
PROGS = os.path.join(ROOT, "build", "progs")


@pytest.fixture(autouse=True, scope="session")
def _own_cache_dir(tmp_path_factory):
    """memtrace keeps pymalloc's sites between runs (MEMTRACE_CACHE): the
    tests keep theirs in a directory of their own, so that they write
    nothing into the machine's cache and start from none."""
    os.environ["MEMTRACE_CACHE"] = str(tmp_path_factory.mktemp("memtrace-cache"))
    yield


def prog(name):
    path = os.path.join(PROGS, name)
    if not os.path.exists(path):
        pytest.fail(f"{path} is not built: run make first")
    return path


def memtrace_cmd(*args):
    return [MEMTRACE, *args]


def read_reports(path):
    """Every JSON report in a --json file, in order."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def final_report(path):
    reports = read_reports(path)
    assert reports, f"no report in {path}"
    assert reports[-1]["final"] is True, "the last report is not the final one"
    return reports[-1]


def functions(stack):
    """The functions of the stack's own frames: without the frames the
    compiler inlined into them (which only show more of the same stack)."""
    return [fr["function"] for fr in stack["frames"] if not fr.get("inlined")]


def stacks_naming(report, function):
    return [s for s in report["stacks"] if function in functions(s)]


def held_program_ids():
    """IDs of BPF programs some live process holds an fd to (a program or
    a link fd: both show prog_id in fdinfo)."""
    held = set()
    for fdinfo in glob.glob("/proc/[0-9]*/fdinfo/*"):
        try:
            with open(fdinfo) as f:
                text = f.read()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("prog_id:"):
                held.add(int(line.split()[1]))
    return held


def memtrace_program_names():
    """Every BPF program memtrace loads: the function after each SEC("...")
    in bpf/*.bpf.c, so that a program added there is checked too. Both as
    written and cut to the kernel's 15 characters (bpftool before 7.0
    shows only those)."""
    names = set()
    for src in glob.glob(os.path.join(ROOT, "bpf", "*.bpf.c")):
        with open(src) as f:
            text = f.read()
        names.update(re.findall(
            r'^SEC\("[^"]*"\)\s*\n\s*int\s+(?:BPF_\w+\(\s*)?(\w+)', text, re.M))
    assert {"alloc_enter", "free_enter", "pymalloc_site"} <= names, names
    return names | {n[:15] for n in names}


def memtrace_programs_loaded(grace_s=5):
    """memtrace's BPF programs still loaded in the kernel that no live
    process holds: left behind. (Another memtrace running on the machine
    holds its own.) The kernel frees a program asynchronously after its
    last fd closes, so allow a grace period before calling one left."""
    names = memtrace_program_names()
    deadline = time.monotonic() + grace_s
    while True:
        out = subprocess.run(["bpftool", "-j", "prog", "list"],
                             capture_output=True, text=True, check=True).stdout
        left = [p for p in json.loads(out) if p.get("name") in names]
        if left:
            held = held_program_ids()
            left = [p for p in left if p["id"] not in held]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def wait_for_line(stream, expected, timeout=30):
    """Read lines from a pipe until one contains `expected`."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if expected in line:
            return seen
    raise AssertionError(f"never saw {expected!r}; got {seen!r}")
