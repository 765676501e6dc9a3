// SPDX-License-Identifier: MIT
/*
 * malloc/free pairs made at the bottom of a call chain of a given depth,
 * for measuring what each stack frame costs the unwinder. Built with
 * frame pointers, so that the frame-pointer walk can be compared on the
 * same stacks. Prints the mean ns per pair, timed inside the program.
 *
 * Usage: churn_deep PAIRS DEPTH
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void *volatile sink;
static volatile int counter;

static void churn(long pairs)
{
	for (long i = 0; i < pairs; i++) {
		void *p = malloc(32 + (i & 63));

		sink = p;
		free(p);
	}
}

__attribute__((noinline)) void descend(int depth, long pairs)
{
	if (depth <= 0)
		churn(pairs);
	else
		descend(depth - 1, pairs);
	counter++;
}

int main(int argc, char **argv)
{
	long pairs = argc > 1 ? atol(argv[1]) : 200000;
	int depth = argc > 2 ? atoi(argv[2]) : 0;
	struct timespec a, b;

	if (pairs < 1 || depth < 0 || depth > 120)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &a);
	descend(depth, pairs);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("churn_deep: %.1f ns per malloc+free pair (depth %d)\n",
	       ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / pairs, depth);
	return 0;
}
