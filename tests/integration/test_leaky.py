"""memtrace against tests/progs/leaky, whose leaks are known exactly.

leaky writes its own ground truth (what it leaked, counted as it ran); the
final JSON report must show exactly those outstanding bytes and counts, on
stacks whose frames name the leaking functions, and nothing else beyond
ALLOWANCE_BYTES of libc's own start-up allocations (stdio buffers, thread
bookkeeping) that are never freed.
"""
import json
import os
import signal
import subprocess

import pytest

from conftest import (final_report, functions, memtrace_cmd,
                      memtrace_programs_loaded, prog, read_reports,
                      wait_for_line)

# libc's own allocations that a program never frees: the stdout buffer
# (4 KiB on a pipe), pthread and dynamic-loader bookkeeping. Documented in
# the README.
ALLOWANCE_BYTES = 16 * 1024


def load_truth(path):
    with open(path) as f:
        return json.load(f)


def direct_caller(stack):
    """The function that called the allocator: frames[0] is the allocator."""
    return stack["frames"][1]["function"] if len(stack["frames"]) > 1 else None


def check_leaks(report, truth, first_line_seen, allocator_module="libc"):
    """first_line_seen: whether main's first-line 777 B must be in the
    report (True), must not be (False), or may be (None).
    allocator_module: how the module of the allocation functions'
    frames starts (another allocator than glibc's: tests/integration/
    test_allocators.py)."""
    leak_functions = {leak["function"] for leak in truth["leaks"]}
    accounted = 0

    for leak in truth["leaks"]:
        stacks = [s for s in report["stacks"]
                  if direct_caller(s) == leak["function"]]
        assert stacks, f"no stack names {leak['function']}"
        got_bytes = sum(s["bytes"] for s in stacks)
        got_count = sum(s["count"] for s in stacks)
        assert (got_bytes, got_count) == (leak["bytes"], leak["count"]), \
            f"{leak['function']}: memtrace {got_bytes} B in {got_count}, " \
            f"program says {leak['bytes']} B in {leak['count']}"
        assert {s["allocator"] for s in stacks} == {leak["allocator"]}
        for s in stacks:
            assert s["frames"][0]["function"] == leak["allocator"]
            assert s["frames"][0]["module"].startswith(allocator_module)
            # Frame pointers walk leaky's own frames: the thread function
            # calls the leaking one.
            assert "thread_main" in functions(s), functions(s)
        accounted += got_bytes

    first = [s for s in report["stacks"]
             if direct_caller(s) == "main" and s["allocator"] == "malloc"]
    if first_line_seen is None and first:
        first_line_seen = True  # may be seen (made as memtrace attaches)
    if first_line_seen:
        assert [(s["bytes"], s["count"]) for s in first] == [(777, 1)]
        accounted += 777
    elif first_line_seen is False:
        assert first == [], "an allocation made before attach was reported"

    # Everything leaky did not leak on purpose was freed: no stack through
    # churn() (malloc, calloc, realloc moves/in place/to 0, realloc(NULL),
    # reallocarray, posix_memalign, aligned_alloc, memalign, valloc,
    # pvalloc, malloc(0)) may hold anything.
    churn = [s for s in report["stacks"] if "churn" in functions(s)]
    assert churn == [], f"freed allocations reported as outstanding: {churn}"

    # Launched, memtrace sees the libraries' constructors too (the process
    # is stopped before any of its code runs): what they keep for good
    # (libstdc++'s exception pool, 71 KiB, where the allocator pulls in
    # libstdc++) is theirs, not leaky's.
    others = [s for s in report["stacks"]
              if direct_caller(s) not in leak_functions
              and "_dl_init" not in functions(s)
              and not (first_line_seen and direct_caller(s) == "main"
                       and s["allocator"] == "malloc")]
    accounted += sum(s["bytes"] for s in report["stacks"] if "_dl_init" in functions(s)
                     and direct_caller(s) not in leak_functions)
    other_bytes = sum(s["bytes"] for s in others)
    assert other_bytes <= ALLOWANCE_BYTES, \
        f"{other_bytes} B outside the known leaks: {others}"
    assert report["totals"]["outstanding_bytes"] == accounted + other_bytes
    assert report["stacks_total"] == len(report["stacks"]), "use -n 0"

    acct = report["accounting"]
    assert acct["lost_events"] == 0
    assert acct["returns_without_entry"] == 0
    assert acct["stacks_not_captured"] == 0
    assert acct["replaced_live"] == 0
    assert report["may_be_wrong"] is False


@pytest.mark.parametrize("links", ["uprobe-events", "multi-uprobe", "uprobe-each"])
def test_launch_mode_exact(tmp_path, links):
    """memtrace -- leaky: exact leaks, and main's first line is seen, with
    each way of attaching: tracefs uprobe events (the default), and the
    fallbacks, multi-uprobe links and one uprobe per probe (kernels
    without uprobe events, or without multi-uprobe links)."""
    truth, out = tmp_path / "truth.json", tmp_path / "out.json"
    env = dict(os.environ)
    if links != "uprobe-events":
        env["MEMTRACE_NO_UPROBE_EVENTS"] = "1"
    if links == "uprobe-each":
        env["MEMTRACE_NO_UPROBE_MULTI"] = "1"
    res = subprocess.run(
        memtrace_cmd("-q", "-n", "0", "--json", str(out), "--",
                     prog("leaky"), str(truth)),
        capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    report = final_report(out)
    check_leaks(report, load_truth(truth), first_line_seen=True)
    assert report["processes"][0]["exited"] is True
    assert memtrace_programs_loaded() == []


def attach_to_leaky(tmp_path, env=None, options=("-q",), tracer_env=None,
                    while_tracing=None):
    """Start leaky (it waits), attach memtrace -p with options, let leaky
    run and exit: its exit ends the trace by itself. Returns memtrace's
    final report and leaky's truth. while_tracing(tracer) runs once
    memtrace says it traces, before leaky goes on."""
    truth, out = tmp_path / "truth.json", tmp_path / "out.json"
    target = subprocess.Popen([prog("leaky"), "--wait", str(truth)], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        wait_for_line(target.stdout, "ready")
        tracer = subprocess.Popen(
            memtrace_cmd(*options, "-n", "0", "--json", str(out), "-p",
                         str(target.pid)),
            stderr=subprocess.PIPE, text=True, env=tracer_env)
        wait_for_line(tracer.stderr, "Ctrl-C to stop")
        if while_tracing:
            while_tracing(tracer)
        target.stdin.write("go\n")
        target.stdin.flush()
        assert target.wait(timeout=120) == 0
        assert tracer.wait(timeout=60) == 0, tracer.stderr.read()
    finally:
        target.kill()
    return final_report(out), load_truth(truth)


def definitions_and_linked(tracer_pid):
    """memtrace's tracefs uprobe definitions (its group's lines in the
    kernel's uprobe_events), and the uprobes the kernel has one of its BPF
    programs on (bpftool's list of programs on perf events): one each
    when every definition got its program."""
    events = "/sys/kernel/tracing/uprobe_events"
    if not os.path.exists(events):
        subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"],
                       check=True)
    with open(events) as f:
        defs = [line for line in f if f":memtrace_{tracer_pid}/" in line]
    out = subprocess.run(["bpftool", "-j", "perf", "show"],
                         capture_output=True, text=True, check=True).stdout
    linked = [e for e in json.loads(out) if e.get("pid") == tracer_pid and
              e.get("fd_type") in ("uprobe", "uretprobe")]
    return len(defs), len(linked)


@pytest.mark.parametrize("arm", ["armed", "not armed", "kernel's own types"])
def test_attach_to_running_process(tmp_path, arm):
    """memtrace -p PID on a process that is already running: its probes
    armed while the programs load (the default: breakpoints first, each
    program linked to its definition afterwards) or attached after
    (MEMTRACE_NO_ARM=1). Either way every definition has its program
    while memtrace traces: an armed one left without would cost the
    process a perf event per hit and see nothing. The third case
    relocates the programs against the kernel's whole BTF, as on a
    kernel the build did not cut the types from (user/kernel_btf.h,
    MEMTRACE_KERNEL_BTF=full), and must find the same leaks."""
    env = dict(os.environ)
    if arm == "not armed":
        env["MEMTRACE_NO_ARM"] = "1"
    if arm == "kernel's own types":
        env["MEMTRACE_KERNEL_BTF"] = "full"
    counted = []
    report, truth = attach_to_leaky(
        tmp_path, tracer_env=env,
        while_tracing=lambda t: counted.append(definitions_and_linked(t.pid)))
    defs, linked = counted[0]
    assert defs > 0 and linked == defs, counted
    check_leaks(report, truth, first_line_seen=False)
    assert memtrace_programs_loaded() == []


def test_sigint_on_live_process_gives_final_report(tmp_path):
    """Ctrl-C while the target still runs: final report, exit 0, and the
    leaks already made are all there."""
    truth, out = tmp_path / "truth.json", tmp_path / "out.json"
    target = subprocess.Popen([prog("leaky"), "--wait", "--hold", str(truth)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        wait_for_line(target.stdout, "ready")
        tracer = subprocess.Popen(
            memtrace_cmd("-n", "0", "-i", "0.5", "--json", str(out), "-p",
                         str(target.pid)),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for_line(tracer.stderr, "Ctrl-C to stop")
        target.stdin.write("go\n")
        target.stdin.flush()
        wait_for_line(target.stdout, "done")
        tracer.send_signal(signal.SIGINT)
        stdout, stderr = tracer.communicate(timeout=60)
        assert tracer.returncode == 0, stderr
        assert target.poll() is None, "the target must still be running"
    finally:
        target.kill()
        target.wait()
    reports = read_reports(out)
    assert reports[-1]["final"] is True
    check_leaks(reports[-1], load_truth(truth), first_line_seen=False)
    assert reports[-1]["processes"][0]["exited"] is False
    assert "final" in stdout
