#!/bin/sh
# What the probe sites cost with each allocator, and what the mmap/brk
# probes cost processes memtrace does not trace.
#
# 1. tests/progs/churn.c linked against a private copy of each allocator
#    (glibc's libc, jemalloc, tcmalloc, mimalloc: a copy is another file,
#    so no other tracer's uprobes slow it), run round-robin:
#      alone   churn by itself
#      entry   memtrace --empty-probes with every probe on its function's
#              first byte (MEMTRACE_PROBE_AT_ENTRY=1), as other tracers do
#      sites   memtrace --empty-probes on memtrace's own sites
#              (user/proc/probe_site.c)
#    Prints the median ns per malloc+free pair, min-max, and entry/sites.
# 2. A getppid() loop, then an mmap+munmap loop, of a process nobody
#    traces, while memtrace traces a sleeping one: without memtrace, with
#    the mmap/brk probes as memtrace chooses (fentry/fexit where the kernel
#    allows them, else the mmap lock's tracepoint), on the syscalls' own
#    tracepoints (MEMTRACE_NO_FEXIT=1 MEMTRACE_NO_LOCK_TP=1) and on the raw
#    syscall tracepoints (and MEMTRACE_RAW_SYSCALL_TP=1, the last fallback).
#
# Usage: scripts/bench_allocators.sh [PAIRS] [ROUNDS]
# SYSCALLS_ONLY=1 runs part 2 only.
set -eu
cd "$(dirname "$0")/.."
. scripts/bench/lib.sh
PAIRS=${1:-200000}
ROUNDS=${2:-5}
need_memtrace

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
B=build/bench
mkdir -p "$B"
if [ -z "${SYSCALLS_ONLY:-}" ]; then
LIBDIR=/usr/lib/x86_64-linux-gnu
bench_private_libc tests/progs/churn.c "$B/churn_glibc"
allocs="glibc"
for a in jemalloc:libjemalloc.so.2 tcmalloc:libtcmalloc_minimal.so.4 mimalloc:libmimalloc.so.2; do
	name=${a%%:*} so=${a#*:}
	[ -e "$LIBDIR/$so" ] || { echo "$name: $LIBDIR/$so missing, skipped"; continue; }
	cp -f "$(readlink -f "$LIBDIR/$so")" "$B/lib/$so"
	gcc -O1 -g -fno-omit-frame-pointer -pthread tests/progs/churn.c -o "$B/churn_$name" \
		"$B/lib/$so" -Wl,-rpath,"$(cd "$B/lib" && pwd)"
	allocs="$allocs $name"
done

run() {
	case $2 in
	alone) "$B/churn_$1" "$PAIRS" ;;
	entry) MEMTRACE_PROBE_AT_ENTRY=1 "$MT" -q -o /dev/null --empty-probes -- \
		"$B/churn_$1" "$PAIRS" ;;
	sites) "$MT" -q -o /dev/null --empty-probes -- "$B/churn_$1" "$PAIRS" ;;
	esac
}

for r in $(seq "$ROUNDS"); do
	for a in $allocs; do
		for c in alone entry sites; do
			run "$a" "$c" 2>/dev/null | sed -n 's/^churn: \([0-9.]*\) ns.*/\1/p' \
				>> "$tmp/$a.$c"
		done
	done
done

echo "churn, $PAIRS malloc+free pairs (1 in 16 a realloc), private copies, $ROUNDS rounds,"
echo "ns per pair: median (min-max)"
printf "%-9s %20s %22s %22s %12s\n" allocator alone "probes at entry" "memtrace's sites" entry/sites
for a in $allocs; do
	set -- $(stats "$tmp/$a.alone"); al="$1 ($2-$3)"
	set -- $(stats "$tmp/$a.entry"); en=$1; enr="$1 ($2-$3)"
	set -- $(stats "$tmp/$a.sites"); si=$1; sir="$1 ($2-$3)"
	printf "%-9s %20s %22s %22s %11.1fx\n" "$a" "$al" "$enr" "$sir" \
		"$(ratio "$en" "$si")"
done
fi

gcc -O2 scripts/bench/syscalls.c -o "$B/syscalls"
sys_run() {
	case $1 in
	none) "$B/syscalls" 1000000 ;;
	*)
		sleep 30 & victim=$!
		sleep 0.3	# past its exec
		case $1 in
		syscall-tp) MEMTRACE_NO_FEXIT=1 MEMTRACE_NO_LOCK_TP=1 "$MT" -q -o /dev/null \
				-p "$victim" 2>"$tmp/err.$1" & ;;
		raw-tp) MEMTRACE_NO_FEXIT=1 MEMTRACE_NO_LOCK_TP=1 MEMTRACE_RAW_SYSCALL_TP=1 \
			"$MT" -q -o /dev/null \
				-p "$victim" 2>"$tmp/err.$1" & ;;
		*) "$MT" -q -o /dev/null -p "$victim" 2>"$tmp/err.$1" & ;;
		esac
		tracer=$!
		until grep -q "Ctrl-C" "$tmp/err.$1" 2>/dev/null; do
			kill -0 "$tracer" 2>/dev/null || { cat "$tmp/err.$1" >&2; exit 1; }
			sleep 0.1
		done
		"$B/syscalls" 1000000
		kill -INT "$tracer"; wait "$tracer" || true
		kill "$victim" 2>/dev/null; wait "$victim" 2>/dev/null || true
		;;
	esac
}
for r in $(seq "$ROUNDS"); do
	for c in none default syscall-tp raw-tp; do
		sys_run "$c" > "$tmp/out"
		sed -n 's/^syscalls: \([0-9.]*\) ns.*/\1/p' "$tmp/out" >> "$tmp/sys.$c"
		sed -n 's/^maps: \([0-9.]*\) ns.*/\1/p' "$tmp/out" >> "$tmp/maps.$c"
	done
done
echo
echo "a process memtrace does not trace, while it traces another, $ROUNDS rounds,"
echo "ns: median (min-max)"
printf "%-12s %24s %24s\n" probes "getppid()" "mmap+munmap"
for c in none default syscall-tp raw-tp; do
	set -- $(stats "$tmp/sys.$c"); g="$1 ($2-$3)"
	set -- $(stats "$tmp/maps.$c"); m="$1 ($2-$3)"
	printf "%-12s %24s %24s\n" "$c" "$g" "$m"
done
