"""The views Python people use, from outside: --group-by line, function and
file against tracemalloc's own statistics('lineno') taken by the script
(tests/integration/py/leaks.py), in JSON and in tracemalloc's text form;
and readable stacks: the interpreter's frames between Python frames folded
into one line, --frames all, --max-frames, JSON keeping every frame."""
import re

import pytest

# pymalloc's arena since CPython 3.10 (the interpreters tested are 3.11+).
ARENA = 1 << 20

from test_python import (INTERPRETERS, MIB, check_lines_within_10_percent, leak_line, need,
                         trace_script)


def groups_by_line(report, filename):
    return {g["line"]: g for g in report["groups"]
            if g["python"] and g["file"] == filename}


@pytest.mark.parametrize("python", INTERPRETERS)
@pytest.mark.parametrize("scenario", ["cache", "buffers", "closure"])
def test_group_by_line_matches_tracemalloc(tmp_path, python, scenario):
    need(python)
    text = tmp_path / "report.txt"
    report, truth = trace_script(tmp_path, python, scenario, "--group-by", "line",
                                 "-o", str(text))
    assert report["group_by"] == "line"
    ours = groups_by_line(report, truth["file"])
    big = {int(l): t for l, t in truth["lines"].items() if t["bytes"] >= MIB}
    assert leak_line(scenario) in big, truth
    for line, t in big.items():
        g = ours.get(line)
        assert g, f"line {line} not grouped; groups {list(ours)}"
        print(f"line {line}: memtrace {g['bytes']} B in {g['count']} "
              f"({g['mapped_bytes']} B mapped), tracemalloc {t['bytes']} B in {t['blocks']}")
        # The allocator calls on the line, as tracemalloc counts them; what
        # is mapped on it are whole arenas charged to it (an estimate of
        # its small objects, which tracemalloc counts one by one).
        heap = g["bytes"] - g["mapped_bytes"]
        assert abs(heap - t["bytes"]) <= 0.10 * t["bytes"]
        assert g["mapped_bytes"] % ARENA == 0
        # One report only: it grew by all it holds.
        assert g["growth_bytes"] == g["bytes"] and g["growth_count"] == g["count"]
    # The same figures in tracemalloc's own form.
    line = leak_line(scenario)
    g = ours[line]
    form = re.compile(re.escape(f"{truth['file']}:{line}: ") +
                      r"size=[0-9.]+ (B|KiB|MiB|GiB) \(\+[0-9.]+ (B|KiB|MiB|GiB)\), "
                      rf"count={g['count']} \(\+{g['count']}\), "
                      r"average=[0-9.]+ (B|KiB|MiB|GiB)$")
    lines = text.read_text().splitlines()
    assert any(form.match(l) for l in lines), [l for l in lines if "size=" in l][:5]
    assert any(l.startswith("top ") and " lines by outstanding bytes" in l for l in lines)


@pytest.mark.parametrize("python", INTERPRETERS[:2])
def test_group_by_function_and_file(tmp_path, python):
    need(python)
    report, truth = trace_script(tmp_path, python, "cache", "--group-by", "function")
    funcs = {g["function"]: g for g in report["groups"] if g["file"] == truth["file"]}
    line = str(leak_line("cache"))
    assert abs(funcs["handle_request"]["bytes"] - truth["lines"][line]["bytes"]) <= \
        0.10 * truth["lines"][line]["bytes"]
    report, truth = trace_script(tmp_path, python, "cache", "--group-by", "file")
    files = {g["file"]: g for g in report["groups"] if g["python"]}
    mine = sum(t["bytes"] for t in truth["lines"].values())
    assert abs(files[truth["file"]]["bytes"] - mine) <= 0.10 * mine
    assert all(g["line"] == 0 and g["function"] is None for g in files.values())


def stack_blocks(text):
    """The text report's stacks: each a list of its frame lines."""
    stacks, cur = [], None
    for l in text.splitlines():
        if re.match(r"^#\d+ ", l):
            cur = []
            stacks.append(cur)
        elif cur is not None and l.startswith("      "):
            cur.append(l.strip())
        elif cur is not None and not l.strip():
            cur = None
    return stacks


def is_python_line(l):
    return re.search(r" \(.+:\d+\)$", l) and "[" not in l


@pytest.mark.parametrize("python", INTERPRETERS)
def test_readable_stacks(tmp_path, python):
    need(python)
    folded, every, short = (tmp_path / n for n in ("folded.txt", "all.txt", "short.txt"))
    report, truth = trace_script(tmp_path, python, "cache", "-o", str(folded))
    line = leak_line("cache")
    leak = next(s for s in report["stacks"]
                if any(f.get("python") and f["line"] == line for f in s["frames"]))
    # JSON keeps every frame, the interpreter's marked.
    assert any(f.get("interpreter") for f in leak["frames"])
    first_py = next(i for i, f in enumerate(leak["frames"]) if f.get("python"))
    blocks = [b for b in stack_blocks(folded.read_text())
              if any(f"leaks.py:{line})" in l for l in b)]
    assert blocks, "the leak's stack is not in the text report"
    b = blocks[0]
    # The frames inside the innermost Python frame stay, one line each.
    assert len([l for l in b[:first_py]]) == first_py
    assert b[first_py].startswith("handle_request (")
    # Between Python frames, no interpreter frame on a line of its own:
    # runs of them are one "... N interpreter frames" line.
    py = [i for i, l in enumerate(b) if is_python_line(l)]
    for l in b[py[0]:py[-1]]:
        assert is_python_line(l) or l.startswith("... ") or "[" in l
    # The walk stopped at the outermost Python frame: nothing after it.
    assert py[-1] == len(b) - 1, b
    assert len(b) <= len(leak["frames"])

    # With --native-all it goes on to _start, and that outer end is one
    # line.
    outer = tmp_path / "outer.txt"
    report_outer, _ = trace_script(tmp_path, python, "cache", "-o", str(outer),
                                   "--native-all")
    leak_outer = next(s for s in report_outer["stacks"]
                      if any(f.get("python") and f["line"] == line for f in s["frames"]))
    b_outer = [b for b in stack_blocks(outer.read_text())
               if any(f"leaks.py:{line})" in l for l in b)][0]
    py = [i for i, l in enumerate(b_outer) if is_python_line(l)]
    assert b_outer[py[-1] + 1].startswith("... ") and "outermost" in b_outer[py[-1] + 1]
    assert py[-1] + 1 == len(b_outer) - 1, b_outer
    assert len(b_outer) < len(leak_outer["frames"])

    trace_script(tmp_path, python, "cache", "-o", str(every), "--frames", "all")
    b_all = [b for b in stack_blocks(every.read_text())
             if any(f"leaks.py:{line})" in l for l in b)][0]
    assert len(b_all) == len(leak["frames"])
    assert not any(l.startswith("... ") for l in b_all)

    trace_script(tmp_path, python, "cache", "-o", str(short), "--max-frames", "3")
    for b in stack_blocks(short.read_text()):
        assert len(b) <= 4
        if len(b) == 4:
            assert b[3].startswith("... ") and "more frames" in b[3]
