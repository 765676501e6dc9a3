"""Memory a program maps itself: anonymous mmap, munmap, mremap and brk,
traced from the kernel's side, per stack.

tests/progs/mapper maps, unmaps, punches holes, remaps and moves the
program break from named functions, and writes what it still holds (its
own ground truth). Each function's stacks must hold exactly that, under
the kind of the call that made them (mmap, mremap, brk).
"""
import os
import subprocess

import pytest

from conftest import final_report, functions, memtrace_cmd, prog, wait_for_line
from test_leaky import load_truth


def check_maps(report, truth):
    for want in truth["maps"]:
        stacks = [s for s in report["stacks"] if want["function"] in functions(s)]
        got = (sum(s["bytes"] for s in stacks), sum(s["count"] for s in stacks))
        assert got == (want["bytes"], want["count"]), \
            f"{want['function']}: memtrace {got}, program says {want}"
        for s in stacks:
            assert s["allocator"] == want["kind"], s
            assert s["frames"][0]["function"] == want["kind"]
            assert s["frames"][0]["module"] == "[syscall]"
            assert "main" in functions(s)
    acct = report["accounting"]
    assert acct["lost_events"] == 0
    assert acct["stacks_not_captured"] == 0
    assert report["may_be_wrong"] is False


def skip_if_kernel_refuses_task_work(stack, env):
    """The mmap lock's way schedules a task work from a tracepoint
    program; some kernels refuse that (6.18.44 here: "sleepable callback
    in a program that is not sleepable"), and memtrace then takes the next
    way. Skip, saying so, only if the verifier's log says that."""
    res = subprocess.run(memtrace_cmd("--bpf-stats", "--stack", stack, "--", "true"),
                         capture_output=True, text=True, timeout=120,
                         env=dict(env, MEMTRACE_DEBUG="1"))
    refusal = [line for line in res.stderr.splitlines()
               if "bpf_task_work" in line and "failed callback verification" in line]
    if refusal:
        pytest.skip("this kernel (%s) refuses the mmap lock's way: %s"
                    % (os.uname().release, refusal[0].strip()))


# The program each way's probes load as, in --bpf-stats.
WAY_PROGRAMS = {"mmap-lock": "map_lock_taken", "syscall-tracepoints": "syscall_tp_exit",
                "raw-tracepoints": "syscall_exit"}


@pytest.mark.parametrize("probes", ["default", "mmap-lock", "syscall-tracepoints",
                                    "raw-tracepoints"])
@pytest.mark.parametrize("stack", ["dwarf", "fp"])
def test_mapped_exact(tmp_path, probes, stack):
    """memtrace -- mapper: exact bytes and ranges per function, whichever
    kernel hooks carry the probes (fentry/fexit on the syscalls where the
    kernel allows them, the mmap lock's tracepoint with a task work at the
    syscall's return, the syscalls' own tracepoints, or the raw syscall
    tracepoints), with either stack walk."""
    truth, out = tmp_path / "truth.json", tmp_path / "out.json"
    env = dict(os.environ)
    if probes != "default":
        env["MEMTRACE_NO_FEXIT"] = "1"
    if probes in ("syscall-tracepoints", "raw-tracepoints"):
        env["MEMTRACE_NO_LOCK_TP"] = "1"
    if probes == "raw-tracepoints":
        env["MEMTRACE_RAW_SYSCALL_TP"] = "1"
    if probes in WAY_PROGRAMS:
        res = subprocess.run(memtrace_cmd("--bpf-stats", "--stack", stack, "--", "true"),
                             capture_output=True, text=True, timeout=120, env=env)
        assert res.returncode == 0, res.stderr
        if probes == "mmap-lock" and WAY_PROGRAMS[probes] not in res.stdout:
            skip_if_kernel_refuses_task_work(stack, env)
        assert WAY_PROGRAMS[probes] in res.stdout + res.stderr, res.stdout + res.stderr
    res = subprocess.run(
        memtrace_cmd("-q", "-n", "0", "--stack", stack, "--json", str(out),
                     "--", prog("mapper"), str(truth)),
        capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    report = final_report(out)
    assert not [w for w in report["warnings"] if "mmap" in w], report["warnings"]
    if stack == "dwarf":
        check_maps(report, load_truth(truth))
        return
    # libc has no frame pointers: the kernel's walk loses the function that
    # called its wrapper, so only the totals per kind can be checked.
    for kind in ("mmap", "mremap", "brk"):
        got = [s for s in report["stacks"] if s["allocator"] == kind]
        want = [m for m in load_truth(truth)["maps"] if m["kind"] == kind]
        assert sum(s["bytes"] for s in got) == sum(m["bytes"] for m in want), (kind, got)
        assert all(s["frames"][0]["module"] == "[syscall]" and len(s["frames"]) > 1
                   for s in got), got
    assert report["accounting"]["stacks_not_captured"] == 0


def test_way_that_costs_every_syscall_is_said():
    """Where the mmap probes end up on the syscalls' tracepoints (the
    kernel refused fentry/fexit and the mmap lock's way, or they were
    skipped), every syscall on the machine pays while memtrace runs, and
    memtrace says so in one line at start; on the cheaper ways it says
    nothing of the kind."""
    for env in ({}, {"MEMTRACE_NO_FEXIT": "1", "MEMTRACE_NO_LOCK_TP": "1"}):
        env = dict(os.environ, **env)
        stats = subprocess.run(memtrace_cmd("--bpf-stats", "--", "true"), capture_output=True,
                               text=True, timeout=120, env=env)
        assert stats.returncode == 0, stats.stderr
        res = subprocess.run(memtrace_cmd("-o", "/dev/null", "--", "true"),
                             capture_output=True, text=True, timeout=120, env=env)
        assert res.returncode == 0, res.stderr
        said = [line for line in res.stderr.splitlines() if "slow path" in line]
        if "syscall_tp_exit" in stats.stdout:
            assert len(said) == 1, res.stderr
        else:
            assert said == [], res.stderr


@pytest.mark.parametrize("probes", ["default", "syscall-tracepoints"])
def test_mapped_threads(tmp_path, probes):
    """memtrace -- mapper --threads: four threads map and unmap 64 KiB
    blocks at the same time, 2,000 calls, each result read where its own
    thread returns; exactly the 12 blocks they keep are theirs, and none
    is lost."""
    truth, out = tmp_path / "truth.json", tmp_path / "out.json"
    env = dict(os.environ)
    if probes != "default":
        env.update(MEMTRACE_NO_FEXIT="1", MEMTRACE_NO_LOCK_TP="1")
    res = subprocess.run(
        memtrace_cmd("-q", "-n", "0", "--json", str(out), "--",
                     prog("mapper"), "--threads", str(truth)),
        capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    report, want = final_report(out), load_truth(truth)
    check_maps(report, want)
    for t in want["thread_maps"]:
        stacks = [s for s in report["stacks"] if t["function"] in functions(s)]
        got = (sum(s["bytes"] for s in stacks), sum(s["count"] for s in stacks))
        assert got == (t["bytes"], t["count"]), (got, t)
        assert all(s["allocator"] == t["kind"] for s in stacks), stacks


def test_mapped_exact_while_sampling(tmp_path):
    """memtrace --sample-bytes 64 MiB -- mapper --mallocs: nearly every
    malloc goes unsampled, and with session uprobes its return is not even
    trapped, so its depth cannot tell the heap's own brk and mmap calls
    from the program's. They must still not count as the program's: the
    mapped memory is exactly what mapper says it mapped."""
    truth, out = tmp_path / "truth.json", tmp_path / "out.json"
    res = subprocess.run(
        memtrace_cmd("-q", "-n", "0", "--json", str(out), "--sample-bytes", "67108864",
                     "--", prog("mapper"), "--mallocs", str(truth)),
        capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    report, want = final_report(out), load_truth(truth)
    check_maps(report, want)
    mapped = [s for s in report["stacks"] if s["allocator"] in ("mmap", "mremap", "brk")]
    assert sum(s["bytes"] for s in mapped) == sum(m["bytes"] for m in want["maps"]), \
        [(s["allocator"], s["bytes"], functions(s)[:6]) for s in mapped]
    assert report["accounting"]["maps_in_allocator"] > 0, report["accounting"]


def test_mapped_attach(tmp_path):
    """memtrace -p on a running mapper."""
    truth, out = tmp_path / "truth.json", tmp_path / "out.json"
    target = subprocess.Popen([prog("mapper"), "--wait", str(truth)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        wait_for_line(target.stdout, "ready")
        tracer = subprocess.Popen(
            memtrace_cmd("-q", "-n", "0", "--json", str(out), "-p", str(target.pid)),
            stderr=subprocess.PIPE, text=True)
        wait_for_line(tracer.stderr, "Ctrl-C to stop")
        target.stdin.write("go\n")
        target.stdin.flush()
        assert target.wait(timeout=60) == 0
        assert tracer.wait(timeout=60) == 0, tracer.stderr.read()
    finally:
        target.kill()
    check_maps(final_report(out), load_truth(truth))


def kernel_btf_opens(tmp_path, env):
    """How often memtrace --bpf-stats -- true opens the kernel's whole BTF
    (strace), and what it printed."""
    log = tmp_path / "strace.txt"
    # LeakSanitizer (the sanitizer build the tests run) stops with a fatal
    # error under ptrace; the leak check is the other tests' business.
    asan = ":".join(o for o in [env.get("ASAN_OPTIONS", ""), "detect_leaks=0"] if o)
    res = subprocess.run(["strace", "-f", "-qq", "-e", "trace=openat", "-o", str(log)] +
                         memtrace_cmd("--bpf-stats", "--", "true"),
                         capture_output=True, text=True, timeout=120,
                         env=dict(env, ASAN_OPTIONS=asan))
    assert res.returncode == 0, res.stderr
    return log.read_text().count('"/sys/kernel/btf/vmlinux"'), res.stdout


@pytest.mark.skipif(not os.path.exists("/usr/bin/strace"), reason="strace is not installed")
def test_syscall_tracepoints_load_without_the_kernels_whole_btf(tmp_path):
    """The mmap lock's way calls a kfunc, for which libbpf reads the
    kernel's whole BTF (5.5 MB); the syscalls' tracepoints load from an
    object of their own, which the types the build cut from this kernel
    serve. Positive control: MEMTRACE_KERNEL_BTF=full does read it."""
    env = dict(os.environ, MEMTRACE_NO_FEXIT="1", MEMTRACE_NO_LOCK_TP="1")
    opens, stats = kernel_btf_opens(tmp_path, env)
    assert "syscall_tp_exit" in stats, stats
    assert opens == 0
    opens, _ = kernel_btf_opens(tmp_path, dict(env, MEMTRACE_KERNEL_BTF="full"))
    assert opens >= 1
