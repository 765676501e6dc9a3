// SPDX-License-Identifier: MIT
/*
 * The one 64-bit mixer (include/memtrace_mix.h) is splitmix64's
 * finaliser: stepping by the golden-ratio constant from seed 0 must give
 * splitmix64's published first outputs (Vigna's splitmix64.c; Java's
 * SplittableRandom(0) gives the same numbers).
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "memtrace_mix.h"

Test(memtrace_mix, splitmix64_reference_outputs)
{
	const uint64_t want[] = {
		16294208416658607535ULL, 7960286522194355700ULL,
		487617019471545679ULL,
	};

	for (uint64_t i = 0; i < 3; i++)
		cr_assert_eq(mt_mix64(MT_MIX_GOLDEN * (i + 1)), want[i],
			     "output %lu", (unsigned long)i);
}

/* Every input bit reaches the low bits a table indexes by: keys that
 * differ in one high bit land in different buckets of a small table. */
Test(memtrace_mix, high_bits_reach_the_bucket)
{
	const uint64_t base = 0x555555560000ULL;
	unsigned int distinct = 0;
	uint8_t seen[256] = { 0 };

	for (int bit = 4; bit < 64; bit++) {
		uint64_t b = mt_mix64(base ^ (1ULL << bit)) & 0xff;

		distinct += !seen[b];
		seen[b] = 1;
	}
	cr_assert_geq(distinct, 40, "60 one-bit neighbours in %u of 256 buckets",
		      distinct);
}
