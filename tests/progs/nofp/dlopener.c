// SPDX-License-Identifier: MIT
/*
 * Loads a library with dlopen (after the tracer attached, with --wait) and
 * calls its leaking function at once: the library's first allocations
 * happen before any tracer could have read the new mapping.
 *
 * Usage: dlopener LIBRARY N [--wait]   prints "leaked N" and "done"
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile int counter;

__attribute__((noinline)) int load_and_run(const char *path, int n)
{
	int (*leak)(int);
	void *h = dlopen(path, RTLD_NOW);
	int leaked;

	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return -1;
	}
	leak = (int (*)(int))dlsym(h, "plugin_leak");
	if (!leak)
		return -1;
	leaked = leak(n);
	counter++;
	return leaked;
}

int main(int argc, char **argv)
{
	char line[16];
	int leaked;

	if (argc < 3)
		return 2;
	if (argc > 3 && !strcmp(argv[3], "--wait")) {
		printf("ready\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}
	leaked = load_and_run(argv[1], atoi(argv[2]));
	printf("leaked %d\ndone\n", leaked);
	fflush(stdout);
	if (argc > 3 && !strcmp(argv[3], "--wait") && !fgets(line, sizeof(line), stdin))
		return 0;
	return leaked < 0;
}
