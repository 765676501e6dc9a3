/* SPDX-License-Identifier: MIT */
/*
 * The one 64-bit mixer: splitmix64's finaliser, a bijection in which every
 * output bit depends on every input bit. BPF and user space build the
 * stack ID on it (memtrace_stack_hash.h); user space's hash tables take
 * their bucket from its low bits, which keys such as allocator addresses
 * (low bits clear, differing in a few middle bits) cannot give as they
 * are.
 *
 * Included by BPF code (after vmlinux.h) and by user space.
 */
#ifndef MEMTRACE_MIX_H
#define MEMTRACE_MIX_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* 2^64 / the golden ratio: spreads a small key (a pid) over 64 bits. */
#define MT_MIX_GOLDEN 0x9e3779b97f4a7c15ULL

static inline __attribute__((always_inline)) __u64 mt_mix64(__u64 h)
{
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

#endif /* MEMTRACE_MIX_H */
