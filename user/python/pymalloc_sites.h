/* SPDX-License-Identifier: MIT */
/*
 * Where to probe pymalloc in an interpreter that has inlined it and kept
 * no symbols for it (Debian's LTO+PGO python3.11): the instructions right
 * after each inlined free-list pop (an allocation) and push (a free),
 * found by their instruction shapes, each moved to the next conditional
 * jump so that the kernel emulates it instead of single-stepping.
 */
#ifndef MEMTRACE_PYMALLOC_SITES_H
#define MEMTRACE_PYMALLOC_SITES_H

#include <stddef.h>
#include <stdint.h>
#include "memtrace_events.h"

struct pymalloc_site {
	uint64_t vaddr;		/* of the probed jcc, as in the ELF file */
	uint64_t offset;	/* file offset of the same instruction */
	uint32_t cookie;	/* kind | reg << 8 | MT_PYSITE_VIA_POOL, and
				   for allocations MT_PYSITE_SIZE_* (see
				   memtrace_python.h) */
};

struct pymalloc_sites {
	struct pymalloc_site *sites;	/* sorted by vaddr */
	size_t n_sites;
	size_t n_alloc, n_free;
	size_t n_sized;		/* allocation sites that name the request */
	/* allocate_from_new_pool: a function whose return value is a block
	 * taken from a fresh pool (or NULL: it fell back to malloc) and whose
	 * first argument is the size class index. 0 when not found. */
	uint64_t new_pool_vaddr, new_pool_offset;
};

/*
 * Scan the executable code of the ELF file at path. 0 on success (sites
 * found), -ENOENT when no site is found, another negative errno when the
 * file cannot be read. Free with pymalloc_sites_free().
 */
int pymalloc_sites_find(const char *path, struct pymalloc_sites *out);

/* The same for the ELF file open on fd (only read, with pread; it stays
 * the caller's). */
int pymalloc_sites_find_fd(int fd, struct pymalloc_sites *out);
void pymalloc_sites_free(struct pymalloc_sites *s);

#endif /* MEMTRACE_PYMALLOC_SITES_H */
