// SPDX-License-Identifier: MIT
/*
 * A test program that allocates 100 MiB and touches every byte, then waits:
 * its RSS grows by that much, which the reconciliation must account for.
 *
 * Usage: rss_hog big|small
 *   big    100 blocks of 1 MiB (glibc maps each one: mmap inside malloc)
 *   small  25600 blocks of 4 KiB (glibc's heap: brk inside malloc)
 * Prints "ready" and waits for a line; allocates; prints "done BYTES" (what
 * it allocated) and waits for a line before exiting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOTAL (100UL << 20)

static void *volatile sink;

static void wait_line(void)
{
	char line[64];

	if (!fgets(line, sizeof(line), stdin))
		line[0] = '\0';
}

__attribute__((noinline)) static void hog(size_t block)
{
	for (size_t done = 0; done < TOTAL; done += block) {
		char *p = malloc(block);

		if (!p)
			exit(1);
		memset(p, 0x5a, block);
		sink = p;
	}
}

int main(int argc, char **argv)
{
	size_t block = argc > 1 && !strcmp(argv[1], "small") ? 4096 : 1UL << 20;

	printf("ready\n");
	fflush(stdout);
	wait_line();
	hog(block);
	printf("done %lu\n", TOTAL);
	fflush(stdout);
	wait_line();
	return 0;
}
