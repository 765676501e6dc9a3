"""Pending return probes in a traced program, made without BPF: a perf
uprobe event with the retprobe bit makes the kernel replace the return
address of every call of a function with its uretprobe trampoline, until
the call returns. memtrace's stack walk must see through them."""
import ctypes
import os
import re
import subprocess

_SYS_PERF_EVENT_OPEN = 298   # x86-64


class _PerfEventAttr(ctypes.Structure):
    _fields_ = [("type", ctypes.c_uint32), ("size", ctypes.c_uint32),
                ("config", ctypes.c_uint64), ("sample_period", ctypes.c_uint64),
                ("sample_type", ctypes.c_uint64), ("read_format", ctypes.c_uint64),
                ("flags", ctypes.c_uint64), ("wakeup_events", ctypes.c_uint32),
                ("bp_type", ctypes.c_uint32), ("config1", ctypes.c_uint64),
                ("config2", ctypes.c_uint64), ("rest", ctypes.c_uint8 * 64)]


def file_offset(exe, function):
    """File offset of a function, as objdump -F reports it."""
    out = subprocess.run(["objdump", "-d", "-F", f"--disassemble={function}", exe],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(rf"<{re.escape(function)}> \(File Offset: (0x[0-9a-f]+)\)", out)
    assert m, out
    return int(m.group(1), 16)


def hold_return_probes(pid, exe, functions):
    """Open a uretprobe perf event on each function for process pid.
    Returns the fds; the probes stay until they are closed."""
    pmu = "/sys/bus/event_source/devices/uprobe"
    ptype = int(open(f"{pmu}/type").read())
    bit = int(open(f"{pmu}/format/retprobe").read().strip().split(":")[1])
    libc = ctypes.CDLL(None, use_errno=True)
    path = ctypes.create_string_buffer(os.path.abspath(exe).encode())
    fds = []
    for fn in functions:
        attr = _PerfEventAttr(type=ptype, size=ctypes.sizeof(_PerfEventAttr),
                              config=1 << bit, config1=ctypes.addressof(path),
                              config2=file_offset(exe, fn))
        fd = libc.syscall(_SYS_PERF_EVENT_OPEN, ctypes.byref(attr), pid, -1, -1, 0)
        if fd < 0:
            raise OSError(ctypes.get_errno(), f"perf_event_open uretprobe {fn}")
        fds.append(fd)
    return fds
