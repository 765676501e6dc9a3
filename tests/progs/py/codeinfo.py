# Ground truth for tests/unit/python/ (interps.h): what this interpreter itself
# says about a set of code objects and threads, printed for a C test to
# compare with what it reads from this process's memory.
#
# Output, one record a line (code and lines: see truth.py):
#   version MAJOR MINOR MICRO HEXVERSION
#   thread NAME NATIVE_ID
#   code ... / lines ...
#   wait ID LINE         the function now blocked reading stdin, and its line
#   module ID LINE       the module's code, and the line calling that function
#   ready
# then waits for stdin to close.
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import módulo_ü  # noqa: E402
import truth  # noqa: E402


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


# Instances of str subclasses keep their characters out of line.
class Str(str):
    pass


subclassed = plain.__code__.replace(co_qualname=Str("sub.\u03a9"),
                                    co_filename=Str("/sub/fil\xe9.py"))


def wait_here(stop):
    print("wait", id(sys._getframe().f_code), sys._getframe().f_lineno + 2)
    print("ready", flush=True)
    sys.stdin.readline()
    stop.set()


def worker(stop):
    stop.wait()


codes = []
codes += truth.all_codes(sys._getframe().f_code)
codes += truth.all_codes(
    sys.modules["módulo_ü"].__loader__.get_code("módulo_ü"))
codes += [módulo_ü.función_ñandú.__code__, módulo_ü.Ωmega.méthode.__code__]
codes += truth.all_codes(generated)
codes += [wide, subclassed]
codes += [Klass.method.__code__, outer(1).__code__, square.__code__]
# Frozen (3.11: deep-frozen, statically allocated) standard library code.
codes += [os.path.join.__code__, threading.Event.wait.__code__]

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
        truth.report(code)
print("module", id(sys._getframe().f_code), sys._getframe().f_lineno + 1)
wait_here(stop)
thread.join()
