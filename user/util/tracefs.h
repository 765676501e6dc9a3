/* SPDX-License-Identifier: MIT */
/*
 * tracefs, mounted detached: nothing changes in any mount namespace, and
 * it works where /sys/kernel/tracing is not mounted. Used for uprobe
 * events (user/uprobe_events.c) and the syscalls' tracepoints
 * (user/mmap_probes.c).
 *
 * Every function returns 0 (or a descriptor, or an ID) or a negative errno.
 */
#ifndef MEMTRACE_TRACEFS_H
#define MEMTRACE_TRACEFS_H

#include <stddef.h>

/* A new detached mount of tracefs: a directory descriptor (close it). */
int tracefs_mount(char *why, size_t why_len);

/* The ID of event `system/name` ("syscalls", "sys_exit_mmap"), the value
 * of perf_event_attr.config for PERF_TYPE_TRACEPOINT. */
int tracefs_event_id(int tracefs, const char *system, const char *name);

#endif /* MEMTRACE_TRACEFS_H */
