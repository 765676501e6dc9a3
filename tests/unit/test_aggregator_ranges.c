// SPDX-License-Identifier: MIT
/* The aggregator's rules for memory processes map themselves (mmap,
 * munmap, mremap, brk): exact bytes and counts per stack. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "aggregator.h"

#define P 4096ULL
#define M(n) (0x7f0000000000ULL + (uint64_t)(n) * P)

static void ev(struct aggregator *agg, uint8_t type, uint8_t func, uint32_t tid,
	       uint64_t addr, uint64_t size, uint64_t old_addr, uint64_t stack_id,
	       uint16_t flags)
{
	struct mt_event e = { .type = type, .func = func, .flags = flags, .pid = 9,
			      .tid = tid, .ts_ns = 1, .addr = addr, .size = size,
			      .old_addr = old_addr, .stack_id = stack_id };

	agg_handle(agg, &e);
}

/* Outstanding bytes and count of one stack (0, 0 if it holds nothing). */
static void of_stack(struct aggregator *agg, uint64_t id, uint64_t *bytes, uint64_t *count)
{
	struct agg_stack_view *v;
	size_t n;

	*bytes = *count = 0;
	cr_assert_eq(agg_collect(agg, NULL, &v, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (v[i].stack_id == id) {
			*bytes = v[i].bytes;
			*count = v[i].count;
		}
	free(v);
}

Test(aggregator_ranges, map_punch_unmap)
{
	struct aggregator *agg;
	struct agg_totals t;
	uint64_t b, c, heap, mapped;

	cr_assert_eq(agg_new(&agg), 0);
	ev(agg, MT_EV_MMAP, MT_FUNC_MMAP, 1, M(0), 16 * P, 0, 100, 0);
	ev(agg, MT_EV_MUNMAP, MT_FUNC_MMAP, 1, M(4), 2 * P, 0, 0, 0);
	of_stack(agg, 100, &b, &c);
	cr_assert_eq(b, 14 * P);
	cr_assert_eq(c, 2);
	agg_pid_outstanding(agg, 9, &heap, &mapped);
	cr_assert_eq(heap, 0);
	cr_assert_eq(mapped, 14 * P);
	ev(agg, MT_EV_MUNMAP, MT_FUNC_MMAP, 1, M(0), 16 * P, 0, 0, 0);
	of_stack(agg, 100, &b, &c);
	cr_assert_eq(b, 0);
	agg_totals(agg, &t);
	cr_assert_eq(t.live_bytes, 0);
	cr_assert_eq(t.live_count, 0);
	cr_assert_eq(t.allocs, 1);
	cr_assert_eq(t.frees, 2);	/* both pieces went */
	agg_free(agg);
}

Test(aggregator_ranges, unmap_of_unknown_memory_changes_nothing)
{
	struct aggregator *agg;
	struct agg_totals t;

	cr_assert_eq(agg_new(&agg), 0);
	ev(agg, MT_EV_MUNMAP, MT_FUNC_MMAP, 1, M(0), 16 * P, 0, 0, 0);
	agg_totals(agg, &t);
	cr_assert_eq(t.live_bytes, 0);
	cr_assert_eq(t.frees, 0);
	cr_assert_eq(t.unknown_frees, 0);
	agg_free(agg);
}

Test(aggregator_ranges, fixed_file_map_replaces_and_anon_remap_moves)
{
	struct aggregator *agg;
	uint64_t b, c;

	cr_assert_eq(agg_new(&agg), 0);
	ev(agg, MT_EV_MMAP, MT_FUNC_MMAP, 1, M(0), 8 * P, 0, 100, 0);
	ev(agg, MT_EV_MMAP, MT_FUNC_MMAP, 1, M(0), 2 * P, 0, 0, MT_EVF_MAP_FILE);
	of_stack(agg, 100, &b, &c);
	cr_assert_eq(b, 6 * P);
	/* mremap of the remaining 6 pages to 10 elsewhere. */
	ev(agg, MT_EV_MREMAP_BEGIN, MT_FUNC_MREMAP, 1, 0, 6 * P, M(2), 0, 0);
	of_stack(agg, 100, &b, &c);
	cr_assert_eq(b, 0);
	ev(agg, MT_EV_MREMAP_DONE, MT_FUNC_MREMAP, 1, M(100), 10 * P, M(2), 200, 0);
	of_stack(agg, 200, &b, &c);
	cr_assert_eq(b, 10 * P);
	cr_assert_eq(c, 1);
	agg_free(agg);
}

Test(aggregator_ranges, failed_mremap_puts_back)
{
	struct aggregator *agg;
	uint64_t b, c;

	cr_assert_eq(agg_new(&agg), 0);
	ev(agg, MT_EV_MMAP, MT_FUNC_MMAP, 1, M(0), 8 * P, 0, 100, 0);
	ev(agg, MT_EV_MREMAP_BEGIN, MT_FUNC_MREMAP, 1, 0, 8 * P, M(0), 0, 0);
	ev(agg, MT_EV_MREMAP_DONE, MT_FUNC_MREMAP, 1, 0, 16 * P, M(0), 0, 0);
	of_stack(agg, 100, &b, &c);
	cr_assert_eq(b, 8 * P);
	cr_assert_eq(c, 1);
	agg_free(agg);
}

Test(aggregator_ranges, mremap_of_untraced_memory_stays_untraced)
{
	struct aggregator *agg;
	struct agg_totals t;

	cr_assert_eq(agg_new(&agg), 0);
	ev(agg, MT_EV_MREMAP_BEGIN, MT_FUNC_MREMAP, 1, 0, 8 * P, M(0), 0, 0);
	ev(agg, MT_EV_MREMAP_DONE, MT_FUNC_MREMAP, 1, M(50), 16 * P, M(0), 200, 0);
	agg_totals(agg, &t);
	cr_assert_eq(t.live_bytes, 0);
	agg_free(agg);
}

Test(aggregator_ranges, brk_grows_and_shrinks)
{
	struct aggregator *agg;
	uint64_t b, c, base = 0x555555600000ULL;

	cr_assert_eq(agg_new(&agg), 0);
	ev(agg, MT_EV_BRK, MT_FUNC_BRK, 1, base + 40960, 40960, base, 300, 0);
	of_stack(agg, 300, &b, &c);
	cr_assert_eq(b, 40960);
	ev(agg, MT_EV_BRK, MT_FUNC_BRK, 1, base + 8192, 0, base + 40960, 0, 0);
	of_stack(agg, 300, &b, &c);
	cr_assert_eq(b, 8192);
	cr_assert_eq(c, 1);
	agg_free(agg);
}

Test(aggregator_ranges, exec_drops_ranges)
{
	struct aggregator *agg;
	struct agg_totals t;

	cr_assert_eq(agg_new(&agg), 0);
	ev(agg, MT_EV_MMAP, MT_FUNC_MMAP, 1, M(0), 8 * P, 0, 100, 0);
	ev(agg, MT_EV_MREMAP_BEGIN, MT_FUNC_MREMAP, 1, 0, 4 * P, M(4), 0, 0);
	ev(agg, MT_EV_EXEC, 0, 1, 0, 0, 0, 0, 0);
	agg_totals(agg, &t);
	cr_assert_eq(t.live_bytes, 0);
	cr_assert_eq(t.live_count, 0);
	cr_assert_eq(t.exec_dropped, 1);	/* the range; the parked piece was part of it */
	cr_assert_eq(agg_mapped_ranges(agg, 9, NULL, 0), 0);
	agg_free(agg);
}
