/* SPDX-License-Identifier: MIT */
/*
 * Whose a map is, of those a traced program makes outside any probed
 * allocator call (the probes skip those inside one):
 *   - the allocator's own, made where no probe sees it: at start-up (a
 *     constructor of an allocator linked into the executable), at thread
 *     exit, in free (which has no return probe). Its blocks are counted
 *     already: counting the map would count them twice;
 *   - the dynamic loader's, loading a program (after an exec) or a library
 *     (dlopen): the zeroed part of its data, ld.so's own heap;
 *   - the C library's thread stacks: glibc and musl map each in
 *     pthread_create and keep it for reuse after the thread exits, as an
 *     allocator keeps its memory. The reconciliation counts thread stacks
 *     apart, from /proc (user/reconcile.h);
 *   - else the program's.
 * Known by the stack of the map: the functions and objects on it.
 */
#ifndef MEMTRACE_MAP_FILTER_H
#define MEMTRACE_MAP_FILTER_H

#include "memtrace_events.h"
#include "proc/alloc_target.h"
#include "stack_source.h"
#include "symbols/symbolizer.h"

enum map_owner {
	MAP_PROGRAM = 0,
	MAP_ALLOCATOR,
	MAP_THREAD_STACK,
	MAP_LOADER,		/* the dynamic loader's: loading a program or a
				   library (its .bss, ld.so's own heap) */
};

/*
 * Whose the map of e (an MT_EV_MMAP, MT_EV_MREMAP_DONE or MT_EV_BRK) is,
 * for a process whose allocator is at (NULL: unknown). Maps without a
 * stack are the program's.
 */
enum map_owner map_filter_owner(struct stack_source *stacks, struct symbolizer *sym,
				const struct alloc_target *at, const struct mt_event *e);

/* Is the range pid mapped on stack_id, of size bytes, one of the
 * interpreter's pymalloc arenas: an arena's size (1 MiB from 3.10, 256
 * KiB before), mapped by the interpreter's own code (py's object)? */
struct py_target;
bool map_filter_is_python_arena(struct stack_source *stacks, struct symbolizer *sym,
				const struct py_target *py, uint32_t pid, uint64_t stack_id,
				uint64_t size);

/* Is this function name one of the allocator kind's internal ones (the
 * names a copy linked into the executable keeps)? Exposed for tests. */
bool map_filter_internal_name(enum alloc_kind kind, const char *function);

#endif /* MEMTRACE_MAP_FILTER_H */
