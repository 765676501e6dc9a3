// SPDX-License-Identifier: MIT
#include <errno.h>
#include <math.h>
#include <bpf/bpf.h>

#include "sampling.h"
#include "memtrace_events.h"
#include "memtrace_stack_hash.h"

int sampling_fill_intervals(int map_fd, uint64_t mean, uint64_t seed)
{
	uint64_t state = seed;

	for (__u32 i = 0; i < MT_SAMPLE_INTERVALS; i++) {
		/* A uniform in (0, 1], from a splitmix64 stream. */
		double u, v;
		__u64 bytes;

		state = mt_stack_hash_mix(state, i);
		u = ((state >> 11) + 1) * 0x1p-53;
		v = ceil(-log(u) * (double)mean);
		bytes = v < 1 ? 1 : v > 0x1p62 ? (__u64)1 << 62 : (__u64)v;
		if (bpf_map_update_elem(map_fd, &i, &bytes, BPF_ANY))
			return -errno;
	}
	return 0;
}

double sampling_weight(uint64_t size, uint64_t mean)
{
	double p;

	if (!mean)
		return 1;
	p = -expm1(-(double)size / (double)mean);	/* 1 - exp(-s/R) */
	return p > 0 ? 1 / p : 1;
}
