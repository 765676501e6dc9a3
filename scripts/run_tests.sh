#!/bin/sh
# The README's test command (make test): install what is missing, build
# normally and with sanitizers, run the unit tests (Criterion, under
# ASan/UBSan) and the integration tests (real BPF, real programs), and end
# with one summary line.
set -u
cd "$(dirname "$0")/.."
scripts/install_deps.sh "make test" || exit 1

make -s all && make -s asan || { echo "0 passed, 1 failed: build"; exit 1; }

failed=0
passed=0
for t in build/asan/tests/test_*; do
	echo "== unit: $t"
	if "$t"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done

echo "== integration tests"
MEMTRACE=./build/asan/memtrace
export MEMTRACE
if /usr/bin/python3 -m pytest -v -rs tests/integration; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi
echo "test suites: $passed passed, $failed failed"
[ "$failed" = 0 ]
