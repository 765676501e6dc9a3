"""--sample-bytes: allocations sampled as a Poisson process over allocated
bytes, figures scaled to unbiased estimates. Ground truth: bigleaks writes
what it leaked; every leak of at least 1 MiB must be estimated within 10%
(at a mean interval of 4 KiB each has thousands of samples behind it, so
10% is many standard deviations)."""
import json
import subprocess

from conftest import final_report, functions, memtrace_cmd, prog

from test_leaky import direct_caller, load_truth


def run_sampled(tmp_path, *flags):
    truth, out = tmp_path / "truth.json", tmp_path / "out.json"
    res = subprocess.run(
        memtrace_cmd("-q", "-n", "0", "--json", str(out), *flags, "--",
                     prog("bigleaks"), str(truth)),
        capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return final_report(out), load_truth(truth), res.stdout


def test_estimates_within_ten_percent(tmp_path):
    report, truth, text = run_sampled(tmp_path, "--sample-bytes", "4096")
    assert report["sampled"] is True
    assert report["sample_bytes"] == 4096
    assert report["may_be_wrong"] is False
    assert "are estimates" in text
    for leak in truth["leaks"]:
        assert leak["bytes"] >= 1 << 20
        stacks = [s for s in report["stacks"] if direct_caller(s) == leak["function"]]
        assert stacks, f"no stack names {leak['function']}"
        got_bytes = sum(s["bytes"] for s in stacks)
        got_count = sum(s["count"] for s in stacks)
        assert abs(got_bytes - leak["bytes"]) <= 0.10 * leak["bytes"], (leak, got_bytes)
        assert abs(got_count - leak["count"]) <= 0.10 * leak["count"], (leak, got_count)
        # Far fewer allocations were traced than the estimate stands for,
        # except for blocks so large that every one is sampled.
        samples = sum(s["samples"] for s in stacks)
        assert 0 < samples <= got_count
        if leak["size"] <= 4096:
            assert samples < 0.7 * leak["count"]
    # What was freed again does not show as outstanding.
    churned = [s for s in report["stacks"]
               if {"churn", "churn_realloc"} & set(functions(s))]
    assert sum(s["bytes"] for s in churned) < 0.01 * report["totals"]["outstanding_bytes"]
    leaked = sum(leak["bytes"] for leak in truth["leaks"])
    assert abs(report["totals"]["outstanding_bytes"] - leaked) <= 0.10 * leaked


def test_exact_without_sampling(tmp_path):
    report, truth, _ = run_sampled(tmp_path)
    assert report["sampled"] is False
    for leak in truth["leaks"]:
        stacks = [s for s in report["stacks"] if direct_caller(s) == leak["function"]]
        assert sum(s["bytes"] for s in stacks) == leak["bytes"]
        assert sum(s["count"] for s in stacks) == leak["count"]
        assert all("samples" not in s for s in stacks)


def test_sampling_refuses_python_objects():
    res = subprocess.run(memtrace_cmd("--sample-bytes", "4096", "--python-objects",
                                      "--", "true"),
                         capture_output=True, text=True, timeout=60)
    assert res.returncode != 0
    assert len(res.stderr.strip().splitlines()) == 1
    assert "--sample-bytes" in res.stderr
