// SPDX-License-Identifier: MIT
/*
 * A plugin loaded with dlopen after the tracer attached, built
 * -O2 -fomit-frame-pointer. plugin_leak(n) leaks n blocks of 50001 bytes
 * from plugin_store, two calls inside the library.
 */
#include <stdlib.h>

static void *volatile kept[1024];
static volatile int counter;

__attribute__((noinline)) void *plugin_store(size_t size)
{
	void *p = malloc(size);

	counter++;
	return p;
}

__attribute__((noinline)) int plugin_leak(int n)
{
	int leaked = 0;

	for (int i = 0; i < n && i < 1024; i++) {
		kept[i] = plugin_store(50001);
		leaked += kept[i] != NULL;
	}
	counter++;
	return leaked;
}
