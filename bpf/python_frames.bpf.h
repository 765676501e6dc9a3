/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The Python frame walker: at an allocation in a CPython process, the
 * allocating thread's Python frames, as (code object, instruction index)
 * pairs, innermost first. User space turns them into
 * `qualname (file.py:line)` and merges them with the native stack.
 *
 * Which thread state: the interpreter's "current thread" variables are
 * NULL while a thread has released the GIL, and C code that released it
 * allocates too. So the thread state is found by walking the
 * interpreter's list of thread states for the one whose native_thread_id
 * is this thread's id (as the process's own PID namespace numbers it);
 * the answer is kept in the thread's call state (struct py_thread) and
 * re-checked on every use.
 *
 * Each frame also records its code object's generation (see
 * include/memtrace_python.h): how many code objects have died at its
 * address slot, counted by py_code_dealloc below.
 */
#ifndef MEMTRACE_PYTHON_FRAMES_BPF_H
#define MEMTRACE_PYTHON_FRAMES_BPF_H

#include "memtrace_python.h"
#include "shared_maps.bpf.h"

static __always_inline __u32 py_code_gen(__u32 tgid, __u64 code)
{
	__u32 slot = mt_py_gen_slot(tgid, code);
	__u64 *g = bpf_map_lookup_elem(&py_code_gens, &slot);

	return g ? (__u32)*g : 0;
}

/* Set when a stack with Python frames is first stored: the next event
 * wakes user space (at most every PY_WAKE_NS), which reads the new stack's
 * code objects while the process still runs. Else a process that exits
 * within the ~100 ms user space waits between drains would leave the frames
 * of its last new stacks unnamed (their code objects die with it, without
 * the deallocator running). Racy across CPUs, which only costs a wakeup. */
__u32 py_new_stack;
__u64 py_last_wake_ns;
#define PY_WAKE_NS 1000000ULL

#define PY_MAX_INTERPRETERS 4
#define PY_MAX_THREADS 128

static __always_inline __u64 py_read_ptr(__u64 addr)
{
	__u64 v = 0;

	if (bpf_probe_read_user(&v, sizeof(v), (const void *)addr))
		return 0;
	return v;
}

/* This thread's id as its own PID namespace numbers it: what
 * threading.get_native_id() returns and CPython stores. */
static __always_inline __u64 py_native_tid(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);

	return (__u64)BPF_CORE_READ(pid, numbers[level & 7].nr);
}

static __always_inline bool py_tstate_is(const struct mt_py_offsets *o, __u64 tstate,
					 __u64 tid)
{
	return tstate && py_read_ptr(tstate + o->tstate_native_thread_id) == tid;
}

/* One step of the search through every interpreter's thread list. */
struct py_search {
	const struct mt_py_offsets *o;
	__u64 tid;
	__u64 interp, tstate;
	__u64 found;
};

static long py_search_step(__u32 i, void *data)
{
	struct py_search *s = data;
	const struct mt_py_offsets *o = s->o;

	if (!s->tstate) {		/* this interpreter's list is done */
		s->interp = s->interp ? py_read_ptr(s->interp + o->interp_next) : 0;
		if (!s->interp)
			return 1;
		s->tstate = py_read_ptr(s->interp + o->interp_threads_head);
		return 0;
	}
	if (py_tstate_is(o, s->tstate, s->tid)) {
		s->found = s->tstate;
		return 1;
	}
	s->tstate = py_read_ptr(s->tstate + o->tstate_next);
	return 0;
}

/* The 8 bytes at off in a thread state the window holds (its first
 * MT_PY_TSTATE_WINDOW bytes, read by py_find_tstate()). */
static __always_inline __u64 py_tstate_field(const struct mt_stack_window *win, __u32 off)
{
	off &= ~7u;		/* a no-op (tstate_window), for the verifier */
	barrier_var(off);	/* which must see the bound on this register */
	if (off > MT_PY_TSTATE_WINDOW - 8)
		return 0;
	return *(const __u64 *)&win->bytes[off];
}

/*
 * The current thread's thread state, or 0. What *pt kept is used when the
 * thread state it names still says it is this thread's: one user read,
 * which with tstate_window also brings the thread state's way to its
 * frame into win (win->lo is then the thread state). Kept there, not in a
 * map by thread id, with the thread's id in its namespace: per object, a
 * hash lookup and the three kernel reads of py_native_tid() were ~100 ns
 * of the ~300 the thread state took.
 */
static __always_inline __u64 py_find_tstate(const struct mt_py_offsets *o, struct py_thread *pt,
					    struct mt_stack_window *win)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct py_search s = { .o = o };

	if (pt->tid != tid || !pt->native_tid) {
		pt->tid = tid;
		pt->native_tid = py_native_tid();
		pt->tstate = 0;
	}
	s.tid = pt->native_tid;
	if (o->tstate_window && pt->tstate &&
	    !bpf_probe_read_user(win->bytes, MT_PY_TSTATE_WINDOW, (const void *)pt->tstate)) {
		win->lo = pt->tstate;
		win->len = MT_PY_TSTATE_WINDOW;
		win->valid = WINDOW_READ;
		if (py_tstate_field(win, o->tstate_native_thread_id) == s.tid)
			return pt->tstate;
	} else if (py_tstate_is(o, pt->tstate, s.tid)) {
		return pt->tstate;
	}

	s.interp = py_read_ptr(o->runtime_addr + o->runtime_interpreters_head);
	if (!s.interp)
		return 0;
	s.tstate = py_read_ptr(s.interp + o->interp_threads_head);
	bpf_loop(PY_MAX_INTERPRETERS * (PY_MAX_THREADS + 1), py_search_step, &s, 0);
	pt->tstate = s.found;
	return s.found;	/* 0: not a Python thread (yet), or too many threads */
}

struct py_walk {
	const struct mt_py_offsets *o;
	struct mt_stack *out;
	struct mt_stack_window *win;
	__u64 frame;
	__u32 tgid;
};

/*
 * The first MT_PY_FRAME_WINDOW bytes of the frame at `frame`, from a
 * window on the thread's memory below the frame's end; NULL if they
 * cannot be read. A thread's frames are pushed one above the other on its
 * data stack, so a window read at the innermost frame holds the frames it
 * was called from too, as far down as the frame's page: py_churn's four
 * frames in one read where there were four (a user read is the walk's main
 * cost: 61 ns each, see README; perf showed the frames' reads as the
 * largest part of them at a pymalloc site). Frames elsewhere (a
 * generator's, in its object) miss the window and read it again there.
 */
static __always_inline const __u8 *py_frame_bytes(struct mt_stack_window *win, __u64 frame)
{
	__u64 hi = frame + MT_PY_FRAME_WINDOW, off;
	__u32 n;

	if (win->valid == WINDOW_READ && frame >= win->lo && hi <= win->lo + win->len)
		goto have;
	/* Down to the frame's page: that page is mapped (the frame begins
	 * there), the one below need not be. */
	n = hi - (frame & ~4095ULL) < MT_STACK_WINDOW ? hi - (frame & ~4095ULL)
						      : MT_STACK_WINDOW;
	barrier_var(n);
	if (n > MT_STACK_WINDOW)
		return NULL;
	if (bpf_probe_read_user(win->bytes, n, (const void *)(hi - n))) {
		/* As the frame alone would be read. */
		n = MT_PY_FRAME_WINDOW;
		if (bpf_probe_read_user(win->bytes, n, (const void *)frame)) {
			win->valid = WINDOW_NONE;
			return NULL;
		}
	}
	win->lo = hi - n;
	win->len = n;
	win->valid = WINDOW_READ;
have:
	off = frame - win->lo;
	if (off > MT_STACK_WINDOW - MT_PY_FRAME_WINDOW)	/* a no-op, for the verifier */
		return NULL;
	return &win->bytes[off];
}

static long py_walk_frame(__u32 i, void *data)
{
	struct py_walk *w = data;
	const struct mt_py_offsets *o = w->o;
	struct mt_stack *out = w->out;
	__u64 frame = w->frame, code, instr;
	__u8 owner = 0, is_entry = 0;
	__u32 n = out->py_len;
	__s64 idx;

	if (!frame)
		return 1;
	if (o->frame_window) {
		/* One read where there would be four, and one for the
		 * frames below it (py_frame_bytes()). */
		const __u8 *fb = py_frame_bytes(w->win, frame);
		__u32 oc = o->frame_code, op = o->frame_previous, oi = o->frame_instr;
		__u32 ow = o->frame_owner, oe = o->frame_is_entry;

		if (!fb)
			return 1;
		if (oc > MT_PY_FRAME_WINDOW - 8 || op > MT_PY_FRAME_WINDOW - 8 ||
		    oi > MT_PY_FRAME_WINDOW - 8)
			return 1;
		/* Aligned (user space only sets frame_window for aligned
		 * fields): 8-byte loads, each in one cache line. */
		oc &= ~7u;
		op &= ~7u;
		oi &= ~7u;
		code = *(__u64 *)(fb + oc);
		w->frame = *(__u64 *)(fb + op);
		instr = *(__u64 *)(fb + oi);
		if (ow < MT_PY_FRAME_WINDOW)
			owner = fb[ow];
		if (oe < MT_PY_FRAME_WINDOW)
			is_entry = fb[oe];
	} else {
		code = py_read_ptr(frame + o->frame_code);
		w->frame = py_read_ptr(frame + o->frame_previous);
		instr = 0;
		if (o->frame_owner != MT_PY_NO_OFFSET)
			bpf_probe_read_user(&owner, 1, (const void *)(frame + o->frame_owner));
		if (o->frame_is_entry != MT_PY_NO_OFFSET)
			bpf_probe_read_user(&is_entry, 1,
					    (const void *)(frame + o->frame_is_entry));
	}

	/* 3.12+: a shim frame stands where C code called into the eval loop:
	 * the Python frame recorded just before it began that call. */
	if (owner == MT_PY_FRAME_OWNED_BY_CSTACK || (o->none_addr && code == o->none_addr)) {
		if (n > 0 && n <= MT_MAX_PY_FRAMES)
			out->py_entry |= 1ULL << ((n - 1) & (MT_MAX_PY_FRAMES - 1));
		return 0;
	}
	if (!code)
		return 1;
	if (n >= MT_MAX_PY_FRAMES) {
		out->py_cut = 1;	/* the stack says it is incomplete */
		return 1;
	}

	if (!o->frame_window)
		instr = py_read_ptr(frame + o->frame_instr);
	/* Code units are 2 bytes; before the first instruction the index is
	 * negative, which user space reads as "at co_firstlineno". Signed
	 * division is not allowed in BPF: an arithmetic shift does it. */
	idx = (__s64)(instr - (code + o->code_adaptive)) >> 1;
	out->py[n].code = code;
	out->py[n].instr = (__s32)idx;
	out->py[n].gen = o->watch_deaths ? py_code_gen(w->tgid, code) : 0;
	if (is_entry)
		out->py_entry |= 1ULL << n;
	out->py_len = n + 1;
	return 0;
}

/*
 * Record the current thread's Python frames into out->py, reading through
 * win (struct mt_stack_window: the thread state, then its data stack),
 * which it leaves as it was last read. Leaves
 * out->py_len 0 for a process that is not Python or a thread that runs no
 * Python code. Returns the process's offsets, NULL if it is not Python.
 */
static __always_inline const struct mt_py_offsets *py_capture(__u32 pid, struct py_thread *pt,
							       struct mt_stack *out,
							       struct mt_stack_window *win)
{
	const struct mt_py_offsets *o = bpf_map_lookup_elem(&py_targets, &pid);
	struct py_walk w = { .o = o, .out = out, .win = win, .tgid = pid };
	__u64 tstate;
	__u32 to_frame;

	/* Nothing of an earlier walk: the memory may have changed since. */
	win->valid = WINDOW_NONE;
	out->py_len = 0;
	out->py_entry = 0;
	out->py_cut = 0;
	if (!o)
		return o;
	tstate = py_find_tstate(o, pt, win);
	if (!tstate)
		return o;
	to_frame = mt_py_tstate_to_frame(o);
	if (win->valid == WINDOW_READ && win->lo == tstate)
		w.frame = py_tstate_field(win, to_frame);
	else
		w.frame = py_read_ptr(tstate + to_frame);
	if (o->tstate_cframe != MT_PY_NO_OFFSET)	/* that was the cframe */
		w.frame = w.frame ? py_read_ptr(w.frame + o->cframe_current_frame) : 0;
	bpf_loop(MT_MAX_PY_FRAMES * 2, py_walk_frame, &w, 0);
	/* The oldest frame began the outermost eval loop call (unless the
	 * walk was cut: older frames then came before it). */
	if (!out->py_cut && out->py_len > 0 && out->py_len <= MT_MAX_PY_FRAMES)
		out->py_entry |= 1ULL << ((out->py_len - 1) & (MT_MAX_PY_FRAMES - 1));
	return o;
}

/* Where the native walk of a stack whose Python frames s holds may stop
 * (struct mt_eval_stop): after as many eval loop frames as s has entry
 * frames, when s holds the thread's oldest Python frame (not cut) and the
 * eval loop's code is known; else not before the end (left 0). */
static __always_inline void py_eval_stop(const struct mt_py_offsets *o,
					 const struct mt_stack *s, struct mt_eval_stop *eval)
{
	__u64 m = s->py_entry;

	eval->start = o ? o->eval_start : 0;
	eval->end = o ? o->eval_end : 0;
	eval->pad = 0;
	if (!o || !o->eval_end || s->py_cut || !s->py_len) {
		eval->left = 0;
		return;
	}
	/* The entry frames: the bits set (a population count). */
	m = m - ((m >> 1) & 0x5555555555555555ULL);
	m = (m & 0x3333333333333333ULL) + ((m >> 2) & 0x3333333333333333ULL);
	m = (m + (m >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	eval->left = (__u32)((m * 0x0101010101010101ULL) >> 56);
}

/* A str object's characters: where they start and how many bytes they
 * take, for a compact string (what code objects' names and file names
 * are); 0 for any other. */
static __always_inline __u32 py_str_bytes(const struct mt_py_offsets *o, __u64 str)
{
	__u64 length = 0;
	__u32 state = 0, kind, head;

	if (bpf_probe_read_user(&length, sizeof(length), (const void *)(str + o->str_length)) ||
	    bpf_probe_read_user(&state, sizeof(state), (const void *)(str + o->str_state)))
		return 0;
	kind = (state >> 2) & 7;
	if (!(state & 0x20) || (kind != 1 && kind != 2 && kind != 4) || length > (1u << 20))
		return 0;		/* not compact: its characters are elsewhere */
	head = state & 0x40 ? o->str_ascii_data : o->str_compact_data;
	return head + (__u32)length * kind;
}

/* Copy up to max bytes of the object at addr into dst; returns the bytes
 * copied (0: unreadable). */
static __always_inline __u32 py_copy(void *dst, __u64 addr, __u64 len, __u64 max)
{
	if (len > max)
		len = max;
	/* The verifier must see the bound on the very register passed. */
	barrier_var(len);
	if (len > max)
		return 0;
	if (!len || bpf_probe_read_user(dst, len, (const void *)addr))
		return 0;
	return len;
}

#endif /* MEMTRACE_PYTHON_FRAMES_BPF_H */

/*
 * py_capture() and py_eval_stop() together, as a global function: the
 * verifier checks it once, apart, and its callers only see its result,
 * not the many ways through it (inlined before the native walk, they took
 * the verified instructions of alloc_exit from ~97,000 to ~159,000).
 * Returns 1 for a Python process, 0 otherwise (or for NULL arguments).
 */
__attribute__((noinline)) int py_capture_stop(__u32 pid, struct py_thread *pt,
					      struct mt_stack *out, struct mt_eval_stop *eval,
					      struct mt_stack_window *win)
{
	const struct mt_py_offsets *o;

	if (!pt || !out || !eval || !win)
		return 0;
	o = py_capture(pid, pt, out, win);
	py_eval_stop(o, out, eval);
	return o != NULL;
}
