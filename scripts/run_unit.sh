#!/bin/sh
# Usage: run_unit.sh DIR
# Run every unit test binary under DIR (Criterion suites, built by
# `make unit` or `make asan`), then one line counting them all. Exits
# non-zero if any test failed or a suite did not run to its end. Needs no
# root.
set -u
dir=${1:-build/asan/tests}
log=$(mktemp)
out=$(mktemp)
trap 'rm -f "$log" "$out"' EXIT
status=0
for t in $(find "$dir" -type f -name 'test_*' ! -name '*.d' | sort); do
	echo "== unit: $t"
	"$t" >"$out" 2>&1 || status=1
	cat "$out"
	cat "$out" >>"$log"
done
passed=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' "$log" | awk '{s += $1} END {print s + 0}')
failed=$(sed -n 's/.*Failing: \([0-9]*\) | Crashing: \([0-9]*\).*/\1 \2/p' "$log" |
	awk '{s += $1 + $2} END {print s + 0}')
[ "$failed" -gt 0 ] && status=1
[ "$passed" -eq 0 ] && status=1
echo "unit: $passed passed, $failed failed"
exit $status
