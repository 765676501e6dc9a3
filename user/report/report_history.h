/* SPDX-License-Identifier: MIT */
/*
 * What the pictures remember from one report to the next: the reports
 * themselves keep no history, but the HTML page draws memory over the
 * whole run and each stack's bytes across reports, and the differential
 * outputs compare with a baseline.
 *
 *   - the timeline: per report, its time, the outstanding bytes, and per
 *     process its outstanding bytes and resident set size;
 *   - the baseline: the first report at least baseline_s after the start
 *     (the first report when 0): its flame tree, and each stack's bytes;
 *   - sparklines: for the stacks that were among the largest at some
 *     report (at most HISTORY_TRACKED at once), their bytes at up to
 *     HISTORY_SAMPLES reports spread over the run (every report at first,
 *     then every second one, and so on as the run grows).
 *
 * A stack is recognised from one report to the next by its process, its
 * allocation function and its frames' addresses (and, for Python frames,
 * code object, name and line).
 */
#ifndef MEMTRACE_REPORT_HISTORY_H
#define MEMTRACE_REPORT_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flame_tree.h"
#include "report.h"

/* No value: not traced, not known or not tracked at that point. */
#define HISTORY_NONE UINT64_MAX
#define HISTORY_SAMPLES 128
#define HISTORY_TRACKED 1024
/* The timeline keeps every report up to this many; past it, every
 * second one (and so on), so that a run of weeks stays small. */
#define HISTORY_POINTS 100000

struct report_history;

/* One traced process over the run: values per timeline point. */
struct history_proc {
	uint32_t pid;
	char comm[64];
	uint64_t *bytes;	/* outstanding bytes, or HISTORY_NONE */
	uint64_t *rss;		/* resident set size, or HISTORY_NONE */
};

/* baseline_s: how long after the start the baseline is taken (0: at the
 * first report). Returns 0 or -ENOMEM. */
int report_history_new(double baseline_s, struct report_history **out);
/* NULL is fine. */
void report_history_free(struct report_history *h);

/* Remember r, a report built with every stack, largest first; track is how
 * many of its largest stacks get a sparkline (at most HISTORY_TRACKED).
 * Returns 0 or -ENOMEM (what was remembered before stays). */
int report_history_add(struct report_history *h, const struct report *r, size_t track);

/* The timeline: points, their times (seconds since start) and outstanding
 * bytes, and the processes (each with values for every point). */
size_t history_points(const struct report_history *h);
const double *history_times(const struct report_history *h);
const uint64_t *history_outstanding(const struct report_history *h);
size_t history_nprocs(const struct report_history *h);
const struct history_proc *history_proc(const struct report_history *h, size_t i);

/* The baseline's tree, NULL before the baseline was taken; *elapsed_s
 * (may be NULL) its time since the start. */
const struct flame_tree *history_baseline(const struct report_history *h, double *elapsed_s);
/* When the baseline is due (the baseline_s given to report_history_new). */
double history_baseline_due(const struct report_history *h);

/* What the baseline is, for legends: "the first report (0.5s)", "the
 * report at 1m00s", or, before it is taken, when it is due. */
void history_baseline_text(const struct report_history *h, char *buf, size_t len);

/* s's bytes at the baseline: true with *bytes set when the baseline has
 * been taken (0 for a stack new since), false before. */
bool history_stack_baseline(const struct report_history *h, const struct report_stack *s,
			    uint64_t *bytes);

/* s's sparkline: the number of samples, with *times (seconds since start)
 * and *values (bytes, HISTORY_NONE where it was not tracked yet) pointing
 * into h until its next change. 0 when s is not tracked. */
size_t history_stack_series(const struct report_history *h, const struct report_stack *s,
			    const double **times, const uint64_t **values);

#endif /* MEMTRACE_REPORT_HISTORY_H */
