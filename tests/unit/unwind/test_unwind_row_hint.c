// SPDX-License-Identifier: MIT
/*
 * Unit tests for the row hints of mt_unwind_find_row_index() and their
 * check, mt_unwind_row_holds() (include/memtrace_unwind_step.h): whatever
 * index the hint hook gives,
 * right, wrong, out of range, in another object's rows or past the end of
 * the array, the row found is the one the binary search alone finds. The
 * BPF walk's hints are shared by every CPU and walk, and may be torn or
 * stale; this is what makes that safe.
 */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>

#include "memtrace_unwind_step.h"

/* Two objects' rows in one array, as the loader lays them out: object A
 * at [0, 5), object B at [5, 9). */
static const struct mt_unwind_row rows[] = {
	{ .pc = 0x100 }, { .pc = 0x110 }, { .pc = 0x120 }, { .pc = 0x180 }, { .pc = 0x200 },
	{ .pc = 0x100 }, { .pc = 0x140 }, { .pc = 0x150 }, { .pc = 0x300 },
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

struct hinted {
	struct mt_unwind_state s;	/* first: the hooks get &s */
	__u32 hint;
	int use_hint;
	__u32 found;			/* what the search remembered */
	int found_set;
	__u32 mapping_hint;		/* not used by these tests */
};

MT_UNWIND_INLINE int mt_unwind_read(const struct mt_unwind_state *s, void *dst, __u32 size,
				    __u64 addr)
{
	return -1;
}

MT_UNWIND_INLINE const struct mt_unwind_row *mt_unwind_row(const struct mt_unwind_state *s,
							   const __u32 *idx)
{
	return *idx < NROWS ? &rows[*idx] : NULL;
}

MT_UNWIND_INLINE __u32 mt_unwind_row_hint(struct mt_unwind_state *s, __u32 start,
					  __u64 target)
{
	struct hinted *h = (struct hinted *)s;

	return h->use_hint ? h->hint : ~0u;
}

MT_UNWIND_INLINE void mt_unwind_row_found(struct mt_unwind_state *s, __u32 start,
					  __u64 target, __u32 idx)
{
	struct hinted *h = (struct hinted *)s;

	h->found = idx;
	h->found_set = 1;
}

MT_UNWIND_INLINE __u32 *mt_unwind_mapping_hint(struct mt_unwind_state *s, __u64 pc)
{
	return &((struct hinted *)s)->mapping_hint;
}

MT_UNWIND_INLINE __u32 mt_unwind_row_index(struct mt_unwind_state *s, __u32 start, __u32 len,
					   __u64 target)
{
	return mt_unwind_find_row_index(s, start, len, target);
}

MT_UNWIND_INLINE __u64 mt_unwind_ri_slot(const struct mt_unwind_state *s, __u64 ri)
{
	return 0;
}

MT_UNWIND_INLINE __u64 mt_unwind_ri_ret(const struct mt_unwind_state *s, __u64 ri)
{
	return 0;
}

MT_UNWIND_INLINE __u64 mt_unwind_ri_next(const struct mt_unwind_state *s, __u64 ri)
{
	return 0;
}

MT_UNWIND_INLINE __u64 mt_unwind_return_instance(struct mt_unwind_state *s, __u64 ra,
						 __u64 slot)
{
	return mt_unwind_match_return(s, &s->ri, ra, slot);
}

static const struct mt_unwind_row *find(struct hinted *h, __u32 start, __u32 len, __u64 target)
{
	return mt_unwind_find_row(&h->s, start, len, target);
}

static void check_object(__u32 start, __u32 len)
{
	for (__u64 target = 0xf0; target < 0x310; target++) {
		struct hinted plain = { 0 };
		const struct mt_unwind_row *want = find(&plain, start, len, target);

		/* Every hint: each row of the array, past its end, and ~0. */
		for (__u32 hint = 0; hint <= NROWS + 2; hint++) {
			struct hinted h = { .hint = hint == NROWS + 2 ? ~0u : hint, .use_hint = 1 };

			cr_assert_eq(find(&h, start, len, target), want,
				     "rows [%u, %u), pc 0x%llx, hint %u: another row", start,
				     start + len, (unsigned long long)target, h.hint);
		}
		/* What the search remembers is the row it returned, and a
		 * hint of it is taken without a search. */
		if (want) {
			cr_assert(plain.found_set);
			cr_assert_eq(&rows[plain.found], want);
			struct hinted again = { .hint = plain.found, .use_hint = 1 };

			cr_assert_eq(find(&again, start, len, target), want);
			cr_assert(!again.found_set, "a right hint still searched");
		}
	}
}

Test(unwind_row_hint, any_hint_gives_what_the_search_gives)
{
	check_object(0, 5);
	check_object(5, 4);
	/* An object that ends at the array's end, and one-row objects. */
	check_object(8, 1);
	check_object(4, 1);
}

Test(unwind_row_hint, a_hint_into_another_object_is_not_taken)
{
	/* 0x150 in object A is its row 2 (0x120); B's row 7 has pc 0x150
	 * exactly, and brackets 0x150 within B. */
	struct hinted h = { .hint = 7, .use_hint = 1 };

	cr_assert_eq(find(&h, 0, 5, 0x150), &rows[2]);
}

Test(unwind_row_hint, before_the_first_row_is_none_whatever_the_hint)
{
	struct hinted h = { .hint = 0, .use_hint = 1 };

	cr_assert_null(find(&h, 0, 5, 0xff));
	h.hint = 5;
	cr_assert_null(find(&h, 5, 4, 0x50));
}

/* Three mappings with a gap between the last two, and a stale count past
 * them in another process's table (the hints are shared by all processes
 * in BPF: an index may name any mapping of another's). */
static const struct mt_proc_mappings three = {
	.n = 3,
	.m = { { .start = 0x1000, .end = 0x2000 }, { .start = 0x2000, .end = 0x5000 },
	       { .start = 0x8000, .end = 0x9000 }, { .start = 0x9000, .end = 0xa000 } },
};

Test(unwind_mapping_hint, any_hint_gives_what_the_search_gives)
{
	for (__u64 pc = 0x800; pc < 0xa800; pc += 0x80) {
		struct hinted plain = { .s.maps = &three, .mapping_hint = MT_MAX_MAPPINGS };
		const struct mt_mapping *want = mt_unwind_find_mapping(&plain.s, pc);
		int i = mt_unwind_mapping_index(&three, pc);

		cr_assert_eq(want, i < 0 ? NULL : &three.m[i], "pc 0x%llx", (unsigned long long)pc);
		/* Every hint: each mapping, the one past n (outside this
		 * process's table), past the array, and ~0. */
		for (__u32 hint = 0; hint <= 5; hint++) {
			struct hinted h = { .s.maps = &three,
					    .mapping_hint = hint == 5 ? ~0u : hint };

			cr_assert_eq(mt_unwind_find_mapping(&h.s, pc), want,
				     "pc 0x%llx, hint %u: another mapping", (unsigned long long)pc,
				     h.mapping_hint);
			/* What is kept is what was found. */
			if (want)
				cr_assert_eq(&three.m[h.mapping_hint], want);
		}
	}
}
