// SPDX-License-Identifier: MIT
/*
 * An allocation-heavy workload for benchmarks: each thread runs a loop of
 * malloc/free pairs of varied small sizes (and a realloc every 16th), and
 * the program prints how long one pair took on average, measured inside
 * the program so that a tracer's start-up is not counted.
 *
 * Usage: churn [PAIRS_PER_THREAD] [THREADS] [wait]   (defaults 2000000 1)
 * "wait": start only on SIGUSR1, for a tracer to attach first (with -p);
 * PAIRS 0 then waits to be killed (a traced process that never allocates).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void *volatile sink;

static void *run(void *arg)
{
	long pairs = *(long *)arg;
	void *keep[8] = { 0 };

	for (long i = 0; i < pairs; i++) {
		void *p = malloc(16 + (i & 255));

		if ((i & 15) == 0)
			p = realloc(p, 512);
		/* Keep a few alive for a while, as real programs do. */
		free(keep[i & 7]);
		keep[i & 7] = p;
		sink = p;
	}
	for (int k = 0; k < 8; k++)
		free(keep[k]);
	return NULL;
}

int main(int argc, char **argv)
{
	long pairs = argc > 1 ? atol(argv[1]) : 2000000;
	int nthreads = argc > 2 ? atoi(argv[2]) : 1;
	pthread_t th[64];
	struct timespec a, b;
	double ns;

	if (argc > 3 && !strcmp(argv[3], "wait")) {
		sigset_t usr1;
		int sig;

		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		sigprocmask(SIG_BLOCK, &usr1, NULL);
		if (pairs == 0)
			for (;;)
				pause();
		sigwait(&usr1, &sig);
	}
	if (nthreads < 1 || nthreads > 64 || pairs < 1)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, run, &pairs);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / ((double)pairs * nthreads);
	printf("churn: %.1f ns per malloc+free pair (%ld pairs x %d threads)\n",
	       ns, pairs, nthreads);
	return 0;
}
