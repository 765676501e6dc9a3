/* SPDX-License-Identifier: MIT */
/*
 * Sampling by allocated bytes (--sample-bytes R): the user-space half of
 * the rule include/memtrace_events.h describes. The probes sample each
 * allocation of s bytes with probability 1 - exp(-s / R); the aggregator
 * weighs each sampled allocation by the inverse, so that per-stack bytes
 * and counts are unbiased estimates (as Go's and tcmalloc's heap profilers
 * scale theirs).
 */
#ifndef MEMTRACE_SAMPLING_H
#define MEMTRACE_SAMPLING_H

#include <stdint.h>

/* The seed of the interval table unless --sample-seed says otherwise. */
#define SAMPLING_DEFAULT_SEED 0x6d656d7472616365ULL

/*
 * Fill the probes' interval table (an array map of MT_SAMPLE_INTERVALS
 * __u64) with exponential variates of mean `mean` bytes drawn from `seed`.
 * Returns 0 or a negative errno.
 */
int sampling_fill_intervals(int map_fd, uint64_t mean, uint64_t seed);

/* 1 / P(an allocation of size bytes is sampled), at mean interval mean. */
double sampling_weight(uint64_t size, uint64_t mean);

#endif /* MEMTRACE_SAMPLING_H */
