"""Native frames people can read: demangled names, file:line and inlined
frames, from the program's own DWARF, from a separate debug file (by build
ID, by .gnu_debuglink), and from a debuginfod server the test runs on
loopback; and hostile DWARF in a library the target loads.

Ground truth: addr2line -f -C -i (binutils) at each frame's address - 1,
on the unstripped program; where binutils names an inlined lambda after its
caller (it does, for a lambda without a linkage name), gdb's name for that
frame decides. The source's own lines (found by their text) check that the
leaks inside OrderBook::add are told apart.
"""
import os
import re
import shutil
import socket
import subprocess
import time

import pytest

from conftest import memtrace_cmd, prog, read_reports, wait_for_line
from test_stacks_dynamic import reports_so_far

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                   "progs", "nofp", "leak_cxx.cc")


def load_segments(exe):
    """[(offset, vaddr, filesz)] of exe's PT_LOAD headers."""
    out = subprocess.run(["readelf", "-lW", exe], capture_output=True, text=True,
                         check=True).stdout
    segs = []
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            segs.append((int(f[1], 16), int(f[2], 16), int(f[4], 16)))
    return segs


def vaddr_of(segs, offset):
    for off, vaddr, size in segs:
        if off <= offset < off + size:
            return vaddr + offset - off
    raise AssertionError(f"offset {offset:#x} in no segment")


def addr2line(exe, vaddrs):
    """{vaddr: [(function, file, line)]}, innermost first."""
    text = "\n".join(f"{v:#x}" for v in vaddrs) + "\n"
    out = subprocess.run(["addr2line", "-a", "-f", "-C", "-i", "-e", exe], input=text,
                         capture_output=True, text=True, check=True).stdout.splitlines()
    res, cur, i = {}, None, 0
    while i < len(out):
        if re.fullmatch(r"0x[0-9a-f]+", out[i]):
            cur = int(out[i], 16)
            res[cur] = []
            i += 1
            continue
        name, where = out[i], re.sub(r" \(discriminator \d+\)$", "", out[i + 1])
        file, _, line = where.rpartition(":")
        res[cur].append((name, file, int(line) if line.isdigit() else 0))
        i += 2
    return res


def gdb_inline_names(exe, vaddrs):
    """{vaddr: [function names]} from gdb's blocks, innermost first."""
    script = "python\nimport gdb\n"
    for v in vaddrs:
        script += (f"b = gdb.block_for_pc({v:#x})\nnames = []\n"
                   "while b is not None:\n"
                   "    if b.function is not None:\n"
                   "        names.append(b.function.name)\n"
                   "    b = b.superblock\n"
                   f"print('NAMES {v:#x} ' + '|'.join(names))\n")
    script += "end\n"
    path = f"/tmp/memtrace-gdb-{os.getpid()}.gdb"
    with open(path, "w") as f:
        f.write(script)
    try:
        out = subprocess.run(["gdb", "-nx", "-batch", "-x", path, exe], capture_output=True,
                             text=True, timeout=120).stdout
    finally:
        os.unlink(path)
    names = {}
    for line in out.splitlines():
        if line.startswith("NAMES "):
            _, v, rest = line.split(" ", 2)
            names[int(v, 16)] = rest.split("|") if rest else []
    return names


def demangle(name):
    return subprocess.run(["c++filt", name], capture_output=True, text=True,
                          check=True).stdout.strip()


def frame_groups(stack):
    """A stack's frames after the allocator's, as [(inlined..., physical)]."""
    groups, cur = [], []
    for f in stack["frames"][1:]:
        cur.append(f)
        if not f.get("inlined"):
            groups.append(cur)
            cur = []
    assert not cur, "inlined frames at the end of a stack"
    return groups


def ours(group):
    return [(f["function"], f.get("file"), f.get("line", 0)) for f in group]


def check_against_addr2line(report, exe, module):
    """Every frame of module in report equals addr2line's at address - 1.
    Returns the groups checked."""
    segs = load_segments(exe)
    groups = [g for s in report["stacks"] for g in frame_groups(s) if g[0]["module"] == module]
    assert groups, f"no frame in {module}"
    vaddrs = {id(g): vaddr_of(segs, int(g[0]["module_offset"], 16)) - 1 for g in groups}
    truth = addr2line(exe, sorted(set(vaddrs.values())))
    disputed = {}
    for g in groups:
        v, mine = vaddrs[id(g)], ours(g)
        theirs = truth[v]
        assert len(mine) == len(theirs), f"{v:#x}: {mine} vs addr2line {theirs}"
        for k, ((fn, file, line), (tfn, tfile, tline)) in enumerate(zip(mine, theirs)):
            assert (os.path.normpath(file or "??"), line) == \
                (os.path.normpath(tfile), tline), f"{v:#x} frame {k}: {mine} vs {theirs}"
            if fn == tfn:
                continue
            if k == len(mine) - 1:
                # The frame itself is named by its ELF symbol, demangled
                # (addr2line: DWARF's plain name when there is no linkage
                # name, "_M_invoke" for the symbol's "...::_M_invoke(...)").
                phys = g[-1]
                assert phys.get("mangled") and demangle(phys["mangled"]) == fn, phys
                assert tfn.split("(")[0] in fn, (fn, tfn)
                continue
            disputed.setdefault(v, []).append((k, fn, tfn))
    if disputed:
        names = gdb_inline_names(exe, list(disputed))
        for v, frames in disputed.items():
            for k, fn, tfn in frames:
                # binutils names an inlined lambda without a linkage name
                # after a function around it: gdb decides (it prints
                # DWARF's names without parameters).
                g = names[v][k] if k < len(names.get(v, [])) else None
                assert g in (fn, fn.split("(")[0]), \
                    f"{v:#x} frame {k}: ours {fn}, addr2line {tfn}, gdb {g}"
    return groups


def source_line(text):
    with open(SRC) as f:
        for n, line in enumerate(f, 1):
            if text in line:
                return n
    raise AssertionError(text)


def run_leak_cxx(tmp_path, argv, env=None, interval="0.2", settled=None, args=()):
    """Run argv (leak_cxx --wait, perhaps wrapped) under memtrace -- and
    return every JSON report. The program leaks when told, and exits when
    told once a periodic report satisfies settled (default: its leaks are
    in a report)."""
    out = tmp_path / "out.json"
    settled = settled or (lambda r: any(f["function"] and "OrderBook::add" in f["function"]
                                        for s in r["stacks"] for f in s["frames"]))
    mt = subprocess.Popen(memtrace_cmd("-q", "-n", "0", "-i", interval, "--json", str(out),
                                       *args, "--", *argv),
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        wait_for_line(mt.stdout, "ready")
        mt.stdin.write("go\n")
        mt.stdin.flush()
        wait_for_line(mt.stdout, "done")
        deadline = time.monotonic() + 60
        while True:
            if any(settled(r) for r in reports_so_far(out)):
                break
            assert time.monotonic() < deadline, "memtrace never reported the leaks"
            time.sleep(0.1)
        mt.stdin.write("exit\n")
        mt.stdin.flush()
        assert mt.wait(timeout=60) == 0
    finally:
        mt.kill()
    return read_reports(out)


def test_cxx_frames_as_addr2line_and_gdb_say(tmp_path):
    exe = prog("leak_cxx")
    final = run_leak_cxx(tmp_path, [exe, "--wait"])[-1]
    # The report is built after the program exited: everything resolves.
    assert final["final"]
    groups = check_against_addr2line(final, exe, "leak_cxx")
    frames = [f for g in groups for f in g]
    # Demangled, the mangled name kept.
    add = [f for f in frames if f["function"] == "shop::OrderBook::add(long)"]
    assert add and all(f["mangled"] == "_ZN4shop9OrderBook3addEl" for f in add)
    pool = [f for f in frames if f["function"] == "shop::Pool<shop::Order>::add(int)"]
    assert pool and pool[0]["mangled"] == "_ZN4shop4PoolINS_5OrderEE3addEi"
    # Inlined frames: the make_shared chain, marked, with call-site lines.
    assert any(f.get("inlined") and f["function"].startswith(
        "std::shared_ptr<std::enable_if<!std::is_array<shop::Order>::value, shop::Order>"
        "::type> std::make_shared<shop::Order>()") for f in frames)
    made = [g for g in groups if any(f["function"] == "make_order" for f in g)]
    # The leaks inside OrderBook::add, told apart by line: the two calls
    # of make_order, each through make_shared (each frame's line is where
    # in that function the next call is).
    add_lines = {g[-1]["line"] for g in made}
    assert add_lines == {source_line("orders.push_back(make_order(id));"),
                         source_line("byid[id] = make_order(id + 1);")}
    assert {f["line"] for g in made for f in g if f["function"] == "make_order"} == \
        {source_line("auto o = std::make_shared<Order>();")}
    assert all(f.get("inlined") for g in made for f in g[:-1])
    # The lambda, inlined into main, as gdb names it.
    lam = [g for g in groups if g[-1]["function"] == "main" and g[0].get("inlined") and
           g[0]["function"] == "operator()"]
    assert {g[0]["line"] for g in lam} >= {source_line("sink = new char[n];")}


def test_text_output_shows_lines_inlined_frames_and_short_templates(tmp_path):
    exe = prog("leak_cxx")
    texts = {}
    for name, args in (("full", []), ("short", ["--short-templates"])):
        d = tmp_path / name
        d.mkdir()
        run_leak_cxx(d, [exe, "--wait"], args=["-o", str(d / "out.txt"), *args])
        texts[name] = (d / "out.txt").read_text()
    full, short = texts["full"], texts["short"]
    line = source_line("orders.push_back(make_order(id));")
    assert re.search(r"shop::OrderBook::add\(long\)\+0x[0-9a-f]+ \[leak_cxx\] \(.*leak_cxx\.cc:"
                     f"{line}\\)", full), full
    assert re.search(r"make_order \[inlined\] \(.*leak_cxx\.cc:\d+\)", full)
    assert "std::make_shared<shop::Order>() [inlined] (/usr/include/c++/" in full
    assert "_ZN4shop" not in full
    # Shortened in text only.
    assert "std::shared_ptr<...> std::make_shared<...>() [inlined]" in short
    assert "std::_Sp_counted_ptr_inplace<" not in short
    assert "std::_Sp_counted_ptr_inplace<" in full


def test_folded_output_is_demangled_with_inlined_frames(tmp_path):
    folded = tmp_path / "out.folded"
    run_leak_cxx(tmp_path, [prog("leak_cxx"), "--wait"], args=["--folded", str(folded)])
    lines = folded.read_text().splitlines()
    chain = [ln for ln in lines if "shop::OrderBook::add(long);make_order;" in ln]
    assert chain, lines
    assert not any("_ZN" in ln for ln in lines)


# --- Separate debug files ---------------------------------------------------

def split_debug(tmp_path, keep_debuglink=True):
    """A stripped copy of leak_cxx and its debug file (same build ID)."""
    src = prog("leak_cxx")
    d = tmp_path / "bin"
    d.mkdir()
    exe, debug = d / "leak_cxx", d / "leak_cxx.debug"
    shutil.copy(src, exe)
    subprocess.run(["objcopy", "--only-keep-debug", str(exe), str(debug)], check=True)
    args = ["objcopy", "--strip-all"]
    if keep_debuglink:
        args.append(f"--add-gnu-debuglink={debug}")
    subprocess.run(args + [str(exe)], check=True)
    out = subprocess.run(["readelf", "-S", str(exe)], capture_output=True, text=True).stdout
    assert ".debug_info" not in out and ".symtab" not in out
    return str(exe), str(debug)


def build_id(path):
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True,
                         check=True).stdout
    return re.search(r"Build ID: ([0-9a-f]+)", out).group(1)


def test_stripped_program_with_debug_file_by_debuglink(tmp_path):
    exe, debug = split_debug(tmp_path)
    final = run_leak_cxx(tmp_path, [exe, "--wait"])[-1]
    # Checked against addr2line on the unstripped original.
    check_against_addr2line(final, prog("leak_cxx"), "leak_cxx")


def test_stripped_program_with_debug_file_by_build_id(tmp_path):
    """The debug file only under /usr/lib/debug/.build-id/ as the target
    sees it: a mount namespace of its own binds a directory there (as a
    container would have it); memtrace looks through the process's root.
    The report is built once the process and its namespace are gone."""
    if not shutil.which("unshare"):
        pytest.skip("unshare (util-linux) is not installed")
    exe, debug = split_debug(tmp_path, keep_debuglink=False)
    bid = build_id(exe)
    root = tmp_path / "debugroot"
    (root / ".build-id" / bid[:2]).mkdir(parents=True)
    os.rename(debug, root / ".build-id" / bid[:2] / f"{bid[2:]}.debug")
    os.makedirs("/usr/lib/debug", exist_ok=True)
    argv = ["unshare", "-m", "--propagation", "private", "sh", "-c",
            f"mount --bind {root} /usr/lib/debug && exec {exe} --wait"]
    final = run_leak_cxx(tmp_path, argv)[-1]
    check_against_addr2line(final, prog("leak_cxx"), "leak_cxx")
    # memtrace's own /usr/lib/debug never had it.
    assert not os.path.exists(f"/usr/lib/debug/.build-id/{bid[:2]}/{bid[2:]}.debug")


def has_lines(report, module):
    return any(f.get("file") for s in report["stacks"] for f in s["frames"]
               if f["module"] == module and f["function"] and "OrderBook" in f["function"])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


DEBUGINFOD_RUN = r"""
set -e
ip link set lo up
debuginfod -F -p {port} -d {tmp}/db.sqlite -t 0 -g 0 {served} > {tmp}/server.log 2>&1 &
server=$!
trap 'kill $server' EXIT
# Up once it has scanned the directory (it answers /metrics from the start).
for i in $(seq 1 100); do
    if curl -sf http://127.0.0.1:{port}/metrics | grep -q 'scanned_files_total{{source="file"}} [1-9]'; then
        break
    fi
    sleep 0.1
done
{python} {tmp}/drive.py
"""

DRIVE = r"""
import sys
sys.path.insert(0, {testdir!r})
import pathlib, json, test_symbols
tmp = pathlib.Path({tmp!r})
env = dict(__import__("os").environ)
env.pop("DEBUGINFOD_URLS", None)
env["DEBUGINFOD_CACHE_PATH"] = str(tmp / "cache")
if {with_urls!r}:
    env["DEBUGINFOD_URLS"] = "http://127.0.0.1:{port}"
def stacks_in_program(r):
    return sum(any(f["module"] == "leak_cxx" for f in s["frames"]) for s in r["stacks"])
# With debuginfod: until the lines are in; without: until every leak is.
settled = (lambda r: test_symbols.has_lines(r, "leak_cxx")) if {with_urls!r} else \
    (lambda r: stacks_in_program(r) >= 6)
reports = test_symbols.run_leak_cxx(tmp, [{exe!r}, "--wait"], env=env, settled=settled)
(tmp / "reports.json").write_text(json.dumps(reports))
"""


def run_with_debuginfod(tmp_path, with_urls):
    """leak_cxx stripped, its debug file only on a debuginfod server that
    runs, with memtrace, in a network namespace of their own (loopback
    only: Debian's debuginfod 0.188 cannot be told which address to bind)."""
    for tool in ("debuginfod", "unshare", "ip", "curl"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed")
    exe, debug = split_debug(tmp_path, keep_debuglink=False)
    served = tmp_path / "served"
    served.mkdir()
    os.rename(debug, served / "leak_cxx.debug")
    port = free_port()
    (tmp_path / "drive.py").write_text(DRIVE.format(
        testdir=os.path.dirname(os.path.abspath(__file__)), tmp=str(tmp_path), exe=exe,
        port=port, with_urls=with_urls))
    script = DEBUGINFOD_RUN.format(port=port, tmp=tmp_path, served=served,
                                   python="/usr/bin/python3")
    r = subprocess.run(["unshare", "-n", "sh", "-c", script], capture_output=True, text=True,
                       timeout=300, env=dict(os.environ, MEMTRACE=memtrace_cmd()[0]))
    assert r.returncode == 0, r.stdout + r.stderr
    import json
    log = (tmp_path / "server.log").read_text()
    return json.loads((tmp_path / "reports.json").read_text()), log, build_id(exe)


def test_debug_file_from_debuginfod(tmp_path):
    reports, log, bid = run_with_debuginfod(tmp_path, with_urls=True)
    # Asked for by build ID, then the frames get their lines (a report
    # before may name them by symbol only: the fetch is off the tracing
    # path).
    assert f"GET /buildid/{bid}/debuginfo 200" in log, log
    with_lines = [r for r in reports if has_lines(r, "leak_cxx")]
    assert with_lines and reports[-1] is with_lines[-1]
    check_against_addr2line(reports[-1], prog("leak_cxx"), "leak_cxx")
    assert (tmp_path / "cache" / bid / "debuginfo").exists()


def test_without_debuginfod_urls_nothing_is_fetched(tmp_path):
    reports, log, bid = run_with_debuginfod(tmp_path, with_urls=False)
    assert "/buildid/" not in log, log
    final = reports[-1]
    assert not has_lines(final, "leak_cxx")
    # Symbols stay: a stripped file still exports nothing, so the frames
    # name what .dynsym has, or the module and offset; never a crash.
    assert final["symbols"]["objects_no_debug"] >= 1
    assert final["symbols"]["debuginfod_pending"] == 0


# --- Hostile DWARF in a library the target loads -----------------------------

def section(path, name):
    out = subprocess.run(["readelf", "-SW", path], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        m = re.search(r"\]\s+(\S+)\s+\S+\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)", line)
        if m and m.group(1) == name:
            return int(m.group(2), 16), int(m.group(3), 16)
    raise AssertionError(f"{path} has no {name}")


def corrupt(path, name, pattern):
    off, size = section(path, name)
    data = bytearray(open(path, "rb").read())
    for i in range(0, size - 4, 7):
        data[off + i:off + i + 4] = pattern
    open(path, "wb").write(bytes(data))


def hostile_plugins(tmp_path):
    src = prog("libplugin.so")
    plugins = {}
    for kind in ("debug_line", "debug_info", "fifo", "device"):
        d = tmp_path / kind
        d.mkdir()
        lib = d / "libplugin.so"
        shutil.copy(src, lib)
        if kind == "debug_line":
            corrupt(str(lib), ".debug_line", b"\xff\xff\xff\xff")
        elif kind == "debug_info":
            # Lengths and offsets (strp, ref4, sec_offset) past the end.
            corrupt(str(lib), ".debug_info", b"\xf0\xff\xff\x7f")
        else:
            debug = d / "libplugin.debug"
            subprocess.run(["objcopy", "--only-keep-debug", str(lib), str(debug)], check=True)
            subprocess.run(["objcopy", "--strip-debug", "--remove-section=.note.gnu.build-id",
                            f"--add-gnu-debuglink={debug}", str(lib)], check=True)
            debug.unlink()
            if kind == "fifo":
                os.mkfifo(debug)
            else:
                os.symlink("/dev/zero", debug)
        plugins[kind] = str(lib)
    return plugins


def plugin_frames(report):
    blocks = [s for s in report["stacks"] if s["bytes"] == 3 * 50001]
    return [f for f in blocks[0]["frames"] if f["module"] == "libplugin.so"] if blocks else []


@pytest.mark.parametrize("kind", ["debug_line", "debug_info", "fifo", "device"])
def test_hostile_dwarf_in_a_loaded_library(tmp_path, kind):
    from test_stacks_dynamic import run_attached  # noqa: E402
    lib = hostile_plugins(tmp_path)[kind]
    # The program stays until memtrace has seen its leaks through the
    # library (a process gone before its mappings were read leaves nothing
    # to name them by: see test_stacks_dynamic).
    lines, final = run_attached(tmp_path, [prog("dlopener"), lib, "3", "--wait"],
                                settled=lambda r: bool(plugin_frames(r)))
    assert "leaked 3\n" in lines
    plugin = plugin_frames(final)
    # Falls back to symbol + offset (the symbols are intact).
    assert [f["function"] for f in plugin if not f.get("inlined")][:2] == \
        ["plugin_store", "plugin_leak"]
    if kind in ("fifo", "device"):
        assert not any(f.get("file") for f in plugin)
