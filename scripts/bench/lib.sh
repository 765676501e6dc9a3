# Shared by the benchmark scripts (sourced, POSIX sh).
#
# bench_private_libc SRC OUT: build the C program SRC as OUT, linked against
#   a private copy of the system libc in $(dirname OUT)/lib. Uprobes belong to
#   a file: another tracer's probes on the system libc would slow every
#   process that maps it, including the benchmark. A copy is another file.
# stats FILE: "median min max" of the numbers in FILE, one a line.
# wait_ready ERRFILE PID: until memtrace PID says it traces ("Ctrl-C to
#   stop" in ERRFILE, its stderr); if it exits first, show why and exit 1.

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

stats() {
	sort -n "$1" | awk '{a[NR] = $1} END {
		if (NR) printf "%s %s %s\n", a[int((NR + 1) / 2)], a[1], a[NR] }'
}

wait_ready() {
	while ! grep -q "Ctrl-C to stop" "$1"; do
		kill -0 "$2" 2>/dev/null || { cat "$1" >&2; exit 1; }
		sleep 0.002
	done
}
