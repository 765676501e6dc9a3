/* SPDX-License-Identifier: MIT */
/*
 * Starting to trace a process: check it, find its allocator and its
 * Python (prepare_process), put its probes on (attach_process), follow
 * what it creates (follow_process), and trace the processes found on the
 * way (trace_late, trace_descendants). What they all share: reading a
 * process's mappings for the unwinder and the symbolizer, and watching its
 * exit in the event loop.
 *
 * main.c calls it at start-up, for the processes named on the command
 * line or in the --cgroup; lifecycle.c and trace_all.c call it for those
 * found later. A process that cannot be traced becomes an entry that says
 * why (processes.h), but for one named on the command line: that one's
 * failure is said on stderr and returned, the end of memtrace.
 */
#ifndef MEMTRACE_TRACING_H
#define MEMTRACE_TRACING_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "memtrace.h"
#include "processes.h"

/* Check pid and find its allocator and its Python, before anything is
 * loaded into the kernel: a new entry of mt->procs (one that exited
 * meanwhile is an entry that says so). Returns 0 or a negative errno. */
int prepare_process(struct memtrace *mt, pid_t pid, enum traced_how how);
/* Put the probes on an entry made by prepare_process(). Returns 0 or a
 * negative errno (only for a process named on the command line). */
int attach_process(struct memtrace *mt, struct traced *t);
/* Both, for pid found after start-up (a child of a process memtrace
 * cannot ptrace, a process of the --cgroup, a child found running),
 * followed where it can be: its entry, or NULL. */
struct traced *trace_late(struct memtrace *mt, pid_t pid, enum traced_how how);
/* Follow t's future children under ptrace, or through the kernel's fork
 * news where another tracer has it. */
void follow_process(struct memtrace *mt, struct traced *t);
/* Trace the processes that already descend from the followed ones. */
void trace_descendants(struct memtrace *mt);

/* Read pid's mappings into the unwind tables and the symbolizer. */
void read_mappings(struct memtrace *mt, uint32_t pid);
/* Watch t's exit (its pidfd in the loop, once the loop exists). */
void track_exit(struct memtrace *mt, struct traced *t);
/* Whether pid is worth looking at for a Python interpreter (with -a,
 * only if it maps something named like one). */
bool may_be_python(const struct memtrace *mt, pid_t pid);

#endif /* MEMTRACE_TRACING_H */
