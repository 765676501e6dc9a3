"""memtrace's pictures and standard formats against the tools people open
them with: `go tool pprof` (Debian's golang-go) reads the pprof profile,
Python's XML parser the SVG flame graphs, headless Chromium (Debian's
chromium) the HTML page and the SVG, driven through its DevTools protocol
(tests/integration/chromium.py).

Ground truth: tests/progs/leaky's own account of what it leaked and
allocated, and memtrace's JSON report of the same run for figures the
program cannot know (libc's own allocations): every output must agree with
it exactly.
"""
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import memtrace_cmd, prog, read_reports, functions
from test_leaky import check_leaks, load_truth
import chromium

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECK_HTML = os.path.join(ROOT, "tests", "unit", "report", "data", "check_html.py")
NS = "{http://www.w3.org/2000/svg}"
GO = shutil.which("go")

needs_go = pytest.mark.skipif(GO is None, reason="go (golang-go) is not installed: "
                              "scripts/install_deps.sh installs it")
needs_chromium = pytest.mark.skipif(chromium.CHROMIUM is None,
                                    reason="chromium is not installed: "
                                    "scripts/install_deps.sh installs it")

# What leaky's functions allocate in all, from its source: 4 threads, and
# leak_grown reallocs 10, then 20000, then 3000 bytes each time.
LEAKY_ALLOCATED = {
    "leak_pages": (1000, 1000 * 4096),
    "leak_small": (500, 500 * 100),
    "leak_grown": (3 * 40, 40 * (10 + 20000 + 3000)),
    "leak_posix_memalign": (20, 20 * 256),
    "leak_aligned_alloc": (12, 12 * 8192),
}


def pprof(*args):
    res = subprocess.run([GO, "tool", "pprof", "-symbolize=none", *args],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout


def every_output(tmp_path):
    names = {"json": "out.json", "pprof": "out.pb.gz", "flamegraph": "flame.svg",
             "flamegraph-diff": "growth.svg", "html": "page.html", "folded": "out.folded",
             "folded-diff": "out.diff.folded"}
    paths = {k: str(tmp_path / v) for k, v in names.items()}
    args = []
    for k, v in paths.items():
        args += ["--" + k, v]
    return paths, args


@pytest.fixture(scope="module")
def leaky_run(tmp_path_factory):
    """leaky traced from its first line with every output at once, a
    report every 20 ms so that there are several."""
    tmp = tmp_path_factory.mktemp("pictures")
    paths, args = every_output(tmp)
    truth = tmp / "truth.json"
    res = subprocess.run(memtrace_cmd("-q", "-n", "0", "-i", "0.02", *args, "--",
                                      prog("leaky"), str(truth)),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    reports = read_reports(paths["json"])
    return {"paths": paths, "reports": reports, "final": reports[-1],
            "truth": load_truth(truth), "stderr": res.stderr}


def test_json_still_exact(leaky_run):
    """The run with every output gives the same exact report as without."""
    check_leaks(leaky_run["final"], leaky_run["truth"], first_line_seen=True)
    assert len(leaky_run["reports"]) >= 2


def test_says_once_which_files_it_wrote(leaky_run):
    err = leaky_run["stderr"]
    assert err.count("memtrace: wrote") == 1
    for k, path in leaky_run["paths"].items():
        assert path in err, f"--{k} not named"
    assert "go tool pprof -http=: " + leaky_run["paths"]["pprof"] in err
    assert "open file://" + leaky_run["paths"]["html"] + " in a web browser" in err
    assert "flamegraph.pl " + leaky_run["paths"]["folded-diff"] in err


# ---- pprof ----

def raw_samples(path):
    """go tool pprof -raw: per sample its four values and its locations'
    addresses, leaf first."""
    out = pprof("-raw", path)
    header = re.search(r"^Samples:\n(.*)\n", out, re.M).group(1).split()
    assert header == ["alloc_objects/count", "alloc_space/bytes", "inuse_objects/count",
                      "inuse_space/bytes[dflt]"], header
    addr = {int(m.group(1)): int(m.group(2), 16)
            for m in re.finditer(r"^\s+(\d+): 0x([0-9a-f]+)", out.split("\nLocations\n")[1],
                                 re.M)}
    samples = []
    for m in re.finditer(r"^\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+):((?: \d+)*) ?$", out, re.M):
        values = tuple(int(m.group(i)) for i in range(1, 5))
        samples.append((tuple(addr[int(i)] for i in m.group(5).split()), values))
    assert "PeriodType: space bytes" in out and "Period: 1" in out
    return samples, out


def json_key(stack):
    key = tuple(int(f["address"], 16) for f in stack["frames"])
    # A stack not captured, or cut short, ends in a frame that says so.
    if not stack["stack_captured"] or not stack["stack_complete"]:
        key += (0,)
    return key


@needs_go
def test_pprof_raw_equals_json_exactly(leaky_run):
    final = leaky_run["final"]
    samples, out = raw_samples(leaky_run["paths"]["pprof"])
    by_key = {}
    for key, values in samples:
        assert key not in by_key, f"two samples for {key}"
        by_key[key] = values
    assert final["stacks"], "no stacks"
    for s in final["stacks"]:
        assert by_key[json_key(s)] == (s["allocs"], s["alloc_bytes"], s["count"], s["bytes"])
    # The other samples are the stacks that hold nothing now: the
    # cumulative figures count them, and add up to the totals.
    listed = {json_key(s) for s in final["stacks"]}
    assert all(v[2] == 0 and v[3] == 0 for k, v in by_key.items() if k not in listed)
    assert sum(v[0] for v in by_key.values()) == final["totals"]["allocs"]
    assert sum(v[1] for v in by_key.values()) == final["totals"]["alloc_bytes"]
    assert sum(v[3] for v in by_key.values()) == final["totals"]["outstanding_bytes"]
    assert sum(v[2] for v in by_key.values()) == final["totals"]["live_allocations"]
    # The program's mapping comes first, with its build ID, and is
    # symbolized.
    first = re.search(r"^Mappings\n1: (\S+) (\S+) (\S+)", out, re.M)
    assert first.group(2) == prog("leaky"), first.group(0)
    assert re.fullmatch(r"[0-9a-f]{40}", first.group(3))


def top(path, *args):
    """-top in bytes: per function, flat and cum, and the total."""
    out = pprof("-top", "-unit=B", "-nodecount=100000", "-nodefraction=0", *args, path)
    total = int(re.search(r"Total samples = (\d+)B", out).group(1))
    rows = {}
    for m in re.finditer(r"^\s*(\d+)B?\s+\S+%\s+\S+%\s+(\d+)B?\s+\S+%\s+(.+)$", out, re.M):
        rows[m.group(3)] = (int(m.group(1)), int(m.group(2)))
    return total, rows


@needs_go
def test_pprof_top_equals_json(leaky_run):
    final = leaky_run["final"]
    total, rows = top(leaky_run["paths"]["pprof"])
    assert total == final["totals"]["outstanding_bytes"]
    names = {f for s in final["stacks"] for f in functions(s) if f}
    for name in names:
        cum = sum(s["bytes"] for s in final["stacks"] if name in functions(s))
        flat = sum(s["bytes"] for s in final["stacks"] if functions(s)[0] == name)
        assert rows[name] == (flat, cum), name
    for leak in leaky_run["truth"]["leaks"]:
        assert rows[leak["function"]][1] == leak["bytes"]


@needs_go
def test_pprof_alloc_space_equals_what_leaky_allocated(leaky_run):
    final = leaky_run["final"]
    path = leaky_run["paths"]["pprof"]
    total, rows = top(path, "-sample_index=alloc_space")
    assert total == final["totals"]["alloc_bytes"]
    _, objects = top(path, "-sample_index=alloc_objects")
    for function, (count, nbytes) in LEAKY_ALLOCATED.items():
        assert rows[function][1] == nbytes, function
        assert objects[function][1] == count, function


@needs_go
def test_pprof_traces_equal_json(leaky_run):
    final = leaky_run["final"]
    out = pprof("-traces", "-unit=B", leaky_run["paths"]["pprof"])
    traces = []
    for block in out.split("-----------+-------------------------------------------------------")[1:]:
        m = re.search(r"^\s+(\d+)B\s+(\S+)\n((?:\s{13}\S.*\n)*)", block, re.M)
        if not m:
            continue
        names = [m.group(2)] + [line.strip() for line in m.group(3).splitlines()]
        pid = int(re.search(r"pid:\s+(\d+)", block).group(1))
        traces.append((int(m.group(1)), pid, tuple(names)))
    want = []
    for s in final["stacks"]:
        names = [f["function"] or "[%s]" % f["module"] for f in s["frames"]]
        if not s["stack_complete"] and s["stack_captured"]:
            names.append("[stack may be incomplete: %s]" % s["stack_end"])
        want.append((s["bytes"], s["pid"], tuple(names)))
    # -traces lists samples with a value: every stack holding bytes.
    assert sorted(t for t in traces if t[0]) == sorted(w for w in want if w[0])


@needs_go
def test_pprof_base_shows_growth_between_runs(tmp_path):
    """Two runs of demo_service, one second and three: -base subtracts the
    first, and what is left is the growth JSON says."""
    runs = []
    for seconds in ("1", "3"):
        out, pb = tmp_path / f"{seconds}.json", tmp_path / f"{seconds}.pb.gz"
        res = subprocess.run(memtrace_cmd("-q", "-n", "0", "--json", str(out), "--pprof",
                                          str(pb), "--", prog("demo_service"), seconds),
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        runs.append((read_reports(out)[-1], str(pb)))
    (old, old_pb), (new, new_pb) = runs
    _, rows = top(new_pb, "-base", old_pb)

    def through(report, name):
        return sum(s["bytes"] for s in report["stacks"] if name in functions(s))

    for name in ("session_new", "session_log"):
        growth = through(new, name) - through(old, name)
        assert growth > 0
        assert rows[name][1] == growth, name


# ---- SVG flame graphs and the folded diff ----

def svg_frames(path):
    root = ET.parse(path).getroot()
    frames = []
    for g in root.iter(NS + "g"):
        if g.get("class") != "f":
            continue
        frames.append({"v": int(g.get("data-v")), "d": int(g.get("data-d")),
                       "b": int(g.get("data-b")) if g.get("data-b") else None,
                       "w": float(g.find(NS + "rect").get("width")),
                       "name": g.find(NS + "title").text.split("\n")[0]})
    return root, frames


def test_svg_widths_sum_to_outstanding_bytes(leaky_run):
    final = leaky_run["final"]
    outstanding = final["totals"]["outstanding_bytes"]
    for kind in ("flamegraph", "flamegraph-diff"):
        root, frames = svg_frames(leaky_run["paths"][kind])
        width = float(root.get("data-w"))
        assert frames[0]["name"] == "all" and frames[0]["v"] == outstanding
        depth1 = [f for f in frames if f["d"] == 1]
        assert sum(f["v"] for f in depth1) == outstanding
        assert abs(sum(f["w"] for f in depth1) - width) < 0.05
        for leak in leaky_run["truth"]["leaks"]:
            assert sum(f["v"] for f in frames if f["name"] == leak["function"]) == leak["bytes"]
        assert len(root.findall(NS + "script")) == 1


def test_growth_is_since_the_first_report(leaky_run):
    first = leaky_run["reports"][0]["totals"]["outstanding_bytes"]
    final = leaky_run["final"]["totals"]["outstanding_bytes"]
    _, frames = svg_frames(leaky_run["paths"]["flamegraph-diff"])
    assert frames[0]["b"] == first and frames[0]["v"] == final
    before = after = 0
    with open(leaky_run["paths"]["folded-diff"]) as f:
        for line in f:
            stack, b, a = line.rsplit(" ", 2)
            before += int(b)
            after += int(a)
    assert (before, after) == (first, final)
    # The folded file is the same stacks with one column.
    with open(leaky_run["paths"]["folded"]) as f:
        assert sum(int(line.rsplit(" ", 1)[1]) for line in f) == final


# ---- the HTML page ----

def test_html_page_figures_equal_json(leaky_run):
    reports = leaky_run["reports"]
    path = leaky_run["paths"]["html"]
    res = subprocess.run(["python3", CHECK_HTML, path], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    html = open(path, encoding="utf-8").read()
    tl = ET.fromstring(re.search(r'<svg class="timeline".*?</svg>', html, re.S).group(0))
    assert len(tl.get("data-t").split(",")) == len(reports), "one point per report"
    series = {p.find(NS + "title").text: p.get("data-v").split(",")
              for p in tl.iter(NS + "path") if p.get("class") == "s"}
    pid = reports[0]["processes"][0]["pid"]
    assert [int(v) for v in series[f"leaky (PID {pid}), outstanding"]] == \
        [r["processes"][0]["outstanding_bytes"] for r in reports]
    assert "Final report" in html


@pytest.fixture(scope="module")
def service_pages(tmp_path_factory):
    """demo_service traced for three seconds with a report every half
    second: a page and a flame graph with a history."""
    tmp = tmp_path_factory.mktemp("service")
    paths = {"html": str(tmp / "page.html"), "svg": str(tmp / "flame.svg"),
             "json": str(tmp / "out.json")}
    res = subprocess.run(memtrace_cmd("-q", "-i", "0.5", "-n", "5", "--html", paths["html"],
                                      "--flamegraph", paths["svg"], "--json", paths["json"],
                                      "--", prog("demo_service"), "3"),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    paths["reports"] = read_reports(paths["json"])
    paths["dir"] = str(tmp)
    return paths


def drawn(png, background):
    """Pixels that are not the background, and the distinct colours."""
    w, h, rows = chromium.png_pixels(png)
    colours, count = set(), 0
    for row in rows:
        for px in row:
            if max(abs(a - b) for a, b in zip(px, background)) > 12:
                count += 1
                colours.add(px)
    return count / (w * h), len(colours)


def pixels_like(png, colour, tolerance=40):
    """How many pixels are near colour."""
    _, _, rows = chromium.png_pixels(png)
    return sum(1 for row in rows for px in row
               if max(abs(a - b) for a, b in zip(px, colour)) <= tolerance)


def share_through(report, pattern):
    """Bytes of the stacks with a frame matching pattern, as a share of
    all."""
    rx = re.compile(pattern)
    total = report["totals"]["outstanding_bytes"]
    hit = sum(s["bytes"] for s in report["stacks"]
              if any(f and rx.search(f) for f in functions(s)))
    return 100.0 * hit / total


@needs_chromium
def test_html_in_chromium(service_pages):
    final = service_pages["reports"][-1]
    b = chromium.Chromium()
    try:
        url = "file://" + service_pages["html"]
        b.open(url)
        assert b.problems() == []
        assert b.requests() == [url], "the page loads nothing else"

        # The timeline and the flame graph are drawn.
        tl = b.rect("#tl")
        png = b.screenshot(tl)
        open(os.path.join(service_pages["dir"], "timeline.png"), "wb").write(png)
        share, colours = drawn(png, (255, 255, 255))
        assert share > 0.02 and colours > 20, (share, colours)
        # The process's outstanding bytes and RSS: two lines across the
        # plot (about 1,000 px wide) in its colour, #1f77b4.
        assert pixels_like(png, (0x1f, 0x77, 0xb4)) > 1500
        fg = b.rect("#fg")
        png = b.screenshot(fg)
        open(os.path.join(service_pages["dir"], "flame.png"), "wb").write(png)
        share, colours = drawn(png, (252, 252, 246))
        assert share > 0.1 and colours > 5, (share, colours)
        npoints = b.eval("document.getElementById('tl').getAttribute('data-t')"
                         ".split(',').length")
        assert npoints == len(service_pages["reports"])

        # Ctrl-F asks for a regular expression; the matched share is the
        # JSON's share of the stacks through a matching frame.
        dialog = b.ctrl_f_answer("session_(new|log)")
        assert dialog["type"] == "prompt"
        matched = b.eval("document.getElementById('fg-matched').textContent")
        want = share_through(final, r"^session_(new|log)$")
        assert matched.startswith(f"Matched: {want:.2f}%"), (matched, want)
        assert b.eval("[...document.querySelectorAll('#fg g.f rect')]"
                      ".filter(r => r.getAttribute('fill') === 'rgb(230,0,230)').length") == 2
        assert "search=session_" in b.eval("location.hash")

        # Click a frame: it fills the width, frames outside it hide, the
        # URL keeps it; Reset Zoom undoes it.
        p = b.eval("""[...document.querySelectorAll('#fg g.f')].find(g => g.querySelector(
            'title').textContent.startsWith('session_new\\n')).getAttribute('data-p')""")
        box = {"p": p}
        box["x"], box["y"] = b.center(f'#fg g.f[data-p="{p}"] rect')
        b.click(box["x"], box["y"])
        width = b.eval(f"+document.querySelector('#fg g.f[data-p=\"{box['p']}\"] rect')"
                       ".getAttribute('width')")
        assert abs(width - 1200) < 0.01
        assert "zoom=" + box["p"] in b.eval("location.hash")
        hidden = b.eval("document.querySelectorAll('#fg g.f.hide').length")
        assert hidden > 0
        png = b.screenshot(b.rect("#fg"))
        open(os.path.join(service_pages["dir"], "zoomed.png"), "wb").write(png)
        b.click(*b.center("#fg-reset"))
        assert b.eval("document.querySelectorAll('#fg g.f.hide').length") == 0
        assert "zoom=" not in b.eval("location.hash")
        assert b.problems() == []
    finally:
        b.close()


@needs_chromium
def test_svg_state_in_the_url(service_pages):
    """The standalone SVG opens zoomed and searched from its URL, as a
    reload after memtrace rewrote it would."""
    root, frames = svg_frames(service_pages["svg"])
    g = next(g for g in root.iter(NS + "g") if g.get("class") == "f" and
             g.find(NS + "title").text.startswith("session_log\n"))
    b = chromium.Chromium()
    try:
        b.open("file://" + service_pages["svg"] + "#zoom=" + g.get("data-p") +
               "&search=handle_request")
        assert b.problems() == []
        assert abs(b.eval(f"+document.querySelector('g.f[data-p=\"{g.get('data-p')}\"] rect')"
                          ".getAttribute('width')") - 1200) < 0.01
        assert b.eval("document.getElementById('fg-matched').textContent").startswith(
            "Matched: ")
        assert b.eval("document.getElementById('fg-reset').classList.contains('hide')") is False
        png = b.screenshot()
        open(os.path.join(service_pages["dir"], "svg.png"), "wb").write(png)
        share, colours = drawn(png, (252, 252, 246))
        assert share > 0.05 and colours > 3
    finally:
        b.close()


# ---- Python frames ----

def test_python_frames_in_the_pictures(tmp_path):
    """A Python service's flame graph tells its Python frames apart by
    colour, and its pprof profile has them as functions of their .py files
    at the JSON's lines."""
    from test_python import trace_script, SCRIPT
    python = "/usr/bin/python3.11"
    if not os.path.exists(python):
        pytest.skip(f"interpreter not installed: {python}")
    svg, pb = tmp_path / "py.svg", tmp_path / "py.pb.gz"
    report, _ = trace_script(tmp_path, python, "cache", "--flamegraph", str(svg),
                             "--pprof", str(pb))
    want = {(f["function"], f["file"], f["line"]) for s in report["stacks"]
            for f in s["frames"] if f.get("python")}
    assert ("handle_request", SCRIPT, 26) in want, sorted(want)[:20]

    root = ET.parse(str(svg)).getroot()
    python_fills, native_fills = set(), set()
    for g in root.iter(NS + "g"):
        if g.get("class") != "f":
            continue
        # name; figures; "Python" or "in MODULE" (none for the root and
        # marks); the growth.
        lines = g.find(NS + "title").text.split("\n")
        kind = lines[2] if len(lines) > 2 else ""
        fill = g.find(NS + "rect").get("fill")
        if kind == "Python":
            python_fills.add(fill)
        elif kind.startswith("in "):
            native_fills.add(fill)
        if lines[0] == f"handle_request ({SCRIPT}:26)":
            assert kind == "Python", lines
    assert python_fills and native_fills
    assert not python_fills & native_fills, "Python and native frames share a colour"

    if GO is None:
        pytest.skip("go (golang-go) is not installed: scripts/install_deps.sh installs it")
    out = pprof("-raw", str(pb))
    got = set()
    # "ID: ADDRESS [M=MAPPING] FUNCTION FILE:LINE s=START"; Python frames
    # have no mapping, and files like "<frozen codecs>" have spaces.
    for m in re.finditer(r"^\s+\d+: 0x[0-9a-f]+ (\S+) (.+):(\d+) s=\d+$", out, re.M):
        got.add((m.group(1), m.group(2), int(m.group(3))))
    assert want <= got, sorted(want - got)[:10]


# ---- several processes ----

@needs_go
def test_two_processes(tmp_path):
    """Two demo_service processes traced at once: the same stack in both is
    one stack (the services merge) with both PIDs in pprof, and the page's
    timeline has a line per process and one for both."""
    procs = [subprocess.Popen([prog("demo_service"), "3"], stdout=subprocess.DEVNULL)
             for _ in range(2)]
    paths = {"json": tmp_path / "out.json", "pprof": tmp_path / "out.pb.gz",
             "html": tmp_path / "page.html", "flamegraph": tmp_path / "flame.svg"}
    args = [a for k, v in paths.items() for a in ("--" + k, str(v))]
    try:
        res = subprocess.run(memtrace_cmd("-q", "-n", "0", "-i", "1", *args, "-p",
                                          ",".join(str(p.pid) for p in procs)),
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
    finally:
        for p in procs:
            p.kill()
            p.wait()
    final = read_reports(paths["json"])[-1]
    pids = sorted(p.pid for p in procs)
    merged = [s for s in final["stacks"] if "session_new" in functions(s)]
    assert merged and sorted(p["pid"] for p in merged[0]["pids"]) == pids

    _, rows = top(str(paths["pprof"]))
    assert rows["session_new"][1] == sum(s["bytes"] for s in merged)
    # A merged stack is one sample with a pid label per process: either
    # PID selects it whole.
    for pid in pids:
        _, one = top(str(paths["pprof"]), f"-tagfocus=pid={pid}")
        assert one["session_new"][1] == rows["session_new"][1]
    _, none = top(str(paths["pprof"]), "-tagfocus=pid=1")
    assert "session_new" not in none

    res = subprocess.run(["python3", CHECK_HTML, str(paths["html"])], capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr
    assert re.search(r"^timeline \d+ 5$", res.stdout, re.M), res.stdout
    _, frames = svg_frames(str(paths["flamegraph"]))
    assert frames[0]["v"] == final["totals"]["outstanding_bytes"]
