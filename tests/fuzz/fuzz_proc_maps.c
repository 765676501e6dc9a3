// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: /proc/PID/maps parsing (proc/proc_maps.c). The kernel
 * writes that text, but a path in it is whatever the process named its
 * files (spaces, newlines are escaped by the kernel, " (deleted)"...), and
 * the parser is also given text from elsewhere.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proc/proc_maps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proc_maps m;

	if (proc_maps_parse((const char *)data, size, &m))
		return 0;
	for (size_t i = 0; i < m.n; i++) {
		const struct proc_map *pm = &m.maps[i];

		if (pm->start >= pm->end || (i && pm->start < m.maps[i - 1].start))
			abort();
		if (strlen(pm->path) > size)
			abort();
		if (proc_maps_find(&m, pm->start) == NULL)
			abort();	/* its own start must be found */
		proc_maps_find(&m, pm->end - 1);
		proc_maps_find(&m, pm->end);
	}
	proc_maps_free(&m);
	return 0;
}
