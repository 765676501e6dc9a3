/* SPDX-License-Identifier: MIT */
/*
 * A string pool: one copy of each distinct string, kept until the pool is
 * freed, so that callers may hold and compare the pointers it gives for
 * as long as the pool lives (file names repeated by every frame of a
 * module, a code object's name kept after the object is forgotten).
 *
 * A zeroed struct strpool is an empty pool. Buckets double when there
 * are as many strings as buckets; the hash is FNV-1a.
 */
#ifndef MEMTRACE_STRPOOL_H
#define MEMTRACE_STRPOOL_H

#include <stddef.h>

struct strpool_str;

struct strpool {
	struct strpool_str **buckets;
	size_t nbuckets;	/* 0 or a power of two */
	size_t n;		/* strings held */
};

/*
 * The pool's NUL-terminated copy of str[0..len) (which may hold no NUL),
 * made on first sight; the same pointer for the same bytes after that.
 * NULL when memory runs out (the pool is unchanged and still usable).
 */
const char *strpool_intern(struct strpool *p, const char *str, size_t len);

/* Free every string (the pointers given become invalid) and leave p an
 * empty pool. */
void strpool_free(struct strpool *p);

#endif /* MEMTRACE_STRPOOL_H */
