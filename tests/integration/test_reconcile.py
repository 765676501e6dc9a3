"""Where the RSS goes: every report has, per process, the RSS the kernel
counts against what memtrace accounts for.

tests/progs/rss_hog allocates 100 MiB and touches it (in 1 MiB blocks that
glibc maps one by one, or in 4 KiB blocks from its heap). memtrace's heap
must hold exactly the bytes the program says it allocated, and the growth
of the anonymous RSS since attach (the kernel's figure) and the growth
memtrace accounts for must agree within 5%.
"""
import signal
import subprocess
import time

import pytest

from conftest import memtrace_cmd, prog, read_reports, wait_for_line

MiB = 1 << 20


def last_report(path):
    try:
        reports = read_reports(path)
    except (OSError, ValueError):
        return None
    return reports[-1] if reports else None


@pytest.mark.parametrize("blocks", ["big", "small"])
def test_reconcile_100_mib(tmp_path, blocks):
    out = tmp_path / "out.json"
    target = subprocess.Popen([prog("rss_hog"), blocks], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        wait_for_line(target.stdout, "ready")
        tracer = subprocess.Popen(
            memtrace_cmd("-q", "-i", "0.5", "-n", "5", "--json", str(out), "-p",
                         str(target.pid)),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for_line(tracer.stderr, "Ctrl-C to stop")
        target.stdin.write("go\n")
        target.stdin.flush()
        allocated = int(wait_for_line(target.stdout, "done")[-1].split()[1])
        # A report made after all of it was allocated, the target alive.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r = last_report(out)
            mem = r and r["processes"][0]["memory"]
            if mem and mem["heap"] >= allocated:
                break
            time.sleep(0.2)
        tracer.send_signal(signal.SIGINT)
        _, stderr = tracer.communicate(timeout=60)
        assert tracer.returncode == 0, stderr
    finally:
        target.kill()
        target.wait()
    report = read_reports(out)[-1]
    assert report["final"] is True
    mem = report["processes"][0]["memory"]
    assert mem is not None, "the live process was not measured"
    assert mem["heap"] == allocated, mem
    accounted = mem["heap"] + mem["mapped"] + mem["python_arenas"]
    growth = mem["rss_anon_growth"]
    assert growth >= 0.95 * allocated, mem
    assert abs(growth - accounted) <= 0.05 * allocated, \
        f"RSS grew {growth / MiB:.1f} MiB, memtrace accounts {accounted / MiB:.1f} MiB"
    # The parts add up, and the totals are this one process's.
    assert mem["unexplained"] == mem["rss_anon"] - (accounted + mem["thread_stacks"])
    assert report["totals"]["memory"]["rss_anon"] == mem["rss_anon"]
