// SPDX-License-Identifier: MIT
/*
 * The live-allocation table (user/live_table.c, on util/open_addr.h) on
 * its own: random churn against a plain reference, growth of every shard
 * at scale within the memory bound, sizes of 4 GiB and more, times to the
 * millisecond, removal by process, the walk, probes that wrap around a
 * shard's end, and pids through stacks.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "live_table.h"

/* A heap-looking address: 16-byte aligned, like malloc's. */
#define A(n) (0x555555560000ULL + (uint64_t)(n) * 0x40)

#define MS(n) ((uint64_t)(n) * 1000000)

/* An hour after boot, as CLOCK_MONOTONIC stamps events. */
#define T0 (3600 * MS(1000))

static uint64_t ta_rand(uint64_t *s)
{
	/* xorshift64*: reproducible, good enough to pick keys. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static void ta_put(struct live_table *t, uint32_t pid, uint64_t addr, uint64_t size,
		   uint32_t stack, uint64_t ts)
{
	struct live_alloc a = {
		.addr = addr, .pid = pid, .stack = stack, .size = size, .ts_ns = ts,
	};

	cr_assert_eq(live_table_put(t, &a, NULL), 0, "(%u, %#lx) was not live", pid,
		     (unsigned long)addr);
}

static uint64_t ta_diff(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

/* ---- against a reference ---- */

/* About 1400 live on average over 16 shards: 90 or so each, so that each
 * shard's array is 150 slots or so and runs wrap around its end often
 * (the wrap-around cases of backward shift and of removal by pid). */
#define TA_KEYS 2800

struct ta_ref {
	uint32_t pid;
	uint64_t addr;
	bool live;
	bool seen;		/* by the walk in ta_ref_verify() */
	uint32_t stack;
	uint64_t size;
	uint64_t ts;
};

/* A size: mostly small, one in 8 of 4 GiB or more (UINT32_MAX itself, the
 * mark, among them), one in 32 just under the mark. */
static uint64_t ta_size(uint64_t *seed)
{
	uint64_t r = ta_rand(seed);

	switch (r % 32) {
	case 0:
		return UINT32_MAX;
	case 1:
		return UINT64_MAX;
	case 2:
		return UINT32_MAX - 1;
	case 3:
	case 4:
		return (1ULL << 32) + (r >> 40);
	default:
		return r >> 50;
	}
}

static void ta_ref_verify(const struct live_table *t, struct ta_ref *ref)
{
	struct live_iter it = LIVE_ITER_INIT;
	struct live_alloc a;
	size_t live = 0, walked = 0;

	for (size_t k = 0; k < TA_KEYS; k++) {
		bool found = live_table_get(t, ref[k].pid, ref[k].addr, &a);

		ref[k].seen = false;
		cr_assert_eq(found, ref[k].live, "key %zu: live %d, found %d", k,
			     ref[k].live, found);
		if (!found)
			continue;
		live++;
		cr_assert_eq(a.addr, ref[k].addr);
		cr_assert_eq(a.pid, ref[k].pid);
		cr_assert_eq(a.stack, ref[k].stack);
		cr_assert_eq(a.size, ref[k].size, "key %zu: size exact", k);
		cr_assert_leq(ta_diff(a.ts_ns, ref[k].ts), 500000, "key %zu: time to 0.5 ms", k);
	}
	cr_assert_eq(t->count, live);

	/* The walk meets each live allocation once, with the same figures. */
	while (live_table_next(t, &it, &a)) {
		size_t k;

		for (k = 0; k < TA_KEYS; k++)
			if (ref[k].addr == a.addr && ref[k].pid == a.pid)
				break;
		cr_assert_lt(k, TA_KEYS, "the walk found a key never put");
		cr_assert(ref[k].live, "the walk found key %zu after its removal", k);
		cr_assert_not(ref[k].seen, "the walk met key %zu twice", k);
		cr_assert_eq(a.size, ref[k].size);
		ref[k].seen = true;
		walked++;
	}
	cr_assert_eq(walked, live);
}

/*
 * Random puts (new and replacing), takes and removals by process around a
 * steady load, checked against a plain array (fixed seed: the same run
 * every time).
 */
Test(live_table, random_churn_against_reference, .timeout = 120)
{
	static struct ta_ref ref[TA_KEYS];
	struct live_table t;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;

	cr_assert_eq(live_table_init(&t), 0);
	for (size_t k = 0; k < TA_KEYS; k++) {
		ref[k].pid = 1 + k % 5;
		/* Clustered addresses, as a heap hands them out. */
		ref[k].addr = A(k / 5);
		ref[k].live = false;
	}

	for (int op = 0; op < 400000; op++) {
		size_t k = ta_rand(&seed) % TA_KEYS;
		uint64_t r = ta_rand(&seed);
		struct live_alloc a, old;

		if (ref[k].live && r % 4) {
			cr_assert(live_table_take(&t, ref[k].pid, ref[k].addr, &a));
			cr_assert_eq(a.size, ref[k].size);
			cr_assert_eq(a.stack, ref[k].stack);
			ref[k].live = false;
		} else {
			/* A new allocation, or one at an address already
			 * live (its free lost): the old one is handed back. */
			/* Stack s is pid 1 + s % 5's, as a stack
			 * record is one process's. */
			a = (struct live_alloc){
				.addr = ref[k].addr, .pid = ref[k].pid,
				.size = ta_size(&seed),
				.stack = ref[k].pid - 1 + 5 * (r >> 58),
				/* Rising, a little out of order (up to
				 * 0.9 s), as several CPUs send them. */
				.ts_ns = T0 + (uint64_t)op * 250000 + ta_rand(&seed) % MS(900),
			};
			cr_assert_eq(live_table_put(&t, &a, &old), ref[k].live);
			if (ref[k].live) {
				cr_assert_eq(old.size, ref[k].size);
				cr_assert_eq(old.stack, ref[k].stack);
			}
			ref[k].live = true;
			ref[k].size = a.size;
			ref[k].stack = a.stack;
			ref[k].ts = a.ts_ns;
		}
		if (op % 20000 == 0)
			ta_ref_verify(&t, ref);
		if (op % 50000 == 49999) {
			size_t expect = 0;
			uint32_t pid = 1 + op / 50000 % 5;

			for (size_t j = 0; j < TA_KEYS; j++)
				if (ref[j].live && ref[j].pid == pid) {
					ref[j].live = false;
					expect++;
				}
			cr_assert_eq(live_table_remove_pid(&t, pid), expect);
			ta_ref_verify(&t, ref);
		}
	}
	ta_ref_verify(&t, ref);
	cr_assert_eq(t.clamped_ts, 0);
	for (size_t k = 0; k < LIVE_SHARDS; k++)
		cr_assert_leq(t.shards[k].count * 20, t.shards[k].cap * 13, "at most 13/20 full");

	/* The side table of big sizes holds exactly the live ones. */
	{
		size_t big = 0;

		for (size_t k = 0; k < TA_KEYS; k++)
			big += ref[k].live && ref[k].size >= UINT32_MAX;
		cr_assert_eq(t.nbig, big);
	}
	live_table_destroy(&t);
}

/* ---- at scale ---- */

/*
 * 1.3 million allocations: every shard grows from nothing some 40 times.
 * From a million on, the table's memory, now and at its peak (a growing
 * shard's two arrays both counted), stays within 40 bytes per allocation.
 * Then every one is found, half are taken, the rest found and walked.
 */
Test(live_table, scale_across_growth_within_40_bytes, .timeout = 300)
{
	const uint64_t n = 1300000;
	struct live_iter it = LIVE_ITER_INIT;
	struct live_table t;
	struct live_alloc a;
	size_t walked = 0;

	cr_assert_eq(live_table_init(&t), 0);
	for (uint64_t i = 0; i < n; i++) {
		ta_put(&t, 100 + i % 4, A(i), 1 + i % 1000, i % 64, T0 + i * 1000);
		if (i + 1 >= 1000000 && (i + 1) % 1000 == 0) {
			cr_assert_leq(live_table_memory_bytes(&t), 40 * t.count,
				      "%zu bytes for %zu", live_table_memory_bytes(&t), t.count);
			cr_assert_leq(live_table_peak_bytes(&t), 40 * t.count,
				      "peak %zu bytes for %zu", live_table_peak_bytes(&t),
				      t.count);
		}
	}
	cr_assert_eq(t.count, n);
	for (size_t k = 0; k < LIVE_SHARDS; k++)
		cr_assert_gt(t.shards[k].cap, 120000, "shard %zu grew with the others", k);

	for (uint64_t i = 0; i < n; i++) {
		cr_assert(live_table_get(&t, 100 + i % 4, A(i), &a), "%lu lost", (unsigned long)i);
		cr_assert_eq(a.size, 1 + i % 1000);
		cr_assert_eq(a.stack, i % 64);
		cr_assert_leq(ta_diff(a.ts_ns, T0 + i * 1000), 500000);
	}
	for (uint64_t i = 0; i < n; i += 2)
		cr_assert(live_table_take(&t, 100 + i % 4, A(i), NULL));
	for (uint64_t i = 0; i < n; i++)
		cr_assert_eq(live_table_get(&t, 100 + i % 4, A(i), NULL), i % 2 == 1);
	while (live_table_next(&t, &it, &a)) {
		uint64_t i = (a.addr - A(0)) / 0x40;

		cr_assert_eq(i % 2, 1);
		cr_assert_eq(a.pid, 100 + i % 4);
		walked++;
	}
	cr_assert_eq(walked, n / 2);
	cr_assert_eq(t.count, n / 2);
	live_table_destroy(&t);
	cr_assert_eq(live_table_memory_bytes(&t), 0);
}

/* ---- sizes ---- */

/* A size of 4 GiB or more goes in the side table and comes back exact,
 * through get, the walk, a replacement (big by small, small by big, big
 * by big), take and removal by pid. */
Test(live_table, sizes_of_4_gib_and_more_are_exact)
{
	const uint64_t sizes[] = {
		UINT32_MAX - 1, UINT32_MAX, 1ULL << 32, (1ULL << 32) + 1,
		1ULL << 40, UINT64_MAX,
	};
	const size_t nsizes = sizeof(sizes) / sizeof(sizes[0]);
	struct live_iter it = LIVE_ITER_INIT;
	struct live_alloc a, old;
	struct live_table t;
	size_t walked = 0;

	cr_assert_eq(live_table_init(&t), 0);
	for (size_t i = 0; i < nsizes; i++)
		ta_put(&t, 1, A(i), sizes[i], i, T0);
	cr_assert_eq(t.nbig, nsizes - 1, "all but UINT32_MAX - 1 are big");
	for (size_t i = 0; i < nsizes; i++) {
		cr_assert(live_table_get(&t, 1, A(i), &a));
		cr_assert_eq(a.size, sizes[i], "size %zu", i);
	}
	while (live_table_next(&t, &it, &a)) {
		cr_assert_eq(a.size, sizes[a.stack]);
		walked++;
	}
	cr_assert_eq(walked, nsizes);

	/* Replacements. */
	a = (struct live_alloc){ .addr = A(5), .pid = 1, .size = 7, .ts_ns = T0 };
	cr_assert_eq(live_table_put(&t, &a, &old), 1);
	cr_assert_eq(old.size, UINT64_MAX);
	cr_assert_eq(t.nbig, nsizes - 2, "big replaced by small: its size goes");
	a.size = 1ULL << 33;
	cr_assert_eq(live_table_put(&t, &a, &old), 1);
	cr_assert_eq(old.size, 7);
	cr_assert_eq(t.nbig, nsizes - 1);
	a.size = 1ULL << 34;
	cr_assert_eq(live_table_put(&t, &a, &old), 1);
	cr_assert_eq(old.size, 1ULL << 33);
	cr_assert(live_table_get(&t, 1, A(5), &a));
	cr_assert_eq(a.size, 1ULL << 34);
	cr_assert_eq(t.nbig, nsizes - 1);

	/* Take, and the same address in another process. */
	ta_put(&t, 2, A(4), 1ULL << 41, 100, T0);
	cr_assert(live_table_take(&t, 1, A(4), &a));
	cr_assert_eq(a.size, 1ULL << 40);
	cr_assert(live_table_get(&t, 2, A(4), &a));
	cr_assert_eq(a.size, 1ULL << 41, "(2, A(4)) keeps its own size");
	cr_assert_eq(t.nbig, nsizes - 1);

	cr_assert_eq(live_table_remove_pid(&t, 1), nsizes - 1);
	cr_assert_eq(t.nbig, 1, "only pid 2's is left");
	cr_assert_eq(live_table_remove_pid(&t, 2), 1);
	cr_assert_eq(t.nbig, 0);
	cr_assert_eq(t.count, 0);
	live_table_destroy(&t);
}

/* ---- times ---- */

/* Times are rounded to the nearest millisecond, after a base a second
 * (whole milliseconds) before the first allocation; out of range they are
 * clamped and counted. */
Test(live_table, times_to_the_millisecond_then_clamped)
{
	const uint64_t day = 86400 * MS(1000);
	struct live_table t;
	struct live_alloc a;
	uint64_t seed = 42;

	cr_assert_eq(live_table_init(&t), 0);
	ta_put(&t, 1, A(0), 1, 0, T0 + 123456);
	cr_assert(live_table_get(&t, 1, A(0), &a));
	cr_assert_eq(a.ts_ns, T0, "123456 ns past a millisecond rounds down");

	for (uint64_t i = 1; i < 2000; i++) {
		uint64_t ts = T0 + ta_rand(&seed) % (40 * day);

		ta_put(&t, 1, A(i), 1, 0, ts);
		cr_assert(live_table_get(&t, 1, A(i), &a));
		cr_assert_leq(ta_diff(a.ts_ns, ts), 500000);
	}
	ta_put(&t, 1, A(5000), 1, 0, T0 + MS(1) / 2);
	cr_assert(live_table_get(&t, 1, A(5000), &a));
	cr_assert_eq(a.ts_ns, T0 + MS(1), "half a millisecond rounds up");
	ta_put(&t, 1, A(5004), 1, 0, T0 + MS(1) / 2 - 1);
	cr_assert(live_table_get(&t, 1, A(5004), &a));
	cr_assert_eq(a.ts_ns, T0, "a nanosecond less rounds down");
	cr_assert_eq(t.clamped_ts, 0);

	/* Up to a second before the first: still its own time. */
	ta_put(&t, 1, A(5001), 1, 0, T0 - MS(999));
	cr_assert(live_table_get(&t, 1, A(5001), &a));
	cr_assert_eq(a.ts_ns, T0 - MS(999));
	cr_assert_eq(t.clamped_ts, 0);

	/* Earlier: the base, the first's time a second back, to the
	 * millisecond. */
	ta_put(&t, 1, A(5002), 1, 0, T0 - MS(5000));
	cr_assert(live_table_get(&t, 1, A(5002), &a));
	cr_assert_eq(a.ts_ns, T0 - MS(1000));
	cr_assert_eq(t.clamped_ts, 1);

	/* 60 days on: the last millisecond the slots hold (49.7 days), not
	 * a wrapped-round small one. */
	ta_put(&t, 1, A(5003), 1, 0, T0 + 60 * day);
	cr_assert(live_table_get(&t, 1, A(5003), &a));
	cr_assert_eq(a.ts_ns, T0 - MS(1000) + (uint64_t)UINT32_MAX * MS(1));
	cr_assert_eq(t.clamped_ts, 2);
	live_table_destroy(&t);
}

/* ---- removal by process, the walk ---- */

/* One process holding the whole table: every removal shifts a run. */
Test(live_table, remove_pid_everything)
{
	struct live_iter it = LIVE_ITER_INIT;
	struct live_table t;
	struct live_alloc a;

	cr_assert_eq(live_table_init(&t), 0);
	for (uint32_t i = 0; i < 10000; i++)
		ta_put(&t, 7, A(i), i, 0, T0);
	cr_assert_eq(live_table_remove_pid(&t, 8), 0);
	cr_assert_eq(live_table_remove_pid(&t, 7), 10000);
	cr_assert_eq(t.count, 0);
	cr_assert_not(live_table_next(&t, &it, &a), "nothing left to walk");
	for (uint32_t i = 0; i < 10000; i++)
		cr_assert_not(live_table_get(&t, 7, A(i), NULL));
	live_table_destroy(&t);
}

/* Three processes interleaved: removing one leaves the others whole. */
Test(live_table, remove_pid_among_others)
{
	struct live_table t;

	cr_assert_eq(live_table_init(&t), 0);
	for (uint32_t i = 0; i < 30000; i++)
		ta_put(&t, 1 + i % 3, A(i / 3), i, i % 3, T0);
	cr_assert_eq(live_table_remove_pid(&t, 2), 10000);
	cr_assert_eq(t.count, 20000);
	for (uint32_t i = 0; i < 30000; i++)
		cr_assert_eq(live_table_get(&t, 1 + i % 3, A(i / 3), NULL), i % 3 != 1);
	live_table_destroy(&t);
}

/* Each live allocation once, through every shard at every size. */
Test(live_table, walk_meets_each_once)
{
	const size_t n = 50000;
	uint8_t *seen = calloc(n, 1);
	struct live_iter it = LIVE_ITER_INIT;
	struct live_table t;
	struct live_alloc a;
	size_t walked = 0;

	cr_assert_not_null(seen);
	cr_assert_eq(live_table_init(&t), 0);
	cr_assert_not(live_table_next(&t, &it, &a), "an empty table walks nothing");
	for (size_t i = 0; i < n; i++)
		ta_put(&t, 1, A(i), i, 0, T0);
	it = LIVE_ITER_INIT;
	while (live_table_next(&t, &it, &a)) {
		size_t i = (a.addr - A(0)) / 0x40;

		cr_assert_lt(i, n);
		cr_assert_eq(a.size, i);
		cr_assert_not(seen[i], "%zu met twice", i);
		seen[i] = 1;
		walked++;
	}
	cr_assert_eq(walked, n);
	cr_assert_not(live_table_next(&t, &it, &a), "the end stays the end");
	live_table_destroy(&t);
	free(seen);
}

/* ---- probing ---- */

/* The next address after *i whose home is (shard, home) in t. */
static uint64_t ta_addr_at(const struct live_table *t, size_t shard, size_t home,
			   uint64_t *i)
{
	for (;; (*i)++) {
		size_t sh, h, at;

		live_table_locate(t, 1, A(*i), &sh, &h, &at);
		if (sh == shard && h == home)
			return A((*i)++);
	}
}

/*
 * A run that wraps around the end of a shard's array: x, y, z all have
 * the last slot as home, w the first. They sit at last, 0, 1, 2; taking
 * x must pull y, z and w back one slot each, around the end, and taking
 * from the middle of the wrapped run must keep the others found.
 */
Test(live_table, probe_wraps_at_shard_end)
{
	struct live_table t;
	size_t shard, home, at, cap, last;
	uint64_t i = 0, x, y, z, w;

	/* One allocation in and out: its shard keeps an array, empty. */
	cr_assert_eq(live_table_init(&t), 0);
	ta_put(&t, 1, A(1000000), 1, 0, T0);
	cr_assert(live_table_take(&t, 1, A(1000000), NULL));
	live_table_locate(&t, 1, A(1000000), &shard, &home, &at);
	cap = t.shards[shard].cap;
	last = cap - 1;
	cr_assert_geq(cap, 8, "room for the run without growing");

	x = ta_addr_at(&t, shard, last, &i);
	y = ta_addr_at(&t, shard, last, &i);
	z = ta_addr_at(&t, shard, last, &i);
	w = ta_addr_at(&t, shard, 0, &i);
	ta_put(&t, 1, x, 1, 0, T0);
	ta_put(&t, 1, y, 2, 0, T0);
	ta_put(&t, 1, z, 3, 0, T0);
	ta_put(&t, 1, w, 4, 0, T0);
	cr_assert_eq(t.shards[shard].cap, cap, "no growth in between");

	live_table_locate(&t, 1, x, &shard, &home, &at);
	cr_assert_eq(at, last);
	live_table_locate(&t, 1, y, &shard, &home, &at);
	cr_assert_eq(at, 0, "y wrapped round");
	live_table_locate(&t, 1, z, &shard, &home, &at);
	cr_assert_eq(at, 1);
	live_table_locate(&t, 1, w, &shard, &home, &at);
	cr_assert_eq(at, 2, "w's home 0 is taken by the wrapped run");

	cr_assert(live_table_take(&t, 1, x, NULL));
	live_table_locate(&t, 1, y, &shard, &home, &at);
	cr_assert_eq(at, last, "y back across the end");
	live_table_locate(&t, 1, z, &shard, &home, &at);
	cr_assert_eq(at, 0);
	live_table_locate(&t, 1, w, &shard, &home, &at);
	cr_assert_eq(at, 1, "w moves too: its home 0 is not after the hole");

	/* z is at 0, past the end from its home: taking it pulls w to its
	 * own home, and y stays. */
	cr_assert(live_table_take(&t, 1, z, NULL));
	live_table_locate(&t, 1, y, &shard, &home, &at);
	cr_assert_eq(at, last);
	live_table_locate(&t, 1, w, &shard, &home, &at);
	cr_assert_eq(at, 0, "w at its home");
	cr_assert(live_table_get(&t, 1, y, NULL));
	cr_assert(live_table_get(&t, 1, w, NULL));
	cr_assert_not(live_table_get(&t, 1, x, NULL));
	cr_assert_not(live_table_get(&t, 1, z, NULL));

	/* Removal by pid across the wrapped run. */
	cr_assert_eq(live_table_remove_pid(&t, 1), 2);
	cr_assert_eq(t.count, 0);
	live_table_destroy(&t);
}

/* ---- stacks and pids ---- */

/* A slot holds no pid: its stack index gives it. So a stack index must
 * always come with the same pid (the aggregator's records are per pid),
 * and one that does not is refused, the table unchanged. */
Test(live_table, stack_index_is_one_pids)
{
	struct live_alloc a = { .addr = A(1), .pid = 1, .stack = 3, .size = 8, .ts_ns = T0 };
	struct live_table t;

	cr_assert_eq(live_table_init(&t), 0);
	cr_assert_eq(live_table_put(&t, &a, NULL), 0);
	a.addr = A(2);
	a.pid = 2;
	cr_assert_eq(live_table_put(&t, &a, NULL), -EINVAL);
	cr_assert_eq(t.count, 1);
	cr_assert_not(live_table_get(&t, 2, A(2), NULL));
	a.stack = 4;
	cr_assert_eq(live_table_put(&t, &a, NULL), 0);
	cr_assert(live_table_get(&t, 2, A(2), &a));
	cr_assert_eq(a.pid, 2);
	cr_assert(live_table_get(&t, 1, A(1), &a));
	cr_assert_eq(a.pid, 1, "the pid comes back from the stack");
	cr_assert_eq(a.stack, 3);
	live_table_destroy(&t);
}

/* ---- empty ---- */

Test(live_table, empty_table_holds_no_memory)
{
	struct live_iter it = LIVE_ITER_INIT;
	struct live_table t;
	struct live_alloc a;

	cr_assert_eq(live_table_init(&t), 0);
	cr_assert_eq(live_table_memory_bytes(&t), 0);
	cr_assert_not(live_table_get(&t, 1, A(1), &a));
	cr_assert_not(live_table_take(&t, 1, A(1), &a));
	cr_assert_eq(live_table_remove_pid(&t, 1), 0);
	cr_assert_not(live_table_next(&t, &it, &a));
	live_table_destroy(&t);
}
