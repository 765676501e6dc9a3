/* SPDX-License-Identifier: MIT */
/*
 * The outputs of a run, as the options name them: the text report
 * (stdout or -o FILE), --json FILE, and the files rewritten at every
 * report (report/outputs.h). Opened before tracing starts, so that a path
 * that cannot be written is said first; published (given their names)
 * once tracing has started; closed at the end.
 *
 * main.c opens, publishes and closes them; report_cycle.c writes them.
 */
#ifndef MEMTRACE_OUTPUT_FILES_H
#define MEMTRACE_OUTPUT_FILES_H

#include <stdio.h>

#include "memtrace.h"
#include "report/out_file.h"
#include "report/report.h"

/* Open mt->text, mt->json and mt->outputs; nothing at their paths changes
 * until publish_outputs(). Returns 0 or a negative errno, said on stderr. */
int open_outputs(struct memtrace *mt);
/* Tracing has started: the output files take their names. */
void publish_outputs(struct memtrace *mt);
/* Close them all (removing what was never published): returns how many
 * failed at some point, each said once. */
int close_outputs(struct memtrace *mt);
/* Write r to f with fn; a first error is said once and kept in f. */
void write_output(struct out_file *f, int (*fn)(FILE *, const struct report *),
		  const struct report *r);

#endif /* MEMTRACE_OUTPUT_FILES_H */
