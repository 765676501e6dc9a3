// SPDX-License-Identifier: MIT
/* The string pool (user/util/strpool.c): one copy per distinct string,
 * the same pointer every time, through bucket growth, for strings that
 * share prefixes, differ only in length or hold NULs. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "util/strpool.h"

Test(strpool, one_copy_per_string)
{
	struct strpool p = { 0 };
	const char *a = strpool_intern(&p, "libc.so.6", 9);
	const char *b = strpool_intern(&p, "libc.so.6 trailing", 9);
	const char *c = strpool_intern(&p, "libc.so", 7);

	cr_assert_not_null(a);
	cr_assert_eq(a, b, "the same bytes give the same pointer");
	cr_assert_neq(a, c);
	cr_assert_str_eq(a, "libc.so.6");
	cr_assert_str_eq(c, "libc.so");
	cr_assert_eq(p.n, 2);
	strpool_free(&p);
	cr_assert_eq(p.n, 0);
	cr_assert_null(p.buckets);
}

Test(strpool, survives_growth)
{
	struct strpool p = { 0 };
	const char *first[5000];
	char buf[32];

	for (int i = 0; i < 5000; i++) {
		snprintf(buf, sizeof(buf), "/usr/lib/x%d.so", i);
		first[i] = strpool_intern(&p, buf, strlen(buf));
		cr_assert_not_null(first[i]);
	}
	cr_assert_gt(p.nbuckets, 256, "the buckets grew");
	for (int i = 0; i < 5000; i++) {
		snprintf(buf, sizeof(buf), "/usr/lib/x%d.so", i);
		cr_assert_eq(strpool_intern(&p, buf, strlen(buf)), first[i]);
		cr_assert_str_eq(first[i], buf);
	}
	cr_assert_eq(p.n, 5000);
	strpool_free(&p);
}

Test(strpool, empty_and_embedded_nul)
{
	struct strpool p = { 0 };
	const char *e = strpool_intern(&p, "", 0);
	const char *n1 = strpool_intern(&p, "a\0b", 3);
	const char *n2 = strpool_intern(&p, "a\0c", 3);

	cr_assert_str_eq(e, "");
	cr_assert_eq(strpool_intern(&p, "x", 0), e);
	cr_assert_neq(n1, n2);
	cr_assert_eq(memcmp(n1, "a\0b", 4), 0, "copied whole, then NUL-terminated");
	strpool_free(&p);
}
