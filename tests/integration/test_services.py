"""Whole services: the processes a traced process creates (followed with
ptrace, from their first instruction), a cgroup's processes, every process
(-a). Ground truth comes from the programs: spawner and leak_n say which
process leaked what, the gunicorn workers and the multiprocessing script
run tracemalloc or count their own leaks."""
import glob
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import final_report, memtrace_cmd, prog, read_reports, wait_for_line

HERE = os.path.dirname(os.path.abspath(__file__))
APP_DIR = os.path.join(HERE, "py")


def run_traced(out, *args, timeout=120):
    """memtrace -q -n 0 --json OUT ARGS..., to its end."""
    p = subprocess.run(memtrace_cmd("-q", "-n", "0", "--json", str(out), *args),
                       capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, p.stderr
    return final_report(out), p.stderr


def counts_by_pid(report, size):
    """{pid: live allocations of exactly `size` bytes}, from each stack's
    per-process shares (one stack may hold several processes: the same
    code leaking the same in each, or different sizes in different ones)."""
    counts = {}
    for s in report["stacks"]:
        for share in s["pids"]:
            if share["count"] and share["bytes"] == size * share["count"]:
                counts[share["pid"]] = counts.get(share["pid"], 0) + share["count"]
    return counts


def process(report, pid):
    found = [p for p in report["processes"] if p["pid"] == pid]
    assert found, f"PID {pid} is not in the header: {report['processes']}"
    return found[0]


@pytest.mark.parametrize("mode", ["exact", "sampled"])
def test_children_are_traced_from_their_first_instruction(tmp_path, mode):
    """spawner: a child that leaks on the line after fork(), a grandchild
    that execs another program, a vfork+exec, a child forked from a
    thread: memtrace -- spawner counts each one's leaks exactly, in its
    own process. Sampled (every block of 1 byte or more is sampled with
    probability 1 - e^-1001, 1 in a double), the parent holds session
    probes and each child gets the usual ones: the counts must not
    change."""
    roles_file, out = tmp_path / "roles", tmp_path / "out.json"
    sampling = ["--sample-bytes", "1"] if mode == "sampled" else []
    report, _ = run_traced(out, *sampling, "--", prog("spawner"), str(roles_file),
                           prog("leak_n"))
    roles = dict(line.split() for line in roles_file.read_text().splitlines())
    roles = {r: int(p) for r, p in roles.items()}
    expected = {("parent", 1001): 10, ("child", 1002): 20, ("grandchild", 1004): 40,
                ("vforked", 1005): 50, ("thread_child", 1006): 60}
    for (role, size), n in expected.items():
        got = counts_by_pid(report, size)
        assert got == {roles[role]: n}, f"{role}: {got}"
    # The grandchild's 30 blocks of 1003 went with its exec.
    assert counts_by_pid(report, 1003) == {}
    assert report["accounting"]["exec_dropped"] == 30
    for role, pid in roles.items():
        p = process(report, pid)
        assert p["exited"] is True
        assert p["traced"] == "yes", p
        if role != "parent":
            assert p["how"] == "born"
    assert process(report, roles["child"])["ppid"] == roles["parent"]
    assert process(report, roles["grandchild"])["ppid"] == roles["child"]
    assert process(report, roles["grandchild"])["exe"] == prog("leak_n")


def test_no_follow_traces_only_the_command(tmp_path):
    roles_file, out = tmp_path / "roles", tmp_path / "out.json"
    report, _ = run_traced(out, "--no-follow", "--", prog("spawner"), str(roles_file),
                           prog("leak_n"))
    roles = dict(line.split() for line in roles_file.read_text().splitlines())
    assert [p["pid"] for p in report["processes"]] == [int(roles["parent"])]
    assert counts_by_pid(report, 1001) == {int(roles["parent"]): 10}
    assert counts_by_pid(report, 1002) == {}


def test_multiprocessing_pool_exact_per_worker(tmp_path):
    """multiprocessing.Pool(2) under memtrace -- python3: each worker's
    leaking line holds exactly the bytearrays that worker made."""
    truth_path, out = tmp_path / "truth.json", tmp_path / "out.json"
    script = os.path.join(APP_DIR, "mp_pool.py")
    report, _ = run_traced(out, "--", "/usr/bin/python3.11", script, str(truth_path))
    truth = json.loads(truth_path.read_text())
    expected = {int(p): n for p, n in truth["counts"].items()}
    assert len(expected) == 2, expected
    # bytearray(123456) asks malloc for 123457 bytes.
    assert counts_by_pid(report, 123457) == expected
    for pid in expected:
        assert process(report, pid)["how"] == "born"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, timeout=10):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return r.read().decode()


def children(pid):
    found = []
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        with open(path) as f:
            found += [int(x) for x in f.read().split()]
    return found


def wait_workers(master, n, exclude=(), timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = [k for k in children(master) if k not in exclude]
        if len(kids) >= n:
            return kids
        time.sleep(0.05)
    raise AssertionError(f"gunicorn {master} has not {n} workers: {children(master)}")


def wait_serving(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return get(port, "/ping", timeout=2)
        except OSError:
            time.sleep(0.1)
    raise AssertionError("gunicorn does not answer")


def gunicorn_argv(port):
    return ["/usr/bin/gunicorn", "--workers", "2", "--worker-class", "sync",
            "--bind", f"127.0.0.1:{port}", "--chdir", APP_DIR, "--log-level", "warning",
            "gunicorn_app:app"]


def leak_lines():
    with open(os.path.join(APP_DIR, "gunicorn_app.py")) as f:
        return {n: text.split("# LEAK ")[1].split(":")[0]
                for n, text in enumerate(f, 1) if "# LEAK " in text}


def innermost_python(stack):
    for f in stack["frames"]:
        if f.get("python"):
            return f
    return None


def load(port, first, n):
    """n leaking requests; the PIDs of the workers that served them."""
    served = set()
    for i in range(first, first + n):
        answer = get(port, f"/work/{i}")
        assert answer.startswith("ok "), answer
        served.add(int(answer.split()[1]))
    return served


def check_service(report, truth_dir, replacement):
    """Each leaking line: memtrace's bytes (over the stacks it reports)
    within 10% of the sum of the workers' tracemalloc truths, in stacks
    merged over the workers. The workers forked at start-up share the
    line's largest stack; a replacement's differs only by where in
    gunicorn's arbiter loop its parent forked it (an outer frame). (The
    line's small stacks are tracemalloc's own tables, growing there.)"""
    app = os.path.join(APP_DIR, "gunicorn_app.py")
    truths = [json.load(open(p)) for p in glob.glob(os.path.join(truth_dir, "worker-*.json"))]
    assert replacement in [t["pid"] for t in truths], "the replacement wrote no truth"
    for line, name in leak_lines().items():
        expected = sum(t["lines"].get(str(line), {}).get("bytes", 0) for t in truths)
        stacks = [s for s in report["stacks"]
                  if (f := innermost_python(s)) and f.get("file") == app and
                  f.get("line") == line]
        got = sum(s["bytes"] for s in stacks)
        assert expected > 1 << 20, (name, expected)
        assert abs(got - expected) <= 0.10 * expected, \
            f"line {line} ({name}): memtrace {got} B, tracemalloc {expected} B"
        assert len(stacks[0]["pids"]) >= 2, stacks[0]["pids"]
        pids = {share["pid"]: share["bytes"] for s in stacks for share in s["pids"]}
        assert len(pids) == len(truths), (pids, [t["pid"] for t in truths])
        assert pids.get(replacement, 0) > 0, (replacement, pids)


def serve_and_kill_a_worker(port, master):
    """Leaking requests until both workers have served (whichever accepts
    first takes a request), one of them killed (SIGTERM: it writes its
    truth as it goes), more requests until its replacement has served
    some: returns the replacement's PID."""
    workers = wait_workers(master, 2)
    first, served = 0, set()
    while not set(workers) <= served and first < 2000:
        served |= load(port, first, 20)
        first += 20
    assert set(workers) <= served, (workers, served)
    victim = workers[0]
    os.kill(victim, signal.SIGTERM)
    replacement = [w for w in wait_workers(master, 2, exclude=(victim,))
                   if w not in workers][0]
    served = set()
    while replacement not in served and first < 4000:
        served |= load(port, first, 20)
        first += 20
    load(port, first, 20)
    return replacement


@pytest.fixture
def truth_dir(tmp_path):
    d = tmp_path / "truth"
    d.mkdir()
    return d


def test_gunicorn_attached_to_the_master(tmp_path, truth_dir):
    """memtrace -p MASTER, gunicorn already serving with 2 sync workers:
    the workers running before memtrace and the replacement of a killed
    one are traced, and each leaking line is one merged stack."""
    port, out = free_port(), tmp_path / "out.json"
    env = dict(os.environ, TRUTH_DIR=str(truth_dir))
    guni = subprocess.Popen(gunicorn_argv(port), env=env)
    try:
        wait_serving(port)
        wait_workers(guni.pid, 2)
        tracer = subprocess.Popen(memtrace_cmd("-q", "-n", "0",
                                               "--json", str(out), "-p", str(guni.pid)),
                                  stderr=subprocess.PIPE, text=True)
        wait_for_line(tracer.stderr, "Ctrl-C to stop", timeout=60)
        replacement = serve_and_kill_a_worker(port, guni.pid)
        tracer.send_signal(signal.SIGINT)
        _, err = tracer.communicate(timeout=120)
        assert tracer.returncode == 0, err
    finally:
        guni.terminate()       # the workers write their truths
        guni.wait(timeout=60)
    report = final_report(out)
    check_service(report, truth_dir, replacement)
    master = process(report, guni.pid)
    assert master["how"] == "named"
    workers = [p for p in report["processes"] if p["ppid"] == guni.pid]
    assert {p["how"] for p in workers} == {"child", "born"}, workers


def test_gunicorn_started_by_memtrace(tmp_path, truth_dir):
    """memtrace -- gunicorn: the workers it forks are born traced; memtrace
    ends when gunicorn does."""
    port, out = free_port(), tmp_path / "out.json"
    env = dict(os.environ, TRUTH_DIR=str(truth_dir))
    tracer = subprocess.Popen(memtrace_cmd("-q", "-n", "0", "--json", str(out), "--",
                                           *gunicorn_argv(port)),
                              stderr=subprocess.PIPE, text=True, env=env)
    master = None
    try:
        wait_for_line(tracer.stderr, "Ctrl-C to stop", timeout=60)
        wait_serving(port)
        kids = children(tracer.pid)
        assert len(kids) == 1, kids      # gunicorn, memtrace's child
        master = kids[0]
        wait_workers(master, 2)
        replacement = serve_and_kill_a_worker(port, master)
        os.kill(master, signal.SIGTERM)  # the workers write their truths
        _, err = tracer.communicate(timeout=120)
    finally:
        if tracer.poll() is None:
            tracer.kill()
            tracer.wait()
    assert tracer.returncode == 0, err
    report = final_report(out)
    check_service(report, truth_dir, replacement)
    assert all(p["exited"] for p in report["processes"]), report["processes"]
    born = [p for p in report["processes"] if p["ppid"] == master and p["how"] == "born"]
    assert len(born) == 3, report["processes"]


def current_cgroup_dir():
    mnt = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[fields.index("-") + 1] == "cgroup2":
                mnt = fields[4]
                break
    if not mnt:
        pytest.skip("no cgroup v2 hierarchy mounted")
    with open("/proc/self/cgroup") as f:
        rel = [l.split(":", 2)[2].strip() for l in f if l.startswith("0::")][0]
    return os.path.join(mnt, rel.lstrip("/")), mnt


def test_cgroup_process_moved_in_later(tmp_path):
    """--cgroup on a cgroup the test creates, empty at start: a process
    moved into it afterwards is traced, its leaks counted exactly."""
    parent, mnt = current_cgroup_dir()
    cg = os.path.join(parent, f"memtrace-test-{os.getpid()}")
    os.mkdir(cg)
    out = tmp_path / "out.json"
    leaker = subprocess.Popen([prog("leak_n"), "2222", "77", "--wait"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    tracer = None
    try:
        wait_for_line(leaker.stdout, "ready")
        tracer = subprocess.Popen(memtrace_cmd("-q", "-n", "0", "--json", str(out),
                                               "--cgroup", cg),
                                  stderr=subprocess.PIPE, text=True)
        wait_for_line(tracer.stderr, "Ctrl-C to stop")
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write(str(leaker.pid))
        wait_for_line(tracer.stderr, f"PID {leaker.pid} (leak_n) entered the cgroup: "
                                     "tracing it")
        leaker.stdin.write("go\n")
        leaker.stdin.flush()
        wait_for_line(leaker.stdout, "leaked")
        tracer.send_signal(signal.SIGINT)
        _, err = tracer.communicate(timeout=60)
        assert tracer.returncode == 0, err
    finally:
        if tracer and tracer.poll() is None:
            tracer.kill()
        with open(os.path.join(parent, "cgroup.procs"), "w") as f:
            f.write(str(leaker.pid))
        leaker.kill()
        leaker.wait()
        os.rmdir(cg)
    report = final_report(out)
    assert counts_by_pid(report, 2222) == {leaker.pid: 77}
    assert process(report, leaker.pid)["how"] == "cgroup"


def test_cgroup_that_is_not_one_is_one_clear_line(tmp_path):
    p = subprocess.run(memtrace_cmd("--cgroup", str(tmp_path)), capture_output=True,
                       text=True, timeout=30)
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "is not a cgroup v2 directory" in lines[0]
    assert "cgroup v2 is mounted at" in lines[0]


STATIC_SRC = r"""
#include <stdio.h>
#include <stdlib.h>
static void *volatile sink;
int main(void)
{
    char line[8];
    for (int i = 0; i < 5; i++)
        sink = malloc(4444);
    printf("leaked\n");
    fflush(stdout);
    return fgets(line, sizeof(line), stdin) ? 0 : 0;
}
"""


def test_all_traces_programs_started_later_and_counts_static_ones(tmp_path):
    """-a: a program started after memtrace is traced; a stripped static
    binary started after it is counted as untraceable."""
    src, static = tmp_path / "static.c", tmp_path / "static_leaker"
    src.write_text(STATIC_SRC)
    # Stripped: no symbol says where its malloc is (with symbols, memtrace
    # probes a static program's own allocator).
    subprocess.run(["gcc", "-O1", "-static", "-s", "-o", str(static), str(src)], check=True)
    out = tmp_path / "out.json"
    # Every process on the machine: a large ring, as other work goes on.
    tracer = subprocess.Popen(memtrace_cmd("-q", "-n", "0", "--ringbuf-mb", "256", "--json",
                                           str(out), "-a"),
                              stderr=subprocess.PIPE, text=True)
    procs = []
    try:
        wait_for_line(tracer.stderr, "Ctrl-C to stop", timeout=120)
        leaker = subprocess.Popen([prog("leak_n"), "3333", "55", "--hold"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(leaker)
        wait_for_line(leaker.stdout, "leaked")
        st = subprocess.Popen([str(static)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
        procs.append(st)
        wait_for_line(st.stdout, "leaked")
        tracer.send_signal(signal.SIGINT)
        # Its final report first handles what every process of the machine
        # sent meanwhile: on a machine busy building, a while.
        _, err = tracer.communicate(timeout=900)
        assert tracer.returncode == 0, err
    finally:
        if tracer.poll() is None:
            tracer.kill()
        for p in procs:
            p.kill()
            p.wait()
    report = final_report(out)
    assert counts_by_pid(report, 3333) == {procs[0].pid: 55}
    assert process(report, procs[0].pid)["how"] == "all"
    assert process(report, procs[1].pid)["traced"] == "no"
    assert report["untraceable"].get("static binary", 0) >= 1
    assert counts_by_pid(report, 4444) == {}


def test_all_with_pids_is_one_clear_line():
    p = subprocess.run(memtrace_cmd("-a", "-p", "1"), capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and "-a traces every process" in p.stderr


def test_same_pid_twice_is_traced_once(tmp_path):
    leaker = subprocess.Popen([prog("leak_n"), "1111", "33", "--wait"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    out = tmp_path / "out.json"
    try:
        wait_for_line(leaker.stdout, "ready")
        tracer = subprocess.Popen(memtrace_cmd("-q", "-n", "0", "--json", str(out), "-p",
                                               f"{leaker.pid},{leaker.pid}"),
                                  stderr=subprocess.PIPE, text=True)
        wait_for_line(tracer.stderr, "tracing 1 process")
        leaker.stdin.write("go\n")
        leaker.stdin.flush()
        wait_for_line(leaker.stdout, "leaked")
        tracer.send_signal(signal.SIGINT)
        _, err = tracer.communicate(timeout=60)
        assert tracer.returncode == 0, err
    finally:
        leaker.kill()
        leaker.wait()
    report = final_report(out)
    assert [p["pid"] for p in report["processes"]] == [leaker.pid]
    assert counts_by_pid(report, 1111) == {leaker.pid: 33}


def test_a_process_that_exits_while_memtrace_attaches(tmp_path):
    """-p LIVE,SHORT where SHORT exits within a second: SHORT is reported
    as exited, LIVE is traced (whether SHORT went during the attach or
    just after it)."""
    live = subprocess.Popen([prog("leak_n"), "1212", "12", "--wait"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    short = subprocess.Popen(["/usr/bin/python3.11", "-c", "import time; time.sleep(0.5)"])
    out = tmp_path / "out.json"
    try:
        wait_for_line(live.stdout, "ready")
        tracer = subprocess.Popen(memtrace_cmd("-q", "-n", "0", "--json", str(out),
                                               "--python-objects", "-p",
                                               f"{short.pid},{live.pid}"),
                                  stderr=subprocess.PIPE, text=True)
        wait_for_line(tracer.stderr, "Ctrl-C to stop", timeout=60)
        short.wait(timeout=30)
        live.stdin.write("go\n")
        live.stdin.flush()
        wait_for_line(live.stdout, "leaked")
        tracer.send_signal(signal.SIGINT)
        _, err = tracer.communicate(timeout=60)
        assert tracer.returncode == 0, err
    finally:
        live.kill()
        live.wait()
        short.kill()
        short.wait()
    report = final_report(out)
    assert process(report, short.pid)["exited"] is True
    assert counts_by_pid(report, 1212) == {live.pid: 12}
