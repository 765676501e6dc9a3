/* SPDX-License-Identifier: MIT */
/*
 * One report of the run: drain the ring, gather what each traced process
 * holds (reconcile.h, RSS, --types censuses) and what went wrong
 * (warnings, the probes' counters), build the report (report_builder.h)
 * and write it to every output: the text (stdout or -o), --json, and the
 * files rewritten at each report (report/outputs.h). Also, between
 * reports, keep the symbolizer's mappings fresh.
 *
 * main.c's event loop calls report() at every interval and once at the
 * end (final), and refresh_maps() at every tick.
 */
#ifndef MEMTRACE_REPORT_CYCLE_H
#define MEMTRACE_REPORT_CYCLE_H

#include <stdbool.h>
#include <stdint.h>

#include "memtrace.h"

/* Report now. Returns 0 or a negative errno: the first error of an
 * output file (each said once on stderr), or of building the report. */
int report(struct memtrace *mt, bool final);
/* Re-read the mappings of live processes (at most once a second) while
 * new stacks keep appearing. now: now_ns(). */
void refresh_maps(struct memtrace *mt, uint64_t now);

#endif /* MEMTRACE_REPORT_CYCLE_H */
