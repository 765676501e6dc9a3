"""Hostile targets: a process memtrace traces (as root) chooses its file
names, its mount namespace, its root directory and what lies at each path.
None of that may hang memtrace, fool it into probing a file the process
does not run, or make it write where it was not asked to.

Every case ends with memtrace exiting by itself within a bound (or on
SIGINT, which must work), the target's code back as its files hold it (no
breakpoint left), and, where the files are real, the figures the program
itself reports (leaky's truth file).
"""
import ctypes
import json
import re
import os
import pathlib
import pwd
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import (memtrace_cmd, memtrace_programs_loaded, prog, read_reports,
                      wait_for_line)
from test_leaky import check_leaks, load_truth

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
LDSO = "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
# Start-up, a report and the exit take well under this on this machine;
# a memtrace blocked in open() or spinning on /dev/zero never ends.
BOUND_S = 30


# --- what every case checks ------------------------------------------------

def code_mappings(pid):
    """(start, end, offset, map_files path) of pid's executable file
    mappings."""
    out = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            fields = line.split(maxsplit=5)
            rng, perms, off, inode = fields[0], fields[1], fields[2], fields[4]
            if "x" not in perms or inode == "0":
                continue
            start, end = (int(x, 16) for x in rng.split("-"))
            out.append((start, end, int(off, 16), f"/proc/{pid}/map_files/{rng}"))
    return out


def assert_no_breakpoints(pid):
    """Every executable file mapping of pid holds what its file holds: a
    uprobe left behind would show as an int3 (0xcc) byte."""
    with open(f"/proc/{pid}/mem", "rb") as mem:
        for start, end, off, path in code_mappings(pid):
            with open(path, "rb") as f:
                f.seek(off)
                want = f.read(end - start)
            mem.seek(start)
            got = mem.read(len(want))
            if got != want:
                at = next(i for i in range(len(got)) if got[i] != want[i])
                raise AssertionError(f"PID {pid}: {path} differs at +{at:#x}: "
                                     f"{got[at]:#04x} in memory, {want[at]:#04x} in the file")


def stop(tracer):
    """End memtrace with SIGINT and return (exit status, stderr); a memtrace
    that does not end within BOUND_S is a failure (and is killed)."""
    if tracer.poll() is None:
        tracer.send_signal(signal.SIGINT)
    try:
        _, err = tracer.communicate(timeout=BOUND_S)
    except subprocess.TimeoutExpired:
        tracer.kill()
        _, err = tracer.communicate()
        raise AssertionError(f"memtrace ignored SIGINT for {BOUND_S} s: {err}")
    return tracer.returncode, err


def wait_started(tracer):
    """memtrace says it is tracing within BOUND_S, or the test fails (a hang
    at start-up)."""
    deadline = time.monotonic() + BOUND_S
    seen = []
    os.set_blocking(tracer.stderr.fileno(), False)
    while time.monotonic() < deadline:
        line = tracer.stderr.readline()
        if line:
            seen.append(line)
            if "Ctrl-C to stop" in line:
                os.set_blocking(tracer.stderr.fileno(), True)
                return seen
            continue
        if tracer.poll() is not None:
            raise AssertionError(f"memtrace exited {tracer.returncode}: {seen}")
        time.sleep(0.05)
    rc, err = stop(tracer)
    raise AssertionError(f"memtrace did not start within {BOUND_S} s: {seen} {err}")


def kill_all(*procs):
    """After a failure too: nothing a test started outlives it (a memtrace
    stuck in open() of a FIFO only dies of SIGKILL)."""
    for p in procs:
        if p is not None and p.poll() is None:
            p.kill()
        if p is not None:
            p.wait()


def pid_inside(wrapper_pid, name):
    """The PID of the process called name that wrapper_pid runs (itself, or
    a descendant: in_container forks into its PID namespace)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        todo = [wrapper_pid]
        while todo:
            p = todo.pop()
            try:
                with open(f"/proc/{p}/comm") as f:
                    if f.read().strip() == name:
                        return p
                with open(f"/proc/{p}/task/{p}/children") as f:
                    todo += [int(c) for c in f.read().split()]
            except OSError:
                pass
        time.sleep(0.05)
    raise AssertionError(f"no {name} under PID {wrapper_pid}")


def trace_leaky(tmp_path, argv, truth, name="leaky", after_ready=None, extra=()):
    """Run argv (leaky --wait --hold TRUTH, perhaps through a wrapper),
    attach memtrace -p, let leaky leak, stop memtrace with SIGINT, check
    that it ends, that nothing is left in leaky's code or in the kernel, and
    return (memtrace's final report, leaky's truth, memtrace's stderr)."""
    out = tmp_path / "out.json"
    tracer = None
    target = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        wait_for_line(target.stdout, "ready")
        pid = pid_inside(target.pid, name)
        if after_ready:
            after_ready(pid)
        tracer = subprocess.Popen(memtrace_cmd("-q", "-n", "0", "--json", str(out),
                                               *extra, "-p", str(pid)),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True)
        started = wait_started(tracer)
        target.stdin.write("go\n")
        target.stdin.flush()
        wait_for_line(target.stdout, "done")
        rc, err = stop(tracer)
        assert rc == 0, "".join(started) + err
        assert_no_breakpoints(pid)
        target.stdin.write("exit\n")
        target.stdin.flush()
        assert target.wait(timeout=BOUND_S) == 0
    finally:
        kill_all(tracer, target)
    assert memtrace_programs_loaded() == []
    return read_reports(out)[-1], load_truth(truth), "".join(started) + err


# --- hostile files ---------------------------------------------------------

def build_leaky(tmp_path, build_id=True, debuglink="leaky.debug"):
    """tests/progs/leaky.c built into tmp_path, with a .gnu_debuglink naming
    debuglink (next to it), which the test then replaces with something
    hostile. Without a build ID, a debuglink candidate is checked by CRC,
    which reads the whole file."""
    exe = tmp_path / "leaky"
    cmd = ["gcc", "-O1", "-g", "-fno-omit-frame-pointer", "-fno-optimize-sibling-calls",
           "-fno-inline", "-pthread", os.path.join(ROOT, "tests/progs/leaky.c"),
           "-o", str(exe)]
    if not build_id:
        cmd.append("-Wl,--build-id=none")
    subprocess.run(cmd, check=True)
    if debuglink:
        (tmp_path / debuglink).write_bytes(b"placeholder")
        subprocess.run(["objcopy", f"--add-gnu-debuglink={debuglink}", str(exe)],
                       check=True, cwd=tmp_path)
        (tmp_path / debuglink).unlink()
    return str(exe)


def plant(path, kind, tmp_path):
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev_zero":
        os.symlink("/dev/zero", path)
    elif kind == "symlink_to_fifo":
        os.mkfifo(tmp_path / "elsewhere.fifo")
        os.symlink(tmp_path / "elsewhere.fifo", path)
    else:
        raise ValueError(kind)


@pytest.mark.parametrize("build_id", [True, False], ids=["build_id", "crc"])
@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "symlink_to_fifo"])
def test_hostile_debuglink_at_start_up(tmp_path, kind, build_id):
    """A FIFO, /dev/zero or a symlink to a FIFO at the name the program's
    .gnu_debuglink gives (any user can put one next to their program)."""
    exe = build_leaky(tmp_path, build_id=build_id)
    plant(tmp_path / "leaky.debug", kind, tmp_path)
    truth = tmp_path / "truth.json"
    report, t, _ = trace_leaky(tmp_path, [exe, "--wait", "--hold", str(truth)], truth)
    check_leaks(report, t, first_line_seen=False)


def build_id_of(path):
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True,
                         check=True).stdout
    return next(line.split()[-1] for line in out.splitlines() if "Build ID" in line)


def test_fifo_at_build_id_paths_in_the_process_mount_namespace(tmp_path):
    """FIFOs at the build-ID debug paths of the program and of libc, in the
    target's own mount namespace (a tmpfs over /usr/lib/debug there):
    memtrace looks for debug files in the process's root too."""
    exe = build_leaky(tmp_path, debuglink=None)
    truth = tmp_path / "truth.json"
    script = "mount -t tmpfs hostile /usr/lib/debug"
    for f in (exe, LIBC, LDSO):
        bid = build_id_of(f)
        d = f"/usr/lib/debug/.build-id/{bid[:2]}"
        script += f" && mkdir -p {d} && mkfifo {d}/{bid[2:]}.debug"
    script += f' && exec "$@"'
    argv = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
            exe, "--wait", "--hold", str(truth)]
    report, t, _ = trace_leaky(tmp_path, argv, truth)
    check_leaks(report, t, first_line_seen=False)


def in_namespace(pid, ops):
    """Do ops in pid's mount namespace, from one process that has loaded
    everything it needs before entering it (the namespace's libc may be a
    FIFO by the second step): ("bind", src, dst) bind-mounts src over dst,
    ("tmpfs", dir) mounts an empty tmpfs there, ("fifo", path) makes a FIFO
    (and its directories)."""
    code = (
        "import ctypes, os, sys\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        f"fd = os.open('/proc/{pid}/ns/mnt', os.O_RDONLY)\n"
        "assert libc.setns(fd, 0x20000) == 0, os.strerror(ctypes.get_errno())\n"
        f"for op, *args in {ops!r}:\n"
        "    if op == 'fifo':\n"
        "        os.makedirs(os.path.dirname(args[0]), exist_ok=True)\n"
        "        os.mkfifo(args[0])\n"
        "        continue\n"
        "    src, dst, fs, flags = (args[0], args[1], None, 4096) if op == 'bind' else \\\n"
        "        ('none', args[0], b'tmpfs', 0)\n"
        "    r = libc.mount(src.encode(), dst.encode(), fs, flags, None)\n"
        "    assert r == 0, (dst, os.strerror(ctypes.get_errno()))\n")
    subprocess.run(["/usr/bin/python3", "-c", code], check=True, timeout=BOUND_S)


def bind_in_namespace(pid, pairs):
    in_namespace(pid, [("bind", src, dst) for src, dst in pairs])


def test_fifo_bind_mounted_over_libc_and_ldso_at_start_up(tmp_path):
    """The target, in a private mount namespace, bind-mounts a FIFO over the
    libc and ld.so it has mapped: the paths lead to FIFOs, map_files to the
    files it runs."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    truth = tmp_path / "truth.json"
    argv = ["unshare", "-m", "--propagation", "private", prog("leaky"), "--wait",
            "--hold", str(truth)]
    report, t, _ = trace_leaky(
        tmp_path, argv, truth,
        after_ready=lambda pid: bind_in_namespace(pid, [(str(fifo), LIBC),
                                                        (str(fifo), LDSO)]))
    check_leaks(report, t, first_line_seen=False)


# --- mid-trace: a library loaded after attach ------------------------------

def plugin_with_debuglink(tmp_path, kind):
    """A copy of libplugin.so whose .gnu_debuglink names something hostile."""
    lib = tmp_path / "libplugin.so"
    shutil.copy(os.path.join(ROOT, "build/progs/libplugin.so"), lib)
    (tmp_path / "libplugin.debug").write_bytes(b"placeholder")
    subprocess.run(["objcopy", "--add-gnu-debuglink=libplugin.debug", str(lib)],
                   check=True, cwd=tmp_path)
    (tmp_path / "libplugin.debug").unlink()
    plant(tmp_path / "libplugin.debug", kind, tmp_path)
    return str(lib)


def trace_dlopener(tmp_path, lib, wrapper=(), after_attach=None):
    out = tmp_path / "out.json"
    tracer = None
    target = subprocess.Popen([*wrapper, prog("dlopener"), lib, "200", "--wait"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        wait_for_line(target.stdout, "ready")
        pid = target.pid
        tracer = subprocess.Popen(memtrace_cmd("-q", "-n", "0", "-i", "0.3", "--json",
                                               str(out), "-p", str(pid)),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True)
        wait_started(tracer)
        if after_attach:
            after_attach(pid)
        target.stdin.write("go\n")
        target.stdin.flush()
        lines = wait_for_line(target.stdout, "done")
        # Periodic reports keep coming: memtrace's loop is not stuck on the
        # library's files.
        deadline = time.monotonic() + BOUND_S
        while True:
            reports = [r for r in read_reports_partial(out)]
            if any(leaked(r) == 200 for r in reports):
                break
            assert time.monotonic() < deadline, "no report shows the library's leaks"
            assert tracer.poll() is None, tracer.stderr.read()
            time.sleep(0.1)
        rc, err = stop(tracer)
        assert rc == 0, err
        assert_no_breakpoints(pid)
        target.stdin.write("exit\n")
        target.stdin.flush()
        assert target.wait(timeout=BOUND_S) == 0
    finally:
        kill_all(tracer, target)
    assert memtrace_programs_loaded() == []
    assert "leaked 200" in "".join(lines)
    return read_reports(out)[-1]


def read_reports_partial(path):
    try:
        with open(path) as f:
            return [json.loads(l) for l in f.read().split("\n")[:-1] if l.strip()]
    except FileNotFoundError:
        return []


def leaked(report):
    return sum(s["count"] for s in report["stacks"]
               if any(fr["function"] == "plugin_leak" for fr in s["frames"]))


@pytest.mark.parametrize("kind", ["fifo", "dev_zero"])
def test_library_with_hostile_debuglink_loaded_mid_trace(tmp_path, kind):
    """A library dlopen'ed after attach whose debuglink is a FIFO (once:
    reports stopped, SIGINT ignored, breakpoints kept until SIGKILL) or
    /dev/zero."""
    report = trace_dlopener(tmp_path, plugin_with_debuglink(tmp_path, kind))
    assert leaked(report) == 200


def test_fifos_in_the_mount_namespace_mid_trace(tmp_path):
    """After attach, the target's namespace gets FIFOs over libc and ld.so
    and at the build-ID debug path of the library it then loads: every file
    memtrace opens for the new mapping (its table, its debug file, its
    symbols, Python detection, which reads every mapped object) is either
    the one mapped or refused without being opened."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    lib = os.path.join(ROOT, "build/progs/libplugin.so")
    bid = build_id_of(lib)
    ops = [("tmpfs", "/usr/lib/debug"),
           ("fifo", f"/usr/lib/debug/.build-id/{bid[:2]}/{bid[2:]}.debug"),
           ("bind", str(fifo), LIBC), ("bind", str(fifo), LDSO)]
    report = trace_dlopener(tmp_path, lib,
                            wrapper=("unshare", "-m", "--propagation", "private"),
                            after_attach=lambda pid: in_namespace(pid, ops))
    assert leaked(report) == 200


# --- chroots and containers -------------------------------------------------

def make_root(tmp_path):
    """A root directory holding leaky, libc and ld.so (copies: other
    inodes than the host's)."""
    root = tmp_path / "root"
    for d in ("usr/lib/x86_64-linux-gnu", "usr/lib64", "usr/bin", "tmp"):
        (root / d).mkdir(parents=True)
    os.symlink("usr/lib", root / "lib")
    os.symlink("usr/lib64", root / "lib64")
    for f in (LIBC, LDSO):
        shutil.copy(f, root / "usr/lib/x86_64-linux-gnu")
    os.symlink("../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
               root / "usr/lib64/ld-linux-x86-64.so.2")
    shutil.copy(prog("leaky"), root / "usr/bin/leaky")
    return root


def test_chroot_with_a_decoy_libc(tmp_path):
    """/proc/PID/maps shows a chrooted process's files from memtrace's root
    ("ROOT/usr/lib/.../libc.so.6"); ROOT + that path, inside the chroot,
    holds a decoy libc. memtrace must probe the libc the process runs."""
    root = make_root(tmp_path)
    decoy = root / str(root).lstrip("/") / "usr/lib/x86_64-linux-gnu"
    decoy.mkdir(parents=True)
    shutil.copy(LIBC, decoy)
    report, truth, err = trace_leaky(
        tmp_path, ["chroot", str(root), "/usr/bin/leaky", "--wait", "--hold",
                   "/tmp/truth.json"], root / "tmp/truth.json")
    check_leaks(report, truth, first_line_seen=False)
    assert f"({root}/usr/lib/x86_64-linux-gnu/libc.so.6)" in err


def test_container_with_its_own_mount_and_pid_namespace(tmp_path):
    """A process in new mount and PID namespaces whose root was pivoted
    (in_container): its maps paths are from its own root, and the host has
    other files at the same paths."""
    root = make_root(tmp_path)
    report, truth, _ = trace_leaky(
        tmp_path, [prog("in_container"), str(root), "/usr/bin/leaky", "--wait", "--hold",
                   "/tmp/truth.json"], root / "tmp/truth.json")
    check_leaks(report, truth, first_line_seen=False)


# --- outputs -----------------------------------------------------------------

def as_nobody(*cmd):
    nobody = pwd.getpwnam("nobody")

    def demote():
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)
    subprocess.run(cmd, check=True, preexec_fn=demote)


@pytest.fixture
def public_dir():
    """A directory like /tmp, that another user can reach: anyone may
    create files there (sticky)."""
    d = tempfile.mkdtemp(prefix="memtrace-public-", dir="/tmp")
    os.chmod(d, 0o1777)
    yield pathlib.Path(d)
    shutil.rmtree(d)


def test_planted_symlinks_at_output_names(tmp_path, public_dir):
    """Another user plants symlinks to a victim file at the final names and
    at the old temporary name (FILE.tmp) of every output, the pictures'
    included: nothing is written through them."""
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    pictures = {"--flamegraph": "out.svg", "--html": "out.html", "--pprof": "out.pb.gz"}
    finals = ["out.folded", "out.json", "out.txt", *pictures.values()]
    planted = [*finals, "out.folded.tmp", "out.json.tmp",
               *(name + ".tmp" for name in pictures.values())]
    for name in planted:
        as_nobody("ln", "-s", str(victim), str(public_dir / name))
    res = subprocess.run(
        memtrace_cmd("-n", "0", "--folded", str(public_dir / "out.folded"), "--json",
                     str(public_dir / "out.json"), "-o", str(public_dir / "out.txt"),
                     *(x for opt, name in pictures.items()
                       for x in (opt, str(public_dir / name))), "--",
                     prog("leaky"), str(tmp_path / "truth.json")),
        capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert victim.read_text() == "precious\n"
    for name in finals:
        p = public_dir / name
        assert not p.is_symlink() and p.stat().st_uid == 0, name
    assert read_reports(public_dir / "out.json")[-1]["final"] is True
    assert "leak_pages" in (public_dir / "out.folded").read_text()
    assert "final report" in (public_dir / "out.txt").read_text()
    assert "<svg" in (public_dir / "out.svg").read_text()
    assert (public_dir / "out.pb.gz").read_bytes()[:2] == b"\x1f\x8b"
    # No temporary file is left behind.
    assert sorted(p.name for p in public_dir.iterdir()) == sorted(planted)


def test_fifo_of_another_user_as_output_is_refused(tmp_path, public_dir):
    """A FIFO another user put at the --json name: memtrace neither blocks
    on it nor writes to whoever reads it."""
    as_nobody("mkfifo", str(public_dir / "out.json"))
    res = subprocess.run(memtrace_cmd("--json", str(public_dir / "out.json"), "--",
                                      "/bin/true"),
                         capture_output=True, text=True, timeout=BOUND_S)
    assert res.returncode == 1
    assert "cannot write --json" in res.stderr and "belongs to user" in res.stderr


def test_dev_full_as_output_exits_non_zero(tmp_path):
    """--json /dev/full: the text report is still written, one line names
    the file that failed, and the exit status is 1."""
    text = tmp_path / "out.txt"
    res = subprocess.run(memtrace_cmd("-n", "0", "-o", str(text), "--json", "/dev/full",
                                      "--", prog("leaky"), str(tmp_path / "truth.json")),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 1
    lines = [l for l in res.stderr.splitlines() if "/dev/full" in l]
    assert lines == ["memtrace: cannot write --json '/dev/full': No space left on device"]
    assert "final report" in text.read_text()


def test_dev_full_as_stdout_exits_non_zero(tmp_path):
    with open("/dev/full", "w") as full:
        res = subprocess.run(memtrace_cmd("--", "/bin/true"), stdout=full,
                             stderr=subprocess.PIPE, text=True, timeout=60)
    assert res.returncode == 1
    assert "cannot write standard output: No space left on device" in res.stderr


def test_failed_start_leaves_existing_outputs_alone(tmp_path):
    """A mistyped PID: -o, --json, --folded and the pictures' files from an
    earlier run stay as they were, and nothing else is left in their
    directory."""
    files = {name: f"old {name}\n" for name in ("out.txt", "out.json", "out.folded",
                                                 "out.svg", "out.html", "out.pb.gz")}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    res = subprocess.run(memtrace_cmd("-o", str(tmp_path / "out.txt"), "--json",
                                      str(tmp_path / "out.json"), "--folded",
                                      str(tmp_path / "out.folded"), "--flamegraph",
                                      str(tmp_path / "out.svg"), "--html",
                                      str(tmp_path / "out.html"), "--pprof",
                                      str(tmp_path / "out.pb.gz"), "-p", "4194303"),
                         capture_output=True, text=True, timeout=BOUND_S)
    assert res.returncode == 1 and "no process" in res.stderr
    for name, text in files.items():
        assert (tmp_path / name).read_text() == text
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files)


# --- counters that do not cry wolf -------------------------------------------

def test_calls_in_flight_at_attach_are_not_missed_allocations():
    """Attaching to a busy process: the calls entered before the entry
    probes went live return without an entry, and are counted apart."""
    # churn runs ~18 ns a pair untraced: 10^10 pairs outlive any attach and
    # exit (10^8 ended before the check once exit took a second).
    for attempt in range(3):
        target = subprocess.Popen([prog("churn"), "10000000000", "2"],
                                  stdout=subprocess.DEVNULL)
        try:
            time.sleep(0.3)
            res = subprocess.run(memtrace_cmd("-q", "-d", "1", "--json", "/dev/stdout",
                                              "-p", str(target.pid)),
                                 capture_output=True, text=True, timeout=BOUND_S)
            assert res.returncode == 0, res.stderr
            report = json.loads(res.stdout.splitlines()[-1])
            assert_no_breakpoints(target.pid)
        finally:
            target.kill()
            target.wait()
        acct = report["accounting"]
        assert acct["returns_without_entry"] == 0, acct
        assert report["may_be_wrong"] is False


def run_simple(tmp_path, exe):
    """exe prints "ready", waits, allocates, prints "done", waits."""
    out = tmp_path / "out.json"
    tracer = None
    target = subprocess.Popen([exe], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        wait_for_line(target.stdout, "ready")
        tracer = subprocess.Popen(memtrace_cmd("-q", "-n", "0", "--json", str(out), "-p",
                                               str(target.pid)),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True)
        wait_started(tracer)
        target.stdin.write("go\n")
        target.stdin.flush()
        wait_for_line(target.stdout, "done")
        rc, err = stop(tracer)
        assert rc == 0, err
        assert_no_breakpoints(target.pid)
        target.stdin.write("exit\n")
        target.stdin.flush()
        target.wait(timeout=BOUND_S)
    finally:
        kill_all(tracer, target)
    return read_reports(out)[-1]


def test_garbage_cfi_never_makes_a_complete_stack(tmp_path):
    """bad_cfi's CFI sends the unwinder 2 KiB up the stack, onto zeros: the
    walk must say it did not reach the outermost frame."""
    report = run_simple(tmp_path, prog("bad_cfi"))
    [s] = [s for s in report["stacks"] if s["bytes"] == 64 * 77777]
    assert [f["function"] for f in s["frames"][:2]] == ["malloc", "bad_alloc"]
    assert s["stack_complete"] is False, s


def test_damaged_symtab_keeps_the_unwind_table(tmp_path):
    """A .symtab whose header points past the end of the file: the file's
    .eh_frame is intact, and its stacks are still walked to _start."""
    exe = tmp_path / "deep"
    shutil.copy(prog("deep"), exe)
    data = bytearray(exe.read_bytes())
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3a)
    for i in range(shnum):
        sh = shoff + i * shentsize
        if struct.unpack_from("<I", data, sh + 4)[0] == 2:  # SHT_SYMTAB
            struct.pack_into("<Q", data, sh + 0x18, len(data) + 0x100000)
    exe.write_bytes(bytes(data))
    res = subprocess.run(memtrace_cmd("-q", "-n", "0", "--json", str(tmp_path / "o.json"),
                                      "--", str(exe)),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    report = read_reports(tmp_path / "o.json")[-1]
    complete = [s for s in report["stacks"] if s["stack_complete"]]
    deep = [s for s in complete if len(s["frames"]) > 20]
    assert deep, [(s["stack_end"], len(s["frames"])) for s in report["stacks"]]
    assert report["accounting"]["unwind"]["no_table"] == 0


# --- terminal safety -----------------------------------------------------------

def test_command_name_with_terminal_controls_is_escaped(tmp_path):
    """A program run under a name holding a C1 CSI, an ESC and a byte that
    is not UTF-8 (its comm): the text report shows escapes, not the bytes."""
    name = b"a\xc2\x9b31mX\xff\x1b[2J"
    link = os.path.join(os.fsencode(tmp_path), name)
    os.symlink(prog("leaky"), link)
    res = subprocess.run(memtrace_cmd("-n", "1", "--", os.fsdecode(link),
                                      str(tmp_path / "truth.json")),
                         capture_output=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert b"\xc2\x9b" not in out and b"\xff" not in out and b"\x1b" not in out
    # The header line: PID, comm, then the program (the link's target).
    assert re.search(rb"\n +\d+ a\\xc2\\x9b31mX\\xff\\x1b\[2J \(/", out), out[:400]
