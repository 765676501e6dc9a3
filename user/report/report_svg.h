/* SPDX-License-Identifier: MIT */
/*
 * Flame graphs as SVG, drawn by memtrace itself: self-contained (no
 * external file, font or script), interactive where scripts run (click to
 * zoom, Reset Zoom, Ctrl-F or Search for a regular expression with the
 * share it matches, the state kept in the URL: #zoom=ID&search=RE&color=g),
 * and still a complete picture where they do not (image viewers).
 *
 * The conventions of flamegraph.pl: width = bytes, the outermost frame at
 * the bottom, children in name order, memory colours (greens and blues)
 * for native frames; Python frames in yellows and oranges; a frame's
 * <title> (the tooltip) has its name, bytes, share and live allocations.
 * In the differential picture the width is still the outstanding bytes
 * now, the colour the growth since the baseline: red grew, blue shrank,
 * white did not change, the strongest colour for the largest change.
 *
 * Each frame is a <g class="f"> whose data-v is its bytes, data-o the
 * bytes to its left (its offset from the left edge), data-d its depth,
 * data-p its path id (flame_tree.h) and, with a baseline, data-b its bytes
 * then, so that a test or a script can read the figures without parsing
 * the tooltips.
 */
#ifndef MEMTRACE_REPORT_SVG_H
#define MEMTRACE_REPORT_SVG_H

#include <stdbool.h>
#include <stdio.h>

#include "flame_tree.h"
#include "report.h"

/* Frames drawn at most: beyond that the narrowest are left out, and the
 * picture says how many. */
#define FLAME_SVG_MAX_FRAMES 20000

struct flame_svg_options {
	const char *id;		/* the <svg>'s id, [A-Za-z0-9_-]; NULL: "fg" */
	const char *title;	/* NULL: none */
	const char *subtitle;	/* NULL: none */
	bool diff;		/* colour by growth first (needs a baseline) */
	bool embedded;		/* in an HTML page: no XML declaration */
	size_t max_frames;	/* 0: FLAME_SVG_MAX_FRAMES */
	const char *baseline;	/* what the baseline is, for the legend:
				   "the first report (0.5s)" */
};

/* Draw t. Returns 0, -EINVAL (a bad id) or -EIO. */
int flame_svg_write(FILE *out, const struct flame_tree *t, const struct flame_svg_options *o);

/* The --flamegraph / --flamegraph-diff file: t (built from r, with a
 * baseline for diff) titled with r's processes, time and totals. */
int report_write_flamegraph(FILE *out, const struct report *r, const struct flame_tree *t,
			    bool diff, const char *baseline);

#endif /* MEMTRACE_REPORT_SVG_H */
