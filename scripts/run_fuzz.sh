#!/bin/sh
# Run each fuzz harness for SECONDS (make fuzz; make test runs 20 s each):
#   scripts/run_fuzz.sh SECONDS build/fuzz/fuzz_NAME...
# Each starts from its committed corpus, tests/fuzz/corpus/NAME/ (seeds
# made from real files on the machine, and every input that once crashed a
# harness, kept as a regression case: regress-*), which it only reads; what
# it finds new goes to build/fuzz/work/NAME/. A crash, leak, sanitizer
# report or timeout leaves its input in build/fuzz/artifacts/ and fails.
# Ends with one line: "fuzz: P passed, F failed".
set -u
secs=${1:?usage: run_fuzz.sh SECONDS HARNESS...}
shift
passed=0
failed=0
mkdir -p build/fuzz/artifacts
for bin in "$@"; do
	name=$(basename "$bin" | sed 's/^fuzz_//')
	corpus=tests/fuzz/corpus/$name
	work=build/fuzz/work/$name
	log=build/fuzz/$name.log
	mkdir -p "$work" "$corpus"
	# -timeout: one input taking more than 10 s is a hang, a finding too.
	if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
		-print_final_stats=1 -artifact_prefix="build/fuzz/artifacts/$name-" \
		"$work" "$corpus" >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "fuzz $name: ${runs:-?} runs in ${secs}s, no crash"
		passed=$((passed + 1))
	else
		echo "fuzz $name: FAILED (see $log):"
		grep -E "ERROR|SUMMARY|Test unit written" "$log" | head -5
		failed=$((failed + 1))
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
