/* SPDX-License-Identifier: MIT */
/*
 * A small report model for the tests of the pictures (flame tree, SVG,
 * HTML): native, unknown and Python frames, a stack not captured, one
 * that stopped early, names a hostile program could choose, and a name of
 * 10,000 characters. Included by one test file at a time.
 */
#ifndef MEMTRACE_TEST_PICTURES_H
#define MEMTRACE_TEST_PICTURES_H

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/report.h"

/* <, &, quotes, control characters, bytes that are not UTF-8 (a lone
 * 0xff, a cut sequence, a UTF-16 surrogate), U+FFFE (no XML character),
 * and the end of a CDATA section. */
#define HOSTILE "<script>alert('x')</script>&amp;\"q\"\x01\x1b[31m\xff\xc3(\xed\xa0\x80\xef\xbf\xbe]]>"
/* ... as a parser reads it back from the markup: control characters '?',
 * each byte that is not UTF-8 one U+FFFD, U+FFFE one U+FFFD. */
#define FFFD "\xef\xbf\xbd"
#define HOSTILE_READ "<script>alert('x')</script>&amp;\"q\"??[31m" FFFD FFFD "(" FFFD FFFD FFFD \
	FFFD "]]>"

#define LONG_NAME_LEN 10000

static char long_name[LONG_NAME_LEN + 1];

static inline const char *the_long_name(void)
{
	if (!long_name[0]) {
		for (size_t i = 0; i < LONG_NAME_LEN; i++)
			long_name[i] = "abcdefghijklmnopqrstuvwxyz_0123456789"[i % 37];
		long_name[LONG_NAME_LEN] = '\0';
	}
	return long_name;
}

static const struct report_frame pic_leak[] = {
	{ .function = "malloc", .module = "libc.so.6", .address = 0x7f0000001000 },
	{ .function = "leak_pages", .offset = 0x1a, .module = "leaky", .address = 0x5500000011c9 },
	{ .function = "main", .offset = 0x55, .module = "leaky", .address = 0x5500000012a5 },
	{ .module = "libc.so.6", .address = 0x7f0000029d90, .module_offset = 0x29d90 },
};

static const struct report_frame pic_table[] = {
	{ .function = "calloc", .module = "libc.so.6", .address = 0x7f0000002000 },
	{ .function = "make_table", .offset = 0x9, .module = "leaky", .address = 0x550000001309 },
	{ .function = "main", .offset = 0x77, .module = "leaky", .address = 0x5500000012c7 },
	{ .module = "libc.so.6", .address = 0x7f0000029d90, .module_offset = 0x29d90 },
};

static const struct report_frame pic_python[] = {
	{ .function = "malloc", .module = "libc.so.6", .address = 0x7f0000001000 },
	{ .function = "PyObject_Malloc", .offset = 0xd7, .module = "python3.11",
	  .address = 0x560000100000 },
	{ .function = "handle_request", .module = "python", .python = true, .file = "/srv/app.py",
	  .line = 25, .address = 0x7f1000000000 },
	{ .function = "<module>", .module = "python", .python = true, .file = "/srv/main.py",
	  .line = 3, .address = 0x7f1000001000 },
	{ .function = "main", .module = "python3.11", .address = 0x560000000100 },
};

static struct report_frame pic_hostile[] = {
	{ .function = "malloc", .module = "libc.so.6", .address = 0x7f0000001000 },
	{ .function = HOSTILE, .module = "evil<lib>&.so", .address = 0x5500000020aa },
	{ .function = "main", .offset = 0x99, .module = "leaky", .address = 0x5500000012e9 },
	{ .module = "libc.so.6", .address = 0x7f0000029d90, .module_offset = 0x29d90 },
};

static struct report_frame pic_long[] = {
	{ .function = "malloc", .module = "libc.so.6", .address = 0x7f0000001000 },
	{ .function = NULL /* the long name */, .module = "leaky", .address = 0x5500000030aa },
	{ .function = "main", .offset = 0xbb, .module = "leaky", .address = 0x55000000130b },
	{ .module = "libc.so.6", .address = 0x7f0000029d90, .module_offset = 0x29d90 },
};

static const struct report_frame pic_alloc_only[] = {
	{ .function = "malloc", .module = "libc.so.6", .address = 0x7f0000001000 },
};

static const struct report_frame pic_short[] = {
	{ .function = "malloc", .module = "libc.so.6", .address = 0x7f0000001000 },
	{ .function = "jit_thing", .module = "[anon]", .address = 0x7e0000000100 },
};

enum { PIC_LEAK, PIC_LONG, PIC_TABLE, PIC_PYTHON, PIC_HOSTILE, PIC_NO_STACK, PIC_SHORT,
       PIC_NSTACKS };

static struct report_stack pic_stacks[PIC_NSTACKS];

static const struct report_process pic_procs[] = {
	{ .pid = 4242, .comm = "leaky<&>\xff", .outstanding_bytes = 4198416 + 900,
	  .live_allocations = 1100, .rss_bytes = 9 << 20, .rss_known = true },
};

static const char *const pic_warnings[] = { "PID 4242 exec'd (now <b>&amp;</b>)" };

/* bytes of the stacks, largest first; their sum is the total. */
static const uint64_t pic_bytes[PIC_NSTACKS] = {
	4096000, 150000, 100000, 2048, 1200, 300, 68,
};

static inline uint64_t pic_total(void)
{
	uint64_t t = 0;

	for (size_t i = 0; i < PIC_NSTACKS; i++)
		t += pic_bytes[i];
	return t;
}

/* The model; scale multiplies every stack's bytes (a later report). */
static inline struct report pic_report(double scale)
{
	static const struct { const struct report_frame *f; size_t n; } frames[PIC_NSTACKS] = {
		[PIC_LEAK] = { pic_leak, 4 },
		[PIC_TABLE] = { pic_table, 4 },
		[PIC_PYTHON] = { pic_python, 5 },
		[PIC_HOSTILE] = { pic_hostile, 4 },
		[PIC_LONG] = { pic_long, 4 },
		[PIC_NO_STACK] = { pic_alloc_only, 1 },
		[PIC_SHORT] = { pic_short, 2 },
	};
	uint64_t total = 0;

	pic_long[1].function = the_long_name();
	for (size_t i = 0; i < PIC_NSTACKS; i++) {
		uint64_t b = (uint64_t)(pic_bytes[i] * scale);

		pic_stacks[i] = (struct report_stack){
			.pid = 4242, .allocator = i == PIC_TABLE ? "calloc" : "malloc",
			.bytes = b, .count = b / 100 + 1, .oldest_age_s = 12.5,
			.allocs = b / 50 + 1, .alloc_bytes = 2 * b, .frees = b / 100,
			.peak_bytes = b, .growth_bytes = (int64_t)b / 4,
			.no_stack = i == PIC_NO_STACK,
			.stack_end = i == PIC_SHORT ? "a frame in no known mapping" : NULL,
			.nframes = frames[i].n, .frames = frames[i].f,
		};
		total += b;
	}
	return (struct report){
		.wall = { .tv_sec = 1795236901 },
		.elapsed_s = 30 * scale,
		.interval_s = 10,
		.nprocs = 1,
		.procs = pic_procs,
		.outstanding_bytes = total,
		.live_allocations = 1100,
		.allocs = 5000,
		.alloc_bytes = 9000000,
		.frees = 3900,
		.distinct_stacks = PIC_NSTACKS,
		.acct = { .unknown_frees = 2, .lost_events = 3 },
		.top_n = 10,
		.nstacks_total = PIC_NSTACKS,
		.nstacks = PIC_NSTACKS,
		.stacks = pic_stacks,
		.nwarnings = 1,
		.warnings = pic_warnings,
	};
}

/* Write with writer into a temporary file; returns its path (free it). */
static inline char *to_file(int (*writer)(FILE *, void *), void *ctx)
{
	char *path = strdup("/tmp/memtrace-test-XXXXXX");
	int fd = mkstemp(path);
	FILE *f;

	cr_assert(fd >= 0);
	f = fdopen(fd, "w");
	cr_assert_not_null(f);
	cr_assert_eq(writer(f, ctx), 0);
	cr_assert_eq(fclose(f), 0);
	return path;
}

static inline char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n + 1);
	cr_assert_eq(fread(buf, 1, n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Run `python3 SCRIPT PATH ARGS` and return what it printed (free it);
 * *status is its exit status. */
static inline char *run_checker(const char *script, const char *path, const char *args,
				 int *status)
{
	char cmd[1024], *out = NULL;
	size_t len = 0;
	FILE *p, *o = open_memstream(&out, &len);
	int c;

	snprintf(cmd, sizeof(cmd), "python3 %s %s %s", script, path, args ? args : "");
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	while ((c = fgetc(p)) != EOF)
		fputc(c, o);
	*status = pclose(p);
	fclose(o);
	return out;
}

static inline size_t count_of(const char *s, const char *needle)
{
	size_t n = 0;

	for (const char *at = s; (at = strstr(at, needle)); at += strlen(needle))
		n++;
	return n;
}

#endif /* MEMTRACE_TEST_PICTURES_H */
