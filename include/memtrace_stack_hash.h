/* SPDX-License-Identifier: MIT */
/*
 * The stack ID: a 64-bit hash of the allocation function, how the walk
 * ended (the same frames, complete or not, are different stacks) and the
 * program counters. Shared so that a stack finished in user space (from a
 * snapshot) gets the same ID as the same stack walked whole in BPF, and
 * the two aggregate as one.
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

#endif /* MEMTRACE_STACK_HASH_H */
