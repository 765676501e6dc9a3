/* SPDX-License-Identifier: MIT */
/*
 * The warnings every report repeats: things memtrace could not see or do
 * (an exec that dropped allocations, an interpreter it cannot read, probes
 * it could not attach). Each distinct line is kept once; past
 * WARNINGS_MAX lines, further ones are counted, not kept, and the report
 * says how many were left out.
 */
#ifndef MEMTRACE_WARNINGS_H
#define MEMTRACE_WARNINGS_H

#include <stddef.h>

#define WARNINGS_MAX 16
#define WARNING_LEN 256

struct warnings {
	char line[WARNINGS_MAX][WARNING_LEN];
	size_t n;
	size_t dropped;		/* distinct lines past WARNINGS_MAX */
};

/* Add a line (printf format) unless the same line is there already. */
void warnings_add(struct warnings *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Point out[0..] at the lines, at most max of them; returns how many. */
size_t warnings_list(const struct warnings *w, const char **out, size_t max);

#endif /* MEMTRACE_WARNINGS_H */
