/* SPDX-License-Identifier: MIT */
/*
 * The user-space end of a stack walk: finishing, from a snapshot of a
 * thread's registers and stack, a stack the BPF unwinder stopped at a PC
 * in no mapping it knew. It needs no BPF and no root: only the rows, the
 * process's mapping list and the snapshot, so the unit tests run it on
 * stacks they make.
 */
#ifndef MEMTRACE_UNWIND_WALK_H
#define MEMTRACE_UNWIND_WALK_H

#include <stddef.h>

#include "memtrace_events.h"
#include "memtrace_unwind.h"

/*
 * Walk on from snap. *stack holds the frames found so far, the last of
 * which is snap->regs.pc (the PC the walk stopped at); rows[0..nrows)
 * are the rows the mappings' rows_start and rows_len point into. Appends
 * frames to *stack and sets stack->end (and fp_frames). Returns 0, or
 * -EINVAL when *stack has no frame.
 */
int unwind_walk_finish(const struct mt_unwind_row *rows, size_t nrows,
		       const struct mt_proc_mappings *maps,
		       const struct mt_snapshot *snap, struct mt_stack *stack);

#endif /* MEMTRACE_UNWIND_WALK_H */
