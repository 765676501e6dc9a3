// SPDX-License-Identifier: MIT
/*
 * Leaks 100 x 1000 B, then execs the program given on its command line
 * (with the remaining arguments), as a service that re-execs itself would.
 * An exec throws the whole address space away, so a tracer must drop
 * those 100 allocations and go on tracing the new program.
 *
 * Usage: execer [--thread] PROGRAM [ARG...]
 *   --thread  exec from a second thread: the kernel makes that thread the
 *             process's leader, and the old leader is gone
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *volatile sink;

__attribute__((noinline)) static void leak_before_exec(void)
{
	for (int i = 0; i < 100; i++)
		sink = malloc(1000);
}

static void *exec_args(void *argv)
{
	char **args = argv;

	execv(args[0], args);
	perror("execv");
	exit(1);
}

int main(int argc, char **argv)
{
	int first = argc > 1 && !strcmp(argv[1], "--thread") ? 2 : 1;
	pthread_t th;

	if (argc <= first) {
		fprintf(stderr, "usage: execer [--thread] PROGRAM [ARG...]\n");
		return 2;
	}
	leak_before_exec();
	if (first == 2) {
		if (pthread_create(&th, NULL, exec_args, &argv[first]))
			return 1;
		pthread_join(th, NULL);	/* the exec ends this thread */
		return 1;
	}
	exec_args(&argv[first]);
	return 1;
}
