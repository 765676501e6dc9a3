// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: Python code objects and their location tables
 * (python/python_symbols.c), as memtrace reads them from a traced
 * process's memory. The input is that memory: a memfd stands for
 * /proc/PID/mem, so every "address" is an offset into the input. The code
 * object sits at CODE_ADDR; its type pointers must equal the fake type
 * addresses below, which the fuzzer finds by itself (or from the seeds,
 * made by make_seeds.py from real code objects).
 *
 * The module is included whole, to reach its decoder through the same
 * cache and re-validation code paths as py_symbols_resolve(), which wants
 * a live process.
 */
#include "python/python_symbols.c"

#include <stdlib.h>

#include "fuzz_input.h"

#define CODE_ADDR 64
#define CODE_TYPE 0x00c0de00c0de0000ULL
#define STR_TYPE 0x0057700057700000ULL

/* The layouts of python_detect.c for 3.11 and 3.12 (only what
 * python_symbols reads). */
static void layout_for(int minor, struct py_target *t)
{
	memset(t, 0, sizeof(*t));
	t->major = 3;
	t->minor = minor;
	t->layout = (struct py_layout){
		.code_type = CODE_TYPE,
		.unicode_type = STR_TYPE,
		.ob_type = 8,
		.type_flags = 168,
		.code_filename = 112,
		.code_name = 120,
		.code_qualname = 128,
		.code_linetable = 136,
		.code_header = 144,
		.unicode_length = 16,
		.unicode_state = 32,
		.unicode_ascii_data = minor == 11 ? 48 : 40,
		.unicode_compact_data = minor == 11 ? 72 : 56,
		.bytes_size = 16,
		.bytes_data = 32,
	};
	t->off.code_firstlineno = minor == 11 ? 72 : 68;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct py_symbols *s;
	struct py_target t;
	struct py_code *c;
	int fd;

	if (size < 1)
		return 0;
	/* The first byte picks the layout; the rest is the memory. */
	layout_for(data[0] & 1 ? 12 : 11, &t);
	fd = fuzz_memfd(data + 1, size - 1);
	if (py_symbols_new(&s))
		abort();
	/* Twice: the second time through the cache and its re-check by
	 * fingerprint, as lookup_unwatched() does on a live process. */
	for (int round = 0; round < 2; round++) {
		struct mem_src m = { .memfd = fd };
		struct py_fingerprint fp;

		c = find_code(s, 1, CODE_ADDR, 0);
		if (read_fingerprint(&m, &t, CODE_ADDR, &fp))
			break;
		if (!c || !c->ready || !same_fingerprint(&c->fp, &fp)) {
			if (!c && new_code(s, 1, CODE_ADDR, 0, &c))
				break;
			if (fill_code(s, &m, &t, CODE_ADDR, c))
				break;
		}
		if (!c->qualname || !c->filename)
			abort();
		for (int32_t instr = -1; instr <= (int32_t)c->ncodeunits + 1; instr++) {
			int line = line_of(c, instr);

			(void)line;
			if (instr > 4096)
				break;
		}
	}
	py_symbols_free(s);
	close(fd);
	return 0;
}
