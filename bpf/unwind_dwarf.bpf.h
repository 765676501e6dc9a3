/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The DWARF unwinder in BPF: walks a user stack without frame pointers,
 * using the compact tables user space builds from each object's .eh_frame
 * (see include/memtrace_unwind.h for the row format). The rules of a step
 * are include/memtrace_unwind_step.h, shared with the walk user space
 * finishes from snapshots; this file gives them their hooks (the current
 * task's memory, the unwind_rows array, the task's pending return probes)
 * and the maps. Every early stop records why, and the caller counts it.
 *
 * The frame loop runs under bpf_loop so that the verifier checks one
 * iteration, not 127; the searches inside are small bounded loops whose
 * bounds come from the maps.
 */
#ifndef MEMTRACE_UNWIND_DWARF_BPF_H
#define MEMTRACE_UNWIND_DWARF_BPF_H

#include "memtrace_events.h"
#include "memtrace_unwind.h"
#include "shared_maps.bpf.h"

/* Testing only (MEMTRACE_UNWIND_CHECK=1): every stack walked whole here
 * is also sent as a snapshot of its first frame, for user space to walk
 * with the same rules and compare (user/unwind/snapshots.c). */
const volatile bool unwind_check = false;

/* The mappings of a process user space has not read yet: none. */
static struct mt_proc_mappings no_mappings;

#include "memtrace_unwind_step.h"

/* The walk's state with what the hooks need beyond it: the stack window
 * (in the thread's call state: a BPF program's own stack is 512 bytes). */
struct bpf_unwind {
	struct mt_unwind_state s;	/* first: the hooks get &s */
	struct mt_stack_window *win;
};

/*
 * The hooks of memtrace_unwind_step.h: the current task's memory, the
 * unwind_rows array, the task's return instances.
 *
 * Reads of the stack come from a window of it, up to MT_STACK_WINDOW bytes
 * read at once: an 8-byte bpf_probe_read_user() cost 61 ns a frame (see
 * mt_unwind_read_ra_and_bp()), most of it the call, and a walk reads a
 * word or two per frame, going up the stack, frames a few dozen bytes
 * apart. A read outside the window reads the window again from there, to
 * the end of that page at most: the page of a word being read is mapped,
 * the next one need not be (a read that faults costs more than it saves).
 * If that read fails anyway, this walk reads word by word from then on.
 * The bytes are the thread's own, read while it is stopped in the probe,
 * so the result never differs from reading each word.
 * unwind_window_refill() reads the window again from addr, for size bytes
 * that are not in it: 0 (they are then at its start), or -1 to read them
 * directly. A global function, checked once, apart: inlined at each of the
 * step's reads, it was 6,000 of alloc_exit's 22,818 verified instructions
 * on Linux 6.18.44.
 * Measured (scripts/bench_unwind.sh 200000 5, interleaved with 9d95b99):
 * 111 -> 41 ns per frame, a 67-frame stack x1.49 faster; 7 frames and
 * churn's 5 the same within the noise (window sizes tried: 128 and 1024
 * were slower than 512).
 */
__attribute__((noinline)) int unwind_window_refill(struct mt_stack_window *w, __u64 addr,
						   __u32 size)
{
	__u32 n = 4096 - (addr & 4095);

	if (!w || w->valid == WINDOW_OFF || (size != 8 && size != 16))
		return -1;
	if (n > MT_STACK_WINDOW)
		n = MT_STACK_WINDOW;
	if (n < 16 && n < size)
		n = 16;		/* the word crosses the page: 16 bytes end in the next one too */
	/* The bound on the register the call takes, for the verifier (size
	 * is any scalar to it). */
	barrier_var(n);
	if (n > MT_STACK_WINDOW)
		return -1;
	if (bpf_probe_read_user(w->bytes, n, (const void *)addr)) {
		w->valid = WINDOW_OFF;
		return -1;
	}
	w->lo = addr;
	w->len = n;
	w->valid = WINDOW_READ;
	return 0;
}

static __always_inline int mt_unwind_read(const struct mt_unwind_state *s, void *dst,
					  __u32 size, __u64 addr)
{
	struct mt_stack_window *w = ((const struct bpf_unwind *)s)->win;
	__u64 *out = dst;
	long off = addr - w->lo;

	/* In the window already, as most reads are: no call. */
	if (w->valid != WINDOW_READ || addr < w->lo || off + size > w->len)
		off = unwind_window_refill(w, addr, size);
	if (off < 0)
		return bpf_probe_read_user(dst, size, (const void *)addr);
	/* A no-op (off <= MT_STACK_WINDOW - size), for the verifier. */
	off &= MT_STACK_WINDOW - 1;
	out[0] = *(__u64 *)&w->bytes[off];
	if (size == 16)
		out[1] = *(__u64 *)&w->bytes[off + 8];
	return 0;
}

static __always_inline const struct mt_unwind_row *
mt_unwind_row(const struct mt_unwind_state *s, const __u32 *idx)
{
	return bpf_map_lookup_elem(&unwind_rows, idx);
}

/*
 * The row hints: for a hash of (object, PC), the index of the row last
 * found for a PC with that hash, shared by all CPUs and walks. Racing
 * writers and collisions only make a hint wrong, and a wrong hint is
 * caught (mt_unwind_row_holds()). 4096 slots (16 KiB): a service's hot
 * allocation stacks hold a few hundred distinct PCs.
 */
#define UNWIND_ROW_HINTS 4096
__u32 unwind_row_hints[UNWIND_ROW_HINTS];

/* Fibonacci hashing: the top `bits` bits of the product, for the hints'
 * tables. */
static __always_inline __u32 hint_hash(__u64 key, __u32 bits)
{
	return (__u32)((key * 0x9E3779B97F4A7C15ULL) >> (64 - bits));
}

static __always_inline __u32 unwind_row_slot(__u32 start, __u64 target)
{
	return hint_hash(target + ((__u64)start << 32), 12) & (UNWIND_ROW_HINTS - 1);
}

static __always_inline __u32 mt_unwind_row_hint(struct mt_unwind_state *s, __u32 start,
						__u64 target)
{
	return unwind_row_hints[unwind_row_slot(start, target)];
}

static __always_inline void mt_unwind_row_found(struct mt_unwind_state *s, __u32 start,
						__u64 target, __u32 idx)
{
	unwind_row_hints[unwind_row_slot(start, target)] = idx;
}

/*
 * The mapping hints: for a hash of a PC, the index of the mapping last
 * found for a PC with that hash, in whichever process (a wrong one is
 * caught, see mt_unwind_find_mapping()). In .bss, where the verifier does
 * not track what a slot holds: kept on the BPF stack, the index's range
 * was tracked and the frame step explored once per range (alloc_exit:
 * 21,015 verified instructions instead of 13,196). 1024 slots (4 KiB).
 */
#define UNWIND_MAPPING_HINTS 1024
__u32 unwind_mapping_hints[UNWIND_MAPPING_HINTS];

static __always_inline __u32 *mt_unwind_mapping_hint(struct mt_unwind_state *s, __u64 pc)
{
	struct mt_stack_window *w = ((const struct bpf_unwind *)s)->win;
	__u64 key;

	/* The slot comes from pc through memory: computed from pc itself,
	 * it made the verifier track pc exactly (it indexes the array), and
	 * explore the step once per range of pc (18,127 instructions). */
	w->hint_pc = pc;
	key = *(volatile __u64 *)&w->hint_pc;
	return &unwind_mapping_hints[hint_hash(key, 10) & (UNWIND_MAPPING_HINTS - 1)];
}

/*
 * mt_unwind_find_row_index() as a global function: the verifier checks it
 * once, apart, and the frame callback sees one scalar back. Inlined, the
 * hint's ways through it took alloc_exit from 11,055 verified
 * instructions to 26,050 (and 33,794 or 42,435 as written otherwise),
 * ~50 ms more start-up over the programs that walk stacks. The hooks it
 * calls use no state of the walk, hence NULL.
 */
__attribute__((noinline)) int unwind_row_index(__u32 start, __u32 len, __u64 target)
{
	return (int)mt_unwind_find_row_index(NULL, start, len, target);
}

static __always_inline __u32 mt_unwind_row_index(struct mt_unwind_state *s, __u32 start,
						 __u32 len, __u64 target)
{
	return (__u32)unwind_row_index(start, len, target);
}

static __always_inline __u64 mt_unwind_ri_slot(const struct mt_unwind_state *s, __u64 ri)
{
	return BPF_CORE_READ((struct return_instance *)ri, stack);
}

static __always_inline __u64 mt_unwind_ri_ret(const struct mt_unwind_state *s, __u64 ri)
{
	return BPF_CORE_READ((struct return_instance *)ri, orig_ret_vaddr);
}

static __always_inline __u64 mt_unwind_ri_next(const struct mt_unwind_state *s, __u64 ri)
{
	return (__u64)BPF_CORE_READ((struct return_instance *)ri, next);
}

/*
 * mt_unwind_match_return() as a global function, checked once, apart (see
 * there). The cursor is the walk's s->ri, on the stack of unwind_walk().
 * The hooks it calls use no state of the walk, hence NULL.
 */
__attribute__((noinline)) __u64 unwind_return_instance(__u64 *cursor, __u64 ra, __u64 slot)
{
	if (!cursor)
		return ra;
	return mt_unwind_match_return(NULL, cursor, ra, slot);
}

static __always_inline __u64 mt_unwind_return_instance(struct mt_unwind_state *s, __u64 ra,
							__u64 slot)
{
	return unwind_return_instance(&s->ri, ra, slot);
}

_Static_assert(__builtin_offsetof(struct ucontext, uc_mcontext) +
	       __builtin_offsetof(struct sigcontext_64, ip) == MT_SIGFRAME_IP,
	       "signal frame: ip");
_Static_assert(__builtin_offsetof(struct ucontext, uc_mcontext) +
	       __builtin_offsetof(struct sigcontext_64, sp) == MT_SIGFRAME_SP,
	       "signal frame: sp");
_Static_assert(__builtin_offsetof(struct ucontext, uc_mcontext) +
	       __builtin_offsetof(struct sigcontext_64, bp) == MT_SIGFRAME_BP,
	       "signal frame: bp");

static long unwind_frame(__u32 i, void *data)
{
	return mt_unwind_frame(data);
}

/*
 * *start: the state a walk of the current task starts from, at a probe
 * with these registers (for unwind_walk(), or for a snapshot of the whole
 * stack). at_return: they are those of a return probe, so the PC is a
 * return address into the caller; otherwise the PC is the probed
 * instruction itself. start->eval is left as it is.
 */
static __always_inline void unwind_start(struct pt_regs *regs, bool at_return,
					 struct mt_unwind_stop *start)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct xol_area *xol;
	struct uprobe_task *ut;

	start->regs.pc = PT_REGS_IP(regs);
	start->regs.sp = PT_REGS_SP(regs);
	start->regs.bp = PT_REGS_FP(regs);
	start->regs.bp_valid = 1;
	start->regs.pc_is_return = at_return;
	/* Loads through the task's BTF pointer, not BPF_CORE_READ(): the
	 * JIT makes each a guarded load where a read is a helper call, and
	 * the five calls were a quarter of alloc_exit's own samples (perf,
	 * churn, default mode). A NULL on the way loads as 0. */
	xol = task->mm ? task->mm->uprobes_state.xol_area : NULL;
	start->trampoline = xol ? xol->vaddr : 0;
	ut = task->utask;
	start->ri = ut ? (__u64)ut->return_instances : 0;
}

/*
 * The walk, from the state in *stop (unwind_start(), and stop->eval) into
 * *out, with the process's mappings *maps. Returns 0 when at least one
 * frame was recorded; out->end says how it stopped (MT_END_NO_MAPPING:
 * the last frame is a PC in no known mapping) and *stop then holds the
 * state of the frame where it stopped. *win is where the walk's stack
 * reads go through (its contents on entry do not matter). -ENOENT for
 * NULL arguments.
 *
 * A global function: the verifier checks it once, apart, with arguments
 * it knows nothing of. Inlined into its callers, the frame callback was
 * checked once for each kind of mappings pointer (a value of
 * proc_mappings, or no_mappings in .bss) and its states were the callers'
 * (alloc_exit: 16,791 verified instructions, 10,476 as a function).
 */
__attribute__((noinline)) int unwind_walk(struct mt_stack *out,
					  const struct mt_proc_mappings *maps,
					  struct mt_unwind_stop *stop,
					  struct mt_stack_window *win)
{
	struct bpf_unwind b = {};
	struct mt_unwind_state *s = &b.s;

	if (!out || !maps || !stop || !win)
		return -ENOENT;
	/* Nothing of an earlier walk: its stack may have changed since. */
	win->valid = WINDOW_NONE;
	b.win = win;
	s->pc = stop->regs.pc;
	s->sp = stop->regs.sp;
	s->bp = stop->regs.bp;
	s->bp_valid = stop->regs.bp_valid;
	s->pc_is_return = stop->regs.pc_is_return;
	s->trampoline = stop->trampoline;
	s->ri = stop->ri;
	s->eval = &stop->eval;
	s->maps = maps;
	s->out = out;
	out->len = 0;
	out->fp_frames = 0;

	bpf_loop(MT_UNWIND_MAX_STEPS, unwind_frame, &b, 0);
	out->end = mt_unwind_end(s);
	stop->regs.pc = s->pc;
	stop->regs.sp = s->sp;
	stop->regs.bp = s->bp;
	stop->regs.pc_is_return = s->pc_is_return;
	stop->regs.bp_valid = s->bp_valid;
	stop->trampoline = s->trampoline;
	stop->ri = s->ri;
	return out->len ? 0 : -ENOENT;
}

/*
 * Unwind the current task from the probe's registers into *out: as
 * unwind_walk(), from these registers.
 */
static __always_inline int unwind_dwarf(struct pt_regs *regs, struct mt_stack *out,
					__u32 pid, struct mt_unwind_stop *stop,
					struct mt_stack_window *win, bool at_return)
{
	const struct mt_proc_mappings *maps = bpf_map_lookup_elem(&proc_mappings, &pid);

	/* A process whose mappings user space has not read yet (-a: a
	 * program seen at its exec): its first PC is in no known mapping,
	 * so the caller sends a snapshot, walked once they are read. */
	if (!maps)
		maps = &no_mappings;
	unwind_start(regs, at_return, stop);
	return unwind_walk(out, maps, stop, win);
}

_Static_assert((MT_SNAPSHOT_RETURNS & (MT_SNAPSHOT_RETURNS - 1)) == 0,
	       "MT_SNAPSHOT_RETURNS: a power of two, for the mask below");

struct unwind_returns {
	struct mt_snapshot *snap;
	__u64 ri;
};

static long unwind_snapshot_return(__u32 k, void *data)
{
	struct unwind_returns *r = data;
	struct mt_snapshot_return *ret;
	__u64 ri = r->ri;

	if (!ri || k >= MT_SNAPSHOT_RETURNS)
		return 1;
	/* Masked, and the mask kept from the compiler (which knows k is
	 * in range): it tested a copy of k, not the register it indexed
	 * with, and the verifier then saw no bound. */
	barrier_var(k);
	ret = &r->snap->returns[k & (MT_SNAPSHOT_RETURNS - 1)];
	ret->slot = mt_unwind_ri_slot(NULL, ri);
	ret->ret = mt_unwind_ri_ret(NULL, ri);
	r->ri = mt_unwind_ri_next(NULL, ri);
	r->snap->nreturns = k + 1;
	return 0;
}

/*
 * The pending return instances of stop's cursor on, as the snapshot's
 * (slot, real return address) pairs: user space cannot read the kernel's
 * list, and with these its walk substitutes the trampoline as BPF's does.
 * Under bpf_loop: as a loop of MT_SNAPSHOT_RETURNS steps the verifier
 * checked each step apart, for a path only snapshots take (alloc_exit:
 * 24,518 verified instructions, 22,664 so).
 */
static __always_inline void unwind_snapshot_returns(struct mt_snapshot *snap,
						    const struct mt_unwind_stop *stop)
{
	struct unwind_returns r = { .snap = snap, .ri = stop->ri };

	snap->trampoline = stop->trampoline;
	snap->nreturns = 0;
	bpf_loop(MT_SNAPSHOT_RETURNS, unwind_snapshot_return, &r, 0);
}

#endif /* MEMTRACE_UNWIND_DWARF_BPF_H */
