// SPDX-License-Identifier: MIT
/* The ranges processes mapped themselves (user/mapped_ranges.c): cuts of
 * every shape, against a page-by-page reference under random churn. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mapped_ranges.h"

#define P 4096ULL
#define BASE 0x7f0000000000ULL

struct cuts {
	uint64_t bytes;
	int ranges;
	int calls;
};

static void on_cut(const struct mapped_range *piece, int ranges, void *ctx)
{
	struct cuts *c = ctx;

	c->bytes += piece->end - piece->start;
	c->ranges += ranges;
	c->calls++;
}

static struct mapped_range R(uint32_t pid, uint64_t start_page, uint64_t pages, uint32_t stack)
{
	return (struct mapped_range){ .start = BASE + start_page * P,
				      .end = BASE + (start_page + pages) * P,
				      .pid = pid, .stack = stack };
}

Test(mapped_ranges, add_rejects_overlap_and_empty)
{
	struct mapped_ranges m = { 0 };
	struct mapped_range a = R(1, 0, 4, 0), b = R(1, 3, 2, 0), c = R(1, 4, 2, 0),
			    other_pid = R(2, 0, 4, 0), empty = R(1, 10, 0, 0);

	cr_assert_eq(mapped_ranges_add(&m, &a), 0);
	cr_assert_eq(mapped_ranges_add(&m, &b), -EINVAL);
	cr_assert_eq(mapped_ranges_add(&m, &c), 0);	/* adjacent is fine */
	cr_assert_eq(mapped_ranges_add(&m, &other_pid), 0);
	cr_assert_eq(mapped_ranges_add(&m, &empty), -EINVAL);
	cr_assert_eq(m.n, 3);
	mapped_ranges_free(&m);
}

Test(mapped_ranges, cuts_of_every_shape)
{
	struct mapped_ranges m = { 0 };
	struct mapped_range r = R(1, 0, 10, 7);
	const struct mapped_range *first;
	struct cuts c = { 0 };

	cr_assert_eq(mapped_ranges_add(&m, &r), 0);
	/* The middle: split in two. */
	cr_assert_eq(mapped_ranges_remove(&m, 1, BASE + 4 * P, BASE + 6 * P, on_cut, &c), 0);
	cr_assert_eq(c.bytes, 2 * P);
	cr_assert_eq(c.ranges, 1);
	cr_assert_eq(mapped_ranges_of(&m, 1, &first), 2);
	cr_assert_eq(first[0].end, BASE + 4 * P);
	cr_assert_eq(first[1].start, BASE + 6 * P);
	cr_assert_eq(first[1].stack, 7);
	/* Across both pieces: a tail, then a head. */
	memset(&c, 0, sizeof(c));
	cr_assert_eq(mapped_ranges_remove(&m, 1, BASE + 3 * P, BASE + 7 * P, on_cut, &c), 0);
	cr_assert_eq(c.bytes, 2 * P);
	cr_assert_eq(c.ranges, 0);
	cr_assert_eq(c.calls, 2);
	/* Everything and more: both go whole. */
	memset(&c, 0, sizeof(c));
	cr_assert_eq(mapped_ranges_remove(&m, 1, BASE - P, BASE + 100 * P, on_cut, &c), 0);
	cr_assert_eq(c.bytes, 6 * P);
	cr_assert_eq(c.ranges, -2);
	cr_assert_eq(mapped_ranges_of(&m, 1, &first), 0);
	mapped_ranges_free(&m);
}

Test(mapped_ranges, other_pids_untouched)
{
	struct mapped_ranges m = { 0 };
	struct mapped_range a = R(1, 0, 4, 0), b = R(2, 0, 4, 0), c = R(3, 0, 4, 0);
	const struct mapped_range *first;

	mapped_ranges_add(&m, &b);
	mapped_ranges_add(&m, &a);
	mapped_ranges_add(&m, &c);
	mapped_ranges_remove(&m, 2, BASE, BASE + 4 * P, NULL, NULL);
	cr_assert_eq(mapped_ranges_of(&m, 1, &first), 1);
	cr_assert_eq(mapped_ranges_of(&m, 2, &first), 0);
	cr_assert_eq(mapped_ranges_of(&m, 3, &first), 1);
	cr_assert_eq(mapped_ranges_drop_pid(&m, 3), 1);
	cr_assert_eq(m.n, 1);
	mapped_ranges_free(&m);
}

/* Random maps and unmaps of one pid against an array of page owners. */
#define PAGES 512

Test(mapped_ranges, random_churn_against_reference)
{
	struct mapped_ranges m = { 0 };
	int owner[PAGES];
	unsigned int seed = 42;

	for (int i = 0; i < PAGES; i++)
		owner[i] = -1;
	for (int round = 0; round < 20000; round++) {
		uint64_t start = rand_r(&seed) % PAGES, len = 1 + rand_r(&seed) % 32;

		if (start + len > PAGES)
			len = PAGES - start;
		mapped_ranges_remove(&m, 1, BASE + start * P, BASE + (start + len) * P, NULL,
				     NULL);
		for (uint64_t k = start; k < start + len; k++)
			owner[k] = -1;
		if (rand_r(&seed) % 2) {
			struct mapped_range r = R(1, start, len, round);

			cr_assert_eq(mapped_ranges_add(&m, &r), 0);
			for (uint64_t k = start; k < start + len; k++)
				owner[k] = round;
		}
	}
	{
		const struct mapped_range *first;
		size_t n = mapped_ranges_of(&m, 1, &first);
		int seen[PAGES];

		for (int i = 0; i < PAGES; i++)
			seen[i] = -1;
		for (size_t i = 0; i < n; i++) {
			if (i)
				cr_assert(first[i].start >= first[i - 1].end);
			for (uint64_t a = first[i].start; a < first[i].end; a += P)
				seen[(a - BASE) / P] = (int)first[i].stack;
		}
		cr_assert_arr_eq(seen, owner, sizeof(owner));
	}
	mapped_ranges_free(&m);
}
