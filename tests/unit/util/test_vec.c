// SPDX-License-Identifier: MIT
/* The growable array (user/util/vec.c): room made, contents kept, and a
 * request too large for memory refused with the array left as it was. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "util/vec.h"

Test(vec, grows_and_keeps_contents)
{
	uint32_t *v = NULL;
	size_t n = 0, cap = 0;

	for (uint32_t i = 0; i < 10000; i++) {
		cr_assert_eq(vec_reserve(&v, &cap, n + 1, sizeof(*v)), 0);
		cr_assert_geq(cap, n + 1);
		v[n++] = i * 7;
	}
	for (uint32_t i = 0; i < 10000; i++)
		cr_assert_eq(v[i], i * 7);
	/* Doubling: never more than twice what is needed. */
	cr_assert_leq(cap, 2 * n);
	free(v);
}

Test(vec, enough_room_is_a_no_op)
{
	uint64_t *v = NULL, *before;
	size_t cap = 0;

	cr_assert_eq(vec_reserve(&v, &cap, 100, sizeof(*v)), 0);
	before = v;
	cr_assert_eq(vec_reserve(&v, &cap, 50, sizeof(*v)), 0);
	cr_assert_eq(v, before);
	free(v);
}

Test(vec, overflow_is_enomem_and_leaves_the_array)
{
	uint64_t *v = NULL, *before;
	size_t cap = 0;

	cr_assert_eq(vec_reserve(&v, &cap, 4, sizeof(*v)), 0);
	v[3] = 42;
	before = v;
	cr_assert_eq(vec_reserve(&v, &cap, SIZE_MAX / 2, sizeof(*v)), -ENOMEM);
	cr_assert_eq(vec_reserve(&v, &cap, SIZE_MAX, 1), -ENOMEM);
	cr_assert_eq(v, before);
	cr_assert_eq(v[3], 42);
	free(v);
}
