# Ground truth for tests/unit/test_python.c: what this interpreter itself
# says about a set of code objects, printed for a C test to compare with
# what it reads from this process's memory.
#
# Output, one record a line (strings as hex of their expected UTF-8 bytes):
#   version MAJOR MINOR MICRO HEXVERSION
#   thread NAME NATIVE_ID
#   code ID FIRSTLINENO QUALNAME_HEX FILENAME_HEX
#   lines L0 L1 ...      line of each code unit, "None" where it has none
#   wait ID LINE         the function now blocked reading stdin, and its line
#   ready
# then waits for stdin to close.
import ctypes
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import módulo_ü  # noqa: E402


def plain(a, b):
    c = a + b
    return c * 2


def outer(x):
    def inner(y):
        return x + y
    return inner


class Klass:
    def method(self, n):
        out = []
        for i in range(n):
            if i % 2:
                out.append(i)
            else:
                out.append(-i)
        return out

    @staticmethod
    def static():
        return 1


square = lambda v: v * v  # noqa: E731


def generator(n):
    yield from range(n)


async def coroutine():
    return 1


def handler():
    try:
        plain(1, 2)
    except ValueError as e:
        print(e)
    finally:
        pass
    with open(os.devnull) as f:
        f.read()


# Big line jumps, long lines and wide columns: the long forms of the
# location table (varint line deltas, columns past 127).
GENERATED = ("def far(a):\n"
             + "\n" * 300
             + "    b = a + 1\n"
             + "\n" * 5000
             + "    c = " + " + ".join(["b"] * 80) + "\n"
             + "    for i in range(3):\n"
             + "\n" * 70
             + "        c += i\n"
             + "    return c\n")
generated = compile(GENERATED, "generated_big.py", "exec")
far = generated.co_consts[0]

# Strings of every width: 1 byte (Latin-1), 2 bytes (BMP), 4 bytes (astral),
# and a file name holding an undecodable byte (surrogateescape'd \xff).
wide = plain.__code__.replace(
    co_qualname="wide.\U0001F600.\u03a9.\xe9",
    co_filename="/nowhere/\udcff-\U0001F40D-\u00fc.py")


def expected_utf8(s):
    out = bytearray()
    for ch in s:
        c = ord(ch)
        if 0xDC80 <= c <= 0xDCFF:
            out.append(c - 0xDC00)
        elif 0xD800 <= c <= 0xDFFF:
            out += "\ufffd".encode()
        else:
            out += ch.encode()
    return out.hex()


addr2line = ctypes.pythonapi.PyCode_Addr2Line
addr2line.argtypes = [ctypes.py_object, ctypes.c_int]
addr2line.restype = ctypes.c_int


def code_lines(code):
    # PyCode_Addr2Line is what tracebacks and f_lineno use; co_positions()
    # and co_lines() must agree with it.
    n = len(code.co_code) // 2
    lines = [addr2line(code, 2 * i) for i in range(n)]
    lines = [None if v < 0 else v for v in lines]
    positions = [p[0] for p in code.co_positions()]
    by_lines = [None] * n
    for start, end, line in code.co_lines():
        for b in range(start, end, 2):
            by_lines[b // 2] = line
    if positions != lines or by_lines != lines:
        sys.exit(f"{code.co_qualname}: Addr2Line {lines} "
                 f"co_positions {positions} co_lines {by_lines}")
    return lines


def all_codes(code):
    yield code
    for c in code.co_consts:
        if isinstance(c, type(code)):
            yield from all_codes(c)


def report(code):
    print("code", id(code), code.co_firstlineno,
          expected_utf8(code.co_qualname), expected_utf8(code.co_filename))
    print("lines", *("None" if v is None else v for v in code_lines(code)))


def wait_here(stop):
    print("wait", id(sys._getframe().f_code), sys._getframe().f_lineno + 2)
    print("ready", flush=True)
    sys.stdin.readline()
    stop.set()


def worker(stop):
    stop.wait()


codes = []
codes += all_codes(sys._getframe().f_code)
codes += all_codes(sys.modules["módulo_ü"].__loader__.get_code("módulo_ü"))
codes += [módulo_ü.función_ñandú.__code__, módulo_ü.Ωmega.méthode.__code__]
codes += all_codes(generated)
codes.append(wide)
codes += [Klass.method.__code__, outer(1).__code__, square.__code__]

print("version", *sys.version_info[:3], hex(sys.hexversion))
stop = threading.Event()
thread = threading.Thread(target=worker, args=(stop,), name="worker")
thread.start()
print("thread main", threading.get_native_id())
print("thread worker", thread.native_id)
seen = set()
for code in codes:
    if id(code) not in seen:
        seen.add(id(code))
        report(code)
wait_here(stop)
thread.join()
