// SPDX-License-Identifier: MIT
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <bpf/bpf.h>

#include "sampling.h"
#include "memtrace_events.h"
#include "memtrace_stack_hash.h"

/* One variate of the exponential distribution of mean `mean`, from the
 * i-th step of a splitmix64 stream: at least 1, at most 2^62. */
static __u64 sampling_interval(uint64_t *state, __u32 i, uint64_t mean)
{
	double u, v;

	*state = mt_stack_hash_mix(*state, i);
	u = ((*state >> 11) + 1) * 0x1p-53;	/* uniform in (0, 1] */
	v = ceil(-log(u) * (double)mean);
	return v < 1 ? 1 : v > 0x1p62 ? (__u64)1 << 62 : (__u64)v;
}

int sampling_fill_intervals(int map_fd, uint64_t mean, uint64_t seed)
{
	__u32 *keys = malloc(MT_SAMPLE_INTERVALS * sizeof(*keys)), count = MT_SAMPLE_INTERVALS;
	__u64 *values = malloc(MT_SAMPLE_INTERVALS * sizeof(*values));
	uint64_t state = seed;
	int err = 0;

	if (!keys || !values) {
		err = -ENOMEM;
		goto out;
	}
	for (__u32 i = 0; i < MT_SAMPLE_INTERVALS; i++) {
		keys[i] = i;
		values[i] = sampling_interval(&state, i, mean);
	}
	/* In one call: one update per entry took 65,536 system calls,
	 * about 0.2 s of start-up. */
	if (bpf_map_update_batch(map_fd, keys, values, &count, NULL))
		err = -errno;
	else if (count != MT_SAMPLE_INTERVALS)
		err = -EIO;
out:
	free(keys);
	free(values);
	return err;
}

double sampling_weight(uint64_t size, uint64_t mean)
{
	double p;

	if (!mean)
		return 1;
	p = -expm1(-(double)size / (double)mean);	/* 1 - exp(-s/R) */
	return p > 0 ? 1 / p : 1;
}
