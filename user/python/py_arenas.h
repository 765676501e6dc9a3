/* SPDX-License-Identifier: MIT */
/*
 * Where pymalloc's arena table is in a CPython process, for a census of its
 * objects from outside (user/python/py_census.h).
 *
 * pymalloc carves 1 MiB arenas into 16 KiB pools of equal-sized blocks; the
 * arena table (`struct arena_object *arenas`, `uint maxarenas` entries)
 * says where each arena is. Where the table lives depends on the version:
 *   3.11  static variables of Objects/obmalloc.c: named in .symtab where
 *         the build kept it (pyenv's), else found in the code of the
 *         exported _Py_GetAllocatedBlocks, whose first loads are the
 *         variables (Debian's stripped LTO build);
 *   3.12  the main interpreter's struct _obmalloc_state, embedded in it;
 *   3.13  the same state, through a pointer in the interpreter.
 * The 3.12 and 3.13 offsets are offsetof() on those versions' internal
 * headers (pycore_interp.h, pycore_obmalloc.h). Whatever the way, the table
 * must look like one (arenas of 1 MiB holding 63 or 64 pools) before it is
 * used.
 */
#ifndef MEMTRACE_PY_ARENAS_H
#define MEMTRACE_PY_ARENAS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "python_detect.h"

/* pymalloc's geometry, the same in 3.11-3.13 on 64-bit builds. */
#define PY_ARENA_SIZE (1u << 20)
#define PY_POOL_SIZE (1u << 14)
#define PY_POOL_OVERHEAD 48		/* sizeof(struct pool_header) */
#define PY_ARENA_OBJECT_SIZE 48		/* sizeof(struct arena_object) */
#define PY_SIZE_CLASSES 32		/* blocks of 16, 32, ... 512 bytes */

struct py_arenas_ref {
	uint64_t arenas_var;		/* address of `arenas` (a pointer) */
	uint64_t maxarenas_var;		/* address of `maxarenas` (a u32) */
	uint64_t type_type;		/* &PyType_Type */
	const char *how;		/* "symbols", "code", "interpreter state" */
};

/*
 * Find the arena table of pid, whose interpreter is t. Returns 0; -ENOENT
 * with a one-line why when it cannot be found or does not look like one;
 * -ESRCH when the process is gone; another negative errno.
 */
int py_arenas_find(pid_t pid, const struct py_target *t, struct py_arenas_ref *out,
		   char *why, size_t why_len);

/*
 * Decode the start of a function (code, at vaddr) for the loads of
 * _Py_GetAllocatedBlocks in 3.11: the RIP-relative 4-byte load (maxarenas)
 * and up to max 8-byte ones (the table pointer among them), as virtual
 * addresses. Returns the number of 8-byte loads found, or -ENOENT without
 * a 4-byte one. (For tests: the scanner alone.)
 */
int py_arenas_decode_loads(const uint8_t *code, size_t len, uint64_t vaddr,
			   uint64_t *maxarenas, uint64_t *ptrs, size_t max);

#endif /* MEMTRACE_PY_ARENAS_H */
