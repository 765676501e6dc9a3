#!/bin/sh
# How long memtrace takes to attach to a Debian python3.11 service and to
# exit after Ctrl-C (SIGINT), with the machine idle and with both cores
# busy (two shell loops), interleaved round by round:
#   attach 1      memtrace -p PID started, until it says "Ctrl-C to stop":
#                 the probes are live (everything is attached before it says so)
#   exit 1        SIGINT to the end of memtrace (final report written, -q)
#   attach 64     the same with a service of 64 processes (-p MASTER: the 63
#                 workers it forked are found and followed)
#   exit 64       ... and its exit
# With --links the same runs use the fallback probes (uprobe_multi links per
# process, MEMTRACE_NO_UPROBE_EVENTS=1) as well, for comparison.
# Prints the median, min and max seconds of each.
# Usage: scripts/bench_attach_exit.sh [ROUNDS] [--links]
set -eu
cd "$(dirname "$0")/.."
. scripts/bench/lib.sh
ROUNDS=${1:-5}
LINKS=${2:-}
MT=${MEMTRACE:-build/memtrace}
PY=/usr/bin/python3.11
[ -x "$MT" ] || { echo "run make first" >&2; exit 1; }
[ -x "$PY" ] || { echo "needs Debian's python3.11" >&2; exit 1; }

tmp=$(mktemp -d)
burners=""
service=""
stop_burners() { for b in $burners; do kill "$b" 2>/dev/null || true; done; burners=""; }
stop_service() {
	[ -n "$service" ] && kill -KILL "-$service" 2>/dev/null || true
	service=""
}
trap 'stop_burners; stop_service; rm -rf "$tmp"' EXIT

now() { date +%s.%N; }

# start_service N: a python3.11 service of N processes in its own process
# group; $service is its leader's PID.
start_service() {
	rm -f "$tmp/ready"
	setsid "$PY" scripts/bench/py_service.py "$1" > "$tmp/ready" &
	service=$!
	while ! grep -q ready "$tmp/ready" 2>/dev/null; do sleep 0.01; done
}

# one LABEL N [ENV]: attach to a fresh N-process service, then exit.
one() {
	label=$1 n=$2
	start_service "$n"
	: > "$tmp/err"
	t0=$(now)
	env ${3:-} "$MT" -q -o /dev/null -p "$service" 2> "$tmp/err" &
	mt=$!
	wait_ready "$tmp/err" "$mt"
	t1=$(now)
	sleep 1
	t2=$(now)
	kill -INT "$mt"
	wait "$mt"
	t3=$(now)
	echo "$t1 $t0" | awk '{ print $1 - $2 }' >> "$tmp/attach $label $n"
	echo "$t3 $t2" | awk '{ print $1 - $2 }' >> "$tmp/exit $label $n"
	stop_service
}

for r in $(seq "$ROUNDS"); do
	for load in idle busy; do
		if [ $load = busy ]; then
			sh -c 'while :; do :; done' & burners="$burners $!"
			sh -c 'while :; do :; done' & burners="$burners $!"
		fi
		one "$load" 1
		one "$load" 64
		if [ -n "$LINKS" ]; then
			one "$load,links" 64 MEMTRACE_NO_UPROBE_EVENTS=1
		fi
		stop_burners
	done
done

echo "seconds: median (min - max) of $ROUNDS rounds, python3.11 service, -p MASTER"
for what in attach exit; do
	for f in "$tmp/$what "*; do
		[ -e "$f" ] || continue
		set -- $(stats "$f")
		printf "  %-22s %6.2f  (%.2f - %.2f)\n" "$(basename "$f")" "$1" "$2" "$3"
	done
done
