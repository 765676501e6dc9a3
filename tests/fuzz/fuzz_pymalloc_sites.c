// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: the pymalloc site scanner (python/pymalloc_sites.c),
 * which disassembles a whole interpreter with capstone and follows
 * registers through its code; then the properties the probes rely on.
 */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz_input.h"
#include "python/pymalloc_sites.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pymalloc_sites s;
	int fd = fuzz_memfd(data, size);

	if (!pymalloc_sites_find_fd(fd, &s)) {
		if (!s.n_sites || s.n_alloc + s.n_free != s.n_sites || s.n_sized > s.n_alloc)
			abort();
		for (size_t i = 0; i < s.n_sites; i++) {
			if (i && s.sites[i].vaddr <= s.sites[i - 1].vaddr)
				abort();
			if (s.sites[i].offset >= size)
				abort();	/* a probe outside the file */
		}
		pymalloc_sites_free(&s);
	}
	close(fd);
	return 0;
}
