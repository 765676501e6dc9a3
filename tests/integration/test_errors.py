"""Bad input gets one clear line on stderr, a non-zero exit, and leaves no
probe behind."""
import os
import subprocess

import pytest

from conftest import memtrace_cmd, memtrace_programs_loaded, prog, ROOT


def run_failing(args, expect, **kw):
    res = subprocess.run(memtrace_cmd(*args), capture_output=True, text=True,
                         timeout=60, **kw)
    lines = res.stderr.strip().splitlines()
    assert res.returncode != 0, res
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    assert lines[0].startswith("memtrace: "), lines
    assert expect in lines[0], lines[0]
    assert memtrace_programs_loaded() == []
    return lines[0]


def free_pid():
    """A PID that no process has."""
    pid_max = int(open("/proc/sys/kernel/pid_max").read())
    for pid in range(pid_max - 1, 1, -1):
        if not os.path.exists(f"/proc/{pid}"):
            return pid
    pytest.skip("no free PID")


def test_pid_that_does_not_exist():
    run_failing(["-p", str(free_pid())], "no process with PID")


def test_kernel_thread():
    # PID 2 is kthreadd on Linux.
    assert "kthreadd" in open("/proc/2/comm").read()
    run_failing(["-p", "2"], "kernel thread")


def build_static(tmp_path):
    """A static program stripped of its symbols: nothing says where its
    malloc is. (One with its symbols is traced: test_allocators.py.)"""
    src = tmp_path / "static.c"
    src.write_text("#include <unistd.h>\nint main(void){ pause(); return 0; }\n")
    exe = tmp_path / "static"
    res = subprocess.run(["gcc", "-static", "-s", "-O1", str(src), "-o", str(exe)],
                         capture_output=True, text=True)
    if res.returncode:
        pytest.skip(f"cannot build a static binary here: {res.stderr}")
    return exe


def test_static_binary_by_pid(tmp_path):
    exe = build_static(tmp_path)
    p = subprocess.Popen([str(exe)])
    try:
        run_failing(["-p", str(p.pid)], "defines malloc")
    finally:
        p.kill()
        p.wait()


def test_static_binary_as_command(tmp_path):
    exe = build_static(tmp_path)
    run_failing(["--", str(exe)], "defines malloc")


def test_not_root():
    # setpriv drops to an unprivileged user and clears capabilities.
    res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                          "--clear-groups", "--inh-caps=-all", "true"],
                         capture_output=True)
    if res.returncode:
        pytest.skip("setpriv cannot drop privileges here")
    res = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                          "--clear-groups", "--inh-caps=-all",
                          *memtrace_cmd("-p", "1")],
                         capture_output=True, text=True, timeout=60)
    lines = res.stderr.strip().splitlines()
    assert res.returncode != 0
    assert len(lines) == 1 and "needs root" in lines[0], lines
    assert memtrace_programs_loaded() == []


def test_command_that_cannot_be_executed(tmp_path):
    run_failing(["--", "/nonexistent/program"], "cannot execute")
    notexec = tmp_path / "data.txt"
    notexec.write_text("not a program\n")
    run_failing(["--", str(notexec)], "cannot execute")
    run_failing(["--", "no-such-command-in-path-xyz"], "cannot execute")


def test_output_path_that_cannot_be_written():
    for opt in ("-o", "--json", "--folded"):
        line = run_failing([opt, "/nonexistent/dir/out", "--", "/bin/true"],
                           "cannot write")
        assert "/nonexistent/dir/out" in line


@pytest.mark.parametrize("args,expect", [
    (["-i", "abc", "-p", "1"], "--interval"),
    (["-i", "0", "-p", "1"], "--interval"),
    (["-d", "-5", "-p", "1"], "--duration"),
    (["-n", "-1", "-p", "1"], "--top"),
    (["-n", "ten", "-p", "1"], "--top"),
    (["--min-age", "x", "-p", "1"], "--min-age"),
    (["--window", "0", "-p", "1"], "--window"),
    (["--stack", "magic", "-p", "1"], "--stack"),
    (["--ringbuf-mb", "3", "-p", "1"], "--ringbuf-mb"),
    (["-p", "12ab"], "-p"),
    (["-p", "0"], "-p"),
    (["--bogus"], "unknown option"),
    (["-p"], "needs a value"),
    ([], "nothing to trace"),
    (["-p", "1", "--", "/bin/true"], "not both"),
])
def test_bad_option_values(args, expect):
    run_failing(args, expect)


def test_help_and_version():
    res = subprocess.run(memtrace_cmd("--help"), capture_output=True, text=True)
    assert res.returncode == 0 and "usage: memtrace" in res.stdout
    res = subprocess.run(memtrace_cmd("--version"), capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.startswith("memtrace ")
