// SPDX-License-Identifier: MIT
/*
 * Built without .eh_frame for its own code (-fno-asynchronous-unwind-tables)
 * and, by the test, with its .debug_frame moved to a separate debug file
 * named by .gnu_debuglink: only that file describes how to unwind
 * leaf_alloc and middle. malloc(60001) at the bottom.
 *
 * Usage: debuglink [--wait]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *volatile sink;
static volatile int counter;

__attribute__((noinline)) void *leaf_alloc(size_t n)
{
	void *p = malloc(n);

	counter++;
	return p;
}

__attribute__((noinline)) void middle(int k)
{
	char buf[64];

	memset(buf, k, sizeof(buf));
	sink = leaf_alloc(60001 + buf[k & 63] * 0);
	counter += buf[3];
}

int main(int argc, char **argv)
{
	char line[16];

	if (argc > 1 && !strcmp(argv[1], "--wait")) {
		printf("ready\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}
	middle(argc);
	printf("done\n");
	fflush(stdout);
	if (argc > 1 && !strcmp(argv[1], "--wait") && !fgets(line, sizeof(line), stdin))
		return 0;
	return 0;
}
