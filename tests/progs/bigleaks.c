// SPDX-License-Identifier: MIT
/*
 * Large, known leaks for the sampling test: enough bytes behind each that
 * an estimate from sampled allocations can be held to 10%.
 *
 *   leak_small   400000 x     64 B   malloc
 *   leak_pages     8192 x   4096 B   malloc
 *   leak_grown     4000 x   3000 B   realloc(malloc(100), 3000): moved
 *   leak_huge        16 x    1 MiB   calloc
 * and churn that is freed again: 1000000 malloc/free of 256 B, 100000
 * realloc chains freed at the end.
 *
 * Writes what it leaked as JSON (its own ground truth), from 2 threads.
 * Usage: bigleaks TRUTH.json
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define NTHREADS 2

static void *volatile sink;

__attribute__((noinline)) void *leak_small(void) { return malloc(64); }
__attribute__((noinline)) void *leak_pages(void) { return malloc(4096); }
__attribute__((noinline)) void *leak_huge(void) { return calloc(1, 1 << 20); }

__attribute__((noinline)) void *leak_grown(void)
{
	void *p = malloc(100);

	return p ? realloc(p, 3000) : NULL;
}

__attribute__((noinline)) void churn(void)
{
	void *p = malloc(256);

	sink = p;
	free(p);
}

__attribute__((noinline)) void churn_realloc(void)
{
	void *p = malloc(32);

	for (int k = 1; p && k <= 4; k++)
		p = realloc(p, 32 << (2 * k));
	sink = p;
	free(p);
}

static void *run(void *arg)
{
	size_t *ok = arg;

	for (int i = 0; i < 400000 / NTHREADS; i++)
		ok[0] += (sink = leak_small()) != NULL;
	for (int i = 0; i < 8192 / NTHREADS; i++)
		ok[1] += (sink = leak_pages()) != NULL;
	for (int i = 0; i < 4000 / NTHREADS; i++)
		ok[2] += (sink = leak_grown()) != NULL;
	for (int i = 0; i < 16 / NTHREADS; i++)
		ok[3] += (sink = leak_huge()) != NULL;
	for (int i = 0; i < 1000000 / NTHREADS; i++)
		churn();
	for (int i = 0; i < 100000 / NTHREADS; i++)
		churn_realloc();
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct { const char *name; size_t size; } leaks[] = {
		{ "leak_small", 64 }, { "leak_pages", 4096 },
		{ "leak_grown", 3000 }, { "leak_huge", 1 << 20 },
	};
	size_t ok[NTHREADS][4] = { { 0 } };
	pthread_t th[NTHREADS];
	FILE *f;

	if (argc != 2)
		return 2;
	for (int t = 0; t < NTHREADS; t++)
		pthread_create(&th[t], NULL, run, ok[t]);
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
	f = fopen(argv[1], "w");
	if (!f)
		return 1;
	fputs("{\"leaks\":[", f);
	for (int k = 0; k < 4; k++) {
		size_t n = 0;

		for (int t = 0; t < NTHREADS; t++)
			n += ok[t][k];
		fprintf(f, "%s{\"function\":\"%s\",\"size\":%zu,\"count\":%zu,\"bytes\":%zu}",
			k ? "," : "", leaks[k].name, leaks[k].size, n, n * leaks[k].size);
	}
	fputs("]}\n", f);
	return fclose(f) ? 1 : 0;
}
