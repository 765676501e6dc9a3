"""Debian's redis-server, whose malloc is jemalloc's (it links
libjemalloc.so.2): memtrace attached to a running server must see the
memory of the keys it stores, on the stacks through redis's zmalloc and
dictAddRaw, and its outstanding total must be within 10% of what redis
itself counts (INFO memory: used_memory, less its value at attach).

redis counts each block's usable size (jemalloc's size class), memtrace the
size asked for; with values of 1000 bytes the two differ by ~3%.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import functions, memtrace_cmd, read_reports, wait_for_line

KEYS = 20000
VALUE = 1000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_cli(port, *args, stdin=None):
    return subprocess.run(["redis-cli", "-p", str(port), *args], input=stdin,
                          capture_output=True, check=True, timeout=60).stdout


def used_memory(port):
    for line in redis_cli(port, "info", "memory").decode().splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    raise AssertionError("no used_memory in INFO memory")


def set_commands(n):
    """SET key:NNNNNN <VALUE bytes>, n times, in the protocol --pipe reads."""
    value = b"v" * VALUE
    out = []
    for i in range(n):
        key = b"key:%06d" % i
        out.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
                   % (len(key), key, len(value), value))
    return b"".join(out)


@pytest.fixture
def redis(tmp_path):
    for tool in ("redis-server", "redis-cli"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is missing: packages redis-server, redis-tools "
                        "(scripts/install_deps.sh installs them)")
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path), "--daemonize", "no"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_line(server.stdout, "Ready to accept connections")
        yield server, port
    finally:
        server.kill()
        server.wait()


def test_redis_keys(tmp_path, redis):
    server, port = redis
    out = tmp_path / "out.json"
    tracer = subprocess.Popen(
        memtrace_cmd("-q", "-n", "0", "-i", "1", "--json", str(out), "-p", str(server.pid)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_line(tracer.stderr, "Ctrl-C to stop")
    at_attach = used_memory(port)
    res = redis_cli(port, "--pipe", stdin=set_commands(KEYS)).decode()
    assert f"replies: {KEYS}" in res, res
    assert int(redis_cli(port, "dbsize")) == KEYS
    grown = used_memory(port) - at_attach
    time.sleep(0.5)		# the last events drained into a report
    tracer.send_signal(signal.SIGINT)
    _, stderr = tracer.communicate(timeout=60)
    assert tracer.returncode == 0, stderr
    assert server.poll() is None, "redis-server must still run"

    report = read_reports(out)[-1]
    assert report["final"] is True
    assert report["processes"][0]["allocator"]["kind"] == "jemalloc"
    total = report["totals"]["outstanding_bytes"]
    assert abs(total - grown) <= 0.10 * grown, \
        f"memtrace {total} B outstanding, redis used_memory grew {grown} B"
    # The keys are on redis's own stacks: a dict entry per key added
    # through dictAddRaw, and nearly everything through zmalloc's family.
    entries = [s for s in report["stacks"]
               if "dictAddRaw" in functions(s) and s["allocator"] == "malloc"]
    assert sum(s["count"] for s in entries) >= KEYS
    zmalloc = [s for s in report["stacks"]
               if {"zmalloc", "zmalloc_usable", "zcalloc", "zrealloc"} & set(functions(s))]
    assert sum(s["bytes"] for s in zmalloc) >= 0.95 * total
    assert report["accounting"]["lost_events"] == 0
    assert report["may_be_wrong"] is False
