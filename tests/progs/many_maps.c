// SPDX-License-Identifier: MIT
/*
 * More executable mappings than memtrace's per-process list holds (256):
 * N anonymous executable mappings, kept apart by inaccessible pages so
 * that the kernel does not merge them, made before the tracer attaches.
 * It prints how many executable mappings it has in all (from its own
 * /proc/self/maps), so that a test knows how many were past the limit.
 *
 * Usage: many_maps N   prints "ready", waits for a line, leaks
 *                      malloc(70001), prints "exec mappings M, uprobes U"
 *                      and "done", waits for another line, exits
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void *volatile sink;

/* Executable mappings, and of those the kernel's uprobe area (made at the
 * first probe hit, after the tracer read the mappings, or not). */
static int exec_mappings(int *uprobes)
{
	char line[4096], perms[8];
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0;

	*uprobes = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*x-%*x %7s", perms) == 1 && perms[2] == 'x') {
			n++;
			if (strstr(line, "[uprobes]"))
				(*uprobes)++;
		}
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	long page = sysconf(_SC_PAGESIZE);
	int n = argc > 1 ? atoi(argv[1]) : 300;
	char line[16];
	char *area;
	int uprobes;

	/* One reservation, then every other page made executable. */
	area = mmap(NULL, 2 * n * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		return 1;
	for (int i = 0; i < n; i++)
		if (mprotect(area + 2 * i * page, page, PROT_READ | PROT_EXEC))
			return 1;
	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	sink = malloc(70001);
	n = exec_mappings(&uprobes);
	printf("exec mappings %d, uprobes %d\ndone\n", n, uprobes);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	return 0;
}
