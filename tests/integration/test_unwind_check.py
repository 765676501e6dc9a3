"""The two stack walks, compared on the same stacks: BPF's (in the probes,
reading the live stack) and user space's (from a snapshot, the path a stack
takes when it runs through code mapped moments before). Both compile the
same step (include/memtrace_unwind_step.h) with their own hooks for memory,
rows and pending return probes; this checks that they agree.

MEMTRACE_UNWIND_CHECK=1 makes the probes send, with every stack they walked
whole, a snapshot of its first frame (registers, the 16 KiB of stack above,
the pending return probes). memtrace walks it again in user space and
compares the frames, how the walk ended and the stack ID with what BPF
stored, and prints at exit:
  memtrace: unwind check: N stacks walked by both, D differ, S past the
  snapshot, F not compared
S counts the user walk running off the end of the 16 KiB copy where BPF
read on (a limit of snapshots, not of the rules).

The programs are those whose stacks the other tests check against gdb and
the programs' own records: a 20-level recursion, a qsort callback in libc,
a thread, a signal handler (through the kernel's signal frame), libstdc++'s
operator new, the same with uretprobes pending on every frame (return
addresses replaced by the kernel's trampoline), a library loaded with
dlopen, JIT code with and without frame pointers, and CPython.
"""
import os
import re
import subprocess

import pytest

from conftest import memtrace_cmd, prog, wait_for_line
from uretprobes import hold_return_probes

CHECK = re.compile(r"unwind check: (\d+) stacks walked by both, (\d+) differ, "
                   r"(\d+) past the snapshot, (\d+) not compared")


def env():
    return dict(os.environ, MEMTRACE_UNWIND_CHECK="1")


def tally(stderr):
    m = CHECK.search(stderr)
    assert m, f"no unwind check line in:\n{stderr}"
    checked, differ, short, failed = map(int, m.groups())
    assert differ == 0, stderr
    return checked, short, failed


def check_launched(argv):
    """memtrace -- argv, every stack walked by both."""
    run = subprocess.run(memtrace_cmd("-q", "-o", "/dev/null", "--", *argv),
                         capture_output=True, text=True, timeout=120, env=env())
    assert run.returncode == 0, run.stderr
    return tally(run.stderr)


def check_attached(exe, return_probes):
    """memtrace -p on exe (started with --wait), with uretprobes pending on
    return_probes while it allocates."""
    target = subprocess.Popen([exe, "--wait"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    held = []
    try:
        wait_for_line(target.stdout, "ready")
        held = hold_return_probes(target.pid, exe, return_probes)
        tracer = subprocess.Popen(memtrace_cmd("-q", "-o", "/dev/null", "-p",
                                               str(target.pid)),
                                  stderr=subprocess.PIPE, text=True, env=env())
        wait_for_line(tracer.stderr, "Ctrl-C to stop")
        target.stdin.write("go\n")
        target.stdin.flush()
        wait_for_line(target.stdout, "done")
        target.stdin.write("exit\n")
        target.stdin.flush()
        assert target.wait(timeout=60) == 0
        stderr = tracer.stderr.read()
        assert tracer.wait(timeout=60) == 0, stderr
    finally:
        target.kill()
        for fd in held:
            os.close(fd)
    return tally(stderr)


def test_c_stacks_walk_the_same_both_ways():
    # deep's four distinctive allocations, and libc's own.
    checked, short, failed = check_launched([prog("deep")])
    assert checked >= 4 and short == 0 and failed == 0
    # With an empty environment the outermost frames sit just below the
    # top of the stack, where the snapshot's copy ends.
    checked, short, failed = check_launched(["/usr/bin/env", "-i", prog("deep")])
    assert checked >= 4 and short == 0 and failed == 0


def test_cxx_stacks_walk_the_same_both_ways():
    checked, short, failed = check_launched([prog("deep_cxx")])
    assert checked >= 2 and short == 0 and failed == 0


def test_pending_return_probes_are_replaced_the_same_both_ways():
    """Every stack of deep's allocations runs through recurse(),
    sort_numbers(), thread_main() or signal_sender(), whose return
    addresses are the trampoline: user space must take the real ones from
    the return instances the snapshot carries, as BPF takes them from the
    kernel's list."""
    probes = ["recurse", "sort_numbers", "thread_main", "signal_sender", "compare_ints"]
    checked, short, failed = check_attached(prog("deep"), probes)
    assert checked >= 4 and short == 0 and failed == 0


def test_dlopen_and_jit_stacks_walk_the_same_both_ways():
    # The library's first allocations go through the real snapshot path
    # (walked by BPF up to the unknown PC, finished in user space); those
    # made once memtrace has loaded its table are compared, as many as
    # the race between the two leaves (from none to all but a few).
    checked, short, failed = check_launched([prog("dlopener"), prog("libplugin.so"), "50"])
    assert checked >= 5 and short == 0 and failed == 0
    # JIT code: frame pointers where it keeps them, a stop where not.
    checked, short, failed = check_launched([prog("jit")])
    assert checked >= 4 and short == 0 and failed == 0


def test_python_interpreter_stacks_walk_the_same_both_ways():
    python = "/usr/bin/python3"
    if not os.path.exists(python):
        pytest.skip("no /usr/bin/python3")
    code = "import json\nfor i in range(1500): json.dumps(list(range(i)))\n"
    for argv in ([python, "-c", code], ["/usr/bin/env", "-i", python, "-c", code]):
        checked, short, failed = check_launched(argv)
        # Deep interpreter stacks can outgrow the 16 KiB copy: those
        # are counted apart, and are few.
        assert checked >= 10000 and short * 1000 <= checked and failed == 0
