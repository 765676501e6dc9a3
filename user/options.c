// SPDX-License-Identifier: MIT
/*
 * Command-line parsing. Every value is checked here, so the rest of the
 * program can trust struct options: one clear line per mistake, before any
 * probe is attached.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "sampling.h"

void options_usage(FILE *out)
{
	fprintf(out,
"usage: memtrace -p PID[,PID...] [options]      trace running processes\n"
"       memtrace [options] -- COMMAND [ARG...]  run COMMAND and trace it\n"
"       memtrace --cgroup PATH [options]        trace a cgroup v2's processes\n"
"       memtrace -a [options]                   trace every process\n"
"\n"
"Reports which call stacks hold memory that is still allocated (malloc,\n"
"calloc, realloc, reallocarray, posix_memalign, aligned_alloc, memalign,\n"
"valloc, pvalloc, free in the target's libc), how much, since when, and how\n"
"it grows. Needs root (CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE).\n"
"\n"
"  -p, --pid PID[,PID...]  processes to trace (repeatable), with the\n"
"                          processes they have created and will create\n"
"      --no-follow         trace only the processes named (-p or COMMAND),\n"
"                          not the processes they create\n"
"      --cgroup PATH       every process of the cgroup v2 directory PATH (a\n"
"                          service, container or pod) and below, now and\n"
"                          later\n"
"  -a, --all               every process that allocates, now and later;\n"
"                          every one of them pays for the probes\n"
"  -i, --interval SECONDS  time between reports (default 10)\n"
"  -d, --duration SECONDS  stop after this long (default: until Ctrl-C,\n"
"                          SIGTERM, or the traced processes exit)\n"
"  -n, --top N             stacks per report (default 10; 0: all)\n"
"      --min-age SECONDS   count only allocations at least this old\n"
"      --window SECONDS    count only allocations made in the last SECONDS\n"
"  -o, --output FILE       write the text reports to FILE (default stdout)\n"
"      --json FILE         also write each report as one JSON line to FILE\n"
"      --folded FILE       write outstanding bytes as folded stacks to FILE\n"
"                          (flamegraph.pl, inferno, speedscope), rewritten\n"
"                          at every report\n"
"      --flamegraph FILE   write an interactive flame graph (SVG) of the\n"
"                          outstanding bytes to FILE, rewritten at every report\n"
"      --flamegraph-diff FILE  the same, coloured by growth since the\n"
"                          baseline: red grew, blue shrank\n"
"      --folded-diff FILE  folded stacks with two columns, bytes at the\n"
"                          baseline and now (flamegraph.pl's diff input)\n"
"      --baseline SECONDS  the diffs compare with the first report made at\n"
"                          least SECONDS after the start (default: the first)\n"
"      --html FILE         write a self-contained HTML page: memory over time,\n"
"                          top stacks with their trend, flame graph, accounting\n"
"      --pprof FILE        write a gzipped pprof profile (go tool pprof FILE)\n"
"      --stack MODE        how native stacks are walked: dwarf (.eh_frame\n"
"                          tables, default), fp (frame pointers) or none\n"
"      --ringbuf-mb MB     ring buffer size (default 32, a power of two)\n"
"      --python MODE       auto (default: Python frames for CPython 3.11-3.13\n"
"                          processes), on (refuse other processes), off\n"
"      --python-objects    also trace Python's small-object allocator\n"
"                          (objects up to 512 B); every such call traps.\n"
"                          Where it is inlined, the sites found are kept\n"
"                          in $MEMTRACE_CACHE (default /var/cache/memtrace,\n"
"                          'off': nothing kept) for the next run\n"
"      --native-all        in Python processes, walk the native frames\n"
"                          outside the outermost Python frame too (the\n"
"                          interpreter's start-up, an embedding program's\n"
"                          callers); by default the walk stops there\n"
"      --sample-bytes N    sample: one allocation per N allocated bytes on\n"
"                          average (a Poisson process); figures become\n"
"                          unbiased estimates, and unsampled calls cost\n"
"                          no stack walk and no event\n"
"      --sample-seed N     seed of the sampling (reproducible runs)\n"
"      --per-process       keep the same stack in different processes apart\n"
"                          (default: one stack, with each process's share)\n"
"      --short-templates   text report: C++ template arguments as <...>\n"
"                          (JSON and folded keep the full names)\n"
"      --group-by KEY      sum stacks by: stack (default), line (innermost\n"
"                          Python line, as tracemalloc's 'lineno'), function\n"
"                          or file; printed as tracemalloc prints statistics\n"
"      --frames MODE       python (default: in stacks with Python frames, fold\n"
"                          the interpreter's own frames into one line each)\n"
"                          or all (every frame)\n"
"      --max-frames N      show at most N lines of each stack, innermost first\n"
"                          (default 0: all; JSON always keeps every frame)\n"
"      --types[=N]         Python processes: live objects by type, the N most\n"
"                          numerous (default 20), counted from outside in every\n"
"                          report, with their growth (and, with\n"
"                          --python-objects, the stack that made most of them)\n"
"  -q, --quiet             print only the final report\n"
"      --empty-probes      attach probes that do nothing (benchmarks)\n"
"      --bpf-stats         load the BPF programs, print what the verifier\n"
"                          processed for each, and exit\n"
"  -h, --help              this text\n"
"  -V, --version           memtrace's version\n");
}

/* A number of seconds: finite, in [min, max]. */
static int parse_seconds(const char *opt, const char *arg, double min,
			 double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !isfinite(v) || v < min || v > max) {
		fprintf(stderr, "memtrace: %s '%s': expected a number of seconds "
			"from %g to %g\n", opt, arg, min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_count(const char *opt, const char *arg, unsigned long max,
		       unsigned long *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v > max) {
		fprintf(stderr, "memtrace: %s '%s': expected a whole number "
			"from 0 to %lu\n", opt, arg, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/*
 * arg as one of the n words of names: *out is the value at the same index
 * of values. Else -EINVAL, with one line listing the words ("expected
 * dwarf, fp or none").
 */
static int parse_choice(const char *opt, const char *arg,
			const char *const *names, const int *values, size_t n,
			int *out)
{
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(arg, names[i])) {
			*out = values[i];
			return 0;
		}
	}
	fprintf(stderr, "memtrace: %s '%s': expected ", opt, arg);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s%s", names[i],
			i + 2 < n ? ", " : i + 1 < n ? " or " : "\n");
	return -EINVAL;
}

static int parse_pids(struct options *o, const char *arg)
{
	char *copy = strdup(arg), *save = NULL, *tok;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned long v;

		if (o->npids == MT_MAX_PIDS) {
			fprintf(stderr, "memtrace: -p: at most %d processes\n",
				MT_MAX_PIDS);
			err = -EINVAL;
			break;
		}
		err = parse_count("-p", tok, INT_MAX, &v);
		if (err)
			break;
		if (v == 0) {
			fprintf(stderr, "memtrace: -p '%s': not a process id\n", tok);
			err = -EINVAL;
			break;
		}
		/* -p X,X traces X once. */
		for (size_t i = 0; i < o->npids && v; i++)
			if (o->pids[i] == (pid_t)v)
				v = 0;
		if (v)
			o->pids[o->npids++] = (pid_t)v;
	}
	if (!err && o->npids == 0) {
		fprintf(stderr, "memtrace: -p '%s': no process id given\n", arg);
		err = -EINVAL;
	}
	free(copy);
	return err;
}

enum {
	OPT_MIN_AGE = 256,
	OPT_WINDOW,
	OPT_JSON,
	OPT_FOLDED,
	OPT_STACK,
	OPT_RINGBUF,
	OPT_EMPTY,
	OPT_BPF_STATS,
	OPT_PYTHON,
	OPT_PYTHON_OBJECTS,
	OPT_NATIVE_ALL,
	OPT_PER_PROCESS,
	OPT_SAMPLE_BYTES,
	OPT_SAMPLE_SEED,
	OPT_PPROF,
	OPT_FLAMEGRAPH,
	OPT_FLAMEGRAPH_DIFF,
	OPT_HTML,
	OPT_FOLDED_DIFF,
	OPT_BASELINE,
	OPT_SHORT_TEMPLATES,
	OPT_GROUP_BY,
	OPT_FRAMES,
	OPT_MAX_FRAMES,
	OPT_TYPES,
	OPT_NO_FOLLOW,
	OPT_CGROUP,
};

int options_parse(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "interval", required_argument, NULL, 'i' },
		{ "duration", required_argument, NULL, 'd' },
		{ "top", required_argument, NULL, 'n' },
		{ "min-age", required_argument, NULL, OPT_MIN_AGE },
		{ "window", required_argument, NULL, OPT_WINDOW },
		{ "output", required_argument, NULL, 'o' },
		{ "json", required_argument, NULL, OPT_JSON },
		{ "folded", required_argument, NULL, OPT_FOLDED },
		{ "pprof", required_argument, NULL, OPT_PPROF },
		{ "flamegraph", required_argument, NULL, OPT_FLAMEGRAPH },
		{ "flamegraph-diff", required_argument, NULL, OPT_FLAMEGRAPH_DIFF },
		{ "html", required_argument, NULL, OPT_HTML },
		{ "folded-diff", required_argument, NULL, OPT_FOLDED_DIFF },
		{ "baseline", required_argument, NULL, OPT_BASELINE },
		{ "stack", required_argument, NULL, OPT_STACK },
		{ "ringbuf-mb", required_argument, NULL, OPT_RINGBUF },
		{ "empty-probes", no_argument, NULL, OPT_EMPTY },
		{ "bpf-stats", no_argument, NULL, OPT_BPF_STATS },
		{ "python", required_argument, NULL, OPT_PYTHON },
		{ "python-objects", no_argument, NULL, OPT_PYTHON_OBJECTS },
		{ "native-all", no_argument, NULL, OPT_NATIVE_ALL },
		{ "per-process", no_argument, NULL, OPT_PER_PROCESS },
		{ "sample-bytes", required_argument, NULL, OPT_SAMPLE_BYTES },
		{ "sample-seed", required_argument, NULL, OPT_SAMPLE_SEED },
		{ "short-templates", no_argument, NULL, OPT_SHORT_TEMPLATES },
		{ "group-by", required_argument, NULL, OPT_GROUP_BY },
		{ "frames", required_argument, NULL, OPT_FRAMES },
		{ "max-frames", required_argument, NULL, OPT_MAX_FRAMES },
		{ "types", optional_argument, NULL, OPT_TYPES },
		{ "no-follow", no_argument, NULL, OPT_NO_FOLLOW },
		{ "cgroup", required_argument, NULL, OPT_CGROUP },
		{ "all", no_argument, NULL, 'a' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	bool baseline = false;
	unsigned long v;
	int c, err;

	memset(o, 0, sizeof(*o));
	o->interval_s = 10;
	o->top_n = 10;
	o->stack_mode = MT_STACK_DWARF;
	o->ringbuf_bytes = 32u << 20;
	o->sample_seed = SAMPLING_DEFAULT_SEED;
	o->follow = true;

	/* "+": stop at the first non-option, which starts COMMAND. */
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:p:i:d:n:o:aqhV", longopts, NULL)) != -1) {
		err = 0;
		switch (c) {
		case 'p':
			err = parse_pids(o, optarg);
			break;
		case 'i':
			err = parse_seconds("--interval", optarg, 0.01, 1e7, &o->interval_s);
			break;
		case 'd':
			err = parse_seconds("--duration", optarg, 0.01, 1e9, &o->duration_s);
			break;
		case 'n':
			err = parse_count("--top", optarg, 1000000, &v);
			o->top_n = v;
			break;
		case OPT_MIN_AGE:
			err = parse_seconds("--min-age", optarg, 0, 1e9, &o->min_age_s);
			break;
		case OPT_WINDOW:
			err = parse_seconds("--window", optarg, 0.001, 1e9, &o->window_s);
			break;
		case 'o':
			o->output_path = optarg;
			break;
		case OPT_JSON:
			o->json_path = optarg;
			break;
		case OPT_FOLDED:
			o->folded_path = optarg;
			break;
		case OPT_PPROF:
			o->pprof_path = optarg;
			break;
		case OPT_FLAMEGRAPH:
			o->flamegraph_path = optarg;
			break;
		case OPT_FLAMEGRAPH_DIFF:
			o->flamegraph_diff_path = optarg;
			break;
		case OPT_HTML:
			o->html_path = optarg;
			break;
		case OPT_FOLDED_DIFF:
			o->folded_diff_path = optarg;
			break;
		case OPT_BASELINE:
			err = parse_seconds("--baseline", optarg, 0, 1e9, &o->baseline_s);
			baseline = true;
			break;
		case OPT_STACK: {
			static const char *const names[] = { "dwarf", "fp", "none" };
			static const int values[] = { MT_STACK_DWARF, MT_STACK_FP,
						      MT_STACK_NONE };
			int mode;

			err = parse_choice("--stack", optarg, names, values, 3, &mode);
			if (!err)
				o->stack_mode = mode;
			break;
		}
		case OPT_RINGBUF:
			err = parse_count("--ringbuf-mb", optarg, 1024, &v);
			if (!err && (v == 0 || (v & (v - 1)))) {
				fprintf(stderr, "memtrace: --ringbuf-mb '%s': expected a power "
					"of two from 1 to 1024\n", optarg);
				err = -EINVAL;
			}
			o->ringbuf_bytes = v << 20;
			break;
		case OPT_EMPTY:
			o->empty_probes = true;
			break;
		case OPT_BPF_STATS:
			o->bpf_stats = true;
			break;
		case OPT_PYTHON: {
			static const char *const names[] = { "auto", "on", "off" };
			static const int values[] = { PY_AUTO, PY_ON, PY_OFF };
			int mode;

			err = parse_choice("--python", optarg, names, values, 3, &mode);
			if (!err)
				o->python = mode;
			break;
		}
		case OPT_SHORT_TEMPLATES:
			o->short_templates = true;
			break;
		case OPT_PYTHON_OBJECTS:
			o->python_objects = true;
			break;
		case OPT_NATIVE_ALL:
			o->native_all = true;
			break;
		case OPT_PER_PROCESS:
			o->per_process = true;
			break;
		case OPT_SAMPLE_BYTES:
			/* 1 TiB: past any heap, and exp() stays exact. */
			err = parse_count("--sample-bytes", optarg, 1UL << 40, &v);
			if (!err && v == 0) {
				fprintf(stderr, "memtrace: --sample-bytes '%s': expected a mean "
					"interval of at least 1 byte\n", optarg);
				err = -EINVAL;
			}
			o->sample_bytes = v;
			break;
		case OPT_SAMPLE_SEED:
			err = parse_count("--sample-seed", optarg, ULONG_MAX, &v);
			o->sample_seed = v;
			break;
		case OPT_GROUP_BY: {
			static const char *const names[] = { "stack", "line", "function",
							     "file" };
			static const int values[] = { REPORT_BY_STACK, REPORT_BY_LINE,
						      REPORT_BY_FUNCTION, REPORT_BY_FILE };
			int by;

			err = parse_choice("--group-by", optarg, names, values, 4, &by);
			if (!err)
				o->group_by = by;
			break;
		}
		case OPT_FRAMES: {
			static const char *const names[] = { "python", "all" };
			static const int values[] = { 0, 1 };
			int all;

			err = parse_choice("--frames", optarg, names, values, 2, &all);
			if (!err)
				o->all_frames = all;
			break;
		}
		case OPT_MAX_FRAMES:
			err = parse_count("--max-frames", optarg, 100000, &v);
			o->max_frames = v;
			break;
		case OPT_TYPES:
			v = 20;
			if (optarg)
				err = parse_count("--types", optarg, 100000, &v);
			if (!err && !v) {
				fprintf(stderr, "memtrace: --types '%s': expected at least 1 type\n",
					optarg);
				err = -EINVAL;
			}
			o->types_top = v;
			break;
		case OPT_NO_FOLLOW:
			o->follow = false;
			break;
		case OPT_CGROUP:
			if (!*optarg) {
				fprintf(stderr, "memtrace: --cgroup needs a cgroup directory\n");
				err = -EINVAL;
			}
			o->cgroup_path = optarg;
			break;
		case 'a':
			o->all = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			options_usage(stdout);
			return 1;
		case 'V':
			printf("memtrace %s\n", MEMTRACE_VERSION);
			return 1;
		case ':':
			fprintf(stderr, "memtrace: %s needs a value (see --help)\n",
				argv[optind - 1]);
			return -EINVAL;
		default:
			fprintf(stderr, "memtrace: unknown option '%s' (see --help)\n",
				argv[optind - 1]);
			return -EINVAL;
		}
		if (err)
			return err;
	}

	if (optind < argc)
		o->command = &argv[optind];
	if (o->command && o->npids && !o->all && !o->cgroup_path) {
		fprintf(stderr, "memtrace: give either -p PID or a COMMAND, not both\n");
		return -EINVAL;
	}
	if (o->all + !!o->cgroup_path + !!o->command + !!o->npids > 1) {
		fprintf(stderr, "memtrace: %s: choose one of -p PID, --cgroup PATH, -a "
			"and -- COMMAND\n",
			o->all && o->npids ? "-a traces every process, -p names some" :
			o->all ? "-a traces every process already" :
			"more than one set of processes to trace");
		return -EINVAL;
	}
	if (!o->command && o->npids == 0 && !o->cgroup_path && !o->all && !o->bpf_stats) {
		fprintf(stderr, "memtrace: nothing to trace: give -p PID, --cgroup PATH, -a "
			"or -- COMMAND (see --help)\n");
		return -EINVAL;
	}
	if (!o->follow && (o->all || o->cgroup_path)) {
		fprintf(stderr, "memtrace: --no-follow applies to -p and COMMAND only: %s "
			"traces every process it covers\n", o->all ? "-a" : "--cgroup");
		return -EINVAL;
	}
	if (o->types_top && o->python == PY_OFF) {
		fprintf(stderr, "memtrace: --types needs --python auto or on\n");
		return -EINVAL;
	}
	if (o->python_objects && o->python == PY_OFF) {
		fprintf(stderr, "memtrace: --python-objects needs --python auto or on\n");
		return -EINVAL;
	}
	if (o->sample_bytes && o->python_objects) {
		/* pymalloc's inlined sites free without a probe memtrace
		 * could make sample-aware. */
		fprintf(stderr, "memtrace: --sample-bytes cannot be combined with "
			"--python-objects\n");
		return -EINVAL;
	}
	if (baseline && !o->flamegraph_diff_path && !o->folded_diff_path && !o->html_path &&
	    !o->flamegraph_path) {
		fprintf(stderr, "memtrace: --baseline sets what --flamegraph-diff, --folded-diff, "
			"--flamegraph and --html compare with: give one of them\n");
		return -EINVAL;
	}
	return 0;
}
