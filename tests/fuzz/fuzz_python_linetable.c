// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: the location table decoder alone
 * (python/python_symbols.c decode_linetable and line_of), on the bytes of
 * a co_linetable: the code object harness reaches it too, but only behind
 * a well-formed object, so this one spends every run on the table.
 */
#include "python/python_symbols.c"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct py_code c = { 0 };
	int32_t first;

	if (size < 4)
		return 0;
	memcpy(&first, data, 4);
	c.fp.firstlineno = first;
	if (!decode_linetable(data + 4, size - 4, first, false, &c)) {
		if (c.nranges > size - 4 || (c.nranges && c.ranges[0].start != 0))
			abort();
		for (uint32_t i = 1; i < c.nranges; i++)
			if (c.ranges[i].start <= c.ranges[i - 1].start)
				abort();
		for (int64_t instr = -2; instr < (int64_t)c.ncodeunits + 2 && instr < 8192; instr++)
			line_of(&c, (int32_t)instr);
	}
	free(c.ranges);
	return 0;
}
