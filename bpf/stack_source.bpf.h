/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The stack source: turns the registers of a probe into a 64-bit stack ID
 * whose program counters are stored once in the `stacks` map.
 *
 * This is the one place that knows how stacks are walked: the DWARF
 * unwinder (default), the kernel's frame-pointer walk, or none. Its
 * contract, whatever the walk:
 *   - returns 0 and sets *id on success, a negative errno otherwise;
 *   - the map entry for *id exists when it returns 0;
 *   - scratch->end says whether the walk reached the outermost frame.
 */
#ifndef MEMTRACE_STACK_SOURCE_BPF_H
#define MEMTRACE_STACK_SOURCE_BPF_H

/* The errors the stack source and the walks return (vmlinux.h has types,
 * not the kernel's macros). */
#define ENOENT 2
#define EEXIST 17

#include "memtrace_events.h"
#include "memtrace_stack_hash.h"
#include "shared_maps.bpf.h"
#include "unwind_dwarf.bpf.h"
#include "python_frames.bpf.h"

/* Set by user space before load. */
const volatile __u32 stack_mode = MT_STACK_DWARF;

struct stack_hash {
	const struct mt_stack *s;
	__u64 h;
};

static long stack_hash_pc(__u32 i, void *data)
{
	struct stack_hash *sh = data;

	if (i >= MT_MAX_FRAMES)
		return 1;
	sh->h = mt_stack_hash_mix(sh->h, sh->s->pcs[i]);
	return 0;
}

static long stack_hash_py(__u32 i, void *data)
{
	struct stack_hash *sh = data;

	if (i >= MT_MAX_PY_FRAMES)
		return 1;
	sh->h = mt_stack_hash_py(sh->h, &sh->s->py[i]);
	return 0;
}

/*
 * mt_stack_id() of s, with its loops over the frames under bpf_loop. As
 * loops of MT_MAX_FRAMES and MT_MAX_PY_FRAMES steps, the verifier checked
 * each step apart: alloc_exit took 22,664 verified instructions instead
 * of 16,791. It costs a callback call per frame: not seen in alloc_exit's
 * time per call (bpf_stats, medians of 5 interleaved runs on a loaded
 * machine: churn 1,003 ns before the change, 994 after; churn_deep at 40
 * frames 6,088 and 6,002, the noise some 10%).
 */
static __always_inline __u64 stack_id(const struct mt_stack *s)
{
	struct stack_hash sh = { .s = s, .h = mt_stack_id_head(s) };
	__u32 n = s->len, py = s->py_len;

	if (n > MT_MAX_FRAMES)
		n = MT_MAX_FRAMES;
	if (py > MT_MAX_PY_FRAMES)
		py = MT_MAX_PY_FRAMES;
	bpf_loop(n, stack_hash_pc, &sh, 0);
	sh.h = mt_stack_hash_mix(sh.h, s->py_len);
	bpf_loop(py, stack_hash_py, &sh, 0);
	return mt_stack_hash_final(sh.h);
}

/*
 * Capture the user stack of the current task into *scratch, which must
 * survive the call (a BPF program's own stack is 512 bytes, a stack record
 * is 1 KiB). `func` becomes part of the stack's identity, so a stack always
 * has one allocation function. at_return: the registers are a return
 * probe's (the PC is a return address), not those of a probed instruction.
 * *stop, *win and *pyt, which must survive too: where the DWARF walk
 * stopped, its window on the stack (unwind_walk()), and the thread's
 * Python thread state (py_find_tstate()).
 *
 * regs are the user registers (a uprobe's context) or a copy of them (a
 * syscall's fexit); ctx is the program's context, for the kernel's
 * frame-pointer walk, which finds the user registers itself, or NULL
 * where there is none (a task work, which runs in the task: the walk is
 * then of the current task's stack).
 */
static __always_inline int stack_capture_from(void *ctx, struct pt_regs *regs,
					      struct mt_stack *scratch, __u32 func, __u32 pid,
					      struct mt_unwind_stop *stop,
					      struct mt_stack_window *win, struct py_thread *pyt,
					      bool at_return, __u64 *id)
{
	__u64 h;

	if (stack_mode == MT_STACK_NONE)
		return -ENOENT;

	/* The Python frames first: how many there are says where the
	 * native walk may stop. */
	/* The stop in *stop, not on the BPF stack: the walk reads it from
	 * there as values the verifier cannot know, or it would check the
	 * frame loop once for a stop and once without (322,139 instructions
	 * for alloc_exit instead of ~97,000). */
	py_capture_stop(pid, pyt, scratch, &stop->eval, win);
	if (stack_mode == MT_STACK_DWARF) {
		int err = unwind_dwarf(regs, scratch, pid, stop, win, at_return);

		if (err)
			return err;
	} else {
		/* No context (a task work's): the task's own stack, which
		 * is the current one. */
		long got = ctx ? bpf_get_stack(ctx, scratch->pcs, sizeof(scratch->pcs),
					       BPF_F_USER_STACK)
			       : bpf_get_task_stack(bpf_get_current_task_btf(), scratch->pcs,
						    sizeof(scratch->pcs), BPF_F_USER_STACK);

		if (got <= 0)
			return got < 0 ? (int)got : -ENOENT;
		scratch->len = got / sizeof(__u64);
		scratch->fp_frames = scratch->len;
		scratch->end = MT_END_FP;
	}
	scratch->func = func;

	h = stack_id(scratch);

	/* Look first: the common case is a stack we already stored, and an
	 * update would copy the whole 1 KiB record for nothing. */
	if (!bpf_map_lookup_elem(&stacks, &h)) {
		long err = bpf_map_update_elem(&stacks, &h, scratch, BPF_NOEXIST);

		if (err && err != -EEXIST)
			return (int)err;
		/* A new stack of Python code: user space should read its
		 * code objects soon, before the process can exit. */
		if (scratch->py_len)
			py_new_stack = 1;
	}
	*id = h;
	return 0;
}

#endif /* MEMTRACE_STACK_SOURCE_BPF_H */
