// SPDX-License-Identifier: MIT
/*
 * The aggregator's rules, one test per rule, with exact figures (the live
 * table on its own: test_live_table.c).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator.h"

/* A heap-looking address: 16-byte aligned, like malloc's. */
#define A(n) (0x555555560000ULL + (uint64_t)(n) * 0x40)

/* The live table keeps a heap allocation's time to the millisecond
 * (live_table.h): the tests that look at times use whole milliseconds. */
#define MS(n) ((uint64_t)(n) * 1000000)

static void ta_event(struct aggregator *agg, uint8_t type, uint8_t func,
		     uint32_t pid, uint32_t tid, uint64_t ts, uint64_t addr,
		     uint64_t size, uint64_t old_addr, uint64_t stack_id,
		     uint16_t flags)
{
	struct mt_event e = {
		.type = type, .func = func, .flags = flags, .pid = pid,
		.tid = tid, .ts_ns = ts, .addr = addr, .size = size,
		.old_addr = old_addr, .stack_id = stack_id,
	};

	agg_handle(agg, &e);
}

static void ta_alloc(struct aggregator *agg, uint32_t pid, uint64_t addr,
		     uint64_t size, uint64_t stack_id, uint64_t ts)
{
	ta_event(agg, MT_EV_ALLOC, MT_FUNC_MALLOC, pid, pid, ts, addr, size, 0,
		 stack_id, 0);
}

static void ta_free(struct aggregator *agg, uint32_t pid, uint64_t addr)
{
	ta_event(agg, MT_EV_FREE, MT_FUNC_FREE, pid, pid, 0, addr, 0, 0, 0, 0);
}

static void ta_begin(struct aggregator *agg, uint32_t pid, uint32_t tid,
		     uint64_t old_addr, uint64_t size)
{
	ta_event(agg, MT_EV_REALLOC_BEGIN, MT_FUNC_REALLOC, pid, tid, 0, 0,
		 size, old_addr, 0, 0);
}

/* realloc's successful return. */
static void ta_realloced(struct aggregator *agg, uint32_t pid, uint32_t tid,
			 uint64_t old_addr, uint64_t addr, uint64_t size,
			 uint64_t stack_id, uint64_t ts)
{
	ta_event(agg, MT_EV_ALLOC, MT_FUNC_REALLOC, pid, tid, ts, addr, size,
		 old_addr, stack_id, 0);
}

/* realloc returned NULL. */
static void ta_done(struct aggregator *agg, uint32_t pid, uint32_t tid,
		    uint64_t old_addr, uint64_t size)
{
	ta_event(agg, MT_EV_REALLOC_DONE, MT_FUNC_REALLOC, pid, tid, 0, 0, size,
		 old_addr, 0, 0);
}

static struct aggregator *ta_new(void)
{
	struct aggregator *agg;

	cr_assert_eq(agg_new(&agg), 0);
	cr_assert_not_null(agg);
	return agg;
}

static struct agg_totals ta_totals(const struct aggregator *agg)
{
	struct agg_totals t;

	agg_totals(agg, &t);
	return t;
}

/* Views of every live allocation; the caller frees them. */
static struct agg_stack_view *ta_collect(struct aggregator *agg,
					 const struct agg_filter *f, size_t *n)
{
	static const struct agg_filter all;
	struct agg_stack_view *v = NULL;

	cr_assert_eq(agg_collect(agg, f ? f : &all, &v, n), 0);
	cr_assert_not_null(v);
	return v;
}

static const struct agg_stack_view *ta_find(const struct agg_stack_view *v,
					    size_t n, uint32_t pid,
					    uint64_t stack_id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].pid == pid && v[i].stack_id == stack_id)
			return &v[i];
	return NULL;
}

/* One stack's unfiltered view, or a zeroed one if it holds nothing. Note:
 * it is an agg_collect() call, so it moves the growth baseline. */
static struct agg_stack_view ta_stack(struct aggregator *agg, uint32_t pid,
				      uint64_t stack_id)
{
	struct agg_stack_view out = { 0 }, *v;
	const struct agg_stack_view *s;
	size_t n;

	v = ta_collect(agg, NULL, &n);
	s = ta_find(v, n, pid, stack_id);
	if (s)
		out = *s;
	free(v);
	return out;
}

/* The totals agree with the stacks, and the stacks with the live table. */
static void ta_check_sums(struct aggregator *agg)
{
	struct agg_totals t = ta_totals(agg);
	struct agg_stack_view *v;
	uint64_t bytes = 0, count = 0;
	size_t n;

	v = ta_collect(agg, NULL, &n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(v[i].bytes, v[i].total_bytes);
		bytes += v[i].bytes;
		count += v[i].count;
	}
	free(v);
	cr_assert_eq(bytes, t.live_bytes);
	cr_assert_eq(count, t.live_count);
}

Test(aggregator, new_is_empty)
{
	struct aggregator *agg = ta_new();
	struct agg_totals t = ta_totals(agg);
	struct agg_stack_view *v;
	size_t n = 99;

	cr_assert_eq(t.live_bytes + t.live_count + t.allocs + t.frees +
		     t.unknown_frees + t.replaced_live + t.exec_dropped +
		     t.no_stack + t.stacks + t.events, 0);
	v = ta_collect(agg, NULL, &n);
	cr_assert_eq(n, 0);
	free(v);
	cr_assert_gt(agg_memory_bytes(agg), 0);
	agg_free(agg);
	agg_free(NULL);
}

Test(aggregator, alloc_free_totals)
{
	struct aggregator *agg = ta_new();
	struct agg_stack_view *v;
	const struct agg_stack_view *s;
	struct agg_totals t;
	size_t n;

	ta_alloc(agg, 10, A(1), 100, 7, MS(1000));
	ta_alloc(agg, 10, A(2), 20, 7, MS(2000));
	ta_alloc(agg, 10, A(3), 5, 8, MS(3000));
	ta_free(agg, 10, A(1));

	t = ta_totals(agg);
	cr_assert_eq(t.events, 4);
	cr_assert_eq(t.allocs, 3);
	cr_assert_eq(t.frees, 1);
	cr_assert_eq(t.unknown_frees, 0);
	cr_assert_eq(t.replaced_live, 0);
	cr_assert_eq(t.live_bytes, 25);
	cr_assert_eq(t.live_count, 2);
	cr_assert_eq(t.stacks, 2);
	cr_assert_eq(t.no_stack, 0);

	v = ta_collect(agg, NULL, &n);
	cr_assert_eq(n, 2);
	s = ta_find(v, n, 10, 7);
	cr_assert_not_null(s);
	cr_assert_eq(s->func, MT_FUNC_MALLOC);
	cr_assert_eq(s->bytes, 20);
	cr_assert_eq(s->count, 1);
	cr_assert_eq(s->oldest_ts_ns, MS(2000));
	cr_assert_eq(s->allocs, 2);
	cr_assert_eq(s->frees, 1);
	cr_assert_eq(s->peak_bytes, 120);
	cr_assert_eq(s->total_bytes, 20);
	s = ta_find(v, n, 10, 8);
	cr_assert_not_null(s);
	cr_assert_eq(s->bytes, 5);
	cr_assert_eq(s->allocs, 1);
	cr_assert_eq(s->frees, 0);
	free(v);

	ta_free(agg, 10, A(2));
	ta_free(agg, 10, A(3));
	t = ta_totals(agg);
	cr_assert_eq(t.live_bytes, 0);
	cr_assert_eq(t.live_count, 0);
	cr_assert_eq(t.frees, 3);
	v = ta_collect(agg, NULL, &n);
	cr_assert_eq(n, 0, "stacks with nothing live are not shown");
	free(v);
	agg_free(agg);
}

Test(aggregator, unknown_free)
{
	struct aggregator *agg = ta_new();
	struct agg_totals t;

	ta_free(agg, 1, A(1));			/* never allocated */
	ta_alloc(agg, 1, A(2), 10, 1, 0);
	ta_free(agg, 1, A(2));
	ta_free(agg, 1, A(2));			/* double free */
	ta_free(agg, 1, 0);			/* free(NULL): nothing */

	t = ta_totals(agg);
	cr_assert_eq(t.events, 5);
	cr_assert_eq(t.unknown_frees, 2);
	cr_assert_eq(t.frees, 1);
	cr_assert_eq(t.live_count, 0);
	cr_assert_eq(t.live_bytes, 0);
	agg_free(agg);
}

Test(aggregator, alloc_at_null_is_ignored)
{
	struct aggregator *agg = ta_new();
	struct agg_totals t;

	ta_alloc(agg, 1, 0, 10, 1, 0);
	t = ta_totals(agg);
	cr_assert_eq(t.events, 1);
	cr_assert_eq(t.allocs, 0);
	cr_assert_eq(t.live_count, 0);
	cr_assert_eq(t.stacks, 0);
	agg_free(agg);
}

Test(aggregator, unknown_event_type_only_counted)
{
	struct aggregator *agg = ta_new();
	struct agg_totals t;

	ta_alloc(agg, 1, A(1), 10, 1, 0);
	ta_event(agg, 200, 0, 1, 1, 0, A(1), 0, 0, 0, 0);
	t = ta_totals(agg);
	cr_assert_eq(t.events, 2);
	cr_assert_eq(t.live_count, 1);
	cr_assert_eq(t.frees + t.unknown_frees, 0);
	agg_free(agg);
}

Test(aggregator, replaced_live)
{
	struct aggregator *agg = ta_new();
	struct agg_stack_view s;
	struct agg_totals t;

	ta_alloc(agg, 1, A(1), 100, 1, MS(10));
	ta_alloc(agg, 1, A(1), 30, 2, MS(20));	/* the free was lost */

	t = ta_totals(agg);
	cr_assert_eq(t.replaced_live, 1);
	cr_assert_eq(t.frees, 0);
	cr_assert_eq(t.unknown_frees, 0);
	cr_assert_eq(t.allocs, 2);
	cr_assert_eq(t.live_count, 1);
	cr_assert_eq(t.live_bytes, 30);

	s = ta_stack(agg, 1, 1);
	cr_assert_eq(s.count, 0, "the replaced block's stack holds nothing");
	s = ta_stack(agg, 1, 2);
	cr_assert_eq(s.bytes, 30);
	cr_assert_eq(s.count, 1);
	cr_assert_eq(s.oldest_ts_ns, MS(20));

	/* The free that follows is for the new block. */
	ta_free(agg, 1, A(1));
	t = ta_totals(agg);
	cr_assert_eq(t.frees, 1);
	cr_assert_eq(t.live_count, 0);
	cr_assert_eq(t.live_bytes, 0);
	agg_free(agg);
}

/* The replaced stack's history: allocs stay, no free is added. */
Test(aggregator, replaced_live_stack_history)
{
	struct aggregator *agg = ta_new();
	const struct agg_stack_view *s;
	struct agg_stack_view *v;
	size_t n;

	ta_alloc(agg, 1, A(1), 100, 1, 10);
	ta_alloc(agg, 1, A(2), 1, 1, 10);
	ta_alloc(agg, 1, A(1), 30, 2, 20);
	v = ta_collect(agg, NULL, &n);
	s = ta_find(v, n, 1, 1);
	cr_assert_not_null(s);
	cr_assert_eq(s->bytes, 1);
	cr_assert_eq(s->allocs, 2);
	cr_assert_eq(s->frees, 0);
	cr_assert_eq(s->peak_bytes, 101);
	free(v);
	agg_free(agg);
}

Test(aggregator, realloc_moves_bytes_to_new_stack)
{
	struct aggregator *agg = ta_new();
	const struct agg_stack_view *s;
	struct agg_stack_view *v;
	struct agg_totals t;
	size_t n;

	ta_alloc(agg, 1, A(1), 100, 1, MS(10));
	ta_begin(agg, 1, 5, A(1), 300);

	/* Set aside while the realloc runs: counted nowhere. */
	t = ta_totals(agg);
	cr_assert_eq(t.live_bytes, 0);
	cr_assert_eq(t.live_count, 0);
	cr_assert_eq(t.frees, 0);

	ta_realloced(agg, 1, 5, A(1), A(2), 300, 2, MS(20));
	t = ta_totals(agg);
	cr_assert_eq(t.events, 3);
	cr_assert_eq(t.allocs, 2);
	cr_assert_eq(t.frees, 1);
	cr_assert_eq(t.unknown_frees, 0);
	cr_assert_eq(t.replaced_live, 0);
	cr_assert_eq(t.live_bytes, 300);
	cr_assert_eq(t.live_count, 1);
	cr_assert_eq(t.stacks, 2);

	v = ta_collect(agg, NULL, &n);
	cr_assert_eq(n, 1);
	s = ta_find(v, n, 1, 2);
	cr_assert_not_null(s);
	cr_assert_eq(s->func, MT_FUNC_REALLOC);
	cr_assert_eq(s->bytes, 300);
	cr_assert_eq(s->count, 1);
	cr_assert_eq(s->oldest_ts_ns, MS(20));
	cr_assert_eq(s->allocs, 1);
	cr_assert_eq(s->frees, 0);
	free(v);

	/* The old stack: one alloc, one free, nothing outstanding. Seen
	 * through a fresh allocation on it. */
	ta_alloc(agg, 1, A(9), 1, 1, 30);
	v = ta_collect(agg, NULL, &n);
	s = ta_find(v, n, 1, 1);
	cr_assert_not_null(s);
	cr_assert_eq(s->bytes, 1);
	cr_assert_eq(s->allocs, 2);
	cr_assert_eq(s->frees, 1);
	cr_assert_eq(s->peak_bytes, 100);
	free(v);

	/* The old address is free now. */
	ta_free(agg, 1, A(1));
	cr_assert_eq(ta_totals(agg).unknown_frees, 1);
	agg_free(agg);
}

Test(aggregator, reallocarray_same_as_realloc)
{
	struct aggregator *agg = ta_new();
	struct agg_totals t;

	ta_alloc(agg, 1, A(1), 100, 1, 10);
	ta_event(agg, MT_EV_REALLOC_BEGIN, MT_FUNC_REALLOCARRAY, 1, 5, 0, 0,
		 400, A(1), 0, 0);
	ta_event(agg, MT_EV_ALLOC, MT_FUNC_REALLOCARRAY, 1, 5, 20, A(2), 400,
		 A(1), 2, 0);
	t = ta_totals(agg);
	cr_assert_eq(t.frees, 1);
	cr_assert_eq(t.live_bytes, 400);
	cr_assert_eq(t.live_count, 1);
	cr_assert_eq(ta_stack(agg, 1, 2).func, MT_FUNC_REALLOCARRAY);
	agg_free(agg);
}

/* old_addr means something only for realloc and reallocarray. */
Test(aggregator, old_addr_ignored_for_other_functions)
{
	struct aggregator *agg = ta_new();
	struct agg_totals t;

	ta_alloc(agg, 1, A(1), 100, 1, 10);
	ta_event(agg, MT_EV_ALLOC, MT_FUNC_CALLOC, 1, 1, 20, A(2), 8, A(1), 2, 0);
	t = ta_totals(agg);
	cr_assert_eq(t.frees, 0);
	cr_assert_eq(t.unknown_frees, 0);
	cr_assert_eq(t.live_count, 2);
	cr_assert_eq(t.live_bytes, 108);
	agg_free(agg);
}

Test(aggregator, realloc_in_place)
{
	struct aggregator *agg = ta_new();
	struct agg_stack_view s;
	struct agg_totals t;

	ta_alloc(agg, 1, A(1), 100, 1, MS(10));
	ta_begin(agg, 1, 1, A(1), 150);
	ta_realloced(agg, 1, 1, A(1), A(1), 150, 2, MS(20));

	t = ta_totals(agg);
	cr_assert_eq(t.replaced_live, 0);
	cr_assert_eq(t.frees, 1);
	cr_assert_eq(t.unknown_frees, 0);
	cr_assert_eq(t.allocs, 2);
	cr_assert_eq(t.live_count, 1);
	cr_assert_eq(t.live_bytes, 150);
	s = ta_stack(agg, 1, 2);
	cr_assert_eq(s.bytes, 150);
	cr_assert_eq(s.oldest_ts_ns, MS(20));

	ta_free(agg, 1, A(1));
	t = ta_totals(agg);
	cr_assert_eq(t.frees, 2);
	cr_assert_eq(t.live_count, 0);
	agg_free(agg);
}

Test(aggregator, realloc_begin_lost)
{
	struct aggregator *agg = ta_new();
	struct agg_stack_view s;
	struct agg_totals t;

	/* Moved: the outcome alone frees the old block. */
	ta_alloc(agg, 1, A(1), 100, 1, 10);
	ta_alloc(agg, 1, A(5), 1, 1, 10);
	ta_realloced(agg, 1, 1, A(1), A(2), 200, 2, 20);
	t = ta_totals(agg);
	cr_assert_eq(t.frees, 1);
	cr_assert_eq(t.unknown_frees, 0);
	cr_assert_eq(t.replaced_live, 0);
	cr_assert_eq(t.live_count, 2);
	cr_assert_eq(t.live_bytes, 201);
	s = ta_stack(agg, 1, 1);
	cr_assert_eq(s.bytes, 1);
	cr_assert_eq(s.frees, 1);

	/* In place: not a replacement. */
	ta_realloced(agg, 1, 1, A(2), A(2), 250, 3, 30);
	t = ta_totals(agg);
	cr_assert_eq(t.frees, 2);
	cr_assert_eq(t.replaced_live, 0);
	cr_assert_eq(t.live_count, 2);
	cr_assert_eq(t.live_bytes, 251);

	/* Of a block never seen: an unknown free. */
	ta_realloced(agg, 1, 1, A(7), A(8), 10, 3, 40);
	t = ta_totals(agg);
	cr_assert_eq(t.unknown_frees, 1);
	cr_assert_eq(t.frees, 2);
	cr_assert_eq(t.live_count, 3);
	cr_assert_eq(t.live_bytes, 261);
	ta_check_sums(agg);
	agg_free(agg);
}

Test(aggregator, realloc_to_zero_frees)
{
	struct aggregator *agg = ta_new();
	struct agg_stack_view s;
	struct agg_totals t;

	ta_alloc(agg, 1, A(1), 100, 1, 10);
	ta_alloc(agg, 1, A(2), 7, 1, 10);
	ta_begin(agg, 1, 3, A(1), 0);
	ta_done(agg, 1, 3, A(1), 0);

	t = ta_totals(agg);
	cr_assert_eq(t.frees, 1);
	cr_assert_eq(t.unknown_frees, 0);
	cr_assert_eq(t.live_count, 1);
	cr_assert_eq(t.live_bytes, 7);
	s = ta_stack(agg, 1, 1);
	cr_assert_eq(s.frees, 1);
	cr_assert_eq(s.bytes, 7);

	/* The thread's slot is clear: a later outcome for the same block
	 * finds nothing parked and nothing live. */
	ta_realloced(agg, 1, 3, A(1), A(3), 5, 1, 20);
	t = ta_totals(agg);
	cr_assert_eq(t.unknown_frees, 1);
	cr_assert_eq(t.frees, 1);
	agg_free(agg);
}

Test(aggregator, realloc_to_zero_begin_lost)
{
	struct aggregator *agg = ta_new();
	struct agg_totals t;

	ta_alloc(agg, 1, A(1), 100, 1, 10);
	ta_done(agg, 1, 3, A(1), 0);
	t = ta_totals(agg);
	cr_assert_eq(t.frees, 1);
	cr_assert_eq(t.live_count, 0);
	cr_assert_eq(t.live_bytes, 0);

	ta_done(agg, 1, 3, A(1), 0);
	cr_assert_eq(ta_totals(agg).unknown_frees, 1);
	agg_free(agg);
}

Test(aggregator, failed_realloc_restores_block)
{
	struct aggregator *agg = ta_new();
	const struct agg_stack_view *s;
	struct agg_stack_view *v;
	struct agg_totals t;
	size_t n;

	ta_alloc(agg, 1, A(1), 100, 1, MS(5));
	ta_alloc(agg, 1, A(2), 10, 1, MS(50));
	ta_begin(agg, 1, 2, A(1), 1ULL << 40);
	cr_assert_eq(ta_totals(agg).live_bytes, 10);
	ta_done(agg, 1, 2, A(1), 1ULL << 40);

	t = ta_totals(agg);
	cr_assert_eq(t.live_bytes, 110);
	cr_assert_eq(t.live_count, 2);
	cr_assert_eq(t.frees, 0);
	cr_assert_eq(t.unknown_frees, 0);
	cr_assert_eq(t.replaced_live, 0);
	cr_assert_eq(t.allocs, 2);

	v = ta_collect(agg, NULL, &n);
	cr_assert_eq(n, 1);
	s = ta_find(v, n, 1, 1);
	cr_assert_not_null(s);
	cr_assert_eq(s->bytes, 110);
	cr_assert_eq(s->count, 2);
	cr_assert_eq(s->oldest_ts_ns, MS(5), "the original time comes back");
	cr_assert_eq(s->allocs, 2);
	cr_assert_eq(s->frees, 0);
	cr_assert_eq(s->peak_bytes, 110);
	free(v);

	/* Live again, with its size. */
	ta_free(agg, 1, A(1));
	t = ta_totals(agg);
	cr_assert_eq(t.frees, 1);
	cr_assert_eq(t.live_bytes, 10);
	agg_free(agg);
}

/* Other threads may allocate on the same stack meanwhile: the restored
 * block sets a new peak. */
Test(aggregator, failed_realloc_restore_updates_peak)
{
	struct aggregator *agg = ta_new();

	ta_alloc(agg, 1, A(1), 100, 1, 5);
	ta_begin(agg, 1, 2, A(1), 1000);
	ta_alloc(agg, 1, A(2), 100, 1, 6);
	cr_assert_eq(ta_stack(agg, 1, 1).peak_bytes, 100);
	ta_done(agg, 1, 2, A(1), 1000);
	cr_assert_eq(ta_stack(agg, 1, 1).peak_bytes, 200);
	agg_free(agg);
}

Test(aggregator, failed_realloc_begin_lost)
{
	struct aggregator *agg = ta_new();
	struct agg_totals t;

	ta_alloc(agg, 1, A(1), 100, 1, 5);
	ta_done(agg, 1, 2, A(1), 50);
	t = ta_totals(agg);
	cr_assert_eq(t.live_bytes, 100);
	cr_assert_eq(t.live_count, 1);
	cr_assert_eq(t.frees + t.unknown_frees + t.replaced_live, 0);
	agg_free(agg);
}

/* Realloc of a block allocated before tracing began. */
Test(aggregator, realloc_of_unknown_block)
{
	struct aggregator *agg = ta_new();
	struct agg_totals t;

	/* Moved: an unknown free, and the new block is tracked. */
	ta_begin(agg, 1, 1, A(1), 64);
	t = ta_totals(agg);
	cr_assert_eq(t.live_count + t.unknown_frees, 0);
	ta_realloced(agg, 1, 1, A(1), A(2), 64, 1, 10);
	t = ta_totals(agg);
	cr_assert_eq(t.unknown_frees, 1);
	cr_assert_eq(t.frees, 0);
	cr_assert_eq(t.live_count, 1);
	cr_assert_eq(t.live_bytes, 64);

	/* Freed by realloc(p, 0): an unknown free. */
	ta_begin(agg, 1, 1, A(3), 0);
	ta_done(agg, 1, 1, A(3), 0);
	t = ta_totals(agg);
	cr_assert_eq(t.unknown_frees, 2);
	cr_assert_eq(t.frees, 0);

	/* Failed: still not known, nothing to restore. */
	ta_begin(agg, 1, 1, A(4), 100);
	ta_done(agg, 1, 1, A(4), 100);
	t = ta_totals(agg);
	cr_assert_eq(t.unknown_frees, 2);
	cr_assert_eq(t.live_count, 1);
	cr_assert_eq(t.live_bytes, 64);
	agg_free(agg);
}

/*
 * Why the old block is set aside at BEGIN: realloc frees it, another
 * thread gets the same address and frees it again, all before the
 * realloc's own event. The realloc must not undo the other thread's work.
 */
Test(aggregator, realloc_old_block_reused_by_other_thread)
{
	struct aggregator *agg = ta_new();
	struct agg_stack_view s;
	struct agg_totals t;

	ta_alloc(agg, 1, A(1), 100, 1, 10);
	ta_begin(agg, 1, 11, A(1), 500);
	ta_event(agg, MT_EV_ALLOC, MT_FUNC_MALLOC, 1, 12, 11, A(1), 40, 0, 2, 0);
	ta_event(agg, MT_EV_FREE, MT_FUNC_FREE, 1, 12, 12, A(1), 0, 0, 0, 0);
	ta_event(agg, MT_EV_ALLOC, MT_FUNC_MALLOC, 1, 12, 13, A(1), 60, 0, 2, 0);
	ta_realloced(agg, 1, 11, A(1), A(2), 500, 3, 14);

	t = ta_totals(agg);
	cr_assert_eq(t.replaced_live, 0);
	cr_assert_eq(t.unknown_frees, 0);
	cr_assert_eq(t.frees, 2);
	cr_assert_eq(t.allocs, 4);
	cr_assert_eq(t.live_count, 2);
	cr_assert_eq(t.live_bytes, 560);
	s = ta_stack(agg, 1, 2);
	cr_assert_eq(s.bytes, 60, "the other thread's block stays live");
	cr_assert_eq(s.frees, 1);
	agg_free(agg);
}

/* A second BEGIN on a thread whose previous realloc outcome was lost. */
Test(aggregator, realloc_begin_twice)
{
	struct aggregator *agg = ta_new();
	struct agg_totals t;

	ta_alloc(agg, 1, A(1), 100, 1, 10);
	ta_alloc(agg, 1, A(2), 20, 1, 10);
	ta_begin(agg, 1, 7, A(1), 200);
	ta_begin(agg, 1, 7, A(2), 40);
	ta_realloced(agg, 1, 7, A(2), A(3), 40, 1, 20);

	t = ta_totals(agg);
	cr_assert_eq(t.frees, 1, "only the realloc that completed frees");
	cr_assert_eq(t.unknown_frees, 0);
	cr_assert_eq(t.live_count, 1);
	cr_assert_eq(t.live_bytes, 40);

	/* The discarded block is gone: no free of it is known. */
	ta_free(agg, 1, A(1));
	cr_assert_eq(ta_totals(agg).unknown_frees, 1);
	ta_check_sums(agg);
	agg_free(agg);
}

/* An outcome for another block than the one parked: the parked one is a
 * leftover, and this realloc's BEGIN was lost. */
Test(aggregator, realloc_outcome_for_other_block)
{
	struct aggregator *agg = ta_new();
	struct agg_totals t;

	ta_alloc(agg, 1, A(1), 100, 1, 10);
	ta_alloc(agg, 1, A(2), 20, 1, 10);
	ta_begin(agg, 1, 7, A(1), 200);
	ta_realloced(agg, 1, 7, A(2), A(3), 40, 1, 20);
	t = ta_totals(agg);
	cr_assert_eq(t.frees, 1);
	cr_assert_eq(t.unknown_frees, 0);
	cr_assert_eq(t.live_count, 1);
	cr_assert_eq(t.live_bytes, 40);

	/* Same with a failed realloc: the parked one is dropped, the named
	 * one never left. */
	ta_alloc(agg, 1, A(4), 8, 1, 30);
	ta_begin(agg, 1, 7, A(3), 200);
	ta_done(agg, 1, 7, A(4), 99);
	t = ta_totals(agg);
	cr_assert_eq(t.live_count, 1);
	cr_assert_eq(t.live_bytes, 8);
	cr_assert_eq(t.frees, 1);

	/* The slot was cleared: a realloc(p, 0) outcome frees normally. */
	ta_done(agg, 1, 7, A(4), 0);
	t = ta_totals(agg);
	cr_assert_eq(t.frees, 2);
	cr_assert_eq(t.live_count, 0);
	cr_assert_eq(t.live_bytes, 0);
	agg_free(agg);
}

/* Pending slots are per thread, and threads of different processes may
 * share a tid number in different namespaces: the key is (pid, tid). */
Test(aggregator, realloc_threads_independent)
{
	struct aggregator *agg = ta_new();
	struct agg_totals t;

	ta_alloc(agg, 1, A(1), 100, 1, 10);
	ta_alloc(agg, 1, A(2), 20, 1, 10);
	ta_alloc(agg, 2, A(1), 5, 1, 10);
	ta_begin(agg, 1, 7, A(1), 200);
	ta_begin(agg, 1, 8, A(2), 40);
	ta_begin(agg, 2, 7, A(1), 6);
	cr_assert_eq(ta_totals(agg).live_count, 0);

	ta_realloced(agg, 1, 8, A(2), A(3), 40, 2, 20);
	ta_done(agg, 1, 7, A(1), 200);		/* failed: restored */
	ta_done(agg, 2, 7, A(1), 0);		/* freed */

	t = ta_totals(agg);
	cr_assert_eq(t.frees, 2);
	cr_assert_eq(t.unknown_frees, 0);
	cr_assert_eq(t.live_count, 2);
	cr_assert_eq(t.live_bytes, 140);
	ta_check_sums(agg);
	agg_free(agg);
}

Test(aggregator, exec_drops_pid)
{
	struct aggregator *agg = ta_new();
	const struct agg_stack_view *s;
	struct agg_stack_view *v;
	struct agg_totals t;
	size_t n;

	ta_alloc(agg, 1, A(1), 100, 1, 10);
	ta_alloc(agg, 1, A(2), 20, 2, 10);
	ta_alloc(agg, 1, A(3), 3, 2, 10);
	ta_free(agg, 1, A(3));
	ta_alloc(agg, 1, A(4), 50, 2, 10);
	ta_begin(agg, 1, 9, A(4), 80);		/* parked at exec */
	ta_alloc(agg, 2, A(1), 7, 1, 10);
	ta_event(agg, MT_EV_EXEC, 0, 1, 1, 20, 0, 0, 0, 0, 0);

	t = ta_totals(agg);
	cr_assert_eq(t.exec_dropped, 3);
	cr_assert_eq(t.live_count, 1);
	cr_assert_eq(t.live_bytes, 7);
	cr_assert_eq(t.stacks, 3);
	cr_assert_eq(t.frees, 1);
	cr_assert_eq(t.events, 8);

	v = ta_collect(agg, NULL, &n);
	cr_assert_eq(n, 1);
	cr_assert_eq(v[0].pid, 2);
	cr_assert_eq(v[0].bytes, 7);
	free(v);

	/* The old program's blocks and parked realloc are forgotten. */
	ta_free(agg, 1, A(1));
	ta_realloced(agg, 1, 9, A(4), A(5), 80, 2, 30);
	t = ta_totals(agg);
	cr_assert_eq(t.unknown_frees, 2);
	cr_assert_eq(t.frees, 1);

	/* The stack keeps its history; new allocations add to it. */
	v = ta_collect(agg, NULL, &n);
	s = ta_find(v, n, 1, 2);
	cr_assert_not_null(s);
	cr_assert_eq(s->bytes, 80);
	cr_assert_eq(s->count, 1);
	cr_assert_eq(s->allocs, 4);
	cr_assert_eq(s->frees, 1);
	cr_assert_eq(s->peak_bytes, 80);
	free(v);
	ta_check_sums(agg);
	agg_free(agg);
}

/* Hundreds of threads inside realloc at once: the table of parked blocks
 * grows well past its first size, and an exec in the middle takes one
 * process's parked blocks out of it, the others' staying findable. */
Test(aggregator, many_threads_in_realloc)
{
	struct aggregator *agg = ta_new();
	struct agg_totals t;

	for (uint32_t pid = 1; pid <= 3; pid++)
		for (uint32_t k = 0; k < 200; k++)
			ta_alloc(agg, pid, A(pid * 1000 + k), 10, 1, 1);
	for (uint32_t pid = 1; pid <= 3; pid++)
		for (uint32_t k = 0; k < 200; k++)
			ta_begin(agg, pid, 100 + k, A(pid * 1000 + k), 20);
	t = ta_totals(agg);
	cr_assert_eq(t.live_count, 0, "all parked");
	ta_event(agg, MT_EV_EXEC, 0, 2, 2, 5, 0, 0, 0, 0, 0);
	t = ta_totals(agg);
	cr_assert_eq(t.exec_dropped, 200);
	/* Even threads' reallocs succeed (moved), odd ones fail (restored). */
	for (uint32_t pid = 1; pid <= 3; pid += 2)
		for (uint32_t k = 0; k < 200; k++) {
			if (k % 2 == 0)
				ta_realloced(agg, pid, 100 + k, A(pid * 1000 + k),
					     A(pid * 1000 + 500 + k), 20, 2, 3);
			else
				ta_done(agg, pid, 100 + k, A(pid * 1000 + k), 20);
		}
	/* pid 2's threads report too: their blocks were already dropped. */
	for (uint32_t k = 0; k < 200; k++)
		ta_done(agg, 2, 100 + k, A(2000 + k), 20);
	t = ta_totals(agg);
	cr_assert_eq(t.live_count, 400);
	cr_assert_eq(t.live_bytes, 200 * 20 + 200 * 10);
	cr_assert_eq(t.allocs, 600 + 200);
	cr_assert_eq(t.frees, 200);
	cr_assert_eq(t.unknown_frees, 0);
	cr_assert_eq(t.exec_dropped, 200);
	ta_check_sums(agg);
	agg_free(agg);
}

Test(aggregator, drop_pid_direct)
{
	struct aggregator *agg = ta_new();
	struct agg_totals t;

	for (int i = 0; i < 5000; i++) {
		ta_alloc(agg, 1 + i % 3, A(i), 1 + i % 7, i % 11, i);
	}
	t = ta_totals(agg);
	agg_drop_pid(agg, 2);
	agg_drop_pid(agg, 42);			/* unknown pid: nothing */
	t = ta_totals(agg);
	cr_assert_eq(t.exec_dropped, 1667);
	cr_assert_eq(t.live_count, 5000 - 1667);
	ta_check_sums(agg);

	for (int i = 0; i < 5000; i++)
		ta_free(agg, 1 + i % 3, A(i));
	t = ta_totals(agg);
	cr_assert_eq(t.frees, 5000 - 1667);
	cr_assert_eq(t.unknown_frees, 1667);
	cr_assert_eq(t.live_count, 0);
	cr_assert_eq(t.live_bytes, 0);
	agg_free(agg);
}

/* Allocations at now - 400, -300, -200, -100 ms and one stamped after now. */
static struct aggregator *ta_aged(void)
{
	struct aggregator *agg = ta_new();

	ta_alloc(agg, 1, A(1), 1, 1, MS(100));
	ta_alloc(agg, 1, A(2), 2, 1, MS(200));
	ta_alloc(agg, 1, A(3), 4, 1, MS(300));
	ta_alloc(agg, 1, A(4), 8, 1, MS(400));
	ta_alloc(agg, 1, A(5), 16, 2, MS(600));
	return agg;
}

static struct agg_stack_view ta_filtered(struct aggregator *agg,
					 uint64_t min_age, uint64_t window,
					 uint64_t stack_id, size_t *n)
{
	struct agg_filter f = {
		.now_ns = MS(500), .min_age_ns = min_age, .window_ns = window,
	};
	struct agg_stack_view out = { 0 }, *v;
	const struct agg_stack_view *s;

	v = ta_collect(agg, &f, n);
	s = ta_find(v, *n, 1, stack_id);
	if (s)
		out = *s;
	free(v);
	return out;
}

Test(aggregator, filter_min_age)
{
	struct aggregator *agg = ta_aged();
	struct agg_stack_view s;
	size_t n;

	s = ta_filtered(agg, MS(200), 0, 1, &n);
	cr_assert_eq(n, 1, "stack 2's only block is too young");
	cr_assert_eq(s.count, 3, "ages 400, 300, 200 pass; the bound is inclusive");
	cr_assert_eq(s.bytes, 7);
	cr_assert_eq(s.oldest_ts_ns, MS(100));
	cr_assert_eq(s.total_bytes, 15, "total_bytes ignores the filter");
	cr_assert_eq(s.peak_bytes, 15);

	s = ta_filtered(agg, MS(401), 0, 1, &n);
	cr_assert_eq(n, 0);
	agg_free(agg);
}

Test(aggregator, filter_window)
{
	struct aggregator *agg = ta_aged();
	struct agg_stack_view s;
	size_t n;

	s = ta_filtered(agg, 0, MS(200), 1, &n);
	cr_assert_eq(n, 2);
	cr_assert_eq(s.count, 2, "ages 200 and 100 pass; the bound is inclusive");
	cr_assert_eq(s.bytes, 12);
	cr_assert_eq(s.oldest_ts_ns, MS(300));
	cr_assert_eq(s.total_bytes, 15);

	/* Stamped after now: age 0, inside any window. */
	s = ta_filtered(agg, 0, 1, 2, &n);
	cr_assert_eq(n, 1);
	cr_assert_eq(s.count, 1);
	cr_assert_eq(s.bytes, 16);
	agg_free(agg);
}

Test(aggregator, filter_min_age_and_window)
{
	struct aggregator *agg = ta_aged();
	struct agg_stack_view s;
	size_t n;

	s = ta_filtered(agg, MS(150), MS(350), 1, &n);
	cr_assert_eq(n, 1);
	cr_assert_eq(s.count, 2, "ages 300 and 200");
	cr_assert_eq(s.bytes, 6);
	cr_assert_eq(s.oldest_ts_ns, MS(200));

	/* No filter at all. */
	s = ta_filtered(agg, 0, 0, 1, &n);
	cr_assert_eq(n, 2);
	cr_assert_eq(s.count, 4);
	cr_assert_eq(s.bytes, 15);
	cr_assert_eq(s.oldest_ts_ns, MS(100));
	agg_free(agg);
}

/* A heap allocation's time is kept to the millisecond: an age filter
 * ("allocated in the last N seconds", "older than N seconds") classifies
 * every allocation whose age is a millisecond or more from the bound
 * rightly, wherever in its millisecond it was made, and oldest_ts_ns is
 * at most 0.5 ms off. At hour-of-uptime times, as CLOCK_MONOTONIC gives. */
Test(aggregator, filter_to_the_millisecond)
{
	const uint64_t t0 = 3600 * 1000000000ULL, now = t0 + MS(7000);
	struct aggregator *agg = ta_new();

	ta_alloc(agg, 1, A(0), 1, 1, t0);	/* the table's first */
	for (uint64_t k = 0; k < 10; k++)
		ta_alloc(agg, 1, A(1 + k), 1, 2 + k, t0 + MS(5000) + k * 100000);

	for (uint64_t k = 0; k < 10; k++) {
		uint64_t ts = t0 + MS(5000) + k * 100000, age = now - ts;
		struct agg_filter in_window = { .now_ns = now, .window_ns = age + MS(1) };
		struct agg_filter out_window = { .now_ns = now, .window_ns = age - MS(1) };
		struct agg_filter old_enough = { .now_ns = now, .min_age_ns = age - MS(1) };
		struct agg_filter too_young = { .now_ns = now, .min_age_ns = age + MS(1) };
		struct agg_stack_view *v;
		const struct agg_stack_view *s;
		size_t n;

		v = ta_collect(agg, &in_window, &n);
		s = ta_find(v, n, 1, 2 + k);
		cr_assert_not_null(s, "made %" PRIu64 " x 0.1 ms past a ms: in the window", k);
		cr_assert_leq(s->oldest_ts_ns > ts ? s->oldest_ts_ns - ts : ts - s->oldest_ts_ns,
			      500000, "its time to 0.5 ms");
		free(v);
		v = ta_collect(agg, &out_window, &n);
		cr_assert_null(ta_find(v, n, 1, 2 + k));
		free(v);
		v = ta_collect(agg, &old_enough, &n);
		cr_assert_not_null(ta_find(v, n, 1, 2 + k));
		free(v);
		v = ta_collect(agg, &too_young, &n);
		cr_assert_null(ta_find(v, n, 1, 2 + k));
		free(v);
	}
	agg_free(agg);
}

/* A trace longer than the live table's 49.7 days of milliseconds: a later
 * allocation's time stays at the last one it can hold (it looks older
 * than it is), never wraps round to look young. */
Test(aggregator, time_past_49_days_saturates)
{
	const uint64_t t0 = 3600 * 1000000000ULL, day = 86400 * MS(1000);
	struct aggregator *agg = ta_new();
	struct agg_stack_view s;

	ta_alloc(agg, 1, A(1), 1, 1, t0);
	ta_alloc(agg, 1, A(2), 1, 2, t0 + 60 * day);
	s = ta_stack(agg, 1, 2);
	cr_assert_geq(s.oldest_ts_ns, t0 + 49 * day);
	cr_assert_lt(s.oldest_ts_ns, t0 + 50 * day);
	agg_free(agg);
}

Test(aggregator, sort_order)
{
	struct aggregator *agg = ta_new();
	struct agg_stack_view *v;
	size_t n;

	/* (pid, stack): bytes, count */
	ta_alloc(agg, 1, A(1), 10, 50, 0);	/* (1,50): 10, 1 */
	ta_alloc(agg, 1, A(2), 100, 40, 0);	/* (1,40): 100, 1 */
	ta_alloc(agg, 1, A(3), 50, 30, 0);	/* (1,30): 100, 2 */
	ta_alloc(agg, 1, A(4), 50, 30, 0);
	ta_alloc(agg, 2, A(5), 100, 20, 0);	/* (2,20): 100, 1 */
	ta_alloc(agg, 1, A(5), 100, 20, 0);	/* (1,20): 100, 1 */
	ta_alloc(agg, 1, A(6), 500, 60, 0);	/* (1,60): 500, 1 */

	v = ta_collect(agg, NULL, &n);
	cr_assert_eq(n, 6);
	cr_assert_eq(v[0].stack_id, 60);
	cr_assert_eq(v[1].stack_id, 30, "same bytes: more allocations first");
	cr_assert_eq(v[2].stack_id, 20, "same bytes and count: lower id first");
	cr_assert_eq(v[2].pid, 1, "then lower pid");
	cr_assert_eq(v[3].stack_id, 20);
	cr_assert_eq(v[3].pid, 2);
	cr_assert_eq(v[4].stack_id, 40);
	cr_assert_eq(v[5].stack_id, 50);
	free(v);
	agg_free(agg);
}

/* Filtered bytes decide the order, not the totals. */
Test(aggregator, sort_by_filtered_bytes)
{
	struct aggregator *agg = ta_new();
	struct agg_filter f = { .now_ns = MS(1000), .min_age_ns = MS(500) };
	struct agg_stack_view *v;
	size_t n;

	ta_alloc(agg, 1, A(1), 1000, 1, MS(900));	/* young */
	ta_alloc(agg, 1, A(2), 10, 1, MS(100));
	ta_alloc(agg, 1, A(3), 20, 2, MS(100));
	v = ta_collect(agg, &f, &n);
	cr_assert_eq(n, 2);
	cr_assert_eq(v[0].stack_id, 2);
	cr_assert_eq(v[0].bytes, 20);
	cr_assert_eq(v[1].stack_id, 1);
	cr_assert_eq(v[1].bytes, 10);
	cr_assert_eq(v[1].total_bytes, 1010);
	free(v);
	agg_free(agg);
}

Test(aggregator, growth_between_collects)
{
	struct aggregator *agg = ta_new();
	struct agg_filter window = { .now_ns = MS(1000), .window_ns = MS(10) };
	const struct agg_stack_view *s;
	struct agg_stack_view *v;
	size_t n;

	ta_alloc(agg, 1, A(1), 100, 1, 0);
	ta_alloc(agg, 1, A(2), 50, 2, 0);
	ta_alloc(agg, 1, A(3), 70, 3, 0);
	v = ta_collect(agg, NULL, &n);
	cr_assert_eq(n, 3);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(v[i].growth_bytes, (int64_t)v[i].total_bytes,
			     "first call: growth is all of it");
	cr_assert_eq(ta_find(v, n, 1, 1)->growth_bytes, 100);
	free(v);

	ta_alloc(agg, 1, A(4), 30, 1, 0);	/* stack 1: +30 */
	ta_alloc(agg, 1, A(5), 5, 2, 0);	/* stack 2: -50 + 5 */
	ta_free(agg, 1, A(2));
	ta_free(agg, 1, A(3));			/* stack 3: empty, not shown */
	ta_alloc(agg, 1, A(6), 9, 4, 0);	/* new stack 4 */
	ta_alloc(agg, 1, A(7), 1, 5, 0);	/* new, gone before the call */
	ta_free(agg, 1, A(7));

	v = ta_collect(agg, NULL, &n);
	cr_assert_eq(n, 3);
	s = ta_find(v, n, 1, 1);
	cr_assert_not_null(s);
	cr_assert_eq(s->growth_bytes, 30);
	s = ta_find(v, n, 1, 2);
	cr_assert_not_null(s);
	cr_assert_eq(s->growth_bytes, -45);
	s = ta_find(v, n, 1, 4);
	cr_assert_not_null(s);
	cr_assert_eq(s->growth_bytes, 9, "new since the last call: all it holds");
	free(v);

	/* Growth is of unfiltered bytes, and every stack's baseline moves,
	 * even those the filter hides. */
	ta_alloc(agg, 1, A(8), 1000, 1, MS(995));
	ta_alloc(agg, 1, A(9), 11, 3, 0);
	v = ta_collect(agg, &window, &n);
	cr_assert_eq(n, 1);
	cr_assert_eq(v[0].stack_id, 1);
	cr_assert_eq(v[0].bytes, 1000);
	cr_assert_eq(v[0].total_bytes, 1130);
	cr_assert_eq(v[0].growth_bytes, 1000);
	free(v);

	v = ta_collect(agg, NULL, &n);
	cr_assert_eq(n, 4);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(v[i].growth_bytes, 0, "nothing changed since");
	free(v);
	agg_free(agg);
}

Test(aggregator, peak)
{
	struct aggregator *agg = ta_new();

	ta_alloc(agg, 1, A(1), 100, 1, 0);
	ta_alloc(agg, 1, A(2), 200, 1, 0);
	cr_assert_eq(ta_stack(agg, 1, 1).peak_bytes, 300);
	ta_free(agg, 1, A(1));
	ta_alloc(agg, 1, A(3), 50, 1, 0);
	cr_assert_eq(ta_stack(agg, 1, 1).bytes, 250);
	cr_assert_eq(ta_stack(agg, 1, 1).peak_bytes, 300);
	ta_alloc(agg, 1, A(4), 100, 1, 0);
	cr_assert_eq(ta_stack(agg, 1, 1).peak_bytes, 350);

	/* A replacement lowers before it raises: 350 - 200 + 250 = 400. */
	ta_alloc(agg, 1, A(2), 250, 1, 0);
	cr_assert_eq(ta_stack(agg, 1, 1).peak_bytes, 400);
	agg_free(agg);
}

Test(aggregator, stack_id_zero)
{
	struct aggregator *agg = ta_new();
	const struct agg_stack_view *s;
	struct agg_stack_view *v;
	struct agg_totals t;
	size_t n;

	ta_event(agg, MT_EV_ALLOC, MT_FUNC_CALLOC, 1, 1, MS(10), A(1), 8, 0, 0,
		 MT_EVF_NO_STACK);
	ta_event(agg, MT_EV_ALLOC, MT_FUNC_MALLOC, 1, 1, MS(20), A(2), 16, 0, 0,
		 MT_EVF_NO_STACK);
	/* Stacks off (--stack none): id 0 without the flag. */
	ta_event(agg, MT_EV_ALLOC, MT_FUNC_MALLOC, 1, 1, MS(30), A(3), 32, 0, 0, 0);
	ta_event(agg, MT_EV_ALLOC, MT_FUNC_MALLOC, 2, 2, MS(40), A(3), 64, 0, 0,
		 MT_EVF_NO_STACK);

	t = ta_totals(agg);
	cr_assert_eq(t.no_stack, 3);
	cr_assert_eq(t.stacks, 2, "one pseudo-stack per process");
	cr_assert_eq(t.allocs, 4);

	v = ta_collect(agg, NULL, &n);
	cr_assert_eq(n, 2);
	s = ta_find(v, n, 1, 0);
	cr_assert_not_null(s);
	cr_assert_eq(s->func, MT_FUNC_CALLOC, "the first allocation's function");
	cr_assert_eq(s->count, 3);
	cr_assert_eq(s->bytes, 56);
	cr_assert_eq(s->oldest_ts_ns, MS(10));
	s = ta_find(v, n, 2, 0);
	cr_assert_not_null(s);
	cr_assert_eq(s->func, MT_FUNC_MALLOC);
	cr_assert_eq(s->bytes, 64);
	free(v);
	agg_free(agg);
}

Test(aggregator, same_address_in_two_pids)
{
	struct aggregator *agg = ta_new();
	struct agg_totals t;

	ta_alloc(agg, 1, A(1), 10, 1, 0);
	ta_alloc(agg, 2, A(1), 20, 1, 0);
	t = ta_totals(agg);
	cr_assert_eq(t.replaced_live, 0);
	cr_assert_eq(t.live_count, 2);
	cr_assert_eq(t.stacks, 2, "same stack_id, two processes: two stacks");

	ta_free(agg, 2, A(1));
	t = ta_totals(agg);
	cr_assert_eq(t.frees, 1);
	cr_assert_eq(t.live_bytes, 10);
	cr_assert_eq(ta_stack(agg, 1, 1).bytes, 10);
	cr_assert_eq(ta_stack(agg, 2, 1).count, 0);

	ta_free(agg, 1, A(1));
	ta_free(agg, 2, A(1));
	t = ta_totals(agg);
	cr_assert_eq(t.frees, 2);
	cr_assert_eq(t.unknown_frees, 1);
	cr_assert_eq(t.live_count, 0);
	agg_free(agg);
}

/* Enough stacks to grow the stack index several times. */
Test(aggregator, many_stacks)
{
	struct aggregator *agg = ta_new();
	struct agg_stack_view *v;
	size_t n;

	for (uint64_t i = 0; i < 20000; i++)
		ta_alloc(agg, 1 + i % 2, A(i), 1 + i, 1000 + i / 2, MS(i));
	cr_assert_eq(ta_totals(agg).stacks, 20000);
	v = ta_collect(agg, NULL, &n);
	cr_assert_eq(n, 20000);
	for (size_t k = 0; k < n; k++) {
		uint64_t i = n - 1 - k;		/* larger blocks come first */

		cr_assert_eq(v[k].bytes, 1 + i);
		cr_assert_eq(v[k].pid, 1 + i % 2);
		cr_assert_eq(v[k].stack_id, 1000 + i / 2);
		cr_assert_eq(v[k].oldest_ts_ns, MS(i));
	}
	free(v);
	agg_free(agg);
}

/* A million live blocks, then half freed: exercises table growth and
 * backward-shift deletion through the public interface. */
Test(aggregator, million_allocations, .timeout = 120)
{
	const uint64_t N = 1000000;
	struct aggregator *agg = ta_new();
	struct agg_totals t;
	uint64_t bytes = 0;

	for (uint64_t i = 0; i < N; i++)
		ta_alloc(agg, 100 + i % 4, A(i), 1 + i % 1000, i % 64, i);
	t = ta_totals(agg);
	cr_assert_eq(t.live_count, N);
	cr_assert_eq(t.allocs, N);
	cr_assert_eq(t.replaced_live, 0);
	cr_assert_eq(t.stacks, 64);
	/* 20-byte slots, at most 13/20 full: 30.8 bytes each or more. */
	cr_assert_geq(agg_memory_bytes(agg), N * 30);

	for (uint64_t i = 0; i < N; i += 2)
		ta_free(agg, 100 + i % 4, A(i));
	for (uint64_t i = 1; i < N; i += 2)
		bytes += 1 + i % 1000;
	t = ta_totals(agg);
	cr_assert_eq(t.frees, N / 2);
	cr_assert_eq(t.unknown_frees, 0);
	cr_assert_eq(t.live_count, N / 2);
	cr_assert_eq(t.live_bytes, bytes);
	ta_check_sums(agg);

	/* Every remaining block is still found... */
	for (uint64_t i = 1; i < N; i += 2)
		ta_free(agg, 100 + i % 4, A(i));
	t = ta_totals(agg);
	cr_assert_eq(t.frees, N);
	cr_assert_eq(t.unknown_frees, 0);
	cr_assert_eq(t.live_count, 0);
	cr_assert_eq(t.live_bytes, 0);

	/* ...and none of the freed ones. */
	for (uint64_t i = 0; i < N; i += 1000)
		ta_free(agg, 100 + i % 4, A(i));
	cr_assert_eq(ta_totals(agg).unknown_frees, N / 1000);
	agg_free(agg);
}

/* ---- figures since start, for pprof's alloc_* ---- */

Test(aggregator, alloc_bytes_count_every_allocation)
{
	struct aggregator *agg = ta_new();
	struct agg_stack_view s;

	ta_alloc(agg, 1, A(1), 100, 7, 1);
	ta_alloc(agg, 1, A(2), 50, 7, 2);
	ta_free(agg, 1, A(1));
	/* A realloc allocates its new size (the old block is freed). */
	ta_begin(agg, 1, 1, A(2), 300);
	ta_realloced(agg, 1, 1, A(2), A(3), 300, 8, 3);
	ta_alloc(agg, 1, A(4), 0, 7, 4);
	s = ta_stack(agg, 1, 7);
	cr_assert_eq(s.allocs, 3);
	cr_assert_eq(s.alloc_bytes, 150);
	cr_assert_eq(s.bytes, 0);
	cr_assert_eq(s.count, 1, "malloc(0) is live");
	cr_assert_eq(ta_stack(agg, 1, 8).alloc_bytes, 300);
	cr_assert_eq(ta_totals(agg).alloc_bytes, 450);
	agg_free(agg);
}

Test(aggregator, all_stacks_lists_the_empty_ones_last)
{
	struct aggregator *agg = ta_new();
	struct agg_filter f = { .all_stacks = true };
	struct agg_stack_view *v;
	size_t n;

	ta_alloc(agg, 1, A(1), 100, 7, MS(1));
	ta_alloc(agg, 1, A(2), 50, 8, MS(2));
	ta_alloc(agg, 2, A(3), 10, 9, MS(3));
	ta_free(agg, 1, A(1));
	v = ta_collect(agg, NULL, &n);
	cr_assert_eq(n, 2, "by default only stacks holding something");
	free(v);
	v = ta_collect(agg, &f, &n);
	cr_assert_eq(n, 3);
	cr_assert_eq(v[0].stack_id, 8);
	cr_assert_eq(v[1].stack_id, 9);
	cr_assert_eq(v[2].stack_id, 7);
	cr_assert_eq(v[2].count, 0);
	cr_assert_eq(v[2].alloc_bytes, 100);
	cr_assert_eq(v[2].frees, 1);
	free(v);
	/* With a filter, a stack whose blocks all fail it is listed too
	 * (at 3 ms, nothing is 2 ms old). */
	f.now_ns = MS(3);
	f.min_age_ns = MS(2);
	v = ta_collect(agg, &f, &n);
	cr_assert_eq(n, 3);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(v[i].count, 0);
	cr_assert_eq(v[0].stack_id, 7);
	cr_assert_eq(v[1].total_bytes, 50, "total_bytes ignores the filter");
	free(v);
	agg_free(agg);
}

Test(aggregator, pid_totals)
{
	struct aggregator *agg = ta_new();
	struct agg_pid_totals p[] = { { .pid = 1 }, { .pid = 2 }, { .pid = 3 } };

	ta_alloc(agg, 1, A(1), 100, 7, 1);
	ta_alloc(agg, 1, A(2), 50, 8, 2);
	ta_alloc(agg, 2, A(3), 10, 7, 3);
	ta_free(agg, 1, A(2));
	agg_pid_totals(agg, p, 3);
	cr_assert_eq(p[0].bytes, 100);
	cr_assert_eq(p[0].count, 1);
	cr_assert_eq(p[1].bytes, 10);
	cr_assert_eq(p[2].bytes, 0);
	cr_assert_eq(p[2].count, 0);
	agg_free(agg);
}
