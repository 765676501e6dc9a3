#!/bin/sh
# What one traced call costs when many processes that share its libc are
# traced at once (README, "One probe, many processes"), and what a process
# that is not traced pays meanwhile.
#
# tests/progs/churn.c, linked against a private copy of libc (no other
# tracer's probes on it), waits for SIGUSR1 while memtrace attaches to it
# and to N-1 more churns of the same libc that never allocate (traced
# processes whose probes are in, as a service's idle workers); then it runs
# its malloc/free pairs. Configurations, round-robin:
#   alone        churn by itself
#   N=1          memtrace -p churn
#   N=8 first    churn named first of 8 in -p, whose probes are opened first
#   N=8 last     churn named last of 8
#   N=64 first, N=64 last   the same with 64
#   untraced     churn not named, memtrace tracing the 64 others
# Each runs --empty-probes (programs that return at once: the kernel's part,
# which is what can grow with N) unless MODE=full (memtrace's default mode).
# Prints the median ns per pair of each, min-max, and its ratio to N=1.
#
# Usage: [MODE=full] scripts/bench_many.sh [PAIRS] [ROUNDS]
set -eu
cd "$(dirname "$0")/.."
. scripts/bench/lib.sh
PAIRS=${1:-300000}
ROUNDS=${2:-5}
need_memtrace
case ${MODE:-empty} in
full) mode_opt= ;;
*) mode_opt=--empty-probes ;;
esac

tmp=$(mktemp -d)
idle=
cleanup() {
	[ -n "$idle" ] && kill $idle 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
B=build/bench
bench_private_libc tests/progs/churn.c "$B/churn_many"

# start_idle N: N churns that never allocate, their PIDs in $idle, joined
# by commas in $idle_list.
start_idle() {
	idle= idle_list=
	i=0
	while [ "$i" -lt "$1" ]; do
		"$B/churn_many" 0 1 wait &
		idle="$idle $!"
		idle_list="${idle_list:+$idle_list,}$!"
		i=$((i + 1))
	done
}

# run CONFIG: one timed churn; its "ns per pair" on stdout.
run() {
	case $1 in
	alone) "$B/churn_many" "$PAIRS" | sed -n 's/^churn: \([0-9.]*\) ns.*/\1/p'
		return ;;
	N=1) n=0 ;;
	N=8*) n=7 ;;
	*) n=63 ;;
	esac
	"$B/churn_many" "$PAIRS" 1 wait > "$tmp/out" &
	churn=$!
	start_idle "$n"
	case $1 in
	*first) pids=$churn,$idle_list ;;
	*last) pids=$idle_list,$churn ;;
	untraced) pids=$idle_list ;;
	*) pids=$churn ;;
	esac
	sleep 0.1	# past their execs
	"$MT" $mode_opt -q -o /dev/null -p "$pids" 2> "$tmp/err" &
	tracer=$!
	wait_ready "$tmp/err" "$tracer"
	kill -USR1 "$churn"
	wait "$churn"
	kill -INT "$tracer"
	wait "$tracer" || true
	kill $idle 2>/dev/null || true
	wait $idle 2>/dev/null || true
	idle=
	wait_cleanups
	sed -n 's/^churn: \([0-9.]*\) ns.*/\1/p' "$tmp/out"
}

configs="alone N=1 N=8-first N=8-last N=64-first N=64-last untraced"
for r in $(seq "$ROUNDS"); do
	for c in $configs; do
		run "$c" >> "$tmp/$c"
	done
done

echo "churn, $PAIRS malloc+free pairs, private libc, memtrace ${mode_opt:-(default mode)},"
echo "$ROUNDS interleaved rounds: median ns per pair [min-max], ratio to N=1"
set -- $(stats "$tmp/N=1"); one=$1
for c in $configs; do
	set -- $(stats "$tmp/$c")
	printf "  %-12s %9s  [%s-%s]  x%.2f\n" "$c" "$1" "$2" "$3" \
		"$(ratio "$1" "$one")"
done
