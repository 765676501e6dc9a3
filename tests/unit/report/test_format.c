// SPDX-License-Identifier: MIT
/*
 * The formatting the writers share (user/report/format.c):
 * hand-made reports (samples.h), exact outputs.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/format.h"
#include "report/report.h"
#include "samples.h"

/* --- fmt_bytes, fmt_growth, fmt_age ------------------------------------ */

static void assert_bytes(uint64_t bytes, const char *expect)
{
	char buf[16];

	cr_assert_eq(fmt_bytes(buf, sizeof(buf), bytes), buf);
	cr_assert_str_eq(buf, expect, "%llu bytes", (unsigned long long)bytes);
}

Test(fmt_bytes, boundaries)
{
	assert_bytes(0, "0 B");
	assert_bytes(1, "1 B");
	assert_bytes(512, "512 B");
	assert_bytes(1023, "1023 B");
	assert_bytes(1024, "1.0 KiB");
	assert_bytes(1536, "1.5 KiB");
	assert_bytes(1048524, "1023.9 KiB");
	/* Would be "1024.0 KiB" if rounding came after the unit. */
	assert_bytes(1048575, "1.0 MiB");
	assert_bytes(4ULL << 20, "4.0 MiB");
	assert_bytes(3ULL << 29, "1.5 GiB");
	assert_bytes(1ULL << 40, "1.0 TiB");
	assert_bytes(1ULL << 50, "1024.0 TiB");
	assert_bytes(UINT64_MAX, "16777216.0 TiB");
}

Test(fmt_bytes, truncates_to_len)
{
	char buf[4];

	fmt_bytes(buf, sizeof(buf), 1536);
	cr_assert_str_eq(buf, "1.5");
}

Test(fmt_growth, signs)
{
	char buf[24];

	cr_assert_str_eq(fmt_growth(buf, sizeof(buf), 0), "+0 B");
	cr_assert_str_eq(fmt_growth(buf, sizeof(buf), -512), "-512 B");
	cr_assert_str_eq(fmt_growth(buf, sizeof(buf), 1258291), "+1.2 MiB");
	cr_assert_str_eq(fmt_growth(buf, sizeof(buf), INT64_MAX), "+8388608.0 TiB");
	cr_assert_str_eq(fmt_growth(buf, sizeof(buf), INT64_MIN), "-8388608.0 TiB");
}

Test(fmt_age, forms)
{
	char buf[16];

	cr_assert_str_eq(fmt_age(buf, sizeof(buf), 0), "0.0s");
	cr_assert_str_eq(fmt_age(buf, sizeof(buf), 29.8), "29.8s");
	cr_assert_str_eq(fmt_age(buf, sizeof(buf), 59.94), "59.9s");
	cr_assert_str_eq(fmt_age(buf, sizeof(buf), 59.97), "1m00s");
	cr_assert_str_eq(fmt_age(buf, sizeof(buf), 192), "3m12s");
	cr_assert_str_eq(fmt_age(buf, sizeof(buf), 3599.6), "1h00m");
	cr_assert_str_eq(fmt_age(buf, sizeof(buf), 7500), "2h05m");
	cr_assert_str_eq(fmt_age(buf, sizeof(buf), 90000), "1d01h");
	cr_assert_str_eq(fmt_age(buf, sizeof(buf), 1e300), "370370d08h");
	cr_assert_str_eq(fmt_age(buf, sizeof(buf), -1), "0.0s");
	cr_assert_str_eq(fmt_age(buf, sizeof(buf), NAN), "0.0s");
	cr_assert_str_eq(fmt_age(buf, sizeof(buf), INFINITY), "0.0s");
}

/* --- fmt_frame ---------------------------------------------------------- */

static void assert_frame(const struct report_frame *f, const char *expect)
{
	char buf[128];
	int n = fmt_frame(buf, sizeof(buf), f);

	cr_assert_str_eq(buf, expect);
	cr_assert_eq(n, (int)strlen(expect));
}

Test(fmt_frame, forms)
{
	assert_frame(&leak_frames[1], "leak_pages+0x1a [leaky]");
	assert_frame(&leak_frames[0], "malloc [libc.so.6]");
	assert_frame(&leak_frames[2], "main+0x55 [leaky] (leaky.c:88)");
	assert_frame(&leak_frames[3], "[libc.so.6+0x29d90]");
	assert_frame(&(struct report_frame){ .function = "f", .module = "m", .file = "f.c" },
		     "f [m] (f.c)");
	assert_frame(&(struct report_frame){ .module = "[vdso]", .module_offset = 0x9a0 },
		     "[vdso+0x9a0]");
	assert_frame(&(struct report_frame){ .function = "__vdso_clock_gettime", .offset = 0x10,
					     .module = "[vdso]" },
		     "__vdso_clock_gettime+0x10 [vdso]");
	assert_frame(&(struct report_frame){ .module = "[unknown]", .address = 0x7f0012345678 },
		     "[unknown 0x7f0012345678]");
	assert_frame(&(struct report_frame){ .function = "handle", .module = "libpython3.11.so",
					     .offset = 0x40, .file = "app.py", .line = 12,
					     .python = true },
		     "handle (app.py:12)");
}

Test(fmt_frame, snprintf_semantics)
{
	char buf[8];
	int n = fmt_frame(buf, sizeof(buf), &leak_frames[2]);

	cr_assert_eq(n, (int)strlen("main+0x55 [leaky] (leaky.c:88)"));
	cr_assert_str_eq(buf, "main+0x");
	cr_assert_eq(fmt_frame(NULL, 0, &leak_frames[1]), (int)strlen("leak_pages+0x1a [leaky]"));
}
