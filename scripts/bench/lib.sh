# Shared by the benchmark scripts (sourced, POSIX sh).
#
# bench_private_libc SRC OUT: build the C program SRC as OUT, linked against
#   a private copy of the system libc in $(dirname OUT)/lib. Uprobes belong to
#   a file: another tracer's probes on the system libc would slow every
#   process that maps it, including the benchmark. A copy is another file.
# need_memtrace: MT, the memtrace to measure ($MEMTRACE, else build/memtrace);
#   exits if it is not built, or if the kernel times every BPF program
#   (kernel.bpf_stats_enabled=1, left on by a profiling session: it reads
#   the clock around each run, which on 2026-12-03 took 3.4% of all samples
#   under churn, pvclock in this VM, and skews every traced configuration).
# stats FILE: "median min max" of the numbers in FILE, one a line.
# ratio A B: A / B (0 when B is 0).
# wait_ready ERRFILE PID: until memtrace PID says it traces ("Ctrl-C to
#   stop" in ERRFILE, its stderr); if it exits first, show why and exit 1.
#   ERRFILE may be a FIFO (mkfifo): then it blocks instead of polling, which
#   takes a CPU from a memtrace that loads on two.
# wait_cleanups: until no memtrace process (of any build) is left. An exited memtrace's
#   detached child unregisters its probe definitions, one RCU grace period
#   each, under the kernel's event mutex, which a new memtrace's probes
#   wait for: after --python-objects (200-odd sites) that took up to 30 s.

bench_private_libc() {
	src=$1 out=$2
	lib=$(dirname "$out")/lib
	sys_libc=$(gcc -print-file-name=libc.so.6)
	[ -e "$sys_libc" ] || sys_libc=/lib/x86_64-linux-gnu/libc.so.6
	mkdir -p "$lib"
	cp -f "$(readlink -f "$sys_libc")" "$lib/libc.so.6"
	gcc -O1 -g -fno-omit-frame-pointer -pthread "$src" -o "$out" \
		-Wl,-rpath,"$(cd "$lib" && pwd)"
}

need_memtrace() {
	MT=${MEMTRACE:-build/memtrace}
	[ -x "$MT" ] || { echo "run make first" >&2; exit 1; }
	if [ "$(cat /proc/sys/kernel/bpf_stats_enabled 2>/dev/null)" = 1 ]; then
		echo "kernel.bpf_stats_enabled is on: every BPF program run is timed," \
			"which would be measured too; sysctl -w kernel.bpf_stats_enabled=0" >&2
		exit 1
	fi
}

stats() {
	sort -n "$1" | awk '{a[NR] = $1} END {
		if (NR) printf "%s %s %s\n", a[int((NR + 1) / 2)], a[1], a[NR] }'
}

ratio() {
	echo "$1 $2" | awk '{print ($2 > 0 ? $1 / $2 : 0)}'
}

wait_ready() {
	if [ -p "$1" ]; then
		# A FIFO: block on it, no polling that would take a CPU from
		# the memtrace being timed; a cat drains what it says after.
		while IFS= read -r line; do
			case $line in
			*"Ctrl-C to stop"*) cat > /dev/null & return 0 ;;
			esac
			printf '%s\n' "$line" >> "$1.seen"
		done < "$1"
		cat "$1.seen" >&2 2>/dev/null
		exit 1
	fi
	while ! grep -q "Ctrl-C to stop" "$1"; do
		kill -0 "$2" 2>/dev/null || { cat "$1" >&2; exit 1; }
		sleep 0.002
	done
}

wait_cleanups() {
	# Any name with memtrace in it: a MEMTRACE_BASE build may be called
	# base_memtrace, and its cleanup slows the next run as much.
	while pgrep memtrace > /dev/null; do
		sleep 0.2
	done
}
