// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: the ELF symbol reader (symbols/elf_symbols.c) on
 * any file a traced process could map, then every query the symbolizer
 * and the probe placement make of it.
 */
#include <stdint.h>
#include <unistd.h>

#include "fuzz_input.h"
#include "symbols/elf_symbols.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "malloc", "free", "_dl_debug_state", "main", "" };
	struct elf_symbols *es = NULL;
	const struct elf_segment *segs;
	const uint8_t *id;
	uint64_t value, sz, off, vaddr;
	size_t len, n;
	int fd = fuzz_memfd(data, size);

	if (!elf_symbols_open(fd, &es)) {
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!elf_symbols_find(es, names[i], &value, &sz))
				elf_symbols_vaddr_to_offset(es, value, &off);
		n = elf_symbols_segments(es, &segs);
		for (size_t i = 0; i < n; i++) {
			/* Every address near each segment, and a few far off. */
			for (uint64_t a = segs[i].vaddr; a < segs[i].vaddr + 64; a += 7)
				elf_symbols_lookup(es, a);
			elf_symbols_offset_to_vaddr(es, segs[i].offset, &vaddr);
			elf_symbols_vaddr_to_offset(es, segs[i].vaddr + segs[i].filesz, &off);
		}
		elf_symbols_lookup(es, 0);
		elf_symbols_lookup(es, UINT64_MAX);
		elf_symbols_build_id(es, &id, &len);
		elf_symbols_count(es);
		elf_symbols_close(es);
	}
	close(fd);
	return 0;
}
