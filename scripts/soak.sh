#!/bin/sh
# Soak: memtrace (the ASan/UBSan build) on a target that churns, forks and
# loads libraries for SECONDS (default 600), printing memtrace's resident
# memory and open fds every STEP seconds (default 30): both must stay flat.
#
#   scripts/soak.sh [SECONDS [STEP]]
#
# ASan keeps freed memory in a quarantine (256 MiB by default), which would
# make RSS grow for reasons of its own: it is held to 16 MiB here. Ends
# with memtrace's exit status and whether the sanitizers (LeakSanitizer at
# exit included) said anything.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-600}
step=${2:-30}
make -s asan all >/dev/null
out=$(mktemp -d)
trap 'kill "$target" "$tracer" 2>/dev/null; rm -rf "$out"' EXIT

build/progs/soak_target build/progs/libplugin.so $((secs + 60)) >"$out/target.out" &
target=$!
sleep 0.5
ASAN_OPTIONS=quarantine_size_mb=16:detect_leaks=1 \
	build/asan/memtrace -q -n 20 -i 10 --json "$out/report.json" -p "$target" \
	2>"$out/memtrace.err" >"$out/memtrace.out" &
tracer=$!
sleep 2

echo "elapsed_s rss_kib fds"
t=0
while [ "$t" -le "$secs" ]; do
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$tracer/status")
	fds=$(ls "/proc/$tracer/fd" | wc -l)
	echo "$t $rss $fds"
	[ "$t" -ge "$secs" ] && break
	sleep "$step"
	t=$((t + step))
done

kill -INT "$tracer"
status=0
wait "$tracer" || status=$?
reports=$(wc -l <"$out/report.json")
echo "memtrace exit status $status, $reports reports"
if grep -q "ERROR: \|runtime error:" "$out/memtrace.err"; then
	echo "sanitizer reports:"
	grep -A5 "ERROR: \|runtime error:" "$out/memtrace.err" | head -40
	exit 1
fi
echo "no sanitizer report"
exit "$status"
