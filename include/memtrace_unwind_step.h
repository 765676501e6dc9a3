/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The unwind step: one frame of a stack walk, by the rules of the rows in
 * memtrace_unwind.h. Written once and compiled twice: by clang -target bpf
 * for the walk in the probes (bpf/unwind_dwarf.bpf.h) and by gcc for the
 * walk user space finishes from a snapshot (user/unwind/unwind_walk.c), so
 * that both give the same frames and, through mt_stack_id(), the same ID.
 *
 * Per frame (mt_unwind_frame()): record the PC; find the mapping that
 * holds it (a binary search over the process's sorted executable
 * mappings), then the row for it (a binary search over that object's
 * rows), then apply the row: the CFA from rsp or rbp, the return address
 * at CFA - 8, rbp from its save slot; a signal frame's registers come from
 * the ucontext the kernel saved; a return address that is the uretprobe
 * trampoline is replaced by the real one. Code with no table (JIT,
 * anonymous memory) is walked by frame pointers, checked. Every stop says
 * why in s->end (enum mt_stack_end).
 *
 * The code keeps to what the BPF verifier accepts: every loop has a
 * constant bound, every array index is masked or checked against a
 * constant, and memory is only read through the hooks.
 *
 * The includer defines, after including this header, these hooks it
 * declares (static, always inline); what they need beyond the state, it
 * keeps in a struct of its own that embeds struct mt_unwind_state:
 *   mt_unwind_read()         copy bytes of the walked thread's memory;
 *   mt_unwind_row()          a row of the array the mappings point into;
 *   mt_unwind_row_hint(), mt_unwind_row_found()
 *                            a guess at the row for a PC, and the row found
 *                            for one, to guess from next time;
 *   mt_unwind_mapping_hint() where the mapping found for a PC is kept, to
 *                            try first next time;
 *   mt_unwind_row_index()    mt_unwind_find_row_index() itself, or a call
 *                            of it (BPF: a global function, see there);
 *   mt_unwind_return_instance()
 *                            mt_unwind_match_return() on s->ri, or a call of
 *                            it (BPF: a global function);
 *   mt_unwind_ri_slot(), mt_unwind_ri_ret(), mt_unwind_ri_next()
 *                            the pending return probes' list: each entry's
 *                            stack slot, real return address, and the next
 *                            entry (0: none), from an opaque cursor.
 */
#ifndef MEMTRACE_UNWIND_STEP_H
#define MEMTRACE_UNWIND_STEP_H

#include "memtrace_events.h"
#include "memtrace_unwind.h"

#define MT_UNWIND_INLINE static inline __attribute__((always_inline))

/* 2^9 > MT_MAX_MAPPINGS, 2^24 > any row count we allow (the searches
 * stop there whatever the data says). */
#define MT_UNWIND_MAPPING_STEPS 9
#define MT_UNWIND_ROW_STEPS 24
/* Return instances skipped to find the one of a frame (chained ones of
 * tail calls share a frame). */
#define MT_UNWIND_MAX_RETURN_INSTANCES 4
/* Frame pointers further than this above sp are not this stack's. */
#define MT_UNWIND_FP_MAX_FRAME (8ULL << 20)
/* Calls of mt_unwind_frame() a whole walk needs at most: one per frame,
 * and one more to find that the next would be too deep. */
#define MT_UNWIND_MAX_STEPS (MT_MAX_FRAMES + 1)

struct mt_unwind_state {
	__u64 pc, sp, bp;
	__u64 trampoline;		/* uretprobe trampoline address, or 0 */
	__u64 ri;			/* cursor: next return instance to
					   match, 0: none */
	struct mt_stack *out;		/* frames go to out->pcs[out->len] */
	const struct mt_proc_mappings *maps;
	/* A Python thread's: where to stop. A pointer, into a map value in
	 * BPF: what it holds is then unknown to the verifier, which would
	 * otherwise check the rest of the step once for each way through
	 * the check (alloc_exit: 159,000 to 216,000 verified instructions
	 * instead of 85,000). Never NULL. */
	struct mt_eval_stop *eval;
	/* Keeps the flags below off the start of an 8-byte slot of the BPF
	 * stack: the verifier tracks a constant stored at a slot's start,
	 * and then explored the frame callback once per combination of
	 * flag values. Without it alloc_exit took 133,751 verified
	 * instructions instead of 59,177. */
	__u32 pad;
	__u8 pc_is_return;		/* look the PC up at pc - 1 */
	__u8 bp_valid;
	__u8 end;			/* enum mt_stack_end, once stopped */
	__u8 stopped;
};

/* Copy size bytes at addr of the walked thread's memory to dst. 0, or
 * non-zero when they cannot be read (nothing else then differs). */
MT_UNWIND_INLINE int mt_unwind_read(const struct mt_unwind_state *s, void *dst,
				    __u32 size, __u64 addr);
/* Row *idx of the rows array, or NULL past its end. (By address, as
 * bpf_map_lookup_elem() takes it: the index then lives in memory, not in
 * a register the BPF code needs across the call.) */
MT_UNWIND_INLINE const struct mt_unwind_row *mt_unwind_row(const struct mt_unwind_state *s,
							   const __u32 *idx);
/* Where the row for target (a PC of the object whose rows begin at
 * start) may be: any index at all, since mt_unwind_find_row_index()
 * checks it before use; and the row found for it by the search, to
 * remember. A guess that is wrong only costs the check. */
MT_UNWIND_INLINE __u32 mt_unwind_row_hint(struct mt_unwind_state *s, __u32 start, __u64 target);
MT_UNWIND_INLINE void mt_unwind_row_found(struct mt_unwind_state *s, __u32 start, __u64 target,
					  __u32 idx);
/* Where the index of the mapping holding pc may be kept: any slot at all,
 * since mt_unwind_find_mapping() checks what it holds before use and
 * writes the index it found there. */
MT_UNWIND_INLINE __u32 *mt_unwind_mapping_hint(struct mt_unwind_state *s, __u64 pc);
/* mt_unwind_find_row_index(s, start, len, target), as the includer calls
 * it. */
MT_UNWIND_INLINE __u32 mt_unwind_row_index(struct mt_unwind_state *s, __u32 start, __u32 len,
					   __u64 target);
/* Of the return instance at cursor ri (non-zero): the stack slot its
 * return address was taken from, that real return address, and the
 * cursor of the next instance out (0: none). The list runs from the
 * innermost pending call outwards. */
MT_UNWIND_INLINE __u64 mt_unwind_ri_slot(const struct mt_unwind_state *s, __u64 ri);
MT_UNWIND_INLINE __u64 mt_unwind_ri_ret(const struct mt_unwind_state *s, __u64 ri);
MT_UNWIND_INLINE __u64 mt_unwind_ri_next(const struct mt_unwind_state *s, __u64 ri);
/* mt_unwind_match_return(s, &s->ri, ra, slot), as the includer calls it. */
MT_UNWIND_INLINE __u64 mt_unwind_return_instance(struct mt_unwind_state *s, __u64 ra,
						 __u64 slot);

/* Is the frame just recorded (its PC looked up at `at`) the last of the
 * eval loop frames s->eval waits for? Then the walk is past the outermost
 * Python frame (MT_END_PYTHON). */
MT_UNWIND_INLINE int mt_unwind_past_python(struct mt_unwind_state *s, __u64 at)
{
	struct mt_eval_stop *e = s->eval;

	if (!e->left || at < e->start || at >= e->end)
		return 0;
	e->left--;
	return e->left == 0;
}

/*
 * A search the verifier checks once, apart from the frame step that calls
 * it: a global function in BPF, which the caller sees return one scalar.
 * Inlined, its bounds were scalars the verifier tracked exactly (they index
 * the array), so it walked each path of the search as a state of its own
 * in every state of the frame step: on Linux 6.18.44 the mapping search
 * was 26,000 of alloc_exit's 62,665 verified instructions.
 */
#ifdef __bpf__
#define MT_UNWIND_APART __attribute__((noinline))
#else
#define MT_UNWIND_APART static inline
#endif

/*
 * The index of the mapping holding pc in maps, or -1. maps->n is at most
 * MT_MAX_MAPPINGS (user/unwind/unwind_loader.c stops there); a count past
 * it is refused, not clamped: on the clamped path hi was the constant 256,
 * every mid and bound after it a constant too, and the verifier walked
 * each of the search's paths as a state of its own (alloc_exit: 78,916
 * verified instructions, 24,518 refused).
 */
MT_UNWIND_APART int mt_unwind_mapping_index(const struct mt_proc_mappings *maps, __u64 pc)
{
	__u32 lo = 0, hi;

	if (!maps)
		return -1;
	hi = maps->n;
	if (hi > MT_MAX_MAPPINGS)
		return -1;
	for (int k = 0; k < MT_UNWIND_MAPPING_STEPS; k++) {
		__u32 mid;
		const struct mt_mapping *m;

		if (lo >= hi)
			break;
		mid = (lo + hi) / 2;
		m = &maps->m[mid & (MT_MAX_MAPPINGS - 1)];
		if (pc < m->start)
			hi = mid;
		else if (pc >= m->end)
			lo = mid + 1;
		else
			return (int)(mid & (MT_MAX_MAPPINGS - 1));
	}
	return -1;
}

/*
 * The mapping holding pc, or NULL. The hint's mapping is tried first: the
 * mappings of a process do not overlap, so one that holds pc is the one,
 * whatever process put its index there; and the search is a call in BPF.
 */
MT_UNWIND_INLINE const struct mt_mapping *mt_unwind_find_mapping(struct mt_unwind_state *s,
								 __u64 pc)
{
	const struct mt_proc_mappings *maps = s->maps;
	__u32 *hint = mt_unwind_mapping_hint(s, pc);
	__u32 i = *hint;
	const struct mt_mapping *m = &maps->m[i & (MT_MAX_MAPPINGS - 1)];

	if (i >= maps->n || pc < m->start || pc >= m->end) {
		int found = mt_unwind_mapping_index(maps, pc);

		if (found < 0)
			return (const struct mt_mapping *)0;
		i = (__u32)found;
		*hint = i;
	}
	/* One way out, so that the verifier sees one pointer either way. */
	return &maps->m[i & (MT_MAX_MAPPINGS - 1)];
}

/*
 * Is row idx the one for target among the rows [start, start + len)?
 * Rows are sorted by pc, strictly increasing, so the last row whose
 * pc <= target (what the search below finds) is the one row whose
 * pc <= target < the next row's pc, or that is the last: an index that
 * passes this check is the row the search would find, whatever guessed
 * it.
 */
MT_UNWIND_INLINE int mt_unwind_row_holds(struct mt_unwind_state *s, __u32 start, __u32 len,
					 __u64 target, __u32 idx)
{
	const struct mt_unwind_row *row;
	__u32 k = idx;

	if (k - start >= len)
		return 0;
	row = mt_unwind_row(s, &k);
	if (!row || row->pc > target)
		return 0;
	k = idx + 1;
	if (k == start + len)
		return 1;
	row = mt_unwind_row(s, &k);
	return row && row->pc > target;
}

/*
 * The index of the last row of [start, start + len) whose pc <= target,
 * or ~0u: the hint, if it holds, else by binary search.
 *
 * Why a hint: the search's ~15 steps over a table of 25 k (libc) to 180 k
 * (python3.11) rows touch a cache line each, and after the trap into the
 * kernel they are cold: perf put half of the frame callback's samples on
 * the loads of row->pc (churn under the default mode). A hint that holds
 * touches two rows, usually one cache line.
 */
MT_UNWIND_INLINE __u32 mt_unwind_find_row_index(struct mt_unwind_state *s, __u32 start,
						__u32 len, __u64 target)
{
	__u32 lo = start, hi = start + len, idx;

	idx = mt_unwind_row_hint(s, start, target);
	if (mt_unwind_row_holds(s, start, len, target, idx))
		return idx;
	for (int k = 0; k < MT_UNWIND_ROW_STEPS; k++) {
		const struct mt_unwind_row *row;
		__u32 mid;

		if (lo >= hi)
			break;
		mid = lo + (hi - lo) / 2;
		row = mt_unwind_row(s, &mid);
		if (!row)
			return ~0u;
		if (row->pc <= target)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == start)
		return ~0u;	/* before the first row */
	mt_unwind_row_found(s, start, target, lo - 1);
	return lo - 1;
}

/* The last row of [start, start + len) whose pc <= target, or NULL. */
MT_UNWIND_INLINE const struct mt_unwind_row *mt_unwind_find_row(struct mt_unwind_state *s,
								__u32 start, __u32 len,
								__u64 target)
{
	__u32 idx = mt_unwind_row_index(s, start, len, target);

	return idx == ~0u ? (const struct mt_unwind_row *)0 : mt_unwind_row(s, &idx);
}

MT_UNWIND_INLINE int mt_unwind_read_u64(const struct mt_unwind_state *s, __u64 *dst,
					__u64 addr)
{
	return mt_unwind_read(s, dst, sizeof(*dst), addr);
}

/*
 * A return address that is the uretprobe trampoline belongs to a function
 * with a pending return probe: the real one is in the list of return
 * instances, found by the stack slot it was taken from. The list runs from
 * the innermost pending call outwards, as the walk does, so a cursor into
 * it (*cursor, the walk's s->ri) makes each lookup a step or two. ra as it
 * is when no instance matches. s is only handed to the hooks.
 *
 * In BPF a global function calls it (see MT_UNWIND_APART): inlined, the
 * frame callback's stack grew to 56 bytes, and from 64 on the kernel runs
 * a callback on a private per-CPU stack (~17 ns more a frame here: the BPF
 * walk timed with bpf_ktime_get_ns around it, 6.7 -> 7.8 us at 67 frames);
 * as a static function it was checked in each state of the frame step that
 * reached it (9,600 of alloc_exit's 35,395 verified instructions on Linux
 * 6.18.44).
 */
MT_UNWIND_INLINE __u64 mt_unwind_match_return(const struct mt_unwind_state *s, __u64 *cursor,
					      __u64 ra, __u64 slot)
{
	__u64 ri = *cursor;

	for (int k = 0; k < MT_UNWIND_MAX_RETURN_INSTANCES && ri; k++) {
		__u64 stack = mt_unwind_ri_slot(s, ri);

		if (stack > slot)
			break;		/* belongs to an outer frame */
		if (stack == slot) {
			/* Chained instances (tail calls) share the slot, and
			 * each holds the real address. */
			*cursor = mt_unwind_ri_next(s, ri);
			return mt_unwind_ri_ret(s, ri);
		}
		ri = mt_unwind_ri_next(s, ri);
	}
	*cursor = ri;
	return ra;
}

MT_UNWIND_INLINE __u64 mt_unwind_real_return_address(struct mt_unwind_state *s, __u64 ra,
						     __u64 slot)
{
	if (!s->trampoline || ra != s->trampoline)
		return ra;
	return mt_unwind_return_instance(s, ra, slot);
}

MT_UNWIND_INLINE void mt_unwind_stop(struct mt_unwind_state *s, __u8 why)
{
	s->end = why;
	s->stopped = 1;
}

/*
 * One frame by frame pointers: for code that has no table. Code without
 * frame pointers leaves anything in rbp, so what it gives is checked: a
 * frame pointer into the stack above sp, and a return address into code
 * the process has mapped. Anything else ends the walk (and is counted)
 * rather than adding a garbage frame.
 */
MT_UNWIND_INLINE void mt_unwind_fp_step(struct mt_unwind_state *s)
{
	__u64 ra, next_bp, pair[2];

	if (!s->bp_valid || s->bp < s->sp || s->bp - s->sp > MT_UNWIND_FP_MAX_FRAME ||
	    (s->bp & 7)) {
		mt_unwind_stop(s, MT_END_FP);
		return;
	}
	/* Saved rbp and return address are adjacent: one read, not two
	 * (why that matters: mt_unwind_read_ra_and_bp() below). */
	if (mt_unwind_read(s, pair, sizeof(pair), s->bp)) {
		mt_unwind_stop(s, MT_END_BAD_READ);
		return;
	}
	next_bp = pair[0];
	ra = mt_unwind_real_return_address(s, pair[1], s->bp + 8);
	if (!mt_unwind_find_mapping(s, ra)) {
		mt_unwind_stop(s, MT_END_FP);
		return;
	}
	s->out->fp_frames++;
	s->sp = s->bp + 16;
	s->bp = next_bp;
	s->pc = ra;
	s->pc_is_return = 1;
}

/*
 * In BPF each read of user memory costs about 60 ns here, far more than
 * the copy itself (measured by adding work per frame: an extra 8-byte
 * read cost 61 ns a frame, a second row search 43 ns, a second mapping
 * search 3 ns), and a frame that saves rbp needs two: the return address
 * at CFA - 8 and rbp at CFA + rbp_offset. When rbp sits right below the
 * return address (code with frame pointers, and any function whose first
 * push is rbp) one 16-byte read fetches both. Other save slots keep two
 * reads: reading a whole 64-byte save area instead measured slower per
 * frame, even for frames that took the 16-byte path, and bigger reads
 * cost ~15 ns more than 16-byte ones. Returns 0 when not adjacent or the
 * read fails; the caller then reads the words one by one, so the result
 * never differs. (BPF's reads now go through a window of the stack,
 * bpf/unwind_dwarf.bpf.h: the pair is then one check of the window.)
 */
MT_UNWIND_INLINE int mt_unwind_read_ra_and_bp(const struct mt_unwind_state *s,
					      const struct mt_unwind_row *row, __u64 cfa,
					      __u64 *ra, __u64 *saved_bp)
{
	__u64 pair[2];

	if (row->rbp_offset != -16)
		return 0;
	if (mt_unwind_read(s, pair, sizeof(pair), cfa - 16))
		return 0;
	*saved_bp = pair[0];
	*ra = pair[1];
	return 1;
}

/* One frame by the row that covers the PC. */
MT_UNWIND_INLINE void mt_unwind_table_step(struct mt_unwind_state *s,
					   const struct mt_unwind_row *row)
{
	__u64 cfa, ra, saved_bp;

	switch (row->cfa_type) {
	case MT_CFA_RSP:
		cfa = s->sp + (__s64)row->cfa_offset;
		break;
	case MT_CFA_RBP:
		if (!s->bp_valid) {
			mt_unwind_stop(s, MT_END_UNSUPPORTED);
			return;
		}
		cfa = s->bp + (__s64)row->cfa_offset;
		break;
	case MT_CFA_PLT:
		cfa = s->sp + 8 + ((s->pc & 15) >= 11 ? 8 : 0);
		break;
	case MT_CFA_SIGNAL:
		/* At __restore_rt the stack holds the ucontext of the
		 * interrupted code: its registers are the next frame's. */
		cfa = s->sp;	/* the ucontext, not a CFA */
		if (mt_unwind_read_u64(s, &s->pc, cfa + MT_SIGFRAME_IP) ||
		    mt_unwind_read_u64(s, &s->sp, cfa + MT_SIGFRAME_SP) ||
		    mt_unwind_read_u64(s, &s->bp, cfa + MT_SIGFRAME_BP)) {
			mt_unwind_stop(s, MT_END_BAD_READ);
			return;
		}
		s->bp_valid = 1;
		s->pc_is_return = 0;	/* the interrupted instruction itself */
		return;
	case MT_CFA_END:
		mt_unwind_stop(s, MT_END_COMPLETE);
		return;
	case MT_CFA_NONE:
		mt_unwind_stop(s, MT_END_NO_TABLE);
		return;
	default:
		mt_unwind_stop(s, MT_END_UNSUPPORTED);
		return;
	}

	if (row->rbp_type == MT_RBP_OFFSET &&
	    mt_unwind_read_ra_and_bp(s, row, cfa, &ra, &saved_bp)) {
		s->bp = saved_bp;
		s->bp_valid = 1;
	} else {
		if (mt_unwind_read_u64(s, &ra, cfa - 8)) {
			mt_unwind_stop(s, MT_END_BAD_READ);
			return;
		}
		if (row->rbp_type == MT_RBP_OFFSET) {
			if (mt_unwind_read_u64(s, &saved_bp, cfa + (__s64)row->rbp_offset)) {
				mt_unwind_stop(s, MT_END_BAD_READ);
				return;
			}
			s->bp = saved_bp;
			s->bp_valid = 1;
		} else if (row->rbp_type == MT_RBP_UNSUPPORTED) {
			s->bp_valid = 0;
		}
	}
	ra = mt_unwind_real_return_address(s, ra, cfa - 8);
	if (cfa <= s->sp) {		/* a stack only grows towards callers */
		mt_unwind_stop(s, MT_END_BAD_READ);
		return;
	}
	s->sp = cfa;
	s->pc = ra;
	s->pc_is_return = 1;
}


/*
 * Record the current frame and step to its caller. Returns 0 to go on,
 * 1 once stopped (s->end says why; for MT_END_NO_MAPPING the last frame
 * recorded is the PC in no known mapping, and s holds its registers).
 * A walk is at most MT_UNWIND_MAX_STEPS calls.
 */
MT_UNWIND_INLINE int mt_unwind_frame(struct mt_unwind_state *s)
{
	const struct mt_mapping *m;
	const struct mt_unwind_row *row;
	__u32 n = s->out->len;
	__u64 lookup, at;

	/* A return address of 0 ends no real stack: outermost frames say
	 * so in their CFI (MT_CFA_END: glibc's _start and clone3), so 0
	 * means the CFA led to a wrong slot (garbage CFI). Not complete. */
	if (!s->pc) {
		mt_unwind_stop(s, MT_END_BAD_READ);
		return 1;
	}
	if (n >= MT_MAX_FRAMES) {
		mt_unwind_stop(s, MT_END_DEPTH);
		return 1;
	}
	s->out->pcs[n] = s->pc;
	s->out->len = n + 1;
	at = s->pc - (s->pc_is_return ? 1 : 0);
	if (mt_unwind_past_python(s, at)) {
		mt_unwind_stop(s, MT_END_PYTHON);
		return 1;
	}

	m = mt_unwind_find_mapping(s, s->pc);
	if (!m) {
		mt_unwind_stop(s, MT_END_NO_MAPPING);
		return 1;
	}
	if (m->rows_len == 0) {
		mt_unwind_fp_step(s);
		return s->stopped ? 1 : 0;
	}
	lookup = at - m->bias;
	row = mt_unwind_find_row(s, m->rows_start, m->rows_len, lookup);
	if (!row) {
		mt_unwind_stop(s, MT_END_NO_TABLE);
		return 1;
	}
	mt_unwind_table_step(s, row);
	return s->stopped ? 1 : 0;
}

/* How a walk of at most MT_UNWIND_MAX_STEPS frames ended. */
MT_UNWIND_INLINE __u8 mt_unwind_end(const struct mt_unwind_state *s)
{
	return s->stopped ? s->end : MT_END_DEPTH;
}

#endif /* MEMTRACE_UNWIND_STEP_H */
