/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The DWARF unwinder: walks a user stack without frame pointers, using the
 * compact tables user space builds from each object's .eh_frame (see
 * include/memtrace_unwind.h for the row format).
 *
 * Per frame: find the mapping that holds the PC (binary search over the
 * process's executable mappings), then the row for the PC (binary search
 * over that object's rows in one shared array), then apply the row: the
 * CFA from rsp or rbp, the return address at CFA - 8, rbp from its save
 * slot. Code with no table (JIT, anonymous memory) falls back to frame
 * pointers. Every early stop records why, and the caller counts it.
 *
 * The frame loop runs under bpf_loop so that the verifier checks one
 * iteration, not 127; the searches inside are small bounded loops whose
 * bounds come from the maps.
 */
#ifndef MEMTRACE_UNWIND_DWARF_BPF_H
#define MEMTRACE_UNWIND_DWARF_BPF_H

#include "memtrace_events.h"
#include "memtrace_unwind.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);			/* tgid */
	__type(value, struct mt_proc_mappings);
} proc_mappings SEC(".maps");

/* Every loaded table, one after another. User space mmaps it and copies
 * tables in: hundreds of thousands of rows, one system call each, would
 * take seconds. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1 << 20);		/* set by user space */
	__type(key, __u32);
	__type(value, struct mt_unwind_row);
} unwind_rows SEC(".maps");

/* 2^9 > MT_MAX_MAPPINGS, 2^24 > any row count we allow */
#define MAPPING_SEARCH_STEPS 9
#define ROW_SEARCH_STEPS 24
/* Return instances skipped to find the one of a frame (chained ones of
 * tail calls share a frame). */
#define MAX_RETURN_INSTANCES 4

struct mt_unwind_state {
	__u64 pc, sp, bp;
	__u64 trampoline;		/* uretprobe trampoline address, or 0 */
	__u64 ri;			/* next struct return_instance to match */
	struct mt_stack *out;
	const struct mt_proc_mappings *maps;
	__u32 pid;
	__u8 pc_is_return;		/* look the PC up at pc - 1 */
	__u8 bp_valid;
	__u8 end;			/* enum mt_stack_end, once stopped */
	__u8 stopped;
};

static __always_inline const struct mt_mapping *
find_mapping(const struct mt_proc_mappings *maps, __u64 pc)
{
	__u32 lo = 0, hi = maps->n;

	if (hi > MT_MAX_MAPPINGS)
		hi = MT_MAX_MAPPINGS;
	for (int k = 0; k < MAPPING_SEARCH_STEPS; k++) {
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
			return m;
	}
	return NULL;
}

/* The last row of [start, start + len) whose pc <= target. */
static __always_inline const struct mt_unwind_row *
find_row(__u32 start, __u32 len, __u64 target)
{
	__u32 lo = start, hi = start + len, key;

	for (int k = 0; k < ROW_SEARCH_STEPS; k++) {
		const struct mt_unwind_row *row;
		__u32 mid;

		if (lo >= hi)
			break;
		mid = lo + (hi - lo) / 2;
		row = bpf_map_lookup_elem(&unwind_rows, &mid);
		if (!row)
			return NULL;
		if (row->pc <= target)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == start)
		return NULL;	/* before the first row */
	key = lo - 1;
	return bpf_map_lookup_elem(&unwind_rows, &key);
}

static __always_inline int read_u64(__u64 *dst, __u64 addr)
{
	return bpf_probe_read_user(dst, sizeof(*dst), (const void *)addr);
}

/*
 * A return address that is the uretprobe trampoline belongs to a function
 * with a pending return probe: the real one is in the task's list of
 * return instances, found by the stack slot it was taken from. The list
 * runs from the innermost pending call outwards, as the walk does, so a
 * cursor into it (s->ri) makes each lookup a step or two.
 */
static __always_inline __u64 real_return_address(struct mt_unwind_state *s, __u64 ra,
						 __u64 slot)
{
	struct return_instance *ri = (struct return_instance *)s->ri;

	for (int k = 0; k < MAX_RETURN_INSTANCES && ri; k++) {
		__u64 stack = BPF_CORE_READ(ri, stack);

		if (stack > slot)
			break;		/* belongs to an outer frame */
		if (stack == slot) {
			/* Chained instances (tail calls) share the slot, and
			 * each holds the real address. */
			s->ri = (__u64)BPF_CORE_READ(ri, next);
			return BPF_CORE_READ(ri, orig_ret_vaddr);
		}
		ri = BPF_CORE_READ(ri, next);
	}
	s->ri = (__u64)ri;
	return ra;
}

static __always_inline void stop(struct mt_unwind_state *s, __u8 why)
{
	s->end = why;
	s->stopped = 1;
}

/* Frame pointers further than this above sp are not this stack's. */
#define FP_MAX_FRAME (8ULL << 20)

/*
 * One frame by frame pointers: for code that has no table. Code without
 * frame pointers leaves anything in rbp, so what it gives is checked: a
 * frame pointer into the stack above sp, and a return address into code
 * the process has mapped. Anything else ends the walk (and is counted)
 * rather than adding a garbage frame.
 */
static __always_inline void fp_step(struct mt_unwind_state *s)
{
	__u64 ra, next_bp, pair[2];

	if (!s->bp_valid || s->bp < s->sp || s->bp - s->sp > FP_MAX_FRAME ||
	    (s->bp & 7)) {
		stop(s, MT_END_FP);
		return;
	}
	/* Saved rbp and return address are adjacent: one read, not two
	 * (why that matters: read_ra_and_bp() below). */
	if (bpf_probe_read_user(pair, sizeof(pair), (const void *)s->bp)) {
		stop(s, MT_END_BAD_READ);
		return;
	}
	next_bp = pair[0];
	ra = pair[1];
	if (s->trampoline && ra == s->trampoline)
		ra = real_return_address(s, ra, s->bp + 8);
	if (!find_mapping(s->maps, ra)) {
		stop(s, MT_END_FP);
		return;
	}
	s->out->fp_frames++;
	s->sp = s->bp + 16;
	s->bp = next_bp;
	s->pc = ra;
	s->pc_is_return = 1;
}

/*
 * Each bpf_probe_read_user costs about 60 ns here, far more than the copy
 * itself (measured by adding work per frame: an extra 8-byte read cost
 * 61 ns a frame, a second row search 43 ns, a second mapping search 3 ns),
 * and a frame that saves rbp needs two: the return address at CFA - 8 and
 * rbp at CFA + rbp_offset. When rbp sits right below the return address
 * (code with frame pointers, and any function whose first push is rbp)
 * one 16-byte read fetches both. Other save slots keep two reads: reading
 * a whole 64-byte save area instead measured slower per frame, even for
 * frames that took the 16-byte path, and bigger reads cost ~15 ns more
 * than 16-byte ones. False when not adjacent or the read fails; the
 * caller then reads the words one by one, so the result never differs.
 */
static __always_inline bool read_ra_and_bp(const struct mt_unwind_row *row, __u64 cfa,
					   __u64 *ra, __u64 *saved_bp)
{
	__u64 pair[2];

	if (row->rbp_offset != -16)
		return false;
	if (bpf_probe_read_user(pair, sizeof(pair), (const void *)(cfa - 16)))
		return false;
	*saved_bp = pair[0];
	*ra = pair[1];
	return true;
}

/* One frame by the row that covers the PC. */
static __always_inline void table_step(struct mt_unwind_state *s,
				       const struct mt_unwind_row *row)
{
	__u64 cfa, ra, saved_bp;

	switch (row->cfa_type) {
	case MT_CFA_RSP:
		cfa = s->sp + (__s64)row->cfa_offset;
		break;
	case MT_CFA_RBP:
		if (!s->bp_valid) {
			stop(s, MT_END_UNSUPPORTED);
			return;
		}
		cfa = s->bp + (__s64)row->cfa_offset;
		break;
	case MT_CFA_PLT:
		cfa = s->sp + 8 + ((s->pc & 15) >= 11 ? 8 : 0);
		break;
	case MT_CFA_SIGNAL: {
		/* At __restore_rt the stack holds the ucontext of the
		 * interrupted code: its registers are the next frame's. */
		__u64 mc = s->sp + __builtin_offsetof(struct ucontext, uc_mcontext);

		if (read_u64(&s->pc, mc + __builtin_offsetof(struct sigcontext_64, ip)) ||
		    read_u64(&s->sp, mc + __builtin_offsetof(struct sigcontext_64, sp)) ||
		    read_u64(&s->bp, mc + __builtin_offsetof(struct sigcontext_64, bp))) {
			stop(s, MT_END_BAD_READ);
			return;
		}
		s->bp_valid = 1;
		s->pc_is_return = 0;	/* the interrupted instruction itself */
		return;
	}
	case MT_CFA_END:
		stop(s, MT_END_COMPLETE);
		return;
	case MT_CFA_NONE:
		stop(s, MT_END_NO_TABLE);
		return;
	default:
		stop(s, MT_END_UNSUPPORTED);
		return;
	}

	if (row->rbp_type == MT_RBP_OFFSET && read_ra_and_bp(row, cfa, &ra, &saved_bp)) {
		s->bp = saved_bp;
		s->bp_valid = 1;
	} else {
		if (read_u64(&ra, cfa - 8)) {
			stop(s, MT_END_BAD_READ);
			return;
		}
		if (row->rbp_type == MT_RBP_OFFSET) {
			if (read_u64(&saved_bp, cfa + (__s64)row->rbp_offset)) {
				stop(s, MT_END_BAD_READ);
				return;
			}
			s->bp = saved_bp;
			s->bp_valid = 1;
		} else if (row->rbp_type == MT_RBP_UNSUPPORTED) {
			s->bp_valid = 0;
		}
	}
	if (s->trampoline && ra == s->trampoline)
		ra = real_return_address(s, ra, cfa - 8);
	if (cfa <= s->sp) {		/* a stack only grows towards callers */
		stop(s, MT_END_BAD_READ);
		return;
	}
	s->sp = cfa;
	s->pc = ra;
	s->pc_is_return = 1;
}

static long unwind_frame(__u32 i, void *data)
{
	struct mt_unwind_state *s = data;
	const struct mt_mapping *m;
	const struct mt_unwind_row *row;
	__u32 n = s->out->len;
	__u64 lookup;

	/* A return address of 0 ends no real stack: outermost frames say
	 * so in their CFI (MT_CFA_END: glibc's _start and clone3), so 0
	 * means the CFA led to a wrong slot (garbage CFI). Not complete. */
	if (!s->pc) {
		stop(s, MT_END_BAD_READ);
		return 1;
	}
	if (n >= MT_MAX_FRAMES) {
		stop(s, MT_END_DEPTH);
		return 1;
	}
	s->out->pcs[n] = s->pc;
	s->out->len = n + 1;

	m = find_mapping(s->maps, s->pc);
	if (!m) {
		/* The caller finds this PC as the last frame. */
		stop(s, MT_END_NO_MAPPING);
		return 1;
	}
	if (m->rows_len == 0) {
		fp_step(s);
		return s->stopped ? 1 : 0;
	}
	lookup = s->pc - m->bias - (s->pc_is_return ? 1 : 0);
	row = find_row(m->rows_start, m->rows_len, lookup);
	if (!row) {
		stop(s, MT_END_NO_TABLE);
		return 1;
	}
	table_step(s, row);
	return s->stopped ? 1 : 0;
}

/*
 * Unwind the current task from the probe's registers into *out. Returns
 * 0 when at least one frame was recorded; out->end says how it stopped
 * (MT_END_NO_MAPPING: the last frame is a PC in no known mapping) and
 * *stop holds the registers of the frame where it stopped. at_return: the
 * registers are those of a return probe, so the PC is a return address into
 * the caller; otherwise the PC is the probed instruction itself.
 */
static __always_inline int unwind_dwarf(struct pt_regs *regs, struct mt_stack *out,
					__u32 pid, struct mt_frame_regs *stop, bool at_return)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct mt_unwind_state s = {};

	s.maps = bpf_map_lookup_elem(&proc_mappings, &pid);
	if (!s.maps)
		return -ENOENT;
	s.out = out;
	s.pid = pid;
	s.pc = PT_REGS_IP(regs);
	s.sp = PT_REGS_SP(regs);
	s.bp = PT_REGS_FP(regs);
	s.bp_valid = 1;
	s.pc_is_return = at_return;
	s.trampoline = BPF_CORE_READ(task, mm, uprobes_state.xol_area, vaddr);
	s.ri = (__u64)BPF_CORE_READ(task, utask, return_instances);
	out->len = 0;
	out->fp_frames = 0;

	bpf_loop(MT_MAX_FRAMES + 1, unwind_frame, &s, 0);
	out->end = s.stopped ? s.end : MT_END_DEPTH;
	stop->pc = s.pc;
	stop->sp = s.sp;
	stop->bp = s.bp;
	stop->pc_is_return = s.pc_is_return;
	stop->bp_valid = s.bp_valid;
	return out->len ? 0 : -ENOENT;
}

#endif /* MEMTRACE_UNWIND_DWARF_BPF_H */
