// SPDX-License-Identifier: MIT
/*
 * The live-allocation table (user/live_table.c, on util/open_addr.h) on
 * its own: random churn against a plain reference, and removal by
 * process.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>

#include "live_table.h"

/* A heap-looking address: 16-byte aligned, like malloc's. */
#define A(n) (0x555555560000ULL + (uint64_t)(n) * 0x40)

static uint64_t ta_rand(uint64_t *s)
{
	/* xorshift64*: reproducible, good enough to pick keys. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* About 1400 live on average: a 2048-slot table, 2/3 full. */
#define TA_KEYS 2800

struct ta_ref {
	uint32_t pid;
	uint64_t addr;
	bool live;
	uint64_t size;
};

static void ta_ref_verify(const struct live_table *t, const struct ta_ref *ref)
{
	size_t live = 0;

	for (size_t k = 0; k < TA_KEYS; k++) {
		struct live_alloc *s = live_table_find(t, ref[k].pid, ref[k].addr);

		if (ref[k].live) {
			cr_assert_not_null(s, "key %zu lost", k);
			cr_assert_eq(s->size, ref[k].size);
			live++;
		} else {
			cr_assert_null(s, "key %zu found after removal", k);
		}
	}
	cr_assert_eq(t->count, live);
}

/*
 * Random inserts and removes around a steady load, checked against a
 * plain array. The table stays small (a few thousand slots), so runs wrap
 * around its end often: the wrap-around cases of backward shift and of
 * live_table_remove_pid() get exercised.
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
		struct live_alloc *s = live_table_find(&t, ref[k].pid, ref[k].addr);

		cr_assert_eq(s != NULL, ref[k].live);
		if (s) {
			cr_assert_eq(s->size, ref[k].size);
			live_table_remove(&t, s);
			ref[k].live = false;
		} else {
			struct live_alloc a = {
				.addr = ref[k].addr, .pid = ref[k].pid,
				.size = ta_rand(&seed), .stack = k,
			};

			cr_assert_eq(live_table_insert(&t, &a), 0);
			ref[k].live = true;
			ref[k].size = a.size;
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
	cr_assert_leq(t.count * 4, live_table_capacity(&t) * 3,
		      "at most 3/4 full");
	live_table_destroy(&t);
}

/* One process holding the whole table: every removal shifts a run. */
Test(live_table, remove_pid_everything)
{
	struct live_table t;

	cr_assert_eq(live_table_init(&t), 0);
	for (uint32_t i = 0; i < 10000; i++) {
		struct live_alloc a = { .addr = A(i), .pid = 7, .size = i };

		cr_assert_eq(live_table_insert(&t, &a), 0);
	}
	cr_assert_eq(live_table_remove_pid(&t, 8), 0);
	cr_assert_eq(live_table_remove_pid(&t, 7), 10000);
	cr_assert_eq(t.count, 0);
	for (size_t i = 0; i < live_table_capacity(&t); i++)
		cr_assert_eq(t.slots[i].addr, 0);
	live_table_destroy(&t);
}
