"""How memtrace behaves over a trace: outputs, filters, stopping, exec,
several processes, and a full ring buffer."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import (final_report, functions, memtrace_cmd, prog,
                      read_reports, wait_for_line)

from test_leaky import check_leaks, direct_caller, load_truth


def start_leaky(truth, *flags):
    """leaky waiting for a line on stdin before it works (and, with --hold,
    before it exits)."""
    if "--busy" not in flags:
        flags = ("--wait", *flags)
    p = subprocess.Popen([prog("leaky"), *flags, str(truth)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    wait_for_line(p.stdout, "ready")
    return p


def start_tracer(*args):
    t = subprocess.Popen(memtrace_cmd(*args), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    wait_for_line(t.stderr, "Ctrl-C to stop")
    return t


def go(p, expect="done"):
    p.stdin.write("go\n")
    p.stdin.flush()
    if expect:
        wait_for_line(p.stdout, expect)


def stop(tracer, sig=signal.SIGINT):
    tracer.send_signal(sig)
    out, err = tracer.communicate(timeout=60)
    assert tracer.returncode == 0, err
    return out


@pytest.mark.parametrize("how", ["leader", "thread", "thread-sampled"])
def test_exec_mid_trace_drops_old_allocations(tmp_path, how):
    """execer leaks 100 x 1000 B, then execs leaky: the 100 are dropped
    (counted), and leaky's own leaks are traced exactly after the exec;
    also when a second thread execs (it becomes the leader), and then
    sampled with --sample-bytes 1 (every block sampled, to a double's
    precision), where the process held session probes, which are bound to
    the old leader and must be replaced."""
    truth, out = tmp_path / "truth.json", tmp_path / "out.json"
    args = (["--thread"] if how != "leader" else [])
    sampling = ["--sample-bytes", "1"] if how == "thread-sampled" else []
    res = subprocess.run(
        memtrace_cmd("-q", "-n", "0", "--json", str(out), *sampling, "--",
                     prog("execer"), *args, prog("leaky"), str(truth)),
        capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    report = final_report(out)
    assert report["accounting"]["exec_dropped"] >= 100
    assert not [s for s in report["stacks"]
                if "leak_before_exec" in functions(s)]
    assert any("exec'd" in w for w in report["warnings"])
    check_leaks(report, load_truth(truth), first_line_seen=True)


def test_folded_output_matches_the_report(tmp_path):
    truth, out, folded = (tmp_path / "truth.json", tmp_path / "out.json",
                          tmp_path / "out.folded")
    res = subprocess.run(
        memtrace_cmd("-q", "-n", "3", "--json", str(out), "--folded",
                     str(folded), "--", prog("leaky"), str(truth)),
        capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    report = final_report(out)
    lines = folded.read_text().splitlines()
    total = 0
    for line in lines:
        stack, _, count = line.rpartition(" ")
        assert stack and int(count) > 0, line
        total += int(count)
    # Every stack, not only the top 3 of the text and JSON reports.
    assert len(lines) == report["stacks_total"] > 3
    assert total == report["totals"]["outstanding_bytes"]
    pages = [l for l in lines if l.rpartition(" ")[0].endswith(
        "thread_main;leak_pages;malloc")]
    truth_pages = [l for l in load_truth(truth)["leaks"]
                   if l["function"] == "leak_pages"][0]
    assert [int(l.rpartition(" ")[2]) for l in pages] == [truth_pages["bytes"]]


def test_min_age_and_window_filters(tmp_path):
    """Leaks made before a pause are older than --min-age 1 and outside
    --window 1 after it; --min-age 1000 hides them all."""
    truth = tmp_path / "truth.json"
    results = {}
    for name, flags in {"min_age_1": ["--min-age", "1"],
                        "min_age_1000": ["--min-age", "1000"],
                        "window_1": ["--window", "1"],
                        "window_1000": ["--window", "1000"]}.items():
        out = tmp_path / f"{name}.json"
        leaky = start_leaky(truth, "--hold")
        try:
            tracer = start_tracer("-q", "-n", "0", "--json", str(out),
                                  "-p", str(leaky.pid), *flags)
            go(leaky)
            time.sleep(2.5)   # the leaks are now more than 1 s old
            stop(tracer)
        finally:
            leaky.kill()
            leaky.wait()
        results[name] = final_report(out)

    leak_bytes = sum(l["bytes"] for l in load_truth(truth)["leaks"])
    shown = {k: sum(s["bytes"] for s in r["stacks"]) for k, r in results.items()}
    assert shown["min_age_1"] >= leak_bytes
    assert shown["window_1000"] >= leak_bytes
    assert shown["min_age_1000"] == 0 and results["min_age_1000"]["stacks"] == []
    assert shown["window_1"] == 0
    # Totals count every live allocation whatever the filter.
    for r in results.values():
        assert r["totals"]["outstanding_bytes"] >= leak_bytes
    assert results["min_age_1"]["filter"]["min_age_s"] == 1


def test_duration_ends_the_trace_and_leaves_the_process(tmp_path):
    out = tmp_path / "out.json"
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        res = subprocess.run(memtrace_cmd("-d", "1", "--json", str(out), "-p",
                                          str(sleeper.pid)),
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        assert final_report(out)["processes"][0]["exited"] is False
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


def test_sigterm_gives_a_final_report_and_text_output_file(tmp_path):
    truth, text = tmp_path / "truth.json", tmp_path / "report.txt"
    leaky = start_leaky(truth, "--hold")
    try:
        tracer = start_tracer("-n", "2", "-o", str(text), "-p", str(leaky.pid))
        go(leaky)
        stop(tracer, signal.SIGTERM)
    finally:
        leaky.kill()
        leaky.wait()
    report = text.read_text()
    assert "final report" in report
    assert "leak_pages" in report and "3.9 MiB in 1000 allocations" in report


def test_periodic_reports_show_growth(tmp_path):
    """Reports every 0.2 s while leaky leaks: several reports, the last one
    final, and the growth of leak_pages' stack over all reports adds up to
    what it leaked."""
    truth, out = tmp_path / "truth.json", tmp_path / "out.json"
    leaky = start_leaky(truth, "--hold")
    try:
        tracer = start_tracer("-q", "-i", "0.2", "-n", "0", "--json", str(out),
                              "-p", str(leaky.pid))
        go(leaky)
        time.sleep(0.6)
        stop(tracer)
    finally:
        leaky.kill()
        leaky.wait()
    reports = read_reports(out)
    assert len(reports) >= 3
    assert [r["final"] for r in reports].count(True) == 1
    growth = 0
    for r in reports:
        growth += sum(s["growth_bytes"] for s in r["stacks"]
                      if direct_caller(s) == "leak_pages")
    assert growth == 1000 * 4096


@pytest.mark.parametrize("probes,reexec", [("events", False), ("links", False),
                                           ("events", True)],
                         ids=["events", "links", "exec"])
def test_attach_to_a_thread_in_its_calls(tmp_path, monkeypatch, probes, reexec):
    """leaky --busy's main thread allocates and frees without a pause
    while memtrace attaches, so its calls meet the probes while the process
    is still being attached (ignored; with links per process, which go in
    one by one) and then live; it then does a quarter of the leaks itself.
    With --reexec, the same thread, traced, execs leaky again and goes on
    with its calls while memtrace attaches to the new program. Each leak
    must be exact: a thread that went on taking its process for one being
    attached (what it remembers of the filter, target_known()) would lose
    its quarter."""
    if probes == "links":
        monkeypatch.setenv("MEMTRACE_NO_UPROBE_EVENTS", "1")
    truth, out = tmp_path / "truth.json", tmp_path / "out.json"
    leaky = start_leaky(truth, "--busy", *(["--reexec"] if reexec else []))
    try:
        tracer = start_tracer("-q", "-n", "0", "--json", str(out), "-p", str(leaky.pid))
        time.sleep(0.3)     # the main thread's calls, seen live, before the leaks
        if reexec:
            go(leaky, expect="ready")
            time.sleep(0.5)     # memtrace attaches to the new program meanwhile
        go(leaky, expect=None)
        assert leaky.wait(timeout=120) == 0
        assert tracer.wait(timeout=60) == 0
    finally:
        leaky.kill()
        leaky.wait()
    # After the exec, main's first line runs as memtrace attaches: either.
    check_leaks(final_report(out), load_truth(truth),
                first_line_seen=None if reexec else False)


@pytest.mark.parametrize("per_process,sampled", [(False, False), (True, False), (False, True)],
                         ids=["merged", "per-process", "sampled"])
def test_several_processes(tmp_path, per_process, sampled):
    """Two processes of one program leaking the same: by default each leak
    is one stack "in 2 processes" whose per-PID shares are each process's
    own truth; with --per-process, one stack per process. Sampled with
    --sample-bytes 1 (every block sampled, to a double's precision), the
    first process holds the session probes of libc and the second gets the
    usual ones: both must still be counted exactly."""
    truths = [tmp_path / "a.json", tmp_path / "b.json"]
    out, text = tmp_path / "out.json", tmp_path / "out.txt"
    procs = [start_leaky(t) for t in truths]
    try:
        tracer = start_tracer("-q", "-n", "0", "--json", str(out), "-o", str(text),
                              *(["--per-process"] if per_process else []),
                              *(["--sample-bytes", "1"] if sampled else []), "-p",
                              ",".join(str(p.pid) for p in procs))
        for p in procs:
            go(p, expect=None)
        for p in procs:
            assert p.wait(timeout=120) == 0
        assert tracer.wait(timeout=60) == 0   # ends when both have exited
    finally:
        for p in procs:
            p.kill()
    report = final_report(out)
    assert sorted(p["pid"] for p in report["processes"]) == \
        sorted(p.pid for p in procs)
    for p, truth in zip(procs, truths):
        expected = load_truth(truth)
        for leak in expected["leaks"]:
            got = [share for s in report["stacks"]
                   if direct_caller(s) == leak["function"]
                   for share in s["pids"] if share["pid"] == p.pid]
            assert sum(g["bytes"] for g in got) == leak["bytes"]
            assert sum(g["count"] for g in got) == leak["count"]
    for leak in load_truth(truths[0])["leaks"]:
        stacks = [s for s in report["stacks"]
                  if direct_caller(s) == leak["function"]]
        if per_process:
            assert all(len(s["pids"]) == 1 and s["pids"][0]["pid"] == s["pid"]
                       for s in stacks)
            assert {s["pid"] for s in stacks} == {p.pid for p in procs}
        else:
            # The same code in both: one stack carries both processes.
            both = [s for s in stacks if len(s["pids"]) == 2]
            assert both, f"{leak['function']} is not merged: {stacks}"
            for s in both:
                assert s["bytes"] == sum(x["bytes"] for x in s["pids"])
                assert s["count"] == sum(x["count"] for x in s["pids"])
    if not per_process:
        assert "in 2 processes" in text.read_text()


def test_full_ring_buffer_is_counted_not_hidden(tmp_path):
    """With a 1 MiB ring and the consumer stopped while leaky makes ~30 000
    events (~2 MiB), events are lost: the report must say so and mark its
    figures as possibly wrong; memtrace must not crash or hang."""
    truth, out = tmp_path / "truth.json", tmp_path / "out.json"
    leaky = start_leaky(truth, "--hold")
    try:
        # --no-follow: a followed process stops at each thread it starts
        # until memtrace (here stopped) lets it run (README, "Services").
        tracer = start_tracer("-n", "3", "--ringbuf-mb", "1", "--json",
                              str(out), "--no-follow", "-p", str(leaky.pid))
        tracer.send_signal(signal.SIGSTOP)
        try:
            go(leaky)
        finally:
            tracer.send_signal(signal.SIGCONT)
        text = stop(tracer)
    finally:
        leaky.kill()
        leaky.wait()
    report = final_report(out)
    assert report["accounting"]["lost_events"] > 0
    assert report["may_be_wrong"] is True
    assert "figures may be wrong" in text
