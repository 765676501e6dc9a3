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

/* How a process came to be traced. */
enum traced_how {
	TRACED_NAMED,			/* -p PID, or the COMMAND */
	TRACED_DESCENDANT,		/* a child of a traced process, running
					   before memtrace started */
	TRACED_BORN,			/* created by a traced process, under
					   ptrace: from its first instruction */
	TRACED_LATE,			/* created by a traced process that memtrace
					   could not ptrace: from when it was seen */
	TRACED_CGROUP,			/* in the --cgroup, or moved into it */
	TRACED_ALL,			/* -a */
};

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

	/* Its life as the header of every report tells it. */
	pid_t ppid;			/* 0: unknown */
	char exe[256];			/* its program (/proc/PID/exe), "" unknown */
	enum traced_how how;
	uint64_t traced_from_ns;	/* CLOCK_MONOTONIC: tracing of it began */
	uint64_t exited_ns;		/* ... it was seen to exit (0: alive) */
	bool followed;			/* its children are born under ptrace */
	/* Traced only partly, or not at all: why (one line; "" if fully). */
	char untraced[192];
	bool not_at_all;		/* no allocation of it is seen */
	const char *untraced_kind;	/* not at all: one of UNTRACED_* */
	bool detect_pending;		/* -a: its allocator is looked for when its
					   loader has mapped its libraries */
};

/* Why a process is not traced at all, as reports count them. */
#define UNTRACED_STATIC "static binary"
#define UNTRACED_NO_LIBC "no libc memtrace can probe"
#define UNTRACED_PROBES "probes refused"
#define UNTRACED_GONE "exited first"

struct processes {
	struct traced **v;
	size_t n, cap;
	/* pid -> index in v, open addressing (0: empty slot, else index+1) */
	uint32_t *index;
	size_t index_cap;
};

/* Add a zeroed entry for pid (pidfd -1) and return it in *out.
 * Returns 0 or -ENOMEM. */
int processes_add(struct processes *ps, pid_t pid, struct traced **out);

/* The entry of pid, or NULL. */
struct traced *processes_find(const struct processes *ps, uint32_t pid);

/* Say, in every report from now on, that t is traced only partly (kind
 * NULL) or not at all (kind: an UNTRACED_* reason), and why; the first
 * reason stays. */
void processes_set_untraced(struct traced *t, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Is pid's program a static ELF (no program interpreter)? */
bool processes_exe_is_static(pid_t pid);

/* Fill t->ppid, t->exe and t->comm from /proc (what can be read). */
void processes_read_identity(struct traced *t);

/* True when every entry has exited (and there is at least one). */
bool processes_all_exited(const struct processes *ps);

/* Close the entries' pidfds and free them all. */
void processes_free(struct processes *ps);

#endif /* MEMTRACE_PROCESSES_H */
