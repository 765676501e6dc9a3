/* SPDX-License-Identifier: MIT */
/*
 * Live Python objects by type, counted from outside a running interpreter
 * (objgraph's show_most_common_types and show_growth, guppy's heap(), with
 * nothing run in the process).
 *
 * Objects of up to 512 bytes live in pymalloc's arenas (user/python/
 * py_arenas.h): each 16 KiB pool holds blocks of one size; a pool's live
 * blocks are those carved so far (below nextoffset) that are not on its
 * free list, and their number must be the pool's own count, else the pool
 * changed while it was read and is counted as such, not guessed at. Larger
 * objects are allocations memtrace tracks (those made since tracing
 * started).
 *
 * Where the object starts in a block: right at it, or after the GC header
 * (16 bytes: GC-tracked types), or after that and two more pointers (3.11
 * types with managed dicts, 3.12+ Py_TPFLAGS_PREHEADER). A candidate is an
 * object when its reference count is plausible (not 0: objects kept on the
 * interpreter's free lists have 0; not negative or a pointer's worth), its
 * ob_type is a type (its own type chain reaches PyType_Type through
 * metatypes, and it is ready), that type puts its objects at that offset,
 * its basic size fits the block, and the GC header before it, if any,
 * holds links. The lowest offset that fits wins: a GC header's link is
 * never a type's address, while an object's contents can be (a tuple of
 * classes). Measured on 3.12: without the reference count and GC header
 * checks, one block in ~60,000 (a structure holding a class pointer after
 * -256) was counted as an object.
 *
 * The process keeps running: the census takes a time budget, stops at it,
 * and says so; blocks that change under it are counted, never named.
 */
#ifndef MEMTRACE_PY_CENSUS_H
#define MEMTRACE_PY_CENSUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "py_arenas.h"
#include "python_detect.h"
#include "util/strpool.h"

/* One type's live objects. */
struct py_type_count {
	uint64_t type;			/* the type object's address */
	const char *name;		/* its tp_name, from the strpool */
	uint64_t count;
	uint64_t bytes;			/* their blocks (pymalloc's size class,
					   or the allocation's size) */
};

/* Objects of one type allocated by one stack (--python-objects). */
struct py_type_site {
	size_t type;			/* index in types[] */
	uint64_t stack_id;
	uint64_t count, bytes;
};

struct py_census {
	struct py_type_count *types;
	size_t ntypes, types_cap;
	struct py_type_site *sites;
	size_t nsites, sites_cap;

	/* How it went. */
	uint64_t arenas;		/* arenas read */
	uint64_t arenas_total;		/* arenas the table lists */
	uint64_t arena_bytes;		/* bytes of arena memory read */
	uint64_t pools;			/* pools in use, read */
	uint64_t pools_changed;		/* ... whose free list did not match
					   their count (changed while read):
					   their blocks are not counted */
	uint64_t pools_unreadable;	/* ... that could not be read */
	uint64_t blocks;		/* live blocks in the pools counted */
	uint64_t objects;		/* ... holding an object */
	uint64_t large;			/* tracked allocations over 512 B looked at */
	uint64_t large_objects;		/* ... holding an object */
	uint64_t types_unreadable;	/* type objects that could not be read */
	double seconds;			/* the census's duration */
	bool cut_short;			/* stopped at the time budget */
};

/* What the census asks of the rest of memtrace. Either may be NULL. */
struct py_census_source {
	/* Call fn for each live allocation of pid that memtrace tracks. */
	void (*each_live)(void *ctx, uint32_t pid,
			  void (*fn)(void *arg, uint64_t addr, uint64_t size, uint64_t stack_id),
			  void *arg);
	/* The stack that allocated the live block at addr, or 0. */
	uint64_t (*stack_of)(void *ctx, uint32_t pid, uint64_t addr);
	void *ctx;
};

/*
 * Count pid's live objects by type into *out (zeroed first; free with
 * py_census_free()). Type names go into names. budget_s bounds the time
 * spent reading arenas (the census stops there, cut_short). src->stack_of,
 * when given, is asked for every object's stack, and out->sites says which
 * stacks allocated each type. Returns 0 (with whatever could be read
 * counted), -ESRCH when the process is gone, -ENOMEM, or -EFAULT when the
 * arena table itself cannot be read.
 */
int py_census_take(pid_t pid, const struct py_target *t, const struct py_arenas_ref *ref,
		   const struct py_census_source *src, double budget_s,
		   struct strpool *names, struct py_census *out);

void py_census_free(struct py_census *c);

#endif /* MEMTRACE_PY_CENSUS_H */
