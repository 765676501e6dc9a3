"""Native stacks without frame pointers, checked frame by frame against gdb.

The programs in tests/progs/nofp/ are built -O2 -fomit-frame-pointer and
allocate, with distinctive sizes, at the bottom of a 20-level recursion,
inside a qsort callback, in a thread, and through libstdc++'s operator new.
gdb stops at a breakpoint on malloc for each of those sizes and prints its
backtrace; memtrace, attached to the same program run the same way, must
report the same frames: the same return addresses, in the same order, down
to main, __libc_start_main and _start (or clone3 for the thread).

Both runs have address-space randomisation off (gdb turns it off; the
memtrace run goes through `setarch -R`), so the addresses are comparable.
gdb's inlined frames have no address of their own, and its tail-call frames
are re-created from DWARF call-site data, not found on the stack: both are
left out, as matters of symbolization rather than of the stack walk. The
test programs themselves never tail-call into an allocator.
"""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import memtrace_cmd, prog, read_reports, wait_for_line
from uretprobes import hold_return_probes

GDB_SCRIPT = r"""
set pagination off
set confirm off
set backtrace past-main on
set backtrace past-entry on
handle SIGUSR1 nostop noprint pass
python
import gdb
def memtrace_dump(size):
    f = gdb.newest_frame()
    while f is not None:
        print("FRAME %d %d 0x%x %s" % (size, f.type(), f.pc(), f.name()))
        f = f.older()
end
break main
run
{breaks}
{continues}
kill
"""


def gdb_stacks(exe, sizes):
    """{size: [(frame type, pc, name), ...]} at malloc(size) under gdb."""
    if not shutil.which("gdb"):
        pytest.skip("gdb is not installed")
    breaks = "\n".join(f"break malloc if $rdi == {s}" for s in sizes)
    continues = "\n".join("continue\npython memtrace_dump(int(gdb.parse_and_eval('$rdi')))"
                          for _ in sizes)
    with tempfile.NamedTemporaryFile("w", suffix=".gdb", delete=False) as f:
        f.write(GDB_SCRIPT.format(breaks=breaks, continues=continues))
        script = f.name
    try:
        out = subprocess.run(["gdb", "-nx", "-batch", "-x", script, exe],
                             capture_output=True, text=True, timeout=120).stdout
    finally:
        os.unlink(script)
    stacks = {}
    for line in out.splitlines():
        if line.startswith("FRAME "):
            _, size, ftype, pc, name = line.split(" ", 4)
            stacks.setdefault(int(size), []).append((int(ftype), int(pc, 16), name))
    assert set(stacks) == set(sizes), f"gdb did not stop at every size:\n{out}"
    return stacks


def memtrace_stacks(tmp_path, exe, sizes, return_probes=()):
    """{size: frames} from memtrace's final JSON report, tracing exe
    (started with randomisation off) with -p. With return_probes, those
    functions have uretprobes pending while they run (not memtrace's)."""
    out = tmp_path / "out.json"
    target = subprocess.Popen(["setarch", "-R", exe, "--wait"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    held = []
    try:
        wait_for_line(target.stdout, "ready")
        held = hold_return_probes(target.pid, exe, return_probes)
        tracer = subprocess.Popen(memtrace_cmd("-q", "-n", "0", "--json", str(out),
                                               "-p", str(target.pid)),
                                  stderr=subprocess.PIPE, text=True)
        wait_for_line(tracer.stderr, "Ctrl-C to stop")
        target.stdin.write("go\n")
        target.stdin.flush()
        wait_for_line(target.stdout, "done")
        target.stdin.write("exit\n")
        target.stdin.flush()
        assert target.wait(timeout=60) == 0
        assert tracer.wait(timeout=60) == 0
    finally:
        target.kill()
        for fd in held:
            os.close(fd)
    report = read_reports(out)[-1]
    stacks = {}
    for s in report["stacks"]:
        # The allocation itself: one block of the distinctive size.
        if s["count"] == 1 and s["bytes"] in sizes:
            stacks[s["bytes"]] = s
    assert set(stacks) == set(sizes), [s["bytes"] for s in report["stacks"]]
    assert report["accounting"]["unwind"]["unsupported"] == 0
    return stacks


def demangle(names):
    out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True,
                         text=True).stdout
    return out.splitlines()


def compare(gdb, mt, exe_module):
    inline, tailcall = gdb_frame_types()
    # A tail call leaves no frame on the stack: gdb re-creates it from
    # DWARF call-site data (glibc's qsort jumps to qsort_r), no stack
    # walker can. Leave those out, like inlined frames.
    physical = [f for f in gdb if f[0] not in (inline, tailcall)]

    # memtrace's own frames: the inlined ones have no address of their own.
    frames = [f for f in mt["frames"] if not f.get("inlined")]
    assert mt["stack_complete"] is True, mt.get("stack_end")
    # Frame 0: the allocation function (gdb stops after its prologue).
    assert "malloc" in physical[0][2]
    assert frames[0]["function"] == "malloc"
    # Every caller: the same return address, in the same order, all the way.
    gdb_pcs = [hex(pc) for _, pc, _ in physical[1:]]
    mt_pcs = [f["address"] for f in frames[1:]]
    assert mt_pcs == gdb_pcs, \
        "\n".join(f"gdb {g} {n}" for (_, _, n), g in zip(physical[1:], gdb_pcs)) + \
        "\nmemtrace:\n" + "\n".join(f"{f['address']} {f['function']}" for f in frames[1:])
    # And the program's own functions by the same names.
    ours = [f["function"] for f in frames[1:] if f["module"] == exe_module]
    theirs = [n for (_, _, n), f in zip(physical[1:], frames[1:])
              if f["module"] == exe_module]
    assert [d.split("(")[0] for d in demangle(ours)] == [t.split("(")[0] for t in theirs]
    return [f["function"] for f in frames]


def gdb_frame_types():
    # gdb's Python frame type constants: NORMAL_FRAME 0, DUMMY_FRAME 1,
    # INLINE_FRAME 2, TAILCALL_FRAME 3, SIGTRAMP_FRAME 4.
    return 2, 3


C_SIZES = [20001, 20002, 20003, 20004]


def check_c_stacks(gdb, mt):

    recursion = compare(gdb[20001], mt[20001], "deep")
    assert "main" in recursion
    assert recursion.count("recurse") == 21      # depth 20 down to 0
    assert "__libc_start_main" in recursion and recursion[-1] == "_start"

    sort = compare(gdb[20002], mt[20002], "deep")
    assert sort[1] == "compare_ints" and "qsort_r" in sort   # through libc's qsort

    thread = compare(gdb[20003], mt[20003], "deep")
    assert "thread_main" in thread
    assert "clone3" in gdb[20003][-1][2]     # a thread's outermost frame

    # Through the kernel's signal frame: handler, __restore_rt, then the
    # code raise() was running when the signal came, down to main.
    handler = compare(gdb[20004], mt[20004], "deep")
    assert handler[1] == "on_signal"
    assert 4 in [t for t, _, _ in gdb[20004]]    # gdb saw a SIGTRAMP_FRAME
    assert "signal_sender" in handler and "main" in handler


def test_c_stacks_match_gdb(tmp_path):
    exe = prog("deep")
    check_c_stacks(gdb_stacks(exe, C_SIZES), memtrace_stacks(tmp_path, exe, C_SIZES))


def test_stacks_through_pending_return_probes(tmp_path):
    """Every recurse() frame, and sort_numbers, thread_main and
    signal_sender, have a uretprobe pending (their return addresses on the
    stack are the kernel's trampoline): memtrace must put the real return
    addresses back, and match gdb (run without those probes) exactly."""
    exe = prog("deep")
    probes = ["recurse", "sort_numbers", "thread_main", "signal_sender", "compare_ints"]
    check_c_stacks(gdb_stacks(exe, C_SIZES),
                   memtrace_stacks(tmp_path, exe, C_SIZES, return_probes=probes))


def test_cxx_operator_new_stacks_match_gdb(tmp_path):
    exe = prog("deep_cxx")
    sizes = [30001, 30004]
    gdb = gdb_stacks(exe, sizes)
    mt = memtrace_stacks(tmp_path, exe, sizes)
    for size in sizes:
        frames = compare(gdb[size], mt[size], "deep_cxx")
        assert "main" in frames
        # The caller of operator new is there (bcc's memleak loses it).
        assert mt[size]["frames"][1]["module"].startswith("libstdc++")
        assert demangle([frames[1]])[0].startswith("operator new")
    # Demangled, with the mangled name kept.
    assert ("make_buffer(int)", "_Z11make_bufferi") in \
        [(f["function"], f.get("mangled")) for f in mt[30001]["frames"]]
