/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * What the memory-mapping probes do at each syscall, whichever way they
 * are in (bpf/mmap_probes.bpf.c, bpf/mmap_lock.bpf.c): mmap, munmap,
 * mremap and brk of the traced processes, seen where the kernel runs them.
 *
 * A call made while the thread is inside a probed allocator call (its
 * call_states depth, kept by alloc_probes.bpf.c) is the allocator's own:
 * jemalloc's extents, glibc's large blocks, tcmalloc's sbrk. Its blocks
 * are counted already, so it is skipped and counted. The maps are
 * alloc_probes' own (user space reuses them before loading).
 *
 * Order, as for malloc and free: munmap is sent at entry, because the
 * range may be mapped again by another thread before the call returns;
 * mremap sets its old range aside at entry and sends its outcome at exit;
 * mmap and brk send their results at exit.
 */
#ifndef MEMTRACE_MMAP_CALLS_BPF_H
#define MEMTRACE_MMAP_CALLS_BPF_H

#include "memtrace_events.h"
#include "stack_source.bpf.h"
#include "probe_common.bpf.h"

#define MT_PAGE 4096ULL
#define MT_PAGE_UP(n) (((n) + MT_PAGE - 1) & ~(MT_PAGE - 1))

/* <linux/mman.h> */
#define MT_MAP_TYPE 0x0f
#define MT_MAP_PRIVATE 0x02
#define MT_MAP_FIXED 0x10
#define MT_MAP_ANONYMOUS 0x20
#define MT_MAP_FIXED_NOREPLACE 0x100000

/* x86-64 syscall numbers, for the tracepoint fallback. */
#define MT_NR_MMAP 9
#define MT_NR_MUNMAP 11
#define MT_NR_BRK 12
#define MT_NR_MREMAP 25

/* <asm/thread_info.h>: the thread is in a 32-bit syscall, whose numbers
 * are others. */
#define MT_TS_COMPAT 0x0002

/* Whether the thread whose state is st (NULL: none yet) is inside a
 * probed allocator call, whose maps are the allocator's own (counted). */
static __always_inline bool allocators_own(const struct call_state *st)
{
	if (!st || !st->depth)
		return false;
	count(MT_CNT_MAPS_IN_ALLOCATOR);
	return true;
}

/* The calling thread's state, if it is a traced process's and not inside
 * a probed allocator call; NULL otherwise (counted when in the allocator). */
static __always_inline struct call_state *outside_allocator(bool create)
{
	struct call_state *st;

	if (empty_probes || !is_target(bpf_get_current_pid_tgid() >> 32))
		return NULL;
	st = bpf_task_storage_get(&call_states, bpf_get_current_task_btf(), 0,
				  create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
	if (allocators_own(st))
		return NULL;
	if (!st && create)
		count(MT_CNT_STATE_FAILED);
	return st;
}

/* Frames of a mapping's stack searched for a skipped call's return. */
#define SKIPPED_CALL_FRAMES 16

/*
 * Is this syscall made inside the thread's last malloc whose return was
 * skipped (session uprobes: alloc_session), whose depth therefore says
 * nothing? Yes only when all three hold, which a stale value cannot fake:
 * the syscall runs deeper than that call's entry, the call's return
 * address is still in its slot, and the stack just walked returns through
 * it. A return address is where one call instruction returns to, so a
 * live frame returning there is that very call in flight.
 */
static __always_inline bool in_skipped_call(const struct call_state *st, __u64 sp)
{
	__u64 slot = 0;
	__u32 len = st->stack.len;

	if (!st->skip_sp || sp >= st->skip_sp ||
	    bpf_probe_read_user(&slot, sizeof(slot), (void *)st->skip_sp) ||
	    slot != st->skip_ret)
		return false;
	for (__u32 i = 1; i < SKIPPED_CALL_FRAMES && i < MT_MAX_FRAMES; i++)
		if (i < len && st->stack.pcs[i] == st->skip_ret)
			return true;
	return false;
}

/* Send a mapping result with the stack of the user code that asked. */
static __always_inline void send_mapped(void *ctx, const struct pt_regs *uregs,
					struct call_state *st, __u8 type, __u8 func,
					__u64 addr, __u64 size, __u64 old_addr, __u16 flags)
{
	__u64 ids = bpf_get_current_pid_tgid(), stack_id = 0;
	__u32 pid = ids >> 32;

	if (stack_mode != MT_STACK_NONE && !(flags & MT_EVF_MAP_FILE)) {
		if (bpf_probe_read_kernel(&st->user_regs, sizeof(st->user_regs), uregs))
			flags |= MT_EVF_NO_STACK;
		else
			/* The PC is the instruction after `syscall`: a return
			 * address in all but name. */
			flags |= take_stack_from(ctx, &st->user_regs, st, func, pid, true,
						 &stack_id);
		if (!(flags & MT_EVF_NO_STACK) && in_skipped_call(st, st->user_regs.sp)) {
			count(MT_CNT_MAPS_IN_ALLOCATOR);
			return;
		}
	}
	emit(ids, type, func, addr, size, old_addr, stack_id, flags);
	count(MT_CNT_MAPS);
}

/* What a syscall's return says, decided apart from the sending so that the
 * tracepoint fallback, one program for all of them, sends (and walks a
 * stack) in one place: its verified size stays one stack walk's. */
enum map_how { MAP_NOTHING = 0, MAP_EVENT, MAP_WITH_STACK };

struct map_out {
	struct call_state *st;
	__u64 addr, size, old;
	__u16 flags;
	__u8 type, func, how;
};

static __always_inline void map_set(struct map_out *o, __u8 how, __u8 type, __u8 func,
				    __u64 addr, __u64 size, __u64 old, __u16 flags)
{
	o->how = how;
	o->type = type;
	o->func = func;
	o->addr = addr;
	o->size = size;
	o->old = old;
	o->flags = flags;
}

static __always_inline void map_finish(void *ctx, const struct pt_regs *uregs,
				       struct map_out *o)
{
	if (o->how == MAP_WITH_STACK && o->st)
		send_mapped(ctx, uregs, o->st, o->type, o->func, o->addr, o->size, o->old,
			    o->flags);
	else if (o->how != MAP_NOTHING)
		emit(bpf_get_current_pid_tgid(), o->type, o->func, o->addr, o->size, o->old, 0,
		     o->flags);
}

static __always_inline void on_mmap_exit(const struct pt_regs *uregs, long ret,
					 struct map_out *o)
{
	__u64 len = BPF_CORE_READ(uregs, si), flags = BPF_CORE_READ(uregs, r10);
	bool anon = (flags & MT_MAP_ANONYMOUS) && (flags & MT_MAP_TYPE) == MT_MAP_PRIVATE;

	if (ret < 0 && ret > -4096)
		return;		/* failed */
	/* A mapping of a file (or shared memory) only matters where it
	 * replaces memory mapped before: MAP_FIXED. */
	if (!anon && (!(flags & MT_MAP_FIXED) || (flags & MT_MAP_FIXED_NOREPLACE)))
		return;
	o->st = outside_allocator(true);
	if (!o->st)
		return;
	/* A replacing file mapping needs no stack: it only unmaps. */
	map_set(o, anon ? MAP_WITH_STACK : MAP_EVENT, MT_EV_MMAP, MT_FUNC_MMAP, (__u64)ret,
		MT_PAGE_UP(len), 0, anon ? 0 : MT_EVF_MAP_FILE);
}

static __always_inline void on_munmap_enter(const struct pt_regs *uregs)
{
	__u64 addr = BPF_CORE_READ(uregs, di), len = BPF_CORE_READ(uregs, si);

	/* What the kernel refuses (EINVAL) unmaps nothing. */
	if ((addr & (MT_PAGE - 1)) || !len || !outside_allocator(false))
		return;
	emit(bpf_get_current_pid_tgid(), MT_EV_MUNMAP, MT_FUNC_MMAP, addr, MT_PAGE_UP(len), 0,
	     0, 0);
}

static __always_inline void on_mremap_enter(const struct pt_regs *uregs)
{
	__u64 addr = BPF_CORE_READ(uregs, di), len = BPF_CORE_READ(uregs, si);

	if ((addr & (MT_PAGE - 1)) || !outside_allocator(false))
		return;
	emit(bpf_get_current_pid_tgid(), MT_EV_MREMAP_BEGIN, MT_FUNC_MREMAP, 0, MT_PAGE_UP(len),
	     addr, 0, 0);
}

static __always_inline void on_mremap_exit(const struct pt_regs *uregs, long ret,
					   struct map_out *o)
{
	__u64 addr = BPF_CORE_READ(uregs, di), len = BPF_CORE_READ(uregs, dx);

	if (addr & (MT_PAGE - 1))
		return;
	o->st = outside_allocator(true);
	if (!o->st)
		return;
	if (ret < 0 && ret > -4096)
		map_set(o, MAP_EVENT, MT_EV_MREMAP_DONE, MT_FUNC_MREMAP, 0, MT_PAGE_UP(len),
			addr, 0);
	else
		map_set(o, MAP_WITH_STACK, MT_EV_MREMAP_DONE, MT_FUNC_MREMAP, (__u64)ret,
			MT_PAGE_UP(len), addr, 0);
}

/* Whether the call is one to see the end of: the program's own. */
static __always_inline bool on_brk_enter(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct call_state *st = outside_allocator(true);

	if (st)
		st->brk_before = BPF_CORE_READ(task, mm, brk);
	return st;
}

/* brk returns the break as it is after the call, moved or not. */
static __always_inline void on_brk_exit(const struct pt_regs *uregs, long ret,
					struct map_out *o)
{
	__u64 before;

	o->st = outside_allocator(false);
	if (!o->st || !o->st->brk_before)
		return;
	before = o->st->brk_before;
	o->st->brk_before = 0;
	if ((__u64)ret > before)
		map_set(o, MAP_WITH_STACK, MT_EV_BRK, MT_FUNC_BRK, (__u64)ret,
			(__u64)ret - before, before, 0);
	else if ((__u64)ret < before)
		map_set(o, MAP_EVENT, MT_EV_BRK, MT_FUNC_BRK, (__u64)ret, 0, before, 0);
}

/* The registers the calling thread entered the kernel with. */
static __always_inline struct pt_regs *task_user_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

/*
 * The ways that are not fexit: the entry of syscall nr, by its number.
 * Returns whether its end is to be seen: munmap's never; brk's when its
 * entry noted the break; mremap's always, its end decides as at the
 * tracepoints (its entry may have set nothing aside); mmap's unless the
 * allocator calls it (its end would say just that).
 */
static __always_inline bool on_enter_nr(long nr, struct pt_regs *uregs)
{
	if (nr == MT_NR_MUNMAP) {
		on_munmap_enter(uregs);
		return false;
	}
	if (nr == MT_NR_MREMAP) {
		on_mremap_enter(uregs);
		return true;
	}
	if (nr == MT_NR_BRK)
		return on_brk_enter();
	return nr == MT_NR_MMAP &&
	       !allocators_own(bpf_task_storage_get(&call_states, bpf_get_current_task_btf(),
						    0, 0));
}

/* ... and its end, ret its return value. A NULL ctx: no program context
 * (a task work's), the stack is then the task's own. */
static __always_inline void on_exit_nr(void *ctx, long nr, struct pt_regs *uregs, long ret)
{
	struct map_out o = {};

	if (nr == MT_NR_MMAP)
		on_mmap_exit(uregs, ret, &o);
	else if (nr == MT_NR_MREMAP)
		on_mremap_exit(uregs, ret, &o);
	else if (nr == MT_NR_BRK)
		on_brk_exit(uregs, ret, &o);
	else
		return;
	map_finish(ctx, uregs, &o);
}

#endif /* MEMTRACE_MMAP_CALLS_BPF_H */
