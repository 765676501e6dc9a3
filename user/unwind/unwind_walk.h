/* SPDX-License-Identifier: MIT */
/*
 * The user-space stack walk: from a snapshot of a thread's registers and
 * stack (struct mt_snapshot, sent by the probes), by the same step as the
 * BPF walk (include/memtrace_unwind_step.h), over the same rows and
 * mapping list. It needs no BPF and no root: the unit tests run it on
 * stacks they take of themselves.
 */
#ifndef MEMTRACE_UNWIND_WALK_H
#define MEMTRACE_UNWIND_WALK_H

#include <stddef.h>

#include "memtrace_events.h"
#include "memtrace_unwind.h"

/*
 * Walk from snap's registers, appending frames to *stack from
 * stack->len on (the first is snap->regs.pc), and set stack->end (and add
 * to stack->fp_frames) as the BPF walk would have. rows[0..nrows) are
 * what the mappings' rows_start and rows_len point into. Memory outside
 * the snapshot reads as unreadable; a uretprobe trampoline address is
 * replaced from the snapshot's return instances.
 * Returns 0, or -EINVAL when stack->len is above MT_MAX_FRAMES.
 */
int unwind_walk(const struct mt_unwind_row *rows, size_t nrows,
		const struct mt_proc_mappings *maps, const struct mt_snapshot *snap,
		struct mt_stack *stack);

#endif /* MEMTRACE_UNWIND_WALK_H */
