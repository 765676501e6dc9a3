/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The stack source: turns the registers of a probe into a 64-bit stack ID
 * whose program counters are stored once in the `stacks` map.
 *
 * This is the one place that knows how stacks are walked. Today that is the
 * kernel's frame-pointer walk (bpf_get_stack); the DWARF unwinder replaces
 * the body of stack_capture() and keeps its contract:
 *   - returns 0 and sets *id on success, a negative errno otherwise;
 *   - the map entry for *id exists when it returns 0.
 */
#ifndef MEMTRACE_STACK_SOURCE_BPF_H
#define MEMTRACE_STACK_SOURCE_BPF_H

#include "memtrace_events.h"

/* Set by user space before load. */
const volatile __u32 stack_mode = MT_STACK_FP;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 16);
	__type(key, __u64);
	__type(value, struct mt_stack);
} stacks SEC(".maps");

/* 64-bit mix of one value into the running hash (splitmix64 finaliser). */
static __always_inline __u64 stack_hash_mix(__u64 h, __u64 v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

/*
 * Capture the user stack of the current task into *scratch, which must
 * survive the call (a BPF program's own stack is 512 bytes, a stack record
 * is 1 KiB). `func` becomes part of the stack's identity, so a stack always
 * has one allocation function.
 */
static __always_inline int stack_capture(void *ctx, struct mt_stack *scratch,
					 __u32 func, __u64 *id)
{
	long n;
	__u64 h;

	if (stack_mode == MT_STACK_NONE)
		return -ENOENT;

	n = bpf_get_stack(ctx, scratch->pcs, sizeof(scratch->pcs),
			  BPF_F_USER_STACK);
	if (n <= 0)
		return n < 0 ? (int)n : -ENOENT;
	n /= sizeof(__u64);
	scratch->len = n;
	scratch->func = func;

	h = stack_hash_mix(0, func + 1);
	for (int i = 0; i < MT_MAX_FRAMES; i++) {
		if (i >= n)
			break;
		h = stack_hash_mix(h, scratch->pcs[i]);
	}
	if (h == 0)	/* 0 means "no stack" in events */
		h = 1;

	/* Look first: the common case is a stack we already stored, and an
	 * update would copy the whole 1 KiB record for nothing. */
	if (!bpf_map_lookup_elem(&stacks, &h)) {
		long err = bpf_map_update_elem(&stacks, &h, scratch, BPF_NOEXIST);

		if (err && err != -EEXIST)
			return (int)err;
	}
	*id = h;
	return 0;
}

#endif /* MEMTRACE_STACK_SOURCE_BPF_H */
