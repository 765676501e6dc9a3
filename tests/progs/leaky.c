// SPDX-License-Identifier: MIT
/*
 * A test program whose allocations are known. It leaks fixed amounts from
 * named functions, frees everything else, and writes what it leaked (its
 * own ground truth) as JSON, so that a test can compare memtrace's report
 * against what the program itself knows.
 *
 * Leaks, all made by 4 threads together:
 *   leak_pages          1000 x 4096 B   malloc
 *   leak_small           500 x  100 B   calloc
 *   leak_grown            40 x 3000 B   realloc(NULL, 10) -> 20000 -> 3000
 *   leak_posix_memalign   20 x  256 B   posix_memalign(64)
 *   leak_aligned_alloc    12 x 8192 B   aligned_alloc(4096)
 *   main (first line)      1 x  777 B   malloc, only in launch mode visible
 * Churn that is freed again: malloc/free, calloc, realloc (moves, in place,
 * to 0), realloc(NULL, n), reallocarray, posix_memalign, aligned_alloc,
 * memalign, valloc, pvalloc.
 *
 * Churn calls only the functions that the allocator malloc binds to
 * defines: run with another allocator (LD_PRELOAD, or linked with one)
 * that lacks one (jemalloc has no pvalloc), glibc's would hand out a block
 * that this allocator's free cannot take.
 *
 * Usage: leaky [--wait | --busy] [--reexec] [--hold] TRUTH.json
 *   --wait  print "ready" and wait for a line on stdin before working
 *           (so a tracer can attach with -p first)
 *   --busy  as --wait, but the main thread allocates and frees all the
 *           while it waits (so a tracer attaches to a thread in the middle
 *           of its calls), and then does the first thread's share of the
 *           work itself
 *   --reexec  after the line, exec itself again without --reexec (to
 *           print "ready" and wait again), before any work
 *   --hold  after writing TRUTH.json, wait for a line on stdin before
 *           exiting (so a tracer can report on a live process)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NTHREADS 4

struct leak {
	const char *function;
	const char *allocator;
	size_t size;
	size_t per_thread;
};

static const struct leak leaks[] = {
	{ "leak_pages", "malloc", 4096, 250 },
	{ "leak_small", "calloc", 100, 125 },
	{ "leak_grown", "realloc", 3000, 10 },
	{ "leak_posix_memalign", "posix_memalign", 256, 5 },
	{ "leak_aligned_alloc", "aligned_alloc", 8192, 3 },
};

/* What each thread actually leaked, counted as it happens. */
struct tally {
	size_t count[sizeof(leaks) / sizeof(leaks[0])];
	size_t churn;
};

static void *volatile sink;	/* keeps the compiler from dropping calls */

/* The optional functions the allocator in use defines itself. */
static struct {
	bool reallocarray, memalign, valloc, pvalloc;
} has;

static bool from_the_allocator(const char *name)
{
	void *m = dlsym(RTLD_DEFAULT, "malloc"), *f = dlsym(RTLD_DEFAULT, name);
	Dl_info a, b;

	return m && f && dladdr(m, &a) && dladdr(f, &b) && a.dli_fname && b.dli_fname &&
	       !strcmp(a.dli_fname, b.dli_fname);
}

__attribute__((noinline)) void *leak_pages(void)
{
	return malloc(4096);
}

__attribute__((noinline)) void *leak_small(void)
{
	return calloc(1, 100);
}

__attribute__((noinline)) void *leak_grown(void)
{
	char *p = realloc(NULL, 10), *q;

	if (!p)
		return NULL;
	q = realloc(p, 20000);	/* most likely moves */
	if (!q)
		return p;
	memset(q, 1, 20000);
	p = realloc(q, 3000);	/* shrinks, usually in place */
	return p ? p : q;
}

__attribute__((noinline)) void *leak_posix_memalign(void)
{
	void *p = NULL;

	return posix_memalign(&p, 64, 256) == 0 ? p : NULL;
}

__attribute__((noinline)) void *leak_aligned_alloc(void)
{
	return aligned_alloc(4096, 8192);
}

/* Allocations that do not outlive this function. */
__attribute__((noinline)) static void churn(int round)
{
	void *a[16];
	size_t n = 0;
	char *r;

	a[n++] = malloc(32 + round);
	a[n++] = calloc(4, 64);
	r = realloc(NULL, 50);		/* realloc(NULL, n) is malloc */
	r = realloc(r, 5000);		/* moves */
	r = realloc(r, 4000);		/* in place */
	a[n++] = r;
	r = malloc(64);
	r = realloc(r, 0);		/* glibc: frees, returns NULL */
	if (r)
		a[n++] = r;
	if (has.reallocarray)
		a[n++] = reallocarray(NULL, 10, 24);
	if (posix_memalign(&a[n], 128, 300) == 0)
		n++;
	a[n++] = aligned_alloc(64, 640);
	if (has.memalign)
		a[n++] = memalign(32, 96);
	if (has.valloc)
		a[n++] = valloc(100);
	if (has.pvalloc)
		a[n++] = pvalloc(200);
	a[n++] = malloc(0);
	sink = a[0];
	for (size_t i = 0; i < n; i++)
		free(a[i]);
	free(NULL);
}

static void *thread_main(void *arg)
{
	struct tally *t = arg;
	void *(*const fns[])(void) = {
		leak_pages, leak_small, leak_grown, leak_posix_memalign,
		leak_aligned_alloc,
	};

	for (int round = 0; round < 250; round++) {
		for (size_t k = 0; k < sizeof(leaks) / sizeof(leaks[0]); k++) {
			if ((size_t)round < leaks[k].per_thread) {
				sink = fns[k]();
				if (sink)
					t->count[k]++;
			}
		}
		churn(round);
		t->churn++;
	}
	return NULL;
}

static void wait_line(void)
{
	char line[64];

	if (!fgets(line, sizeof(line), stdin))
		line[0] = '\0';
}

/* Churn until a line comes on stdin. */
static void wait_line_busy(void)
{
	struct pollfd p = { .fd = 0, .events = POLLIN };

	for (int round = 0; poll(&p, 1, 0) == 0; round++)
		churn(round % 250);
	wait_line();
}

int main(int argc, char **argv)
{
	void *first_line_block = malloc(777);	/* must stay on main's first line */
	struct tally tallies[NTHREADS] = { 0 };
	pthread_t th[NTHREADS];
	bool wait = false, busy = false, hold = false, reexec = false;
	const char *truth = NULL;
	FILE *f;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--wait"))
			wait = true;
		else if (!strcmp(argv[i], "--busy"))
			wait = busy = true;
		else if (!strcmp(argv[i], "--reexec"))
			reexec = true;
		else if (!strcmp(argv[i], "--hold"))
			hold = true;
		else
			truth = argv[i];
	}
	if (!truth) {
		fprintf(stderr, "usage: leaky [--wait | --busy] [--reexec] [--hold] TRUTH.json\n");
		return 2;
	}
	sink = first_line_block;
	has.reallocarray = from_the_allocator("reallocarray");
	has.memalign = from_the_allocator("memalign");
	has.valloc = from_the_allocator("valloc");
	has.pvalloc = from_the_allocator("pvalloc");
	if (wait) {
		printf("ready\n");
		fflush(stdout);
		if (busy)
			wait_line_busy();
		else
			wait_line();
	}
	if (reexec) {
		char *args[argc + 1];
		int n = 0;

		for (int i = 0; i < argc; i++)
			if (strcmp(argv[i], "--reexec"))
				args[n++] = argv[i];
		args[n] = NULL;
		execv("/proc/self/exe", args);
		return 1;
	}

	for (int i = busy; i < NTHREADS; i++)
		if (pthread_create(&th[i], NULL, thread_main, &tallies[i]))
			return 1;
	if (busy)
		thread_main(&tallies[0]);
	for (int i = busy; i < NTHREADS; i++)
		pthread_join(th[i], NULL);

	f = fopen(truth, "w");
	if (!f)
		return 1;
	fprintf(f, "{\"first_line\": {\"function\": \"main\", \"allocator\": \"malloc\", "
		"\"size\": 777, \"count\": %d},\n \"leaks\": [", first_line_block ? 1 : 0);
	for (size_t k = 0; k < sizeof(leaks) / sizeof(leaks[0]); k++) {
		size_t count = 0;

		for (int i = 0; i < NTHREADS; i++)
			count += tallies[i].count[k];
		fprintf(f, "%s\n  {\"function\": \"%s\", \"allocator\": \"%s\", "
			"\"size\": %zu, \"count\": %zu, \"bytes\": %zu}",
			k ? "," : "", leaks[k].function, leaks[k].allocator,
			leaks[k].size, count, count * leaks[k].size);
	}
	fprintf(f, "\n ],\n \"threads\": %d}\n", NTHREADS);
	fclose(f);

	if (hold) {
		printf("done\n");
		fflush(stdout);
		wait_line();
	}
	return 0;
}
