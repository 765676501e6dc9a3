/* SPDX-License-Identifier: MIT */
/*
 * The traced processes: one entry per process memtrace traces, with what
 * it found about it (its allocator, its Python) and its life (exec'd, exited).
 * Entries are allocated one by one, so a pointer to one stays valid while
 * others are added; they live until processes_free().
 */
#ifndef MEMTRACE_PROCESSES_H
#define MEMTRACE_PROCESSES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc/alloc_target.h"
#include "python/python_process.h"

struct traced {
	pid_t pid;
	int pidfd;			/* readable once it exits; -1: none */
	bool exited;
	bool execd;
	char comm[64];
	struct alloc_target alloc;
	struct python_process py;
	uint64_t rss_anon_start;	/* anonymous RSS when tracing began */
	bool alloc_check_pending;	/* exec'd: is its allocator the same? */
};

struct processes {
	struct traced **v;
	size_t n, cap;
};

/* Add a zeroed entry for pid (pidfd -1) and return it in *out.
 * Returns 0 or -ENOMEM. */
int processes_add(struct processes *ps, pid_t pid, struct traced **out);

/* The entry of pid, or NULL. */
struct traced *processes_find(const struct processes *ps, uint32_t pid);

/* True when every entry has exited (and there is at least one). */
bool processes_all_exited(const struct processes *ps);

/* Close the entries' pidfds and free them all. */
void processes_free(struct processes *ps);

#endif /* MEMTRACE_PROCESSES_H */
