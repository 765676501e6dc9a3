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

/* splitmix64's finaliser over a running hash. */
static inline __attribute__((always_inline)) __u64 mt_stack_hash_mix(__u64 h, __u64 v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

/* 0 means "no stack" in events, so it is never an ID. */
static inline __attribute__((always_inline)) __u64 mt_stack_hash_final(__u64 h)
{
	return h ? h : 1;
}

#endif /* MEMTRACE_STACK_HASH_H */
