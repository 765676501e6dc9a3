// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "unwind_walk.h"

/* A word of the copied stack; false when outside the copy. */
static bool snap_read(const struct mt_snapshot *snap, uint64_t addr, uint64_t *out)
{
	if (addr < snap->regs.sp || addr - snap->regs.sp + 8 > snap->len)
		return false;
	memcpy(out, snap->data + (addr - snap->regs.sp), 8);
	return true;
}

static const struct mt_mapping *mapping_of(const struct mt_proc_mappings *m, uint64_t pc)
{
	for (uint32_t i = 0; i < m->n; i++)
		if (pc >= m->m[i].start && pc < m->m[i].end)
			return &m->m[i];
	return NULL;
}

static const struct mt_unwind_row *row_of(const struct mt_unwind_row *rows, size_t nrows,
					  const struct mt_mapping *m, uint64_t pc)
{
	size_t lo = m->rows_start, hi = (size_t)m->rows_start + m->rows_len;

	if (hi > nrows)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rows[mid].pc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > m->rows_start ? &rows[lo - 1] : NULL;
}

/*
 * One frame up, by the same rules as the BPF unwinder
 * (bpf/unwind_dwarf.bpf.h): returns MT_END_COMPLETE to go on (regs
 * updated), or the reason to stop.
 */
static int step(const struct mt_unwind_row *rows, size_t nrows,
		const struct mt_proc_mappings *maps,
		const struct mt_snapshot *snap, struct mt_frame_regs *r,
		uint32_t *fp_frames)
{
	const struct mt_mapping *m = mapping_of(maps, r->pc);
	const struct mt_unwind_row *row;
	uint64_t cfa, ra, saved_bp;

	if (!m)
		return MT_END_NO_MAPPING;
	if (m->rows_len == 0) {
		if (!r->bp_valid || r->bp < r->sp || r->bp - r->sp > (8ULL << 20) ||
		    (r->bp & 7))
			return MT_END_FP;
		if (!snap_read(snap, r->bp, &saved_bp) || !snap_read(snap, r->bp + 8, &ra))
			return MT_END_BAD_READ;
		if (!mapping_of(maps, ra))
			return MT_END_FP;	/* not a return address */
		(*fp_frames)++;
		r->sp = r->bp + 16;
		r->bp = saved_bp;
		r->pc = ra;
		r->pc_is_return = 1;
		return MT_END_COMPLETE;
	}
	row = row_of(rows, nrows, m, r->pc - m->bias - (r->pc_is_return ? 1 : 0));
	if (!row)
		return MT_END_NO_TABLE;
	switch (row->cfa_type) {
	case MT_CFA_RSP:
		cfa = r->sp + row->cfa_offset;
		break;
	case MT_CFA_RBP:
		if (!r->bp_valid)
			return MT_END_UNSUPPORTED;
		cfa = r->bp + row->cfa_offset;
		break;
	case MT_CFA_PLT:
		cfa = r->sp + 8 + ((r->pc & 15) >= 11 ? 8 : 0);
		break;
	case MT_CFA_END:
		return MT_END_COMPLETE + MT_END_COUNT;	/* outermost frame */
	case MT_CFA_NONE:
		return MT_END_NO_TABLE;
	default:	/* signal frames: rare enough to stop here */
		return MT_END_UNSUPPORTED;
	}
	if (!snap_read(snap, cfa - 8, &ra))
		return MT_END_BAD_READ;
	if (row->rbp_type == MT_RBP_OFFSET) {
		if (!snap_read(snap, cfa + row->rbp_offset, &saved_bp))
			return MT_END_BAD_READ;
		r->bp = saved_bp;
		r->bp_valid = 1;
	} else if (row->rbp_type == MT_RBP_UNSUPPORTED) {
		r->bp_valid = 0;
	}
	if (cfa <= r->sp)
		return MT_END_BAD_READ;
	r->sp = cfa;
	r->pc = ra;
	r->pc_is_return = 1;
	return MT_END_COMPLETE;
}

int unwind_walk_finish(const struct mt_unwind_row *rows, size_t nrows,
		       const struct mt_proc_mappings *maps,
		       const struct mt_snapshot *snap, struct mt_stack *stack)
{
	struct mt_frame_regs r = snap->regs;
	int why;

	if (stack->len == 0)
		return -EINVAL;
	/* The last frame is the PC that stopped BPF: walk on from it. */
	stack->len--;
	for (;;) {
		if (!r.pc) {
			/* As in BPF: a return address of 0 is garbage CFI. */
			why = MT_END_BAD_READ;
			break;
		}
		if (stack->len >= MT_MAX_FRAMES) {
			why = MT_END_DEPTH;
			break;
		}
		stack->pcs[stack->len++] = r.pc;
		why = step(rows, nrows, maps, snap, &r, &stack->fp_frames);
		if (why == MT_END_COMPLETE + MT_END_COUNT) {
			why = MT_END_COMPLETE;
			break;
		}
		if (why != MT_END_COMPLETE)
			break;
	}
	stack->end = why;
	return 0;
}
