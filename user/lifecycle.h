/* SPDX-License-Identifier: MIT */
/*
 * The life of a traced process after it is traced: what it creates
 * (born under ptrace, seen by the kernel under another tracer), what it
 * maps (a dlopen, a new program after exec), its exec, a --cgroup's
 * newcomers, and its exit.
 *
 * main.c gives the follow hooks to follow_new() (proc/follow.h), and its
 * ring buffer callback and event loop call the rest as the events and
 * exits arrive; each changes the context (memtrace.h) only.
 */
#ifndef MEMTRACE_LIFECYCLE_H
#define MEMTRACE_LIFECYCLE_H

#include <stdint.h>
#include <sys/types.h>

#include "memtrace.h"
#include "proc/follow.h"
#include "processes.h"

/* The hooks of proc/follow.h, on mt: children born, execs, leaders
 * exiting. */
void lifecycle_hooks(struct memtrace *mt, struct follow_hooks *hooks);

/* pid exec'd (MT_EV_EXEC): a new program, its allocations gone. */
void handle_exec(struct memtrace *mt, uint32_t pid);
/* Something was mapped since pid's mappings were read (a dlopen, a new
 * program after exec, JIT code): read them again. */
void mappings_changed(struct memtrace *mt, uint32_t pid);
/* The kernel says child, created by the traced parent that memtrace
 * cannot ptrace, is in the filter with no probes yet (MT_EV_FORK). */
void on_late_child(struct memtrace *mt, pid_t parent, pid_t child);
/* pid entered the --cgroup (MT_EV_CGROUP_ENTER); parent: who created it
 * there, or 0 (moved in). */
void on_cgroup_enter(struct memtrace *mt, pid_t pid, pid_t parent);
/* t exited (its pidfd said so): the loop stops once all have, but with
 * -a or --cgroup. */
void on_exit_of(struct memtrace *mt, struct traced *t);

#endif /* MEMTRACE_LIFECYCLE_H */
