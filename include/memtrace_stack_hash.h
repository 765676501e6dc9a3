/* SPDX-License-Identifier: MIT */
/*
 * The stack ID: a 64-bit hash of the allocation function, how the walk
 * ended (the same frames, complete or not, are different stacks), the
 * program counters and the Python frames. Compiled by both sides, so that
 * a stack finished in user space (from a snapshot) gets the same ID as the
 * same stack walked whole in BPF, and the two aggregate as one.
 */
#ifndef MEMTRACE_STACK_HASH_H
#define MEMTRACE_STACK_HASH_H

#include "memtrace_events.h"
#include "memtrace_mix.h"

/* The mixer over a running hash. */
static inline __attribute__((always_inline)) __u64 mt_stack_hash_mix(__u64 h, __u64 v)
{
	h ^= v + MT_MIX_GOLDEN + (h << 6) + (h >> 2);
	return mt_mix64(h);
}

/* 0 means "no stack" in events, so it is never an ID. */
static inline __attribute__((always_inline)) __u64 mt_stack_hash_final(__u64 h)
{
	return h ? h : 1;
}

/*
 * The ID of a stack record: its allocation function, how its walk ended,
 * its program counters (the first len), then its Python frames (code
 * object and instruction). The one composition both sides use: the probes
 * for the stacks they store, user space for the stacks it finishes
 * (mt_stack_id() below). Its parts are named so that the BPF side can run
 * its loops under bpf_loop (stack_id() in bpf/stack_source.bpf.h) and
 * still compose them the same: mt_stack_id_head(), mt_stack_hash_mix() of
 * each PC, of the number of Python frames, mt_stack_hash_py() of each
 * Python frame, mt_stack_hash_final().
 */
static inline __attribute__((always_inline)) __u64 mt_stack_id_head(const struct mt_stack *s)
{
	__u64 h;

	h = mt_stack_hash_mix(0, s->func + 1ULL);
	return mt_stack_hash_mix(h, s->end);
}

/* One Python frame's part. */
static inline __attribute__((always_inline)) __u64 mt_stack_hash_py(__u64 h,
								    const struct mt_py_frame *f)
{
	h = mt_stack_hash_mix(h, f->code);
	/* The generation: two code objects at one address, one after the
	 * other, are two stacks (include/memtrace_python.h). */
	return mt_stack_hash_mix(h, (__u32)f->instr | (__u64)f->gen << 32);
}

static inline __attribute__((always_inline)) __u64 mt_stack_id(const struct mt_stack *s)
{
	__u32 n = s->len, py = s->py_len;
	__u64 h = mt_stack_id_head(s);

	for (__u32 i = 0; i < MT_MAX_FRAMES; i++) {
		if (i >= n)
			break;
		h = mt_stack_hash_mix(h, s->pcs[i]);
	}
	h = mt_stack_hash_mix(h, py);
	for (__u32 i = 0; i < MT_MAX_PY_FRAMES; i++) {
		if (i >= py)
			break;
		h = mt_stack_hash_py(h, &s->py[i]);
	}
	return mt_stack_hash_final(h);
}

#endif /* MEMTRACE_STACK_HASH_H */
