/* SPDX-License-Identifier: MIT */
/*
 * The files memtrace rewrites at every report (folded stacks, their growth
 * diff, flame graphs, the HTML page, the pprof profile): which ones, what
 * they remember between reports (report_history.h), and, once at exit,
 * which were written and how to open each.
 *
 * Every file is an out_file (out_file.h) rewritten at each report: a new
 * version is written aside and renamed over the old one, so a reader never
 * sees half a file, and no symlink planted at either name is followed.
 */
#ifndef MEMTRACE_OUTPUTS_H
#define MEMTRACE_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "report.h"

enum output_kind {
	OUT_FOLDED,		/* --folded */
	OUT_FOLDED_DIFF,	/* --folded-diff */
	OUT_FLAMEGRAPH,		/* --flamegraph */
	OUT_FLAMEGRAPH_DIFF,	/* --flamegraph-diff */
	OUT_HTML,		/* --html */
	OUT_PPROF,		/* --pprof */
	OUT_COUNT
};

struct outputs_config {
	const char *path[OUT_COUNT];	/* NULL: not written */
	size_t top_n;			/* stacks the HTML page lists; 0: all */
	double interval_s;		/* between reports */
	double baseline_s;		/* when the diffs' baseline is taken */
	/* Written by the caller, named in the message at exit too. */
	const char *json_path;
	const char *text_path;
};

struct outputs;

/* Returns 0 or -ENOMEM. The paths are not copied. */
int outputs_new(const struct outputs_config *c, struct outputs **out);
/* Free o (NULL is fine); returns the first write error of any file, for
 * the exit status, or 0. A file never written leaves its path as it was. */
int outputs_close(struct outputs *o);

/* Check each file can be written (its temporary is created), so that a
 * path that cannot be written is said before tracing starts. Nothing at
 * the paths changes. Returns 0 or a negative errno with a line in why. */
int outputs_check(struct outputs *o, char *why, size_t why_len);

/* What the reports given to outputs_write() must hold: every stack (not
 * only the top N), and the past stacks (report.h). */
bool outputs_want_all_stacks(const struct outputs *o);
bool outputs_want_past_stacks(const struct outputs *o);

/* Write every file for r. A file that fails does not stop the others;
 * returns 0, or the first error with a line in why naming the file. */
int outputs_write(struct outputs *o, const struct report *r, char *why, size_t why_len);

/* Once, at exit: the files written and how to open each ("memtrace: wrote"
 * and a line per file), or nothing. The caller's -o and --json files are
 * listed when they did not fail. */
void outputs_say(const struct outputs *o, FILE *out, bool json_written, bool text_written);

#endif /* MEMTRACE_OUTPUTS_H */
