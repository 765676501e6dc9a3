/* SPDX-License-Identifier: MIT */
/*
 * Where Python's object allocator (pymalloc) can be probed in a process:
 * _PyObject_Malloc, _PyObject_Calloc, _PyObject_Realloc and
 * _PyObject_Free, the functions behind PyObject_Malloc and friends, found
 * in the symbol table of the object that holds the interpreter; or, in a
 * build that inlined them and kept no symbols, the inlined fast paths
 * themselves (user/python/pymalloc_sites.h).
 */
#ifndef MEMTRACE_PYMALLOC_TARGET_H
#define MEMTRACE_PYMALLOC_TARGET_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "memtrace_events.h"
#include "pymalloc_sites.h"
#include "python_detect.h"

struct pymalloc_target {
	/* The interpreter's object as mapped (proc/target_file.h), held
	 * open until pymalloc_target_free(): the probes go on this file,
	 * through its /proc/self/fd path. */
	int fd;					/* -1: not open */
	char path[32];				/* "/proc/self/fd/N" of fd */
	uint64_t offset[MT_FUNC_COUNT];		/* per MT_FUNC_PY_*, 0: absent */
	uint64_t free_probe_offset;		/* PyObject_Free's entry probe */
	/* No symbols: sites.n_sites > 0 and offset[] is all 0. */
	struct pymalloc_sites sites;
};

struct sites_cache;

/*
 * -ENOENT when the interpreter has neither the symbols nor recognisable
 * inlined sites. cache: where sites found before are kept
 * (pymalloc_sites_cache.h), or NULL. Free with pymalloc_target_free(),
 * whatever it returned.
 */
int pymalloc_target_find(pid_t pid, const struct py_target *py, struct sites_cache *cache,
			 struct pymalloc_target *out, char *why, size_t why_len);
void pymalloc_target_free(struct pymalloc_target *pm);

#endif /* MEMTRACE_PYMALLOC_TARGET_H */
