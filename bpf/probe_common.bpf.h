/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * What every memtrace probe object shares: counting, and sending an
 * event or a stack through the maps of shared_maps.bpf.h (the ring buffer
 * of events, the filter of traced processes, the counters, each thread's
 * state in an allocator call).
 */
#ifndef MEMTRACE_PROBE_COMMON_BPF_H
#define MEMTRACE_PROBE_COMMON_BPF_H

#include "memtrace_events.h"
#include "shared_maps.bpf.h"
#include "stack_source.bpf.h"

/* Benchmarks attach the same probes with this set: each program returns at
 * once, which measures what the traps alone cost. */
const volatile bool empty_probes = false;
/* Wake the consumer only once this many bytes wait in the ring; user space
 * also polls on a short timer, so nothing waits long. */
const volatile __u64 wakeup_bytes = 1 << 20;



static __always_inline void count(enum mt_counter c)
{
	__u32 key = c;
	__u64 *v = bpf_map_lookup_elem(&counters, &key);

	if (v)
		*v += 1;
}

static __always_inline void count_n(enum mt_counter c, __u64 n)
{
	__u32 key = c;
	__u64 *v = bpf_map_lookup_elem(&counters, &key);

	if (v)
		*v += n;
}

/* tgid is traced, and its probes are all in (MT_TARGET_ATTACHING). */
static __always_inline bool is_target(__u32 tgid)
{
	return mt_target_traced(bpf_map_lookup_elem(&targets, &tgid));
}

/*
 * is_target() for a thread with a call state (st; NULL: none yet), from
 * what st remembers while targets has not changed since. Saves a hash
 * lookup per call, ~30 ns of the ~400 ns memtrace's programs spend per
 * malloc+free pair (bpf_stats, --stack none). Correct because the
 * generation is read before targets and every writer adds to it after
 * writing: a change that races with the lookup leaves a generation that
 * no longer matches, and the next call looks again.
 */
static __always_inline bool target_known(struct call_state *st, __u32 tgid)
{
	__u32 zero = 0;
	__u64 *gen = bpf_map_lookup_elem(&targets_gen, &zero);
	__u64 g;

	if (!st || !gen)
		return is_target(tgid);
	g = *(volatile __u64 *)gen + 1;
	if (st->target_gen != g) {
		st->target_traced = is_target(tgid);
		st->target_gen = g;
	}
	return st->target_traced;
}

/*
 * The time of an allocation: CLOCK_MONOTONIC as of the first event after
 * the kernel's latest tick (HZ=250 here: up to 4 ms early), which is what
 * ages need (user space keeps them to the millisecond). bpf_jiffies64() is
 * a load the verifier inlines, where bpf_ktime_get_ns() is a call of ~75 ns
 * in this VM, most of it read_tsc (3.8% of all samples under churn, perf):
 * the clock is read once a tick, by the CPU that sees the tick first. The coarse
 * clock would do as well, but the kernel refuses it to tracing programs.
 * The time is stored before its tick and read after it (x86 keeps stores
 * and loads in order); CPUs racing across a tick can leave the time of the
 * tick before, which is a tick earlier still, never later.
 */
__u64 clock_tick;
__u64 clock_tick_ns;

static __always_inline __u64 tick_clock(void)
{
	__u64 j = bpf_jiffies64(), now;

	if (j == *(volatile __u64 *)&clock_tick) {
		barrier();
		return *(volatile __u64 *)&clock_tick_ns;
	}
	now = bpf_ktime_get_ns();
	*(volatile __u64 *)&clock_tick_ns = now;
	barrier();
	*(volatile __u64 *)&clock_tick = j;
	return now;
}

/*
 * The current thread's ids as bpf_get_current_pid_tgid() gives them (tgid
 * in the upper half, thread id in the lower), read from its task: two
 * loads, where the helper is a call. Seven such calls per malloc+free pair
 * were 1.4% of churn's time (perf, --stack none); without them, and with
 * ring_wake()'s look every 64 records, bpf_stats (churn 2000000, --stack
 * none, 2 runs each) gave alloc_enter 141-147 ns a run against 165-171,
 * free_enter 185-195 against 220-232, alloc_exit 171-173 against 214-220
 * (bpf_stats' own ~80 ns a run in all of them).
 */
static __always_inline __u64 task_pid_tgid(const struct task_struct *task)
{
	return (__u64)(__u32)task->tgid << 32 | (__u32)task->pid;
}

/* A CPU looks at the ring's fill once every this many records. */
#define WAKE_CHECK_EVERY 64

/*
 * The flags to submit a record with: wake the consumer if now, or if the
 * ring holds more than the threshold, looked at every WAKE_CHECK_EVERY
 * records of a CPU. A wakeup per record would cost more than the probe,
 * and a look per record is a call; the consumer also drains on a short
 * timer, so nothing waits long, and 64 records are a few KiB of a ring of
 * MiBs.
 */
static __always_inline __u64 ring_wake(bool now)
{
	__u32 zero = 0;
	__u64 *sent;

	if (!now) {
		sent = bpf_map_lookup_elem(&wake_checks, &zero);
		if (sent && ++*sent % WAKE_CHECK_EVERY == 0)
			now = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes;
	}
	return now ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/*
 * Reserve, fill the common fields, submit; ids: the sending thread's
 * (task_pid_tgid()). now: wake the consumer at once (ring_wake()).
 */
static __always_inline void emit_wake(__u64 ids, __u8 type, __u8 func, __u64 addr,
				      __u64 size, __u64 old_addr, __u64 stack_id,
				      __u16 flags, bool now)
{
	struct mt_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(MT_CNT_EVENTS_LOST);
		return;
	}
	e->type = type;
	e->func = func;
	e->flags = flags;
	e->pid = ids >> 32;
	e->tid = (__u32)ids;
	e->pad = 0;
	/* A free's time has no reader: it takes no clock. */
	e->ts_ns = 0;
	e->addr = addr;
	e->size = size;
	e->old_addr = old_addr;
	e->stack_id = stack_id;

	/* type is a constant where this is inlined: no branch for frees.
	 * (A test of a variable here took pymalloc_site from 11,957 to
	 * 26,085 verified instructions.) New Python stacks come with
	 * allocations, so their wakeup is looked at there. */
	if (type != MT_EV_FREE) {
		e->ts_ns = tick_clock();
		if (py_new_stack && e->ts_ns - py_last_wake_ns > PY_WAKE_NS) {
			py_new_stack = 0;
			py_last_wake_ns = e->ts_ns;
			now = true;
		}
	}
	bpf_ringbuf_submit(e, ring_wake(now));
}

static __always_inline void emit(__u64 ids, __u8 type, __u8 func, __u64 addr, __u64 size,
				 __u64 old_addr, __u64 stack_id, __u16 flags)
{
	emit_wake(ids, type, func, addr, size, old_addr, stack_id, flags, false);
}

/*
 * Send the raw stack above the frame where the unwinder stopped, for user
 * space to finish the walk once it knows the new mapping. Only happens in
 * the short time between a mapping change and user space loading it (or,
 * flagged MT_SNAPF_CHECK, when a test asks both walks to be compared).
 * Returns true if sent.
 */
static __always_inline bool send_snapshot(const struct mt_unwind_stop *stop, __u8 flags)
{
	const struct mt_frame_regs *regs = &stop->regs;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct mt_snapshot *snap;
	__u32 len = 0;

	snap = bpf_ringbuf_reserve(&events, sizeof(*snap), 0);
	if (!snap) {
		count(MT_CNT_SNAPSHOTS_LOST);
		return false;
	}
	snap->type = MT_EV_STACK_SNAPSHOT;
	snap->pid = pid_tgid >> 32;
	snap->tid = (__u32)pid_tgid;
	snap->flags = flags;
	snap->regs = *regs;
	snap->eval = stop->eval;
	unwind_snapshot_returns(snap, stop);
	/* In aligned chunks, each in one page: those of a page that cannot
	 * be read are left out, not the rest. */
	snap->chunks = 0;
	snap->addr = regs->sp & ~(__u64)(MT_SNAPSHOT_CHUNK - 1);
#pragma unroll
	for (int k = 0; k < MT_SNAPSHOT_BYTES / MT_SNAPSHOT_CHUNK; k++) {
		if (bpf_probe_read_user(snap->data + k * MT_SNAPSHOT_CHUNK, MT_SNAPSHOT_CHUNK,
					(const void *)(snap->addr + k * MT_SNAPSHOT_CHUNK)))
			continue;
		snap->chunks |= 1 << k;
		len = (k + 1) * MT_SNAPSHOT_CHUNK;
	}
	snap->len = len;
	bpf_ringbuf_submit(snap, BPF_RB_FORCE_WAKEUP);
	count(MT_CNT_SNAPSHOTS);
	return true;
}


#define UNKNOWN_PC_INTERVAL_NS 20000000ULL	/* 20 ms */

/* Count why an unwind stopped early; for a PC in no known mapping, tell
 * user space (at most every 20 ms per process) so that it rereads the
 * mappings and loads the tables of what was mapped since. */
static __always_inline void count_unwind_end(__u32 pid, const struct mt_stack *s)
{
	__u64 now, *last;
	__u32 last_frame;

	if (s->fp_frames)
		count_n(MT_CNT_UNWIND_FP_FRAMES, s->fp_frames);
	switch (s->end) {
	case MT_END_NO_TABLE:
		count(MT_CNT_UNWIND_NO_TABLE);
		break;
	case MT_END_UNSUPPORTED:
		count(MT_CNT_UNWIND_UNSUPPORTED);
		break;
	case MT_END_BAD_READ:
		count(MT_CNT_UNWIND_BAD_READ);
		break;
	case MT_END_DEPTH:
		count(MT_CNT_UNWIND_DEPTH);
		break;
	case MT_END_FP:
		/* In --stack fp mode every walk ends so: nothing to count. */
		if (stack_mode == MT_STACK_DWARF)
			count(MT_CNT_UNWIND_FP_END);
		break;
	case MT_END_NO_MAPPING:
		count(MT_CNT_UNWIND_NO_MAPPING);
		now = bpf_ktime_get_ns();
		last = bpf_map_lookup_elem(&unknown_pc_sent, &pid);
		if (last && now - *last < UNKNOWN_PC_INTERVAL_NS)
			break;
		bpf_map_update_elem(&unknown_pc_sent, &pid, &now, BPF_ANY);
		last_frame = s->len - 1;
		if (last_frame < MT_MAX_FRAMES)	/* also false for len 0 */
			emit_wake(bpf_get_current_pid_tgid(), MT_EV_UNKNOWN_PC, 0,
				  s->pcs[last_frame], 0, 0, 0, 0, true);
		break;
	}
}

/* The allocation's stack, into the thread's scratch record; returns the
 * event flags that say how it went. */
static __always_inline __u16 take_stack_from(void *ctx, struct pt_regs *regs,
					     struct call_state *st, __u32 func, __u32 pid,
					     bool at_return, __u64 *stack_id)
{
	if (stack_capture_from(ctx, regs, &st->stack, func, pid, &st->stop, &st->window,
			       &st->py, at_return, stack_id)) {
		count(MT_CNT_STACK_FAILED);
		return MT_EVF_NO_STACK;
	}
	count_unwind_end(pid, &st->stack);
	if (st->stack.end == MT_END_NO_MAPPING && send_snapshot(&st->stop, 0))
		return MT_EVF_SNAPSHOT;
	/* Testing only: user space walks this stack too, and compares. */
	if (unwind_check && stack_mode == MT_STACK_DWARF &&
	    st->stack.end != MT_END_NO_MAPPING) {
		py_eval_stop(bpf_map_lookup_elem(&py_targets, &pid), &st->stack, &st->stop.eval);
		unwind_start(regs, at_return, &st->stop);
		if (send_snapshot(&st->stop, MT_SNAPF_CHECK))
			return MT_EVF_SNAPSHOT_CHECK;
	}
	return 0;
}

static __always_inline __u16 take_stack(struct pt_regs *ctx, struct call_state *st,
					__u32 func, __u32 pid, bool at_return,
					__u64 *stack_id)
{
	return take_stack_from(ctx, ctx, st, func, pid, at_return, stack_id);
}

#endif /* MEMTRACE_PROBE_COMMON_BPF_H */
