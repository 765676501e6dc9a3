// SPDX-License-Identifier: MIT
/*
 * Folded stacks (user/report/report_folded.c):
 * hand-made reports (samples.h), exact outputs.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "samples.h"

/* --- folded ------------------------------------------------------------- */

Test(folded, sample_exact)
{
	struct report r = sample_report();
	char *out = capture(report_write_folded, &r);

	cr_assert_str_eq(out,
			 "[libc.so.6];main;leak_pages;malloc 4194304\n"
			 "make_table;calloc 512\n"
			 "[stack not captured];malloc 100\n");
	free(out);
}

Test(folded, sanitized_and_zero_skipped)
{
	static const struct report_frame frames[] = {
		{ .function = "malloc", .module = "libc.so.6" },
		{ .function = "std::map<a;b>::insert", .offset = 4, .module = "app" },
		{ .function = "handle", .module = "libpython3.11.so", .python = true,
		  .file = "app.py", .line = 12 },
		{ .function = "line\nbreak", .module = "app" },
		{ .module = "[vdso]", .module_offset = 0x10 },
	};
	static const struct report_stack stacks[] = {
		{ .allocator = "malloc", .bytes = 0, .nframes = 1, .frames = frames },
		{ .allocator = "malloc", .bytes = 7, .nframes = 5, .frames = frames },
		{ .allocator = "ma;lloc", .bytes = 3, .nframes = 0 },
	};
	struct report r = sample_report();
	char *out;

	r.stacks = stacks;
	r.nstacks = 3;
	out = capture(report_write_folded, &r);
	cr_assert_str_eq(out,
			 "[vdso];line\\x0abreak;handle (app.py:12);std::map<a:b>::insert;malloc 7\n"
			 "ma:lloc 3\n");
	free(out);
}

Test(folded, empty)
{
	struct report r = { 0 };
	char *out = capture(report_write_folded, &r);

	cr_assert_str_eq(out, "");
	free(out);
}

/* --- write errors ------------------------------------------------------- */

Test(folded, full_device)
{
	assert_full_device(report_write_folded);
}
