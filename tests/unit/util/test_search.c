// SPDX-License-Identifier: MIT
/*
 * The binary search of sorted tables (user/util/search.h), against a
 * linear scan of the same array: every key from below the first element
 * to above the last, with repeated members, on 32- and 64-bit members
 * and a nested one.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "util/search.h"

struct row64 {
	uint32_t pad;
	uint64_t pc;
};

struct row32 {
	int32_t line;
	uint32_t start;
};

struct outer {
	struct {
		uint64_t value, size;
	} sym;
	uint64_t end;
};

/* The linear answers. */
static size_t first_above_linear(const uint64_t *v, size_t n, uint64_t key)
{
	size_t i = 0;

	while (i < n && v[i] <= key)
		i++;
	return i;
}

static size_t first_at_least_linear(const uint64_t *v, size_t n, uint64_t key)
{
	size_t i = 0;

	while (i < n && v[i] < key)
		i++;
	return i;
}

static const uint64_t keys[] = { 3, 5, 5, 5, 9, 12, 12, 40 };
#define N (sizeof(keys) / sizeof(keys[0]))

Test(search, u64_member_matches_a_linear_scan)
{
	struct row64 rows[N];

	for (size_t i = 0; i < N; i++)
		rows[i] = (struct row64){ .pad = 0xdead, .pc = keys[i] };
	for (size_t n = 0; n <= N; n++)
		for (uint64_t k = 0; k <= 41; k++) {
			cr_assert_eq(FIRST_ABOVE(rows, n, pc, k),
				     first_above_linear(keys, n, k), "n %zu key %lu", n,
				     (unsigned long)k);
			cr_assert_eq(FIRST_AT_LEAST(rows, n, pc, k),
				     first_at_least_linear(keys, n, k),
				     "n %zu key %lu", n, (unsigned long)k);
		}
}

Test(search, u32_member_matches_a_linear_scan)
{
	struct row32 rows[N];

	for (size_t i = 0; i < N; i++)
		rows[i] = (struct row32){ .line = -1, .start = (uint32_t)keys[i] };
	for (uint64_t k = 0; k <= 41; k++) {
		cr_assert_eq(FIRST_ABOVE(rows, N, start, k),
			     first_above_linear(keys, N, k));
		cr_assert_eq(FIRST_AT_LEAST(rows, N, start, k),
			     first_at_least_linear(keys, N, k));
	}
}

Test(search, nested_member)
{
	struct outer v[N];

	for (size_t i = 0; i < N; i++)
		v[i] = (struct outer){ .sym = { keys[i], 1 }, .end = ~0ull };
	for (uint64_t k = 0; k <= 41; k++)
		cr_assert_eq(FIRST_ABOVE(v, N, sym.value, k),
			     first_above_linear(keys, N, k));
}

Test(search, empty_and_extremes)
{
	struct row64 *none = NULL;
	struct row64 top[2] = { { 0, 0 }, { 0, UINT64_MAX } };

	cr_assert_eq(FIRST_ABOVE(none, 0, pc, 7), 0);
	cr_assert_eq(FIRST_AT_LEAST(none, 0, pc, 7), 0);
	cr_assert_eq(FIRST_ABOVE(top, 2, pc, UINT64_MAX), 2);
	cr_assert_eq(FIRST_AT_LEAST(top, 2, pc, UINT64_MAX), 1);
	cr_assert_eq(FIRST_ABOVE(top, 2, pc, 0), 1);
	cr_assert_eq(FIRST_AT_LEAST(top, 2, pc, 0), 0);
}
