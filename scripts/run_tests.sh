#!/bin/sh
# The README's test command (make test): install what is missing, build
# normally and with sanitizers, run the unit tests (Criterion, under
# ASan/UBSan) and the integration tests (real BPF, real programs), and end
# with one line counting every test.
set -u
cd "$(dirname "$0")/.."
scripts/install_deps.sh "make test" || exit 1

make -s all && make -s asan || { echo "tests: 0 passed, 1 failed (build)"; exit 1; }

log=$(mktemp)
status=0
unit=$(mktemp)
trap 'rm -f "$log" "$unit"' EXIT
scripts/run_unit.sh build/asan/tests >"$unit" 2>&1 || status=1
cat "$unit" | tee -a "$log"

echo "== fuzz (20 s per harness)"
# A harness that does not build is a failure, said with the compiler's words.
make -s -k fuzz-build >"$log.fuzzbuild" 2>&1 || {
	grep -E "error|undefined" "$log.fuzzbuild" | head -5
	echo "fuzz: 0 passed, 1 failed (build)" >>"$log"
	status=1
}
rm -f "$log.fuzzbuild"
scripts/run_fuzz.sh 20 build/fuzz/fuzz_elf_symbols build/fuzz/fuzz_unwind_table \
	build/fuzz/fuzz_pymalloc_sites build/fuzz/fuzz_python_code \
	build/fuzz/fuzz_python_linetable build/fuzz/fuzz_proc_maps 2>&1 | tee -a "$log" || status=1

echo "== integration tests"
MEMTRACE=./build/asan/memtrace
export MEMTRACE
/usr/bin/python3 -m pytest -v -rs tests/integration 2>&1 | tee -a "$log"
# tee hides pytest's exit status; its summary line tells ("1 xfailed", an
# expected failure, is not a failure).
grep -Eq "^=+ (.*[ ,])?[0-9]+ (failed|errors?)[ ,]|no tests ran" "$log" && status=1

# Criterion: "Tested: N | Passing: P | Failing: F | Crashing: C";
# pytest's last line: "== 3 failed, 35 passed, 1 skipped in 9.1s ==".
summary=$(grep -E "^=+ .* in [0-9.]+s" "$log" | tail -n 1)
passed=$( (sed -n 's/.*Passing: \([0-9]*\).*/\1/p; s/^fuzz: \([0-9]*\) passed.*/\1/p' "$log"
	echo "$summary" | grep -oE "[0-9]+ passed" | cut -d' ' -f1) |
	awk '{s += $1} END {print s + 0}')
failed=$( (sed -n 's/.*Failing: \([0-9]*\) | Crashing: \([0-9]*\).*/\1 \2/p; s/^fuzz: [0-9]* passed, \([0-9]*\) failed.*/\1 0/p' "$log"
	echo "$summary" | grep -oE "[0-9]+ (failed|errors?)" | cut -d' ' -f1) |
	awk '{s += $1 + $2} END {print s + 0}')
[ "$failed" -gt 0 ] && status=1
echo "tests: $passed passed, $failed failed"
exit $status
