// SPDX-License-Identifier: MIT
/*
 * One-off measurement of the aggregator: memory per live allocation, and
 * events per second under allocation churn. Prints the figures; asserts
 * nothing about time.
 *
 *   gcc -std=gnu11 -O2 -D_GNU_SOURCE -Iinclude -Iuser scripts/bench_aggregator.c \
 *       user/aggregator.c user/live_table.c user/mapped_ranges.c user/sampling.c \
 *       user/util/vec.c -lm -lbpf -o /tmp/bench_aggregator
 *   /tmp/bench_aggregator [max-live-millions]     (default 10)
 *   /tmp/bench_aggregator -m [max-live-millions]  memory only (below)
 *
 * Memory is the aggregator's own count (agg_memory_bytes()) per live
 * allocation: now, after the churns, and at the peak while filling
 * (agg_peak_memory_bytes(): the live table at its largest, a growth's old
 * and new arrays both counted). ru_maxrss is the whole process's, this
 * bench's array of addresses (8 bytes per live allocation) and every
 * earlier, smaller run included.
 *
 * -m fills one aggregator up to the maximum and prints both figures at
 * every 0.1 M live allocations from 1 M on, and the worst of each over
 * every thousandth count from 1 M on: the peak at a count is the largest
 * memory seen at any moment up to it, divided by that count.
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
#include <string.h>
#include <sys/resource.h>
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

static double bench_maxrss_mib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss / 1024.0;	/* KiB on Linux */
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
	size_t n, fill_peak;

	if (!addrs || agg_new(&agg))
		return 1;

	t0 = bench_now();
	for (size_t i = 0; i < live; i++) {
		addrs[i] = next;
		next += 48;
		bench_alloc(agg, addrs[i], i);
	}
	t1 = bench_now();
	fill_peak = agg_peak_memory_bytes(agg);

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
	printf("%8zu live: %5.1f bytes/live (%4.0f MiB), peak in fill %5.1f, "
	       "maxrss %4.0f MiB; M events/s: fill %.1f, "
	       "churn random %.1f, fresh %.1f, reused %.1f; collect %.0f ms\n",
	       live, (double)agg_memory_bytes(agg) / (live + RECENT),
	       agg_memory_bytes(agg) / 1048576.0, (double)fill_peak / live,
	       bench_maxrss_mib(), bench_mevents(live, t0, t1),
	       bench_mevents(live ? 2 * PAIRS : 0, t1, t2),
	       bench_mevents(2 * PAIRS, t2, t3),
	       bench_mevents(2 * PAIRS, t3, t4), (t5 - t4) / 1e6);

	agg_free(agg);
	free(addrs);
	return 0;
}

/* -m: one fill up to max live allocations (see the top). */
static int bench_memory(size_t max)
{
	const size_t step = 100000, check = 1000;
	double worst_now = 0, worst_peak = 0;
	size_t worst_now_at = 0, worst_peak_at = 0;
	struct aggregator *agg;

	if (agg_new(&agg))
		return 1;
	printf("   live  bytes/live now  peak\n");
	for (size_t i = 0; i < max; i++) {
		size_t live = i + 1;
		double now, peak;

		bench_alloc(agg, HEAP_BASE + 48 * i, i);
		if (live < 1000000 || live % check)
			continue;
		now = (double)agg_memory_bytes(agg) / live;
		peak = (double)agg_peak_memory_bytes(agg) / live;
		if (live % step == 0)
			printf("%6.1f M  %14.1f  %4.1f\n", live / 1e6, now, peak);
		if (now > worst_now) {
			worst_now = now;
			worst_now_at = live;
		}
		if (peak > worst_peak) {
			worst_peak = peak;
			worst_peak_at = live;
		}
	}
	printf("worst from 1 M to %zu M: now %.2f bytes/live (at %.3f M), "
	       "peak %.2f (at %.3f M); maxrss %.0f MiB\n", max / 1000000,
	       worst_now, worst_now_at / 1e6, worst_peak, worst_peak_at / 1e6,
	       bench_maxrss_mib());
	agg_free(agg);
	return 0;
}

int main(int argc, char **argv)
{
	bool memory = argc > 1 && !strcmp(argv[1], "-m");
	size_t max = argc > 1 + memory ? strtoul(argv[1 + memory], NULL, 10) : 10;
	const size_t millions[] = { 1, 4, 10, 20, 50 };

	if (memory)
		return bench_memory(max * 1000000);

	for (size_t i = 0; i < sizeof(millions) / sizeof(millions[0]); i++) {
		if (millions[i] > max)
			break;
		if (bench_run(millions[i] * 1000000))
			return 1;
	}
	return 0;
}
