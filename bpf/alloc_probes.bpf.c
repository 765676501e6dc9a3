// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Probes on libc's allocation functions.
 *
 * Three programs serve every function:
 *   alloc_enter  uprobe at the entry of malloc, calloc, realloc, ... ; the
 *                attach cookie (enum mt_func) says which one and so which
 *                registers hold the size;
 *   alloc_exit   uretprobe on the same functions: reads the result, takes the
 *                stack and sends one MT_EV_ALLOC;
 *   free_enter   uprobe inside free, placed by user space on an instruction
 *                the kernel emulates (see libc_target_probe_skip() in
 *                user/proc/libc_target.c);
 *   alloc_session  both halves of alloc_enter and alloc_exit as one session
 *                uprobe (Linux 6.13+), for sampling: its entry half tells
 *                the kernel to skip the return of an unsampled malloc, so
 *                that such a call costs one trap instead of two.
 *
 * Entry and return are paired through per-thread state in task storage. A
 * probed call made while another is in flight on the same thread (glibc's
 * realloc(NULL, n) calls malloc, realloc(p, 0) calls free) is internal to
 * the outer call: only the outer call is reported.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "memtrace_events.h"
#include "stack_source.bpf.h"
#include "probe_common.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* --sample-bytes: the mean interval of the sampling (0: every allocation
 * is traced). See include/memtrace_events.h. */
const volatile __u64 sample_bytes = 0;

/*
 * Was this function entered by a tail call from a probed function? Then
 * its return address is already the uprobe trampoline, put there by the
 * outer function's return probe. The trampoline is the first slot of the
 * process's uprobe "xol" area.
 */
static __always_inline bool tail_called(struct task_struct *task, __u64 sp)
{
	__u64 ret_addr = 0, trampoline;

	trampoline = BPF_CORE_READ(task, mm, uprobes_state.xol_area, vaddr);
	if (bpf_probe_read_user(&ret_addr, sizeof(ret_addr), (void *)sp))
		return false;
	return trampoline && ret_addr == trampoline;
}

static __always_inline __u64 sample_interval(void)
{
	__u32 i = bpf_get_prandom_u32() & (MT_SAMPLE_INTERVALS - 1);
	__u64 *v = bpf_map_lookup_elem(&sample_intervals, &i);

	return v && *v ? *v : sample_bytes;
}

/* Does this allocation of size bytes reach the thread's sample point? */
static __always_inline bool sample_take(struct call_state *st, __u64 size)
{
	if (!st->sample_ready) {
		st->sample_left = sample_interval();
		st->sample_ready = 1;
	}
	if (size < st->sample_left) {
		st->sample_left -= size;
		return false;
	}
	st->sample_left = sample_interval();
	return true;
}

static __always_inline bool sampled_forget(__u32 pid, __u64 addr)
{
	struct mt_sampled_key k = { .pid = pid, .addr = addr };

	return bpf_map_delete_elem(&sampled, &k) == 0;
}

static __always_inline int sampled_remember(__u32 pid, __u64 addr)
{
	struct mt_sampled_key k = { .pid = pid, .addr = addr };
	__u8 one = 1;

	return bpf_map_update_elem(&sampled, &k, &one, BPF_ANY);
}

static __always_inline __u64 reg_value(const struct pt_regs *r, __u32 reg);

/* The arguments at a site past a function's first instruction, where the
 * cookie says they are (user/proc/probe_site.c). From one copy of the
 * registers, as site_registers() below does. */
static __noinline int moved_args(const struct pt_regs *ctx, __u64 cookie, __u64 *a0,
				 __u64 *a1, __u64 *a2)
{
	struct pt_regs r;

	if (bpf_probe_read_kernel(&r, sizeof(r), ctx))
		return -1;
	*a0 = reg_value(&r, (cookie >> MT_COOKIE_ARG_SHIFT(0)) & 0xf);
	*a1 = reg_value(&r, (cookie >> MT_COOKIE_ARG_SHIFT(1)) & 0xf);
	*a2 = reg_value(&r, (cookie >> MT_COOKIE_ARG_SHIFT(2)) & 0xf);
	return 0;
}

/* What a session uprobe's entry half returns: run its return half, or
 * not (the kernel then sets no return trap). */
#define RUN_RETURN 0
#define SKIP_RETURN 1

/*
 * A session's unsampled malloc skips its return: remember where it was
 * called from, so that a mapping syscall the allocator makes inside it is
 * still known for the allocator's own (see in_skipped_call() in
 * mmap_probes.bpf.c). Only malloc: no probed call is made inside it by
 * any allocator memtrace knows (calloc, memalign or operator new may call
 * malloc through its symbol, and a skipped outer call would leave that
 * malloc to draw its sample a second time).
 */
static __always_inline int skip_return(struct call_state *st, __u64 sp)
{
	__u64 ret = 0;

	if (bpf_probe_read_user(&ret, sizeof(ret), (void *)sp))
		return RUN_RETURN;
	st->depth = 0;
	st->skip_sp = sp;
	st->skip_ret = ret;
	return SKIP_RETURN;
}

/*
 * The entry of an allocation function: what the call was asked, in the
 * thread's state for its return. session: the return half is a session
 * uprobe's, which this may skip (SKIP_RETURN); a plain uprobe ignores the
 * result.
 */
static __always_inline int call_enter(struct pt_regs *ctx, __u64 a0, __u64 a1, __u64 a2,
				      bool session)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	struct task_struct *task;
	struct call_state *st;
	__u64 sp, ids;
	__u32 func;

	if (empty_probes)
		return RUN_RETURN;	/* the floor: both traps, as without sessions */
	task = bpf_get_current_task_btf();
	ids = task_pid_tgid(task);
	st = bpf_task_storage_get(&call_states, task, 0, 0);
	if (!target_known(st, ids >> 32))
		return RUN_RETURN;
	if ((cookie & MT_COOKIE_MOVED) && moved_args(ctx, cookie, &a0, &a1, &a2))
		return RUN_RETURN;

	if (!st)
		st = bpf_task_storage_get(&call_states, task, 0,
					  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st) {
		count(MT_CNT_STATE_FAILED);
		return RUN_RETURN;
	}

	sp = PT_REGS_SP(ctx);
	if (st->depth > 0) {
		/* A real nested call runs on a deeper stack than the outer
		 * one, or on the same one when the outer call tail-called it
		 * (reallocarray jumps to realloc). If neither, the outer
		 * call's return was never seen (it was in flight when the
		 * probes came): start afresh rather than ignore this thread
		 * forever. */
		if (sp < st->entry_sp ||
		    (sp == st->entry_sp && tail_called(task, sp))) {
			st->depth++;
			count(MT_CNT_NESTED);
			return RUN_RETURN;
		}
		count(MT_CNT_ENTRY_WITHOUT_RET);
	}

	func = MT_COOKIE_FUNC(cookie);
	st->depth = 1;
	st->func = func;
	st->entry_sp = sp;
	st->old_addr = 0;
	st->old_sampled = 0;
	st->out_ptr = 0;
	st->skip_sp = 0;

	switch (func) {
	case MT_FUNC_CALLOC:
		/* An overflowing product makes calloc fail: not counted. */
		st->size = a0 * a1;
		break;
	case MT_FUNC_REALLOC:
	case MT_FUNC_RALLOCX:
	case MT_FUNC_REALLOCF:
		st->old_addr = a0;
		st->size = a1;
		break;
	case MT_FUNC_XALLOCX:
		/* Resizes in place to at least a1 bytes, up to a1 + a2. */
		st->old_addr = a0;
		st->size = a1 ? a1 : 1;
		st->out_ptr = a2;
		break;
	case MT_FUNC_REALLOCARRAY:
		st->old_addr = a0;
		st->size = a1 * a2;
		break;
	case MT_FUNC_POSIX_MEMALIGN:
		st->out_ptr = a0;
		st->size = a2;
		break;
	case MT_FUNC_ALIGNED_ALLOC:
	case MT_FUNC_MEMALIGN:
	case MT_FUNC_PY_MALLOC:
		st->size = a1;
		break;
	case MT_FUNC_PY_CALLOC:
		st->size = a1 * a2;
		break;
	case MT_FUNC_PY_REALLOC:
		st->old_addr = a1;
		st->size = a2;
		break;
	default:		/* malloc, valloc, pvalloc */
		st->size = a0;
		break;
	}

	/* Sampling: decided here, where the size is known, so that a
	 * session can skip the return of what is not sampled. */
	if (sample_bytes)
		st->sample_hit = sample_take(st, st->size);
	if (!st->old_addr) {
		if (session && sample_bytes && !st->sample_hit && func == MT_FUNC_MALLOC)
			return skip_return(st, sp);
		return RUN_RETURN;
	}
	/* Sampling: only a sampled block is user space's business. It
	 * leaves the sampled set now, before the realloc can free it and
	 * another thread's sampled allocation take its address. */
	if (sample_bytes) {
		st->old_sampled = sampled_forget(ids >> 32, st->old_addr);
		if (!st->old_sampled)
			return RUN_RETURN;
	}
	emit(ids, MT_EV_REALLOC_BEGIN, func, 0, st->size, st->old_addr, 0, 0);
	return RUN_RETURN;
}

SEC("uprobe")
int BPF_KPROBE(alloc_enter, __u64 a0, __u64 a1, __u64 a2)
{
	call_enter(ctx, a0, a1, a2, false);
	return 0;
}

/* The return of a call while sampling, in the thread ids
 * (task_pid_tgid()): true when the allocation is to be reported (sampled
 * and remembered); otherwise what the caller would report of the realloc's
 * old block is reported here. */
static __always_inline bool sample_return(struct call_state *st, __u64 ids, __u64 addr)
{
	__u32 pid = ids >> 32;
	bool old = st->old_addr && st->old_sampled;

	if (!addr) {
		/* Failed (the old block is still live) or realloc(p, 0)
		 * (the old block is gone): REALLOC_DONE says which. */
		if (old) {
			/* A failed reallocf frees its block (size 0 says freed). */
			__u64 kept = st->func == MT_FUNC_REALLOCF ? 0 : st->size;

			if (kept)
				sampled_remember(pid, st->old_addr);
			emit(ids, MT_EV_REALLOC_DONE, st->func, 0, kept, st->old_addr, 0, 0);
		}
		return false;
	}
	if (st->sample_hit) {
		if (!sampled_remember(pid, addr))
			return true;
		count(MT_CNT_SAMPLES_DROPPED);
	}
	/* Not reported: a sampled old block moved to an unsampled one is
	 * gone, as realloc(p, 0) says it. */
	if (old)
		emit(ids, MT_EV_REALLOC_DONE, st->func, 0, 0, st->old_addr, 0, 0);
	return false;
}

/* The return of an allocation function: the block it made, with its
 * stack, as one MT_EV_ALLOC. */
static __always_inline int call_return(struct pt_regs *ctx, __u64 ret)
{
	__u64 addr = ret, stack_id = 0, ids;
	struct task_struct *task;
	struct call_state *st;
	__u16 flags = 0;
	__u32 pid;

	if (empty_probes)
		return 0;
	task = bpf_get_current_task_btf();
	ids = task_pid_tgid(task);
	pid = ids >> 32;
	st = bpf_task_storage_get(&call_states, task, 0, 0);
	if (!target_known(st, pid))
		return 0;
	if (!st || st->depth == 0) {
		struct mt_target *t = bpf_map_lookup_elem(&targets, &pid);

		if (!st || !t || !t->live_ns ||
		    bpf_ktime_get_ns() - t->live_ns < MT_IN_FLIGHT_NS)
			count(MT_CNT_RET_IN_FLIGHT);
		else
			count(MT_CNT_RET_WITHOUT_ENTRY);
		return 0;
	}
	if (--st->depth > 0)
		return 0;	/* an inner call: the outer one reports */

	if (st->func == MT_FUNC_POSIX_MEMALIGN) {
		/* Returns an error number; the block goes through the
		 * out-pointer, which is only written on success. */
		addr = 0;
		if ((int)ret == 0 &&
		    bpf_probe_read_user(&addr, sizeof(addr), (void *)st->out_ptr))
			addr = 0;
	}

	if (st->func == MT_FUNC_XALLOCX) {
		/* It returns the block's real size; less than asked for: it
		 * could not resize, and the block is as it was. Else the
		 * block holds what was asked, up to size + extra. */
		__u64 most = st->size + st->out_ptr;

		if (ret < st->size) {
			if (sample_bytes && !st->old_sampled)
				return 0;
			if (sample_bytes)
				sampled_remember(pid, st->old_addr);
			emit(ids, MT_EV_REALLOC_DONE, st->func, 0, st->size, st->old_addr, 0, 0);
			return 0;
		}
		addr = st->old_addr;
		st->size = ret < most ? ret : most;
	}

	if (sample_bytes && !sample_return(st, ids, addr))
		return 0;	/* not sampled: no stack, no event */
	if (!addr) {
		/* A failed reallocf frees its block (size 0 says freed). */
		if (st->old_addr)
			emit(ids, MT_EV_REALLOC_DONE, st->func, 0,
			     st->func == MT_FUNC_REALLOCF ? 0 : st->size, st->old_addr, 0, 0);
		return 0;	/* failed: nothing was allocated */
	}

	if (stack_mode != MT_STACK_NONE)
		flags = take_stack(ctx, st, st->func, pid, true, &stack_id);
	emit(ids, MT_EV_ALLOC, st->func, addr, st->size,
	     sample_bytes && !st->old_sampled ? 0 : st->old_addr, stack_id, flags);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(alloc_exit, __u64 ret)
{
	return call_return(ctx, ret);
}

/*
 * Both halves in one program, attached as a session uprobe (user space
 * sets its attach type): the kernel calls it at the entry, and at the
 * return only if the entry half said RUN_RETURN.
 *
 * Which half this is, without the kfunc bpf_session_is_return(): a kfunc
 * makes libbpf parse the kernel's whole BTF for the object, ~15 ms of
 * every start (user/kernel_btf.h). A session program's function address
 * (bpf_get_func_ip()) is the probed instruction in both halves; the
 * registers are the call's, so at the entry the instruction pointer is
 * that address (the kernel sets it back from the breakpoint before the
 * handlers run), and at the return it is the caller's return address,
 * which is never the allocation function's probed instruction.
 */
SEC("uprobe")
int alloc_session(struct pt_regs *ctx)
{
	if (PT_REGS_IP(ctx) != bpf_get_func_ip(ctx))
		return call_return(ctx, PT_REGS_RC(ctx));
	return call_enter(ctx, PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), PT_REGS_PARM3(ctx),
			  true);
}

SEC("uprobe")
int BPF_KPROBE(free_enter, __u64 a0, __u64 a1, __u64 a2)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 func = MT_COOKIE_FUNC(cookie);
	struct task_struct *task;
	struct call_state *st;
	__u64 ptr, ids;

	if (empty_probes)
		return 0;
	if ((cookie & MT_COOKIE_MOVED) && moved_args(ctx, cookie, &a0, &a1, &a2))
		return 0;
	ptr = func == MT_FUNC_PY_FREE ? a1 : a0;
	if (!ptr)
		return 0;
	task = bpf_get_current_task_btf();
	ids = task_pid_tgid(task);
	/* Sampling: a block not sampled costs this one map operation. */
	if (sample_bytes && !sampled_forget(ids >> 32, ptr))
		return 0;
	st = bpf_task_storage_get(&call_states, task, 0, 0);
	if (!target_known(st, ids >> 32))
		return 0;
	if (!st && func == MT_FUNC_PY_FREE)
		st = bpf_task_storage_get(&call_states, task, 0,
					  BPF_LOCAL_STORAGE_GET_F_CREATE);
	/* Inside a probed call, only the free of the block the call was
	 * given is the call's own business (realloc(p, 0) frees p; pymalloc's
	 * realloc frees the old block): the call reports it. Any other block
	 * freed in there is a free of its own, such as tracemalloc's hooks
	 * dropping their bookkeeping inside PyObject_Realloc. */
	if (st && st->depth > 0 && PT_REGS_SP(ctx) < st->entry_sp &&
	    ptr == st->old_addr) {
		count(MT_CNT_NESTED);
		return 0;
	}
	if (st && func == MT_FUNC_PY_FREE) {
		/* pymalloc hands a large block to free() right after: that
		 * is this same free, not another one. */
		st->py_freeing = ptr;
	} else if (st && st->py_freeing == ptr) {
		st->py_freeing = 0;
		count(MT_CNT_NESTED);
		return 0;
	}
	emit(ids, MT_EV_FREE, func, ptr, 0, 0, 0, 0);
	return 0;
}

/* The register enum mt_reg names, in a copy of the registers. */
static __always_inline __u64 reg_value(const struct pt_regs *r, __u32 reg)
{
	switch (reg) {
	case MT_REG_RAX: return r->ax;
	case MT_REG_RBX: return r->bx;
	case MT_REG_RCX: return r->cx;
	case MT_REG_RDX: return r->dx;
	case MT_REG_RSI: return r->si;
	case MT_REG_RDI: return r->di;
	case MT_REG_RBP: return r->bp;
	case MT_REG_RSP: return r->sp;
	case MT_REG_R8: return r->r8;
	case MT_REG_R9: return r->r9;
	case MT_REG_R10: return r->r10;
	case MT_REG_R11: return r->r11;
	case MT_REG_R12: return r->r12;
	case MT_REG_R13: return r->r13;
	case MT_REG_R14: return r->r14;
	case MT_REG_R15: return r->r15;
	}
	return 0;
}

/* The registers a pymalloc site's cookie names: the block's (or its
 * pool's) and, if the site names it so, the request size's (else 0). From
 * one copy of the registers: the verifier refuses a context read at an
 * offset that is not a constant, which is what the compiler makes of the
 * switch. Not inlined, so that the copy's stack is not added to the
 * unwinder's. */
static __noinline int site_registers(const struct pt_regs *ctx, __u32 cookie,
				     __u64 *block, __u64 *request)
{
	struct pt_regs r;

	if (bpf_probe_read_kernel(&r, sizeof(r), ctx))
		return -1;
	*block = reg_value(&r, (cookie >> 8) & 0xff);
	*request = cookie & MT_PYSITE_SIZE_REG ?
		reg_value(&r, (cookie >> MT_PYSITE_SIZE_SHIFT) & 0xf) : 0;
	return 0;
}

/* Report a block pymalloc just handed out to the thread ids. Its pool
 * header says its size class; the request, where the site's code names it
 * (0: unknown), must fall in that class, else the class's size is used. */
static __always_inline void pymalloc_alloc_event(struct pt_regs *ctx, __u64 ids,
						 __u64 block, __u64 request, bool at_return)
{
	__u64 stack_id = 0, size;
	__u32 pid = ids >> 32;
	struct call_state *st;
	__u32 szidx;
	__u16 flags = 0;

	if (bpf_probe_read_user(&szidx, sizeof(szidx),
				(void *)((block & MT_PY_POOL_MASK) + MT_PY_POOL_SZIDX_OFFSET))) {
		count(MT_CNT_PYMALLOC_BAD_READ);
		return;
	}
	size = ((__u64)szidx + 1) * 16;
	if (request && request <= size && request > size - 16)
		size = request;
	else
		count(MT_CNT_PYMALLOC_BLOCK_SIZE);
	if (stack_mode != MT_STACK_NONE) {
		st = bpf_task_storage_get(&call_states, bpf_get_current_task_btf(), 0,
					  BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (!st) {
			count(MT_CNT_STATE_FAILED);
			flags = MT_EVF_NO_STACK;
		} else {
			flags = take_stack(ctx, st, MT_FUNC_PY_MALLOC, pid, at_return,
					   &stack_id);
		}
	}
	emit(ids, MT_EV_ALLOC, MT_FUNC_PY_MALLOC, block, size, 0, stack_id, flags);
}

/*
 * A probe inside one of pymalloc's inlined fast paths, on interpreters
 * whose allocator has no function to probe (user/python/pymalloc_sites.c
 * finds them). The cookie says whether a block was just taken off a free list or
 * is being put back, and where the block is.
 */
SEC("uprobe")
int pymalloc_site(struct pt_regs *ctx)
{
	__u32 cookie = bpf_get_attach_cookie(ctx);
	__u64 block, request, ids;

	if (empty_probes)
		return 0;
	ids = bpf_get_current_pid_tgid();
	if (!is_target(ids >> 32))
		return 0;

	if (site_registers(ctx, cookie, &block, &request))
		return 0;
	if ((cookie & MT_PYSITE_VIA_POOL) &&
	    bpf_probe_read_user(&block, sizeof(block), (void *)(block + 8))) {
		count(MT_CNT_PYMALLOC_BAD_READ);
		return 0;
	}
	if (!block)
		return 0;
	if ((cookie & 0xff) == MT_PYSITE_FREE) {
		emit(ids, MT_EV_FREE, MT_FUNC_PY_FREE, block, 0, 0, 0, 0);
		return 0;
	}
	if (cookie & MT_PYSITE_SIZE_CONST)
		request = (cookie >> MT_PYSITE_SIZE_SHIFT) & 0x3ff;
	pymalloc_alloc_event(ctx, ids, block, request, false);
	return 0;
}

/* pymalloc's allocate_from_new_pool returns the first block of a fresh
 * pool, or NULL when it fell back to malloc (which the libc probes see). */
SEC("uretprobe")
int BPF_KRETPROBE(pymalloc_new_pool_exit, __u64 block)
{
	__u64 ids;

	if (empty_probes || !block)
		return 0;
	ids = bpf_get_current_pid_tgid();
	if (!is_target(ids >> 32))
		return 0;
	pymalloc_alloc_event(ctx, ids, block, 0, true);
	return 0;
}


/*
 * On entry to the code objects' deallocator (PyCode_Type.tp_dealloc):
 * one more death at the code's address slot, so that user space no longer
 * trusts what the address holds for frames recorded before; and a copy of
 * the dying object's name, file name and location table, so that those
 * frames can still be named.
 */
SEC("uprobe")
int BPF_KPROBE(py_code_dealloc, __u64 code)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32, zero = 0, slot;
	const struct mt_py_offsets *o;
	struct mt_py_code_freed *r;
	__u64 *gen, size = 0, qualname = 0, filename = 0, table = 0;
	__u32 len;

	if (empty_probes || !code)
		return 0;
	o = bpf_map_lookup_elem(&py_targets, &pid);
	if (!o || !o->watch_deaths)
		return 0;
	slot = mt_py_gen_slot(pid, code);
	gen = bpf_map_lookup_elem(&py_code_gens, &slot);
	r = bpf_map_lookup_elem(&py_freed_scratch, &zero);
	if (!gen || !r)
		return 0;

	r->type = MT_EV_PY_CODE_FREED;
	r->pid = pid;
	r->code = code;
	r->gen = (__u32)__sync_fetch_and_add(gen, 1);
	r->code_len = py_copy(r->code_bytes, code, o->code_header, MT_PY_FREED_CODE_BYTES);
	bpf_probe_read_user(&qualname, 8, (const void *)(code + o->code_qualname));
	bpf_probe_read_user(&filename, 8, (const void *)(code + o->code_filename));
	bpf_probe_read_user(&table, 8, (const void *)(code + o->code_linetable));
	r->qualname = qualname;
	r->filename = filename;
	r->table = table;
	r->qualname_len = qualname ? py_copy(r->qualname_bytes, qualname,
					     py_str_bytes(o, qualname),
					     MT_PY_FREED_QUALNAME_BYTES) : 0;
	r->filename_len = filename ? py_copy(r->filename_bytes, filename,
					     py_str_bytes(o, filename),
					     MT_PY_FREED_FILENAME_BYTES) : 0;
	if (table && bpf_probe_read_user(&size, 8, (const void *)(table + o->bytes_size)))
		size = 0;
	size = size < (1u << 24) ? size + o->bytes_data : 0;
	r->table_size = size;
	len = table && size ? py_copy(r->table_bytes, table, size, MT_PY_FREED_TABLE_BYTES) : 0;
	r->table_len = len;
	if (len > MT_PY_FREED_TABLE_BYTES)
		return 0;
	if (bpf_ringbuf_output(&events, r, offsetof(struct mt_py_code_freed, table_bytes) + len,
			       0))
		count(MT_CNT_PY_CODE_FREED_LOST);
	return 0;
}

/* A raw tracepoint: unlike a tracefs one it needs no mounted tracefs, and
 * unlike a BTF one (tp_btf) it does not make libbpf parse the kernel's
 * whole BTF to find it (user/kernel_btf.h). */
SEC("raw_tp/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	if (empty_probes)
		return 0;
	if (!is_target(bpf_get_current_pid_tgid() >> 32))
		return 0;
	emit_wake(bpf_get_current_pid_tgid(), MT_EV_EXEC, 0, 0, 0, 0, 0, 0, true);
	return 0;
}

/* ld.so calls _dl_debug_state, the debuggers' hook, whenever it has
 * changed the list of loaded objects: after mapping a dlopen'ed library
 * (before its constructors run), and at a program's start. User space is
 * woken at once to load the new objects' tables. */
SEC("uprobe")
int BPF_KPROBE(maps_changed)
{
	if (empty_probes)
		return 0;
	if (!is_target(bpf_get_current_pid_tgid() >> 32))
		return 0;
	emit_wake(bpf_get_current_pid_tgid(), MT_EV_MAPS_CHANGED, 0, 0, 0, 0, 0, 0, true);
	return 0;
}
