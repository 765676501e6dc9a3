"""memtrace on programs whose malloc is not glibc's: jemalloc, tcmalloc and
mimalloc, preloaded (LD_PRELOAD) or linked in (dynamically, and jemalloc
statically into the executable).

The ground truth is tests/progs/leaky's own (see test_leaky.py): the same
exact leaks must be found whatever allocator serves them, on the frames of
that allocator.
"""
import os
import subprocess

import pytest

from conftest import final_report, memtrace_cmd, memtrace_programs_loaded, prog
from test_leaky import attach_to_leaky, check_leaks, load_truth

LIBDIR = "/usr/lib/x86_64-linux-gnu"
# allocator -> (library to preload, Debian package that has it)
LIBS = {
    "jemalloc": ("libjemalloc.so.2", "libjemalloc2"),
    "tcmalloc": ("libtcmalloc_minimal.so.4", "libtcmalloc-minimal4"),
    "mimalloc": ("libmimalloc.so.2", "libmimalloc2.0"),
}


def library(kind):
    name, package = LIBS[kind]
    path = os.path.join(LIBDIR, name)
    if not os.path.exists(path):
        pytest.skip(f"{path} is missing: package {package} "
                    "(scripts/install_deps.sh installs it)")
    return path


def linked_prog(name):
    path = os.path.join(os.path.dirname(prog("leaky")), name)
    if not os.path.exists(path):
        pytest.skip(f"{path} was not built: its allocator's -dev package is "
                    "missing (scripts/install_deps.sh installs it)")
    return path


def check_allocator(report, kind, module):
    proc = report["processes"][0]
    assert proc["allocator"]["kind"] == kind, proc
    assert os.path.basename(proc["allocator"]["object"]).startswith(module)
    assert proc["allocator"]["known"] is True


@pytest.mark.parametrize("kind", sorted(LIBS))
def test_leaky_preloaded(tmp_path, kind):
    """memtrace -p on leaky started with LD_PRELOAD=the allocator."""
    lib = library(kind)
    report, truth = attach_to_leaky(tmp_path, env=dict(os.environ, LD_PRELOAD=lib))
    module = os.path.basename(lib).split(".")[0]
    check_leaks(report, truth, first_line_seen=False, allocator_module=module)
    check_allocator(report, kind, module)
    assert memtrace_programs_loaded() == []


@pytest.mark.parametrize("name,kind,module", [
    ("leaky_jemalloc", "jemalloc", "libjemalloc"),
    ("leaky_tcmalloc", "tcmalloc", "libtcmalloc"),
    ("leaky_mimalloc", "mimalloc", "libmimalloc"),
    # jemalloc linked into the executable: found by the executable's own
    # symbols, before libc's in the lookup order.
    ("leaky_jemalloc_static", "jemalloc", "leaky_jemalloc_static"),
    # A fully static program: glibc's malloc in the executable.
    ("leaky_static", "glibc", "leaky_static"),
])
def test_leaky_linked(tmp_path, name, kind, module):
    """memtrace -- leaky built against the allocator: exact leaks, main's
    first line seen."""
    path = linked_prog(name)
    truth, out = tmp_path / "truth.json", tmp_path / "out.json"
    res = subprocess.run(
        memtrace_cmd("-q", "-n", "0", "--json", str(out), "--", path, str(truth)),
        capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    report = final_report(out)
    check_leaks(report, load_truth(truth), first_line_seen=True,
                allocator_module=module)
    check_allocator(report, kind, module)


def test_unknown_allocator(tmp_path):
    """An allocator memtrace does not know (tests/progs/nofp/lib/
    bumpalloc.c, preloaded): every report names the object that defines
    malloc and says that only its standard functions are traced; those are,
    exactly."""
    lib = os.path.join(os.path.dirname(prog("leaky")), "libbumpalloc.so")
    text = tmp_path / "out.txt"
    report, truth = attach_to_leaky(tmp_path, env=dict(os.environ, LD_PRELOAD=lib),
                                    options=("-i", "0.3", "-o", str(text)))
    proc = report["processes"][0]["allocator"]
    assert proc == {"kind": "unknown", "object": os.path.realpath(lib), "known": False}
    check_leaks(report, truth, first_line_seen=False, allocator_module="libbumpalloc")
    # Every text report has the line, naming the object.
    reports = text.read_text().split("== memtrace ")[1:]
    assert reports
    for r in reports:
        lines = [l for l in r.splitlines() if "unknown allocator in" in l]
        assert len(lines) == 1, r
        assert os.path.realpath(lib) in lines[0]
        assert "only its standard functions are traced" in lines[0]
