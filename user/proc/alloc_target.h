/* SPDX-License-Identifier: MIT */
/*
 * The allocator a process really uses, and where its probes go.
 *
 * That is the object its calls to `malloc` bind to, in the dynamic
 * linker's lookup order (user/proc/link_map.h): glibc's libc, or an
 * allocator preloaded (LD_PRELOAD), linked in (DT_NEEDED), or linked
 * statically into the executable. Its kind is known by its symbols
 * (jemalloc, tcmalloc, mimalloc, glibc, musl); each kind has a table of
 * the functions programs call in it and what each is, and each function
 * gets its probe on the cheapest site (user/proc/probe_site.h). An
 * allocator of no known kind still gets the standard functions (malloc,
 * calloc, realloc, free, ...) probed, and says so.
 */
#ifndef MEMTRACE_ALLOC_TARGET_H
#define MEMTRACE_ALLOC_TARGET_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "memtrace_events.h"

/* Functions probed in one allocator, at most. */
#define ALLOC_SITES_MAX 48

enum alloc_kind {
	ALLOC_GLIBC = 0,
	ALLOC_MUSL,
	ALLOC_JEMALLOC,
	ALLOC_TCMALLOC,
	ALLOC_MIMALLOC,
	ALLOC_UNKNOWN,
};

/* One probed function. */
struct alloc_site {
	const char *symbol;		/* as the allocator names it (static) */
	uint32_t func;			/* enum mt_func: what it is */
	uint64_t func_offset;		/* file offset of its first byte */
	uint64_t probe_offset;		/* where its probes sit (entry, and
					   return unless a free) */
	uint64_t cookie;		/* attach cookie (MT_COOKIE_*) */
};

struct alloc_target {
	/* The allocator's object and ld.so, held open from
	 * alloc_target_find() to alloc_target_release(): the probes go on
	 * these very files (proc/target_file.h), through their /proc/self/fd
	 * paths. */
	bool open;			/* fd and ldso_fd are ours to close */
	int fd;
	int ldso_fd;			/* -1 when not found */
	char path[32];			/* "/proc/self/fd/N" of fd */
	char maps_path[PATH_MAX];	/* as the process names it (for people) */
	enum alloc_kind kind;
	bool in_executable;		/* linked into the executable itself */
	size_t nsites;
	struct alloc_site sites[ALLOC_SITES_MAX];

	/* For reports: where the first site of each enum mt_func is (its
	 * file offset and address in the process; 0: none). */
	uint64_t func_offset[MT_FUNC_COUNT];
	uint64_t func_addr[MT_FUNC_COUNT];

	/* The dynamic loader and the offset of its debugger hook
	 * (_dl_debug_state), called after every change of the loaded
	 * objects; ldso_path[0] == 0 when not found. */
	char ldso_path[PATH_MAX];
	uint64_t dl_debug_state_offset;
};

/* Name of each enum mt_func ("malloc", ...). */
extern const char *const mt_func_names[MT_FUNC_COUNT];

/* "glibc", "jemalloc", ... "unknown". */
const char *alloc_kind_name(enum alloc_kind kind);

/*
 * Find the object pid's malloc binds to and the probe sites of its
 * functions, and open the files. -ENOENT when no object of the process
 * defines malloc (or its symbols cannot be read: a stripped static
 * executable); -ESRCH when it is gone. On error nothing is left open; on
 * success the caller ends with alloc_target_release().
 */
int alloc_target_find(pid_t pid, struct alloc_target *out, char *why, size_t why_len);

/* Close what alloc_target_find() opened. Harmless on a zeroed struct and
 * when called twice. */
void alloc_target_release(struct alloc_target *at);

/*
 * The allocator kind an object is, from the functions it defines:
 * defines(name, ctx) says whether it defines `name`. libc_file: the
 * object is a C library by its file name. Exposed for tests.
 */
enum alloc_kind alloc_kind_of(bool (*defines)(const char *name, void *ctx), void *ctx,
			      bool libc_file);

#endif /* MEMTRACE_ALLOC_TARGET_H */
