// SPDX-License-Identifier: MIT
/*
 * The hooks of memtrace_unwind_step.h over a snapshot: memory is the
 * copied stack, rows are an array in memory, the return instances are the
 * snapshot's list (cursor k + 1 for returns[k], 0 past the end).
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <ucontext.h>

#include "unwind_walk.h"
#include "memtrace_unwind_step.h"

_Static_assert(offsetof(ucontext_t, uc_mcontext.gregs[REG_RIP]) == MT_SIGFRAME_IP,
	       "signal frame: ip");
_Static_assert(offsetof(ucontext_t, uc_mcontext.gregs[REG_RSP]) == MT_SIGFRAME_SP,
	       "signal frame: sp");
_Static_assert(offsetof(ucontext_t, uc_mcontext.gregs[REG_RBP]) == MT_SIGFRAME_BP,
	       "signal frame: bp");

struct walk {
	struct mt_unwind_state s;	/* first: the hooks get &w->s */
	const struct mt_unwind_row *rows;
	size_t nrows;
	const struct mt_snapshot *snap;
	__u32 last_row;		/* the row the last search found: the hint */
	__u32 map_hint;		/* the mapping the last search found: the hint */
};

static const struct walk *walk_of(const struct mt_unwind_state *s)
{
	return (const struct walk *)((const char *)s - offsetof(struct walk, s));
}

MT_UNWIND_INLINE int mt_unwind_read(const struct mt_unwind_state *s, void *dst,
				    __u32 size, __u64 addr)
{
	const struct mt_snapshot *snap = walk_of(s)->snap;
	__u64 off = addr - snap->addr;

	if (addr < snap->addr || off > snap->len || size > snap->len - off || !size)
		return -EFAULT;
	/* Every chunk the bytes touch was read. */
	for (__u64 c = off / MT_SNAPSHOT_CHUNK; c <= (off + size - 1) / MT_SNAPSHOT_CHUNK; c++)
		if (!(snap->chunks & (1u << c)))
			return -EFAULT;
	memcpy(dst, snap->data + off, size);
	return 0;
}

MT_UNWIND_INLINE const struct mt_unwind_row *mt_unwind_row(const struct mt_unwind_state *s,
							   const __u32 *idx)
{
	const struct walk *w = walk_of(s);

	return *idx < w->nrows ? &w->rows[*idx] : NULL;
}

/* The hint is the walk's last row found: usually wrong (the next frame
 * is another function), so every walk also runs the check,
 * mt_unwind_row_holds(). */
MT_UNWIND_INLINE __u32 mt_unwind_row_hint(struct mt_unwind_state *s, __u32 start,
					  __u64 target)
{
	return walk_of(s)->last_row;
}

MT_UNWIND_INLINE void mt_unwind_row_found(struct mt_unwind_state *s, __u32 start,
					  __u64 target, __u32 idx)
{
	((struct walk *)walk_of(s))->last_row = idx;
}

MT_UNWIND_INLINE __u32 *mt_unwind_mapping_hint(struct mt_unwind_state *s, __u64 pc)
{
	return &((struct walk *)walk_of(s))->map_hint;
}

MT_UNWIND_INLINE __u32 mt_unwind_row_index(struct mt_unwind_state *s, __u32 start, __u32 len,
					   __u64 target)
{
	return mt_unwind_find_row_index(s, start, len, target);
}

MT_UNWIND_INLINE __u64 mt_unwind_ri_slot(const struct mt_unwind_state *s, __u64 ri)
{
	return walk_of(s)->snap->returns[ri - 1].slot;
}

MT_UNWIND_INLINE __u64 mt_unwind_ri_ret(const struct mt_unwind_state *s, __u64 ri)
{
	return walk_of(s)->snap->returns[ri - 1].ret;
}

MT_UNWIND_INLINE __u64 mt_unwind_ri_next(const struct mt_unwind_state *s, __u64 ri)
{
	return ri < walk_of(s)->snap->nreturns ? ri + 1 : 0;
}

MT_UNWIND_INLINE __u64 mt_unwind_return_instance(struct mt_unwind_state *s, __u64 ra,
						 __u64 slot)
{
	return mt_unwind_match_return(s, &s->ri, ra, slot);
}

int unwind_walk(const struct mt_unwind_row *rows, size_t nrows,
		const struct mt_proc_mappings *maps, const struct mt_snapshot *snap,
		struct mt_stack *stack)
{
	struct walk w = { .rows = rows, .nrows = nrows, .snap = snap };
	/* Where BPF's walk would have stopped, counted on from where it
	 * left off: the same frames, so the same stack ID. */
	struct mt_eval_stop eval = snap->eval;
	int k;

	if (stack->len > MT_MAX_FRAMES)
		return -EINVAL;
	w.s.pc = snap->regs.pc;
	w.s.sp = snap->regs.sp;
	w.s.bp = snap->regs.bp;
	w.s.pc_is_return = snap->regs.pc_is_return;
	w.s.bp_valid = snap->regs.bp_valid;
	w.s.trampoline = snap->trampoline;
	/* A list longer than the snapshot holds cannot be: the kernel keeps
	 * no more per thread. */
	w.s.ri = snap->nreturns && snap->nreturns <= MT_SNAPSHOT_RETURNS ? 1 : 0;
	w.s.out = stack;
	w.s.maps = maps;
	w.map_hint = MT_MAX_MAPPINGS;	/* none */
	w.s.eval = &eval;
	for (k = 0; k < MT_UNWIND_MAX_STEPS; k++)
		if (mt_unwind_frame(&w.s))
			break;
	stack->end = mt_unwind_end(&w.s);
	return 0;
}
