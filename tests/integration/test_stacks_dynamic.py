"""Stacks through code mapped after memtrace attached: a library loaded
with dlopen, and JIT-style code in an anonymous mapping with no unwind
table. Ground truth: the programs' own frames (their functions, the return
addresses they print) and the counts they leak."""
import json
import os
import subprocess
import time

import pytest

from conftest import memtrace_cmd, prog, read_reports, wait_for_line


def reports_so_far(path):
    """The periodic reports written so far (the last line may be partial)."""
    try:
        with open(path) as f:
            lines = f.read().split("\n")[:-1]
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


def run_attached(tmp_path, argv, settled=None, options=()):
    """Start argv (it prints "ready" and waits), attach memtrace -p, let it
    work, and return (its stdout lines, memtrace's final report). With
    settled, the program is told to exit only once a periodic report
    satisfies settled(report)."""
    out = tmp_path / "out.json"
    target = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        wait_for_line(target.stdout, "ready")
        tracer = subprocess.Popen(memtrace_cmd("-q", "-n", "0", "-i", "0.2", "--json",
                                               str(out), *options, "-p", str(target.pid)),
                                  stderr=subprocess.PIPE, text=True)
        wait_for_line(tracer.stderr, "Ctrl-C to stop")
        target.stdin.write("go\n")
        target.stdin.flush()
        lines = wait_for_line(target.stdout, "done")
        deadline = time.monotonic() + 30
        while settled and not any(settled(r) for r in reports_so_far(out)):
            assert time.monotonic() < deadline, "memtrace never caught up"
            time.sleep(0.1)
        target.stdin.write("exit\n")
        target.stdin.flush()
        assert target.wait(timeout=60) == 0
        assert tracer.wait(timeout=60) == 0
    finally:
        target.kill()
    return lines, read_reports(out)[-1]


def functions(stack):
    return [f["function"] for f in stack["frames"] if not f.get("inlined")]


def leaked_blocks(report):
    return [s for s in report["stacks"] if s["bytes"] == s["count"] * 50001]


def test_dlopen_after_attach_gets_complete_stacks(tmp_path):
    n = 200
    # The program stays until memtrace has seen all its leaks, so after the
    # mapping change: a process that exits within the moment memtrace takes
    # to read its mappings leaves nothing in /proc to say what the library
    # was (see README, "Mapping changes").
    lines, report = run_attached(
        tmp_path, [prog("dlopener"), prog("libplugin.so"), str(n), "--wait"],
        settled=lambda r: sum(s["count"] for s in leaked_blocks(r)) == n)
    assert f"leaked {n}\n" in lines
    leaks = leaked_blocks(report)
    # Every leaked block is accounted for.
    assert sum(s["count"] for s in leaks) == n
    plugin = [s for s in leaks if "plugin_store" in functions(s)]
    # Every leaked block, all on complete stacks naming the library's
    # functions, from the very first one made after the dlopen.
    assert sum(s["count"] for s in plugin) == n, \
        [(s["count"], functions(s), s.get("stack_end")) for s in leaks]
    assert sum(s["bytes"] for s in plugin) == n * 50001
    for s in plugin:
        assert s["stack_complete"] is True, s.get("stack_end")
        names = functions(s)
        assert names[:4] == ["malloc", "plugin_store", "plugin_leak", "load_and_run"], names
        assert "main" in names and names[-1] == "_start"
        assert s["frames"][1]["module"] == "libplugin.so"
    assert report["accounting"]["unwind"]["unsupported"] == 0


def test_dlopen_then_exit_at_once_is_held_for_its_mappings(tmp_path):
    """The same program exiting the moment it has leaked: memtrace follows
    it (ptrace) and holds it at its exit until its events are handled, the
    library's mapping read among them, so no stack ends in [unknown]."""
    n = 200
    lines, report = run_attached(
        tmp_path, [prog("dlopener"), prog("libplugin.so"), str(n), "--wait"])
    assert f"leaked {n}\n" in lines
    plugin = [s for s in leaked_blocks(report) if "plugin_store" in functions(s)]
    assert sum(s["count"] for s in plugin) == n, \
        [(s["count"], functions(s), s.get("stack_end")) for s in leaked_blocks(report)]
    for s in plugin:
        assert s["stack_complete"] is True, s.get("stack_end")
        assert s["frames"][1]["module"] == "libplugin.so"
    # Not held (--no-follow: no ptrace), the process is gone before its
    # maps are read: the same leaks, on stacks said to be incomplete,
    # never under another name.
    _, report = run_attached(
        tmp_path, [prog("dlopener"), prog("libplugin.so"), str(n), "--wait"],
        options=("--no-follow",))
    leaks = leaked_blocks(report)
    assert sum(s["count"] for s in leaks) == n
    for s in leaks:
        assert "plugin_store" in functions(s) or s["stack_complete"] is False, s


def test_jit_code_walks_by_frame_pointers_and_never_invents_frames(tmp_path):
    lines, report = run_attached(tmp_path, [prog("jit"), "--wait"])
    jit_base = int([l for l in lines if l.startswith("jit code at")][0].split()[-1], 16)

    def stacks_of(size):
        found = [s for s in report["stacks"] if s["bytes"] == 3 * size]
        assert len(found) == 1, [(s["bytes"], functions(s)) for s in report["stacks"]]
        return found[0]

    # With a frame pointer: JIT frame, then the C caller found again by
    # its table, down to _start.
    with_fp = stacks_of(40001)
    frames = with_fp["frames"]
    assert jit_base <= int(frames[1]["address"], 16) < jit_base + 64
    assert frames[1]["module"] == "[anon]" or frames[1]["function"] is None
    assert functions(with_fp)[2:4] == ["call_jit", "main"]
    assert functions(with_fp)[-1] == "_start"
    assert with_fp["stack_complete"] is True

    # Without one: the walk stops at the JIT frame, says so, and the fake
    # return address 0x1234 never appears.
    without = stacks_of(40002)
    addresses = [int(f["address"], 16) for f in without["frames"]]
    assert jit_base + 64 <= addresses[1] < jit_base + 128
    assert len(addresses) == 2 and 0x1234 not in addresses
    assert without["stack_complete"] is False
    # The first allocation through the new mapping always meets it before
    # memtrace knows it (nothing announces an mmap), so its stack was
    # finished in user space; later ones were walked in BPF. Both ways
    # give one and the same stack (count 3).
    unwind = report["accounting"]["unwind"]
    assert unwind["finished"] >= 1 and unwind["unfinished"] == 0
    assert unwind["fp_end"] >= 1 and unwind["fp_frames"] >= 1
    assert with_fp["count"] == 3 and without["count"] == 3


def build_debuglink_program(tmp_path, keep_debug_file):
    """tests/integration/data/debuglink.c built without .eh_frame for its
    own code, its .debug_frame moved to a separate debug file named by
    .gnu_debuglink (kept or deleted)."""
    src = os.path.join(os.path.dirname(__file__), "data", "debuglink.c")
    exe = tmp_path / "debuglink"
    debug = tmp_path / "debuglink.debug"
    subprocess.run(["gcc", "-O2", "-g", "-fomit-frame-pointer",
                    "-fno-asynchronous-unwind-tables", src, "-o", str(exe)], check=True)
    subprocess.run(["objcopy", "--only-keep-debug", str(exe), str(debug)], check=True)
    subprocess.run(["objcopy", "--strip-debug", f"--add-gnu-debuglink={debug}",
                    str(exe)], check=True, cwd=tmp_path)
    if not keep_debug_file:
        debug.unlink()
    return str(exe)


def test_debug_frame_from_a_separate_debug_file(tmp_path):
    exe = build_debuglink_program(tmp_path, keep_debug_file=True)
    _, report = run_attached(tmp_path, [exe, "--wait"])
    [s] = [s for s in report["stacks"] if s["bytes"] == 60001]
    names = functions(s)
    assert names[:4] == ["malloc", "leaf_alloc", "middle", "main"], names
    assert s["stack_complete"] is True and names[-1] == "_start"


def test_without_the_debug_file_the_walk_stops_and_says_so(tmp_path):
    exe = build_debuglink_program(tmp_path, keep_debug_file=False)
    _, report = run_attached(tmp_path, [exe, "--wait"])
    [s] = [s for s in report["stacks"] if s["bytes"] == 60001]
    assert functions(s) == ["malloc", "leaf_alloc"]
    assert s["stack_complete"] is False
    assert s["stack_end"] == "no unwind table for a frame"
    assert report["accounting"]["unwind"]["no_table"] >= 1


def test_mappings_past_the_limit_are_counted_and_ignored(tmp_path):
    """A process with more executable mappings than the unwinder's list
    holds (256): the rest are left out and counted, in the report."""
    lines, report = run_attached(tmp_path, [prog("many_maps"), "300"])
    # "exec mappings M, uprobes U": U is the kernel's uprobe area, made at
    # the first probe hit, which memtrace sees if it reads the mappings
    # again after that (it does when a walk meets an unknown PC).
    counts = [l for l in lines if l.startswith("exec mappings")][0]
    total, uprobes = map(int, counts.replace(",", "").split()[2::2])
    assert total - uprobes > 256
    unwind = report["accounting"]["unwind"]
    assert total - uprobes - 256 <= unwind["too_many_mappings"] <= total - 256, unwind
    assert unwind["table_full"] == 0
    # The allocation is counted all the same, on whatever stack was seen.
    assert [s for s in report["stacks"] if s["bytes"] == 70001]
