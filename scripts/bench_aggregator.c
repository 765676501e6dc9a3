// SPDX-License-Identifier: MIT
/*
 * One-off measurement of the aggregator: memory per live allocation, and
 * events per second under allocation churn. Prints the figures; asserts
 * nothing about time.
 *
 *   gcc -std=gnu11 -O2 -D_GNU_SOURCE -Iinclude -Iuser scripts/bench_aggregator.c \
 *       user/aggregator.c user/live_table.c -o /tmp/bench_aggregator
 *   /tmp/bench_aggregator [max-live-millions]     (default 10)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "aggregator.h"

#define HEAP_BASE 0x555555560000ULL
#define NSTACKS 1000

static uint64_t bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t bench_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static void bench_alloc(struct aggregator *agg, uint64_t addr, uint64_t i)
{
	struct mt_event e = {
		.type = MT_EV_ALLOC, .func = MT_FUNC_MALLOC, .pid = 1000,
		.tid = 1000, .ts_ns = i, .addr = addr, .size = 16 + i % 512,
		.stack_id = 1 + i % NSTACKS,
	};

	agg_handle(agg, &e);
}

static void bench_free(struct aggregator *agg, uint64_t addr)
{
	struct mt_event e = {
		.type = MT_EV_FREE, .func = MT_FUNC_FREE, .pid = 1000,
		.tid = 1000, .addr = addr,
	};

	agg_handle(agg, &e);
}

/*
 * Fill to `live` allocations (addresses 48 bytes apart, as small blocks
 * in a heap), then churn: free a random live block and allocate a fresh
 * address in its place, `pairs` times.
 */
static int bench_run(size_t live, size_t pairs)
{
	uint64_t *addrs = malloc((live ? live : 1) * sizeof(*addrs));
	uint64_t next = HEAP_BASE, seed = 88172645463325252ULL, t0, t1, t2, t3;
	struct agg_stack_view *views;
	struct aggregator *agg;
	struct agg_totals tot;
	struct agg_filter f = { .now_ns = UINT64_MAX / 2, .min_age_ns = 1 };
	size_t n;

	if (!addrs || agg_new(&agg))
		return 1;

	t0 = bench_now();
	for (size_t i = 0; i < live; i++) {
		addrs[i] = next;
		next += 48;
		bench_alloc(agg, addrs[i], i);
	}
	t1 = bench_now();

	for (size_t i = 0; i < pairs; i++) {
		uint64_t *slot;

		if (live) {
			slot = &addrs[bench_rand(&seed) % live];
			bench_free(agg, *slot);
			*slot = next;
			bench_alloc(agg, next, i);
		} else {
			/* Nothing long-lived: malloc/free of one block. */
			bench_alloc(agg, next, i);
			bench_free(agg, next);
		}
		next += 48;
	}
	t2 = bench_now();

	if (agg_collect(agg, &f, &views, &n))
		return 1;
	t3 = bench_now();
	free(views);

	agg_totals(agg, &tot);
	if (tot.live_count != live || tot.unknown_frees || tot.replaced_live) {
		fprintf(stderr, "bench: wrong totals\n");
		return 1;
	}
	if (live)
		printf("%10zu live: %6.1f bytes/live (%.0f MiB), fill %.1f M allocs/s, ",
		       live, (double)agg_memory_bytes(agg) / live,
		       agg_memory_bytes(agg) / 1048576.0,
		       live / ((t1 - t0) / 1e3));
	else
		printf("%10zu live: ", live);
	printf("churn %.1f M events/s, collect %.0f ms (%zu stacks)\n",
	       2.0 * pairs / ((t2 - t1) / 1e3), (t3 - t2) / 1e6, n);

	agg_free(agg);
	free(addrs);
	return 0;
}

int main(int argc, char **argv)
{
	size_t max = argc > 1 ? strtoul(argv[1], NULL, 10) : 10;
	const size_t sizes[] = { 0, 1, 4, 10, 20, 50 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (sizes[i] > max)
			break;
		if (bench_run(sizes[i] * 1000000, 20000000))
			return 1;
	}
	return 0;
}
