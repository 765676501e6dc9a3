/* SPDX-License-Identifier: MIT */
/* The command line, parsed and checked. */
#ifndef MEMTRACE_OPTIONS_H
#define MEMTRACE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include "memtrace_events.h"
#include "report/report.h"

#define MT_MAX_PIDS 64

enum python_mode { PY_AUTO, PY_ON, PY_OFF };

struct options {
	pid_t pids[MT_MAX_PIDS];
	size_t npids;
	char **command;		/* argv after "--", NULL-terminated; NULL: -p mode */

	double interval_s;	/* periodic report */
	double duration_s;	/* 0: until stopped */
	size_t top_n;		/* 0: all stacks */
	double min_age_s;
	double window_s;
	const char *output_path;	/* text report; NULL: stdout */
	const char *json_path;
	const char *folded_path;
	const char *pprof_path;		/* --pprof: gzipped profile.proto */
	const char *flamegraph_path;	/* --flamegraph: SVG */
	const char *flamegraph_diff_path; /* --flamegraph-diff: SVG, growth colours */
	const char *html_path;		/* --html: the report page */
	const char *folded_diff_path;	/* --folded-diff: `stack before after` */
	double baseline_s;		/* --baseline: when the diffs' baseline is taken */
	enum mt_stack_mode stack_mode;
	size_t ringbuf_bytes;
	bool empty_probes;	/* benchmarks: attach probes that do nothing */
	bool quiet;		/* no periodic reports, only the final one */
	bool bpf_stats;		/* load the programs, print their stats, exit */
	enum python_mode python;
	bool python_objects;	/* also trace pymalloc (small objects) */
	bool native_all;	/* Python stacks: walk the native frames outside
				   the outermost Python frame too */
	bool per_process;	/* do not merge stacks across processes */
	uint64_t sample_bytes;	/* --sample-bytes (0: trace every call) */
	uint64_t sample_seed;
	bool short_templates;	/* text report: template arguments as <...> */
	enum report_group_by group_by;	/* --group-by: stack (default), line,
					   function, file */
	bool all_frames;	/* --frames all: no folding in text reports */
	size_t max_frames;	/* --max-frames: 0, no limit */
	size_t types_top;	/* --types[=N]: live objects by type, the N
				   most numerous (0: no census) */
	bool follow;		/* trace the processes traced ones create
				   (default; --no-follow) */
	const char *cgroup_path;	/* --cgroup PATH */
	bool all;		/* -a: every process */
};

/*
 * Parse argv into *o. Returns 0 on success, 1 when --help or --version was
 * printed (the caller exits 0), or -EINVAL after printing one line that
 * says which option is wrong and why.
 */
int options_parse(struct options *o, int argc, char **argv);

void options_usage(FILE *out);

#endif /* MEMTRACE_OPTIONS_H */
