#!/usr/bin/python3
"""Seed inputs for the Python fuzz harnesses, from real code objects of
the interpreter running this script (3.11 or later: the location table
format of PEP 657):

  corpus/python_linetable/  4 bytes of co_firstlineno, then co_linetable
  corpus/python_code/       a layout byte, then a memory image holding a
                            code object at CODE_ADDR and the str and
                            bytes objects it points to, laid out as
                            CPython 3.11 or 3.12 lays them out (the
                            offsets of user/python/python_detect.c)

Usage: make_seeds.py CORPUS_DIR [MODULE...]
"""
import hashlib
import importlib
import importlib.util
import os
import struct
import sys
import types

CODE_ADDR = 64
CODE_TYPE = 0x00C0DE00C0DE0000
STR_TYPE = 0x0057700057700000

LAYOUTS = {
    11: dict(firstlineno=72, ascii_data=48, compact_data=72),
    12: dict(firstlineno=68, ascii_data=40, compact_data=56),
}


def str_object(s, layout):
    if all(ord(c) < 128 for c in s):
        kind, body, at = 1, s.encode("ascii"), layout["ascii_data"]
        state = kind << 2 | 0x20 | 0x40
    else:
        m = max(ord(c) for c in s)
        kind = 1 if m < 256 else 2 if m < 65536 else 4
        body = s.encode({1: "latin-1", 2: "utf-16-le", 4: "utf-32-le"}[kind])
        at = layout["compact_data"]
        state = kind << 2 | 0x20
    hdr = bytearray(at)
    struct.pack_into("<QQQ", hdr, 0, 1, STR_TYPE, len(s))
    struct.pack_into("<I", hdr, 32, state)
    return bytes(hdr) + body + b"\0" * kind


def bytes_object(b):
    hdr = bytearray(32)
    struct.pack_into("<QQq", hdr, 0, 1, 0xB17E5, len(b))
    return bytes(hdr) + b + b"\0"


def image(code, minor):
    layout = LAYOUTS[minor]
    mem = bytearray(CODE_ADDR + 160)
    objs = [str_object(code.co_filename, layout), str_object(code.co_qualname, layout),
            bytes_object(code.co_linetable)]
    addrs = []
    for o in objs:
        while len(mem) % 16:
            mem.append(0)
        addrs.append(len(mem))
        mem += o
    struct.pack_into("<QQ", mem, CODE_ADDR, 1, CODE_TYPE)
    struct.pack_into("<i", mem, CODE_ADDR + layout["firstlineno"], code.co_firstlineno)
    struct.pack_into("<QQQQ", mem, CODE_ADDR + 112, addrs[0], addrs[1], addrs[1], addrs[2])
    return bytes([minor == 12]) + bytes(mem)


def codes(module):
    seen = []
    stack = [getattr(module, name) for name in dir(module)]
    while stack:
        obj = stack.pop()
        code = getattr(obj, "__code__", None)
        if isinstance(code, types.CodeType) and code not in seen:
            seen.append(code)
            stack += [c for c in code.co_consts if isinstance(c, types.CodeType)]
        elif isinstance(obj, types.CodeType) and obj not in seen:
            seen.append(obj)
    return seen


def write(directory, data):
    os.makedirs(directory, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def main():
    out = sys.argv[1]
    mods = sys.argv[2:] or ["json.decoder", "textwrap", "argparse"]
    n = 0
    for name in mods:
        if name.endswith(".py"):
            spec = importlib.util.spec_from_file_location("m", name)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(name)
        for code in codes(module)[:8]:
            write(os.path.join(out, "python_linetable"),
                  struct.pack("<i", code.co_firstlineno) + code.co_linetable)
            write(os.path.join(out, "python_code"), image(code, 11 if n % 2 else 12))
            n += 1
    print(f"{n} code objects from {', '.join(mods)}")


if __name__ == "__main__":
    main()
