// SPDX-License-Identifier: MIT
/*
 * Leaks 100 x 1000 B, then execs the program given on its command line
 * (with the remaining arguments), as a service that re-execs itself would.
 * An exec throws the whole address space away, so a tracer must drop
 * those 100 allocations and go on tracing the new program.
 *
 * Usage: execer PROGRAM [ARG...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *volatile sink;

__attribute__((noinline)) static void leak_before_exec(void)
{
	for (int i = 0; i < 100; i++)
		sink = malloc(1000);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: execer PROGRAM [ARG...]\n");
		return 2;
	}
	leak_before_exec();
	execv(argv[1], &argv[1]);
	perror("execv");
	return 1;
}
