/* SPDX-License-Identifier: MIT */
/*
 * -a: tracing every process of the machine. The allocator files are
 * probed once for all the processes that map them (each process joins
 * the in-kernel filter); the processes running at start are found in
 * /proc, and those started later when their first event arrives.
 *
 * main.c calls scan_all() and attach_all_process() at start-up; its
 * ring buffer callback calls adopt() and redetect() as events arrive.
 */
#ifndef MEMTRACE_TRACE_ALL_H
#define MEMTRACE_TRACE_ALL_H

#include <stdbool.h>
#include <sys/types.h>

#include "memtrace.h"
#include "processes.h"

/* Every user process running now, each prepared (tracing.h). Returns 0
 * or a negative errno (/proc cannot be listed). */
int scan_all(struct memtrace *mt);
/* Start tracing an entry made by prepare_process(); late: it runs
 * already, so its allocator may have been probed only now. */
void attach_all_process(struct memtrace *mt, struct traced *t, bool late);
/* A process memtrace has not seen yet sent an event (at_exec: its exec,
 * before its loader mapped its libraries). */
void adopt(struct memtrace *mt, pid_t pid, bool at_exec);
/* A process seen at its exec has mapped its libraries, or allocates
 * already: its allocator and its Python, then its probes. last_chance:
 * an allocator still not found makes it untraced. */
void redetect(struct memtrace *mt, struct traced *t, bool last_chance);

#endif /* MEMTRACE_TRACE_ALL_H */
