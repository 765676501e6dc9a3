/* SPDX-License-Identifier: MIT */
/*
 * Where a process's RSS goes: what the kernel says is resident, against
 * what memtrace accounts for (the reconciliation line of every report).
 *
 *   heap           outstanding bytes of allocator calls, as requested
 *   mapped         resident bytes of what it mapped itself since tracing
 *                  began (mmap, mremap, brk), but for the two below
 *   Python arenas  resident bytes of pymalloc's arenas among those (with
 *                  --python-objects the objects are in heap instead, and
 *                  the arenas are pymalloc's own memory, not counted)
 *   thread stacks  resident bytes of the mappings holding its threads'
 *                  stacks (found by each blocked thread's stack pointer)
 *   unexplained    anonymous RSS minus those: allocator slack and
 *                  fragmentation, memory from before tracing began
 */
#ifndef MEMTRACE_RECONCILE_H
#define MEMTRACE_RECONCILE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "aggregator.h"
#include "python/python_detect.h"
#include "report/report.h"
#include "stack_source.h"
#include "symbols/symbolizer.h"

struct reconcile_in {
	pid_t pid;
	const struct aggregator *agg;
	struct stack_source *stacks;
	struct symbolizer *sym;
	const struct py_target *py;	/* NULL: not a Python process */
	bool py_objects;		/* pymalloc's objects are traced */
	uint64_t rss_anon_start;	/* anonymous RSS when tracing began */
};

/* Measure in->pid now into *out. A process that is gone gives
 * out->valid false and 0; any other failure a negative errno. */
int reconcile_process(const struct reconcile_in *in, struct report_memory *out);

/* Add m (if valid) into total. */
void reconcile_sum(struct report_memory *total, const struct report_memory *m);

#endif /* MEMTRACE_RECONCILE_H */
