# What an interpreter says about its own code objects, printed for
# tests/unit/python/interps.h (shared by the scripts of this directory).
#
# Records, one a line, strings as hex of their expected UTF-8 bytes:
#   code ID FIRSTLINENO QUALNAME_HEX FILENAME_HEX
#   lines L0 L1 ...      line of each code unit, "None" where it has none
import ctypes
import sys

_addr2line = ctypes.pythonapi.PyCode_Addr2Line
_addr2line.argtypes = [ctypes.py_object, ctypes.c_int]
_addr2line.restype = ctypes.c_int


def expected_utf8(s):
    """s as memtrace should give it: UTF-8, with the surrogate escapes of
    undecodable file name bytes (PEP 383) turned back into those bytes."""
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


def code_lines(code):
    """The line of every code unit. PyCode_Addr2Line is what tracebacks
    and f_lineno use; co_positions() and co_lines() must agree with it."""
    n = len(code.co_code) // 2
    lines = [_addr2line(code, 2 * i) for i in range(n)]
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


def report(code):
    print("code", id(code), code.co_firstlineno,
          expected_utf8(code.co_qualname), expected_utf8(code.co_filename))
    print("lines", *("None" if v is None else v for v in code_lines(code)))


def all_codes(code):
    yield code
    for c in code.co_consts:
        if isinstance(c, type(code)):
            yield from all_codes(c)
