"""Python-aware tracing: memtrace attaches with -p to an already running
script (no restart, nothing injected) and attributes outstanding bytes to
Python lines. Ground truth: tracemalloc, run by the script itself on the
same objects (tests/integration/py/leaks.py), and what the script knows it
leaked."""
import glob
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import memtrace_cmd, read_reports, wait_for_line

SCRIPT = os.path.join(os.path.dirname(__file__), "py", "leaks.py")
MIB = 1 << 20


def pyenv_python(minor):
    root = subprocess.run(["sh", "-c", "pyenv root 2>/dev/null || echo $HOME/.pyenv"],
                          capture_output=True, text=True).stdout.strip()
    found = sorted(glob.glob(f"{root}/versions/3.{minor}.*/bin/python3.{minor}"))
    return found[-1] if found else None


INTERPRETERS = [
    pytest.param("/usr/bin/python3.11", id="debian-3.11"),
    pytest.param(pyenv_python(11), id="pyenv-3.11"),
    pytest.param(pyenv_python(12), id="pyenv-3.12"),
    pytest.param(pyenv_python(13), id="pyenv-3.13"),
]


def need(python):
    if not python or not os.path.exists(python):
        pytest.skip(f"interpreter not installed: {python}")


def trace_script(tmp_path, python, scenario, *options, script=SCRIPT):
    """Run `script` [SCENARIO] TRUTH under python (leaks.py by default),
    attach memtrace -p once it is ready, and return (final report, the
    truth the script wrote)."""
    truth_path, out = tmp_path / "truth.json", tmp_path / "out.json"
    argv = [python, script] + ([scenario] if scenario else []) + [str(truth_path)]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
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
        truth = json.load(f)
    return read_reports(out)[-1], truth


def innermost_python(stack):
    for f in stack["frames"]:
        if f.get("python"):
            return f
    return None


def bytes_by_line(report, filename):
    """Outstanding bytes per line of filename, by each stack's innermost
    Python frame (the line that was running, as tracemalloc counts)."""
    lines = {}
    for s in report["stacks"]:
        # pymalloc's arenas are maps, each holding many objects that
        # tracemalloc counts one by one: compare allocations only.
        if s["allocator"] in ("mmap", "mremap", "brk"):
            continue
        f = innermost_python(s)
        if f and f["file"] == filename:
            lines[f["line"]] = lines.get(f["line"], 0) + s["bytes"]
    return lines


def check_lines_within_10_percent(report, truth):
    ours = bytes_by_line(report, truth["file"])
    big = {int(l): t["bytes"] for l, t in truth["lines"].items() if t["bytes"] >= MIB}
    assert big, f"the scenario leaked no line of 1 MiB: {truth}"
    for line, expected in big.items():
        got = ours.get(line, 0)
        assert abs(got - expected) <= 0.10 * expected, \
            f"line {line}: memtrace {got} B, tracemalloc {expected} B; all: {ours}"
    return big


def leak_line(marker):
    with open(SCRIPT) as f:
        for n, text in enumerate(f, 1):
            if f"# LEAK {marker}" in text:
                return n
    raise AssertionError(marker)


@pytest.mark.parametrize("python", INTERPRETERS)
@pytest.mark.parametrize("scenario", ["cache", "buffers", "closure"])
def test_leaking_lines_match_tracemalloc(tmp_path, python, scenario):
    need(python)
    report, truth = trace_script(tmp_path, python, scenario)
    big = check_lines_within_10_percent(report, truth)
    assert leak_line(scenario) in big
    # The frames read as Python: qualname (file.py:line), with the
    # functions that led there.
    stacks = [s for s in report["stacks"]
              if (f := innermost_python(s)) and f["line"] == leak_line(scenario)]
    names = [f["function"] for f in stacks[0]["frames"] if f.get("python")]
    expected = {"cache": ["handle_request", "scenario_cache", "main", "<module>"],
                "buffers": ["scenario_buffers", "main", "<module>"],
                "closure": ["make_listener", "scenario_closure", "main", "<module>"]}
    assert names == expected[scenario], names


@pytest.mark.parametrize("python", INTERPRETERS)
def test_native_walk_stops_at_the_outermost_python_frame(tmp_path, python):
    """By default a Python stack ends at its outermost Python frame: the
    interpreter's start-up outside it (Py_RunMain ... main, _start) is not
    walked, and the report says so. With --native-all it is, down to
    _start, and everything up to the outermost Python frame is the same
    either way."""
    need(python)
    runs = {}
    for mode, options in (("cut", ()), ("all", ("--native-all",))):
        (tmp_path / mode).mkdir()
        report, _ = trace_script(tmp_path / mode, python, "buffers", *options)
        stacks = [s for s in report["stacks"]
                  if (f := innermost_python(s)) and f["line"] == leak_line("buffers")]
        assert stacks, f"{mode}: no stack of the leaking line"
        runs[mode] = stacks
        said = [w for w in report["warnings"] if "not walked" in w]
        assert bool(said) == (mode == "cut"), report["warnings"]
    for s in runs["cut"]:
        assert s["stack_complete"], s
        assert s["frames"][-1].get("python"), [f.get("function") for f in s["frames"]]
        assert s["frames"][-1]["function"] == "<module>"
    for s in runs["all"]:
        assert s["stack_complete"], s
        assert s["frames"][-1]["function"] == "_start", \
            [f.get("function") for f in s["frames"]]

    def through_outermost_python(stack):
        last = max(i for i, f in enumerate(stack["frames"]) if f.get("python"))
        return [(f.get("function"), f.get("line")) for f in stack["frames"][:last + 1]]

    assert sorted(map(through_outermost_python, runs["cut"]), key=str) == \
        sorted(map(through_outermost_python, runs["all"]), key=str)


@pytest.mark.parametrize("python", INTERPRETERS)
def test_thread_without_gil_gets_its_own_frames(tmp_path, python):
    """A thread mallocs through ctypes, which releases the GIL, while
    another thread spins in Python holding it: every one of those blocks
    is attributed to the allocating thread's function, never the
    spinner's."""
    need(python)
    report, _ = trace_script(tmp_path, python, "gil")
    blocks = [s for s in report["stacks"] if s["bytes"] and
              s["bytes"] == s["count"] * 777777]
    assert sum(s["count"] for s in blocks) == 20
    for s in blocks:
        names = [f["function"] for f in s["frames"] if f.get("python")]
        assert names and names[0] == "leak_without_gil", names
        assert "spin" not in names


def test_unsupported_python_is_said_and_traced_natively(tmp_path):
    python = pyenv_python(10)
    need(python)
    truth_path, out = tmp_path / "truth.json", tmp_path / "out.json"
    script = subprocess.Popen([python, SCRIPT, "buffers", str(truth_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        wait_for_line(script.stdout, "ready")
        tracer = subprocess.Popen(memtrace_cmd("-q", "-n", "0", "--json", str(out),
                                               "-p", str(script.pid)),
                                  stderr=subprocess.PIPE, text=True)
        lines = wait_for_line(tracer.stderr, "Ctrl-C to stop")
        assert any("Python 3.10 is not supported" in l and "native" in l
                   for l in lines), lines
        script.stdin.write("go\n")
        script.stdin.flush()
        wait_for_line(script.stdout, "done")
        tracer.send_signal(signal.SIGINT)
        assert tracer.wait(timeout=60) == 0
    finally:
        script.kill()
        script.wait()
    report = read_reports(out)[-1]
    assert any("not supported" in w for w in report["warnings"])
    assert not [f for s in report["stacks"] for f in s["frames"] if f.get("python")]
    assert report["totals"]["outstanding_bytes"] >= 80 * 40000


def python_object_blocks(report):
    """Live blocks memtrace attributes to Python's object allocator."""
    return sum(s["count"] for s in report["stacks"]
               if s["allocator"].startswith("PyObject_"))


@pytest.mark.parametrize("python", INTERPRETERS)
def test_small_objects_with_python_objects(tmp_path, python):
    """30 000 (int, str) tuples kept alive: with --python-objects, memtrace
    must hold at least 90% of tracemalloc's count of live small blocks."""
    need(python)
    report, truth = trace_script(tmp_path, python, "small", "--python-objects")
    unsupported = [w for w in report["warnings"] if "--python-objects" in w]
    if unsupported:
        # Said, not hidden: this build's allocator cannot be probed yet.
        assert "not traced" in unsupported[0]
        pytest.skip(f"{python}: {unsupported[0]}")
    ours, theirs = python_object_blocks(report), truth["small_blocks"]
    print(f"{python}: memtrace {ours} small blocks, tracemalloc {theirs}: "
          f"{100.0 * ours / theirs:.1f}%")
    assert theirs > 60000
    # At least 90% caught, and nothing counted twice (an object pymalloc
    # hands on to malloc is one block, not two).
    assert 0.9 * theirs <= ours <= 1.1 * theirs, \
        f"memtrace {ours} small blocks, tracemalloc {theirs}"
    # No free was missed: tracemalloc's hooks free their own bookkeeping
    # inside PyObject_Realloc, and those frees are frees like any other.
    assert report["accounting"]["replaced_live"] == 0, report["accounting"]
    # And by line, like the other leaks. (Where pymalloc is inlined, an
    # object whose site does not name its request counts at its block size:
    # the request rounded up to 16 B, at most 15 B more.)
    line = leak_line("small")
    got = bytes_by_line(report, truth["file"]).get(line, 0)
    print(f"{python}: line {line}: memtrace {got} B, tracemalloc "
          f"{truth['lines'][str(line)]['bytes']} B; {report['accounting']['pymalloc']}")
    assert line in check_lines_within_10_percent(report, truth)


KINDS_SCRIPT = os.path.join(os.path.dirname(__file__), "py", "small_kinds.py")


def count_kinds(report, truth):
    """Live pymalloc blocks per line of small_kinds.py, checked against the
    script's own count (sys.getallocatedblocks()) within 2%."""
    ours = {}
    for s in report["stacks"]:
        f = innermost_python(s)
        if s["allocator"].startswith("PyObject_") and f and f["file"] == truth["file"]:
            ours[f["line"]] = ours.get(f["line"], 0) + s["count"]
    for line, blocks in truth["lines"].items():
        got = ours.get(int(line), 0)
        print(f"line {line}: memtrace {got} blocks, pymalloc {blocks}")
        assert blocks >= 19000, truth
        assert abs(got - blocks) <= 0.02 * blocks, \
            f"line {line}: memtrace {got} blocks, pymalloc {blocks}; all: {ours}"
    # An allocation over a live address means a free was missed: only when
    # events were lost (the ring buffer full, counted), and then the report
    # says that its figures may be wrong.
    acct = report["accounting"]
    assert acct["replaced_live"] <= acct["lost_events"], acct
    assert acct["lost_events"] == 0 or report["may_be_wrong"], acct


def test_python_objects_after_exec_into_python(tmp_path):
    """memtrace --python-objects -- env python3.11 SCRIPT: the traced
    process becomes Python only at its exec; pymalloc is probed then (once
    the probes are on, a periodic report says so), and small objects are
    counted as when attaching to a running interpreter."""
    truth_path, out = tmp_path / "truth.json", tmp_path / "out.json"
    # The script talks through memtrace's stdout, which also gets the text
    # report: a file, so that nothing blocks and the script's stdin (kept
    # open until memtrace is done) holds it alive for the final report.
    stdout_path = tmp_path / "stdout.txt"

    def wait_for_stdout(expected, timeout):
        deadline = time.monotonic() + timeout
        while expected not in stdout_path.read_text():
            assert time.monotonic() < deadline, f"never saw {expected!r}"
            time.sleep(0.05)

    with open(stdout_path, "w") as stdout:
        tracer = subprocess.Popen(memtrace_cmd("-q", "-n", "0", "-i", "0.2", "--json",
                                               str(out), "--python-objects", "--",
                                               "/usr/bin/env", "/usr/bin/python3.11",
                                               KINDS_SCRIPT, str(truth_path)),
                                  stdin=subprocess.PIPE, stdout=stdout,
                                  stderr=subprocess.PIPE, text=True)
    try:
        wait_for_stdout("ready", 30)
        deadline = time.monotonic() + 30
        # Reports come every 0.2 s, each with every stack: read only the
        # new ones (parsing the whole file each time grows quadratically).
        seen = 0
        while True:
            reports, seen = new_reports(out, seen)
            if any("probed at its" in w for r in reports for w in r["warnings"]):
                break
            assert time.monotonic() < deadline, "pymalloc never probed after the exec"
            time.sleep(0.1)
        tracer.stdin.write("go\n")
        tracer.stdin.flush()
        wait_for_stdout("done", 120)
        tracer.send_signal(signal.SIGINT)
        assert tracer.wait(timeout=60) == 0, tracer.stderr.read()
    finally:
        tracer.kill()
        tracer.wait()
        tracer.stdin.close()	# the script's too: it ends
    with open(truth_path) as f:
        truth = json.load(f)
    count_kinds(read_reports(out)[-1], truth)


def new_reports(path, offset):
    """The whole report lines written after offset, and the offset after
    them."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    return [json.loads(l) for l in data[:end].splitlines() if l.strip()], offset + end


def read_reports_if_any(path):
    try:
        return read_reports(path)
    except (FileNotFoundError, json.JSONDecodeError):
        return []


@pytest.mark.parametrize("python", INTERPRETERS)
def test_small_objects_of_every_kind_without_tracemalloc(tmp_path, python):
    """tracemalloc's hooks route every allocation through pymalloc's own
    functions; without them, Debian's python3.11 runs the copies of pymalloc
    inlined into its callers. Each line of small_kinds.py keeps 20 000
    objects of one kind (int, str, tuple, float, list, dict, bytes, class
    instance): memtrace must hold, on each line, what pymalloc's own count
    (sys.getallocatedblocks()) says the line added, within 2%."""
    need(python)
    report, truth = trace_script(tmp_path, python, None, "--python-objects",
                                 script=KINDS_SCRIPT)
    assert not [w for w in report["warnings"] if "not traced" in w], report["warnings"]
    print(python)
    count_kinds(report, truth)


DEEP_SCRIPT = """
import sys
sys.setrecursionlimit(1000)
keep = []
def deep(n, size):
    if n == 0:
        keep.append(bytearray(size))
        return
    deep(n - 1, size)
deep(SHALLOW, 3000001)
deep(DEEP, 5000001)
import os
os._exit(0)   # no finalization: both blocks are live at the end
"""


@pytest.mark.parametrize("python", INTERPRETERS)
def test_python_stack_deeper_than_memtrace_records_says_so(tmp_path, python):
    """A Python stack deeper than the 64 frames memtrace records is cut at
    its outer end and says so (stack_complete false, its reason), with the
    64 innermost frames right; a shallower one is whole."""
    need(python)
    out = tmp_path / "out.json"
    script = tmp_path / "deep.py"
    script.write_text(DEEP_SCRIPT.replace("SHALLOW", "30").replace("DEEP", "100"))
    res = subprocess.run(memtrace_cmd("-q", "-n", "0", "-o", os.devnull, "--json", str(out),
                                      "--", python, str(script)),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    stacks = {s["bytes"]: s for s in read_reports(out)[-1]["stacks"]}
    shallow, deep = stacks[3000002], stacks[5000002]   # bytearray(n) asks n + 1
    def py(s):
        return [f["function"] for f in s["frames"] if f.get("python")]
    assert py(shallow) == ["deep"] * 31 + ["<module>"], py(shallow)
    assert shallow["stack_complete"] is True, shallow.get("stack_end")
    assert py(deep) == ["deep"] * 64, py(deep)
    assert deep["stack_complete"] is False
    assert deep["stack_end"] == "deeper than 64 Python frames"


TWO_SCRIPT = """\
import sys
print("ready", flush=True)
sys.stdin.readline()
before = sys.getallocatedblocks()
kept = [(i, str(i)) for i in range(20000)]  # KEPT
after = sys.getallocatedblocks()
print("leaked", after - before, flush=True)
sys.stdin.readline()
"""


def count_two_processes(tmp_path, python, script, line, env):
    """Trace two processes of SCRIPT with -p A,B --python-objects: ({pid:
    blocks it says it made}, {pid: blocks memtrace counts at the line}),
    or None when this build's pymalloc cannot be probed."""
    procs = [subprocess.Popen([python, str(script)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    out = tmp_path / "out.json"
    made = {}
    try:
        for p in procs:
            wait_for_line(p.stdout, "ready")
        tracer = subprocess.Popen(memtrace_cmd("-q", "-n", "0", "--json", str(out),
                                               "--python-objects", "-p",
                                               ",".join(str(p.pid) for p in procs)),
                                  stderr=subprocess.PIPE, text=True, env=env)
        wait_for_line(tracer.stderr, "Ctrl-C to stop", timeout=60)
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        for p in procs:
            made[p.pid] = int(wait_for_line(p.stdout, "leaked")[-1].split()[1])
        tracer.send_signal(signal.SIGINT)
        _, err = tracer.communicate(timeout=60)
        assert tracer.returncode == 0, err
    finally:
        for p in procs:
            p.kill()
            p.wait()
    report = read_reports(out)[-1]
    if [w for w in report["warnings"] if "--python-objects" in w]:
        return None
    ours = {}
    for s in report["stacks"]:
        f = innermost_python(s)
        if s["allocator"].startswith("PyObject_") and f and f["file"] == str(script) \
                and f["line"] == line:
            for share in s["pids"]:
                ours[share["pid"]] = ours.get(share["pid"], 0) + share["count"]
    return made, ours


def test_python_objects_of_two_processes_of_one_interpreter(tmp_path):
    """-p A,B --python-objects on two python3.11 processes: pymalloc's
    sites are found once for the file they share, and each process's
    objects are counted, per process, within 3% of what its own
    sys.getallocatedblocks() says it made. Then again, the sites read back
    from the record the first run left (MEMTRACE_CACHE)."""
    python = "/usr/bin/python3.11"
    need(python)
    script = tmp_path / "two.py"
    script.write_text(TWO_SCRIPT)
    line = next(i for i, l in enumerate(TWO_SCRIPT.splitlines(), 1) if "# KEPT" in l)
    cache = tmp_path / "cache"
    env = dict(os.environ, MEMTRACE_CACHE=str(cache))
    for run in ("scanned", "read back"):
        (tmp_path / run).mkdir()
        got = count_two_processes(tmp_path / run, python, script, line, env)
        if got is None:
            pytest.skip(f"{python}: its pymalloc cannot be probed")
        made, ours = got
        print(f"{run}: made {made}, memtrace {ours}")
        for pid, blocks in made.items():
            assert blocks >= 39000, made
            assert abs(ours.get(pid, 0) - blocks) <= 0.03 * blocks, (run, made, ours)
        assert glob.glob(str(cache / "pymalloc-sites-*")), f"{run}: no record"
