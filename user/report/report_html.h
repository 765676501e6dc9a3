/* SPDX-License-Identifier: MIT */
/*
 * The HTML page (--html FILE): one self-contained page per run, rewritten
 * at every report, that opens offline from a file (no external script,
 * style, font or image):
 *   - the figures of the latest report, and whether they can be trusted;
 *   - a timeline of outstanding bytes and resident set size per process
 *     over the whole run, one point per report;
 *   - the top stacks with bytes, live allocations, age of the oldest,
 *     growth over the last interval and since the baseline, and a
 *     sparkline of each one's bytes across reports;
 *   - the flame graph (report_svg.h), with growth colours one click away;
 *   - the accounting counters and the warnings.
 * Names from the traced program are escaped (markup.h); none is ever part
 * of a script.
 */
#ifndef MEMTRACE_REPORT_HTML_H
#define MEMTRACE_REPORT_HTML_H

#include <stddef.h>
#include <stdio.h>

#include "flame_tree.h"
#include "report.h"
#include "report_history.h"

/* Stacks listed at most, whatever top_n says. */
#define HTML_MAX_STACKS 500

struct html_options {
	size_t top_n;		/* stacks listed; 0: all (up to HTML_MAX_STACKS) */
	double interval_s;	/* between reports, to say how fresh the page is */
};

/*
 * Write the page for r (built with every stack, largest first), h (which
 * has r added already) and t (r's flame tree, with h's baseline set when
 * there is one). Returns 0 or a negative errno.
 */
int report_write_html(FILE *out, const struct report *r, const struct report_history *h,
		      const struct flame_tree *t, const struct html_options *o);

#endif /* MEMTRACE_REPORT_HTML_H */
