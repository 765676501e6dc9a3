// SPDX-License-Identifier: MIT
/*
 * One-off measurement of the aggregator: memory per live allocation, and
 * events per second under allocation churn. Prints the figures; asserts
 * nothing about time.
 *
 *   gcc -std=gnu11 -O2 -D_GNU_SOURCE -Iinclude -Iuser scripts/bench_aggregator.c \
 *       user/aggregator.c user/live_table.c user/sampling.c user/util/vec.c -lm -lbpf \
 *       -o /tmp/bench_aggregator
 *   /tmp/bench_aggregator [max-live-millions]     (default 10)
 *
 * Three churns of alloc+free pairs run over each live set:
 *   random: free a live block picked at random, allocate at a new address:
 *           every event lands on a cold part of the table (worst case);
 *   fresh:  each block is freed 16 allocations after it was made, but
 *           every allocation is at a new address: one cold slot per pair;
 *   reused: the same, with each allocation at the address just freed, as
 *           malloc's per-thread caches hand them out: all in cache.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "aggregator.h"

#define HEAP_BASE 0x555555560000ULL
#define NSTACKS 1000
#define PAIRS 20000000
#define RECENT 16

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

static double bench_mevents(uint64_t events, uint64_t t0, uint64_t t1)
{
	return events / ((t1 - t0) / 1e3);
}

/* Fill to `live` allocations, 48 bytes apart as small blocks in a heap,
 * then run both churns and one collect. */
static int bench_run(size_t live)
{
	uint64_t *addrs = malloc((live ? live : 1) * sizeof(*addrs));
	uint64_t next = HEAP_BASE, seed = 88172645463325252ULL, recent[RECENT];
	uint64_t t0, t1, t2, t3, t4, t5;
	struct agg_filter f = { .now_ns = UINT64_MAX / 2, .min_age_ns = 1 };
	struct agg_stack_view *views;
	struct aggregator *agg;
	struct agg_totals tot;
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

	for (size_t i = 0; live && i < PAIRS; i++) {
		uint64_t *slot = &addrs[bench_rand(&seed) % live];

		bench_free(agg, *slot);
		*slot = next;
		bench_alloc(agg, next, i);
		next += 48;
	}
	t2 = bench_now();

	for (size_t i = 0; i < RECENT; i++) {
		recent[i] = next;
		next += 48;
		bench_alloc(agg, recent[i], i);
	}
	for (size_t i = 0; i < PAIRS; i++) {
		uint64_t *slot = &recent[i % RECENT];

		bench_free(agg, *slot);
		*slot = next;
		bench_alloc(agg, next, i);
		next += 48;
	}
	t3 = bench_now();

	for (size_t i = 0; i < PAIRS; i++) {
		uint64_t addr = recent[i % RECENT];

		bench_free(agg, addr);
		bench_alloc(agg, addr, i);
	}
	t4 = bench_now();

	if (agg_collect(agg, &f, &views, &n))
		return 1;
	t5 = bench_now();
	free(views);

	agg_totals(agg, &tot);
	if (tot.live_count != live + RECENT || tot.unknown_frees ||
	    tot.replaced_live) {
		fprintf(stderr, "bench: wrong totals\n");
		return 1;
	}
	printf("%8zu live: %5.1f bytes/live (%4.0f MiB); M events/s: fill %.1f, "
	       "churn random %.1f, fresh %.1f, reused %.1f; collect %.0f ms\n",
	       live, (double)agg_memory_bytes(agg) / (live + RECENT),
	       agg_memory_bytes(agg) / 1048576.0, bench_mevents(live, t0, t1),
	       bench_mevents(live ? 2 * PAIRS : 0, t1, t2),
	       bench_mevents(2 * PAIRS, t2, t3),
	       bench_mevents(2 * PAIRS, t3, t4), (t5 - t4) / 1e6);

	agg_free(agg);
	free(addrs);
	return 0;
}

int main(int argc, char **argv)
{
	size_t max = argc > 1 ? strtoul(argv[1], NULL, 10) : 10;
	const size_t millions[] = { 1, 4, 10, 20, 50 };

	for (size_t i = 0; i < sizeof(millions) / sizeof(millions[0]); i++) {
		if (millions[i] > max)
			break;
		if (bench_run(millions[i] * 1000000))
			return 1;
	}
	return 0;
}
