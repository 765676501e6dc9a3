#!/usr/bin/python3
"""What symbolizing a report costs, on Debian's cc1plus compiling real C++.

memtrace traces `cc1plus -O2` on a preprocessed file that includes a dozen
standard headers (regex, future, variant, map...), with reports every
INTERVAL seconds and every stack in them (-n 0). Each report's JSON says
how long building it took (symbols.build_s: aggregation, stack lookup,
symbolization and the frames of every stack), how long symbolizing took
since the start (symbols.seconds: reading objects and resolving addresses
not resolved before) and how many distinct addresses have been resolved.

  cold   the first report, after the files memtrace reads to symbolize
         (cc1plus, its libraries, libc's debug file) were dropped from the
         page cache (posix_fadvise DONTNEED on those files only; pages that
         running processes map, libc's, stay)
  warm   the first report with those files in the page cache
  later  the reports after the first (addresses already resolved are
         cached per object: only new ones cost)

Rounds alternate cold and warm; medians are printed. cc1plus has no DWARF
here (gcc-12's debug symbols are in Debian's debug archive, not installed):
its frames are named from its exported symbols (.dynsym, demangled); libc's
get lines from libc6-dbg.

Usage: scripts/bench_symbols.py [ROUNDS] [INTERVAL]
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MT = os.environ.get("MEMTRACE", os.path.join(ROOT, "build", "memtrace"))
CC1PLUS = "/usr/lib/gcc/x86_64-linux-gnu/12/cc1plus"
HEADERS = ["algorithm", "functional", "iostream", "map", "memory", "regex", "set",
           "sstream", "string", "unordered_map", "vector", "future", "variant", "optional"]


def libc_files():
    out = subprocess.run(["ldd", CC1PLUS], capture_output=True, text=True).stdout
    libs = [ln.split("=>")[1].split()[0] for ln in out.splitlines() if "=>" in ln]
    files = [CC1PLUS] + libs
    for lib in libs:
        note = subprocess.run(["readelf", "-n", lib], capture_output=True, text=True).stdout
        for ln in note.splitlines():
            if "Build ID:" in ln:
                bid = ln.split()[-1]
                dbg = f"/usr/lib/debug/.build-id/{bid[:2]}/{bid[2:]}.debug"
                if os.path.exists(dbg):
                    files.append(dbg)
    return files


def drop_cache(files):
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def run(tmp, ii, interval):
    out = os.path.join(tmp, "out.json")
    if os.path.exists(out):
        os.unlink(out)
    subprocess.run([MT, "-q", "-n", "0", "-i", str(interval), "--json", out, "--", CC1PLUS,
                    "-quiet", "-O2", ii, "-o", "/dev/null"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(out) as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    interval = float(sys.argv[2]) if len(sys.argv) > 2 else 4
    if not os.path.exists(CC1PLUS):
        sys.exit(f"{CC1PLUS} is not installed (apt-get install g++-12)")
    files = libc_files()
    res = {"cold": [], "warm": [], "later": []}
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "big.cc")
        with open(src, "w") as f:
            f.write("".join(f"#include <{h}>\n" for h in HEADERS))
            f.write(open(os.path.join(ROOT, "tests/progs/nofp/leak_cxx.cc")).read())
        ii = os.path.join(tmp, "big.ii")
        subprocess.run(["g++", "-O2", "-E", src, "-o", ii], check=True)
        for r in range(rounds):
            for kind in ("cold", "warm"):
                if kind == "cold":
                    drop_cache(files)
                reports = run(tmp, ii, interval)
                first = reports[0]
                res[kind].append((first["symbols"]["seconds"], first["symbols"]["build_s"],
                                  first["stacks_total"],
                                  sum(len(s["frames"]) for s in first["stacks"]),
                                  first["symbols"]["resolved"]))
                for prev, rep in zip(reports, reports[1:]):
                    res["later"].append((rep["symbols"]["seconds"] - prev["symbols"]["seconds"],
                                         rep["symbols"]["build_s"], rep["stacks_total"],
                                         sum(len(s["frames"]) for s in rep["stacks"]),
                                         rep["symbols"]["resolved"] -
                                         prev["symbols"]["resolved"]))
    print(f"cc1plus -O2 on {len(HEADERS)} standard headers, reports every {interval}s, "
          f"{rounds} rounds")
    for kind in ("cold", "warm", "later"):
        rows = res[kind]
        if not rows:
            continue
        med = lambda i: statistics.median(r[i] for r in rows)
        print(f"  {kind:5}  symbolizing {med(0):.3f}s, whole report {med(1):.3f}s "
              f"(medians of {len(rows)}): {med(2):.0f} stacks, {med(3):.0f} frames, "
              f"{med(4):.0f} {'new ' if kind == 'later' else ''}addresses resolved")


if __name__ == "__main__":
    main()
