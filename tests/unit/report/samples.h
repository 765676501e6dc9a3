/* SPDX-License-Identifier: MIT */
/*
 * Hand-made reports for the tests of the writers (text, JSON, folded) and
 * of the formatting they share: a process with three stacks (one not
 * captured), and how a test runs a writer into memory and checks what it
 * wrote. Included by one test file at a time.
 */
#ifndef MEMTRACE_TEST_SAMPLES_H
#define MEMTRACE_TEST_SAMPLES_H

#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report/report.h"

#define WALL_2026_11_21_04_55_01_UTC 1795236901

static const struct report_frame leak_frames[] = {
	{ .function = "malloc", .module = "libc.so.6", .address = 0x7f3a2c0a50a0,
	  .module_offset = 0x9a0a0 },
	{ .function = "leak_pages", .offset = 0x1a, .module = "leaky",
	  .address = 0x55d4c3a1b1c9, .module_offset = 0x11c9 },
	{ .function = "main", .offset = 0x55, .module = "leaky", .address = 0x55d4c3a1b2a5,
	  .module_offset = 0x12a5, .file = "leaky.c", .line = 88 },
	{ .module = "libc.so.6", .address = 0x7f3a2c029d90, .module_offset = 0x29d90 },
};

static const struct report_frame calloc_frames[] = {
	{ .function = "calloc", .module = "libc.so.6", .address = 0x7f3a2c0a5f00,
	  .module_offset = 0x9af00 },
	{ .function = "make_table", .offset = 0x9, .module = "leaky",
	  .address = 0x55d4c3a1b309, .module_offset = 0x1309 },
};

static const struct report_frame no_stack_frames[] = {
	{ .function = "malloc", .module = "libc.so.6", .address = 0x7f3a2c0a50a0,
	  .module_offset = 0x9a0a0 },
};

static const struct report_stack sample_stacks[] = {
	{ .pid = 4242, .allocator = "malloc", .bytes = 4194304, .count = 1024,
	  .oldest_age_s = 29.8, .allocs = 2048, .frees = 1024, .peak_bytes = 4194304,
	  .growth_bytes = 1258291, .nframes = 4, .frames = leak_frames },
	{ .pid = 4242, .allocator = "calloc", .bytes = 512, .count = 1, .oldest_age_s = 192,
	  .allocs = 1, .peak_bytes = 512, .nframes = 2, .frames = calloc_frames },
	{ .pid = 4242, .allocator = "malloc", .bytes = 100, .count = 2, .oldest_age_s = 7500,
	  .allocs = 9, .frees = 7, .peak_bytes = 300, .growth_bytes = -200, .no_stack = true,
	  .nframes = 1, .frames = no_stack_frames },
};

static const struct report_process leaky_proc[] = {
	{ .pid = 4242, .comm = "leaky", .allocator = "glibc",
	  .allocator_object = "/usr/lib/x86_64-linux-gnu/libc.so.6", .allocator_known = true,
	  .mem = { .valid = true, .rss = 12 << 20, .rss_anon = 8 << 20, .rss_file = 4 << 20,
		   .rss_anon_growth = 6 << 20, .heap = 4194916, .mapped = 1 << 20,
		   .mapped_size = 2 << 20, .thread_stacks = 64 << 10,
		   .unexplained = (8 << 20) - 4194916 - (1 << 20) - (64 << 10) } },
};

static inline struct report sample_report(void)
{
	return (struct report){
		.wall = { .tv_sec = WALL_2026_11_21_04_55_01_UTC },
		.elapsed_s = 90,
		.interval_s = 10,
		.nprocs = 1,
		.procs = leaky_proc,
		.outstanding_bytes = 4194916,
		.live_allocations = 1027,
		.allocs = 123456,
		.frees = 122429,
		.alloc_rate = 123.4,
		.free_rate = 120,
		.distinct_stacks = 57,
		.acct = { .unknown_frees = 3, .nested_calls = 2 },
		.top_n = 3,
		.nstacks_total = 5,
		.nstacks = 3,
		.stacks = sample_stacks,
	};
}

/* Run a reporter into memory; the caller frees the result. */
static inline char *capture(int (*writer)(FILE *, const struct report *),
			    const struct report *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	cr_assert_eq(writer(f, r), 0);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

/* Local time in the text report: pin the zone so the test runs anywhere. */
static inline char *capture_text(const struct report *r)
{
	setenv("TZ", "UTC", 1);
	tzset();
	return capture(report_write_text, r);
}

/* Whether a strict parser accepts the line: bytes, so that UTF-8 is
 * checked, and without Python's NaN and Infinity extensions. */
static inline bool json_parses(const char *line)
{
	FILE *p = popen("python3 -c 'import json,sys; json.loads(sys.stdin.buffer.read(), "
			"parse_constant=lambda c: sys.exit(1))' 2>/dev/null", "w");

	cr_assert_not_null(p);
	fputs(line, p);
	return pclose(p) == 0;
}

/* needles appear in s in this order. */
static inline void assert_in_order(const char *s, const char *const *needles, size_t n)
{
	const char *at = s;

	for (size_t i = 0; i < n; i++) {
		const char *found = strstr(at, needles[i]);

		cr_assert_not_null(found, "missing or out of order: \"%s\" in:\n%s", needles[i], s);
		at = found + strlen(needles[i]);
	}
}

#define ASSERT_IN_ORDER(s, ...)                                                 \
	do {                                                                    \
		const char *const needles_[] = { __VA_ARGS__ };                 \
		assert_in_order(s, needles_, sizeof(needles_) / sizeof(needles_[0])); \
	} while (0)

/* A writer fails with -ENOSPC on a full device. */
static inline void assert_full_device(int (*writer)(FILE *, const struct report *))
{
	struct report r = sample_report();
	FILE *f = fopen("/dev/full", "w");

	cr_assert_not_null(f);
	cr_assert_eq(writer(f, &r), -ENOSPC);
	fclose(f);
}

#endif /* MEMTRACE_TEST_SAMPLES_H */
