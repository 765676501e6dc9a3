// SPDX-License-Identifier: MIT
/*
 * Reporters: hand-made reports, exact outputs.
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

static struct report sample_report(void)
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
static char *capture(int (*writer)(FILE *, const struct report *), const struct report *r)
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
static char *capture_text(const struct report *r)
{
	setenv("TZ", "UTC", 1);
	tzset();
	return capture(report_write_text, r);
}

/* Whether a strict parser accepts the line: bytes, so that UTF-8 is
 * checked, and without Python's NaN and Infinity extensions. */
static bool json_parses(const char *line)
{
	FILE *p = popen("python3 -c 'import json,sys; json.loads(sys.stdin.buffer.read(), "
			"parse_constant=lambda c: sys.exit(1))' 2>/dev/null", "w");

	cr_assert_not_null(p);
	fputs(line, p);
	return pclose(p) == 0;
}

/* needles appear in s in this order. */
static void assert_in_order(const char *s, const char *const *needles, size_t n)
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

/* --- text --------------------------------------------------------------- */

static const char sample_text[] =
	"== memtrace report 2026-11-21 04:55:01, 1m30s since start ==\n"
	"processes    1\n"
	"             4242 leaky, from the start\n"
	"outstanding  4.0 MiB in 1027 live allocations\n"
	"rates        123.4 allocs/s, 120.0 frees/s over the last 10.0s\n"
	"since start  123456 allocs, 122429 frees, 57 distinct stacks\n"
	"allocator    4242 glibc, /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"memory       4242: RSS 12.0 MiB (anon 8.0 MiB, file 4.0 MiB, shmem 0 B)\n"
	"             anon +6.0 MiB since start, memtrace accounts for +5.0 MiB (83%)\n"
	"             heap 4.0 MiB, mapped 1.0 MiB (of 2.0 MiB), Python arenas 0 B,\n"
	"             thread stacks 64.0 KiB,\n"
	"             unexplained 2.9 MiB (allocator slack, memory from before start)\n"
	"accounting   lost events 0, returns without entry 0,\n"
	"             returns in flight at attach 0, entries without return 0,\n"
	"             unknown frees 3, stacks not captured 0, replaced live 0,\n"
	"             exec dropped 0, nested calls 2, allocator's own maps 0\n"
	"unwinding    no table 0, no mapping 0, unsupported rule 0, bad read 0,\n"
	"             depth limit 0, frames by frame pointers 0,\n"
	"             frame pointers invalid 0, finished in user space 0, unfinished 0,\n"
	"             table full 0, too many mappings 0\n"
	"\n"
	"top 3 of 5 stacks by outstanding bytes:\n"
	"\n"
	"#1    4.0 MiB in 1024 allocations, oldest 29.8s, malloc\n"
	"    growth +1.2 MiB, peak 4.0 MiB; since start 2048 allocs, 1024 frees\n"
	"      malloc [libc.so.6]\n"
	"      leak_pages+0x1a [leaky]\n"
	"      main+0x55 [leaky] (leaky.c:88)\n"
	"      [libc.so.6+0x29d90]\n"
	"\n"
	"#2      512 B in 1 allocation, oldest 3m12s, calloc\n"
	"    growth +0 B, peak 512 B; since start 1 alloc, 0 frees\n"
	"      calloc [libc.so.6]\n"
	"      make_table+0x9 [leaky]\n"
	"\n"
	"#3      100 B in 2 allocations, oldest 2h05m, malloc\n"
	"    growth -200 B, peak 300 B; since start 9 allocs, 7 frees\n"
	"      [stack not captured]\n"
	"\n";

Test(text, sample_exact)
{
	struct report r = sample_report();
	char *out = capture_text(&r);

	cr_assert_str_eq(out, sample_text, "got:\n%s", out);
	free(out);
}

Test(text, final_filters_warnings_and_doubts)
{
	static const char *const warnings[] = { "PID 4250 exec'd (now worker): allocations "
						"from before the exec were dropped" };
	static const struct report_process procs[] = {
		{ .pid = 4242, .comm = "leaky" },
		{ .pid = 4250, .comm = "worker", .exited = true },
	};
	struct report r = sample_report();
	char *out;

	r.final = true;
	r.nprocs = 2;
	r.procs = procs;
	r.min_age_s = 5;
	r.window_s = 60;
	r.acct.lost_events = 12;
	r.acct.replaced_live = 1;
	r.nwarnings = 1;
	r.warnings = warnings;
	out = capture_text(&r);
	ASSERT_IN_ORDER(out,
			"== memtrace final report 2026-11-21 04:55:01, 1m30s since start ==\n",
			"processes    2, 1 exited\n",
			"             4242 leaky, from the start\n",
			"             4250 worker, from the start, exited\n",
			"lost events 12,", "replaced live 1,",
			"\nfigures may be wrong:\n",
			"  12 events lost (ring buffer full): allocations and frees were missed",
			"  1 allocation over a live address: the free before each was missed\n",
			"warning: PID 4250 exec'd (now worker): allocations from before the "
			"exec were dropped\n",
			"\ntop 3 of 5 stacks by outstanding bytes, counting only allocations "
			"older than 5s and made in the last 60s:\n",
			"#1    4.0 MiB in 1024 allocations, oldest 29.8s, malloc, PID 4242\n");
	cr_assert_null(strstr(out, "without entry:"));
	free(out);
}

Test(text, every_doubt_named)
{
	struct report r = sample_report();
	char *out;

	r.acct = (struct report_accounting){
		.lost_events = 1, .returns_without_entry = 2, .entries_without_return = 1,
		.stacks_not_captured = 4, .replaced_live = 5,
	};
	out = capture_text(&r);
	ASSERT_IN_ORDER(out, "figures may be wrong:\n",
			"  1 event lost (ring buffer full)",
			"  2 returns without entry: those allocations were missed\n",
			"  1 entry without return: those allocations were missed\n",
			"  4 stacks not captured: those allocations show as [stack not captured]\n",
			"  5 allocations over a live address");
	free(out);
}

Test(text, no_doubt_without_cause)
{
	struct report r = sample_report();
	char *out;

	/* Counted, but nothing was missed because of them. */
	r.acct = (struct report_accounting){ .unknown_frees = 9, .exec_dropped = 3,
					     .nested_calls = 7 };
	out = capture_text(&r);
	cr_assert_null(strstr(out, "may be wrong"));
	free(out);
}

Test(text, no_stacks)
{
	struct report r = sample_report();
	char *out;

	r.nstacks = r.nstacks_total = 0;
	r.min_age_s = 0.5;
	out = capture_text(&r);
	ASSERT_IN_ORDER(out, "\n\nno outstanding allocations, counting only allocations "
			"older than 0.5s\n\n");
	cr_assert_null(strstr(out, "top "));
	free(out);
}

Test(text, window_only)
{
	struct report r = sample_report();
	char *out;

	r.window_s = 60;
	out = capture_text(&r);
	ASSERT_IN_ORDER(out, "by outstanding bytes, counting only allocations made in the "
			"last 60s:\n");
	free(out);
}

Test(text, names_from_the_target_cannot_drive_the_terminal)
{
	static const struct report_process procs[] = { { .pid = 7, .comm = "ev\x1b[2Jil" } };
	static const struct report_frame frames[] = {
		{ .function = "bad\nname", .offset = 1, .module = "m" },
	};
	static const struct report_stack stacks[] = {
		{ .pid = 7, .allocator = "malloc", .bytes = 1, .count = 1, .nframes = 1,
		  .frames = frames },
	};
	struct report r = sample_report();
	char *out;

	r.procs = procs;
	r.stacks = stacks;
	r.nstacks = r.nstacks_total = 1;
	out = capture_text(&r);
	ASSERT_IN_ORDER(out, "             7 ev\\x1b[2Jil, from the start\n", "  bad\\x0aname+0x1 [m]\n");
	free(out);
}

Test(text, long_names_are_not_cut)
{
	char name[1000];
	struct report_frame frame = { .function = name, .offset = 2, .module = "libbig.so" };
	struct report_stack stack = { .allocator = "malloc", .bytes = 1, .count = 1,
				      .nframes = 1, .frames = &frame };
	struct report r = sample_report();
	char *out, expect[1100];

	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	r.stacks = &stack;
	r.nstacks = 1;
	out = capture_text(&r);
	snprintf(expect, sizeof(expect), "  %s+0x2 [libbig.so]\n", name);
	ASSERT_IN_ORDER(out, expect);
	free(out);
}

/* One line per process, in the builder's order (the largest first); past
 * 20 the rest are counted. */
Test(text, many_processes_listed_then_counted)
{
	struct report_process procs[25];
	struct report r = sample_report();
	char *out, *line;

	for (size_t i = 0; i < 25; i++)
		procs[i] = (struct report_process){ .pid = 100000 + i, .comm = "worker",
						    .outstanding_bytes = 2000 - i };
	r.procs = procs;
	r.nprocs = 25;
	out = capture_text(&r);
	ASSERT_IN_ORDER(out, "processes    25\n", "             100000 worker, from the start\n",
			"             100019 worker, from the start\n",
			"             and 5 more, holding 9.7 KiB\n");
	cr_assert_null(strstr(out, "100020 worker"));
	for (line = out; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		cr_assert_leq(strcspn(line, "\n"), 80);
	free(out);
}

/* --- JSON --------------------------------------------------------------- */

static struct report small_report(void)
{
	static const struct report_stack stacks[] = {
		{ .pid = 4242, .allocator = "malloc", .bytes = 4096, .count = 1,
		  .oldest_age_s = 29.8, .allocs = 3, .alloc_bytes = 12288, .frees = 2,
		  .peak_bytes = 8192, .growth_bytes = -4096, .nframes = 2,
		  .frames = leak_frames + 1 },
	};
	static const struct report_process procs[] = {
		{ .pid = 4242, .comm = "leaky", .outstanding_bytes = 4194916,
		  .live_allocations = 1027, .rss_bytes = 9437184, .rss_known = true },
	};
	struct report r = sample_report();

	r.procs = procs;
	r.alloc_bytes = 987654321;
	r.stacks = stacks;
	r.nstacks = 1;
	r.nstacks_total = 1;
	r.top_n = 10;
	return r;
}

static const char small_json[] =
	"{\"type\":\"report\",\"final\":false,\"time\":\"2026-11-21T04:55:01Z\","
	"\"elapsed_s\":90.000,\"interval_s\":10.000,"
	"\"processes\":[{\"pid\":4242,\"comm\":\"leaky\",\"exited\":false,"
	"\"outstanding_bytes\":4194916,\"live_allocations\":1027,\"rss_bytes\":9437184,"
	"\"allocator\":null,\"memory\":null,\"ppid\":null,\"exe\":null,\"how\":null,"
	"\"traced_from_s\":0.000,\"exited_s\":null,\"traced\":\"yes\",\"untraced\":null}],"
	"\"untraceable\":{},"
	"\"totals\":{\"outstanding_bytes\":4194916,\"live_allocations\":1027,\"allocs\":123456,"
	"\"alloc_bytes\":987654321,\"frees\":122429,\"alloc_rate\":123.400,\"free_rate\":120.000,"
	"\"distinct_stacks\":57,\"memory\":null},\"sampled\":false,"
	"\"accounting\":{\"lost_events\":0,\"returns_without_entry\":0,"
	"\"returns_in_flight_at_attach\":0,"
	"\"entries_without_return\":0,\"unknown_frees\":3,\"stacks_not_captured\":0,"
	"\"replaced_live\":0,\"exec_dropped\":0,\"nested_calls\":2,\"maps_in_allocator\":0,"
	"\"processes_partial\":0,"
	"\"unwind\":{\"no_table\":0,\"no_mapping\":0,\"unsupported\":0,\"bad_read\":0,"
	"\"depth\":0,\"fp_frames\":0,\"fp_end\":0,\"finished\":0,\"unfinished\":0,"
	"\"table_full\":0,\"too_many_mappings\":0},"
	"\"pymalloc\":{\"unreadable\":0,\"block_sizes\":0},"
	"\"python\":{\"unknown_frames\":0,\"code_freed\":0,\"named_from_copy\":0,"
	"\"lines_cut\":0,\"copies_lost\":0}},"
	"\"may_be_wrong\":false,\"symbols\":{\"resolved\":0,\"with_line\":0,"
	"\"objects_no_debug\":0,\"debuginfod_pending\":0,\"seconds\":0.000,"
	"\"build_s\":0.000},"
	"\"warnings\":[],"
	"\"filter\":{\"min_age_s\":0.000,\"window_s\":0.000},"
	"\"top_n\":10,\"stacks_total\":1,"
	"\"stacks\":[{\"rank\":1,\"pid\":4242,\"allocator\":\"malloc\",\"bytes\":4096,\"count\":1,"
	"\"oldest_age_s\":29.800,\"allocs\":3,\"alloc_bytes\":12288,\"frees\":2,"
	"\"peak_bytes\":8192,"
	"\"growth_bytes\":-4096,\"growth_count\":0,\"stack_captured\":true,"
	"\"stack_complete\":true,\"frames\":["
	"{\"function\":\"leak_pages\",\"offset\":26,\"module\":\"leaky\","
	"\"address\":\"0x55d4c3a1b1c9\",\"module_offset\":\"0x11c9\"},"
	"{\"function\":\"main\",\"offset\":85,\"module\":\"leaky\","
	"\"address\":\"0x55d4c3a1b2a5\",\"module_offset\":\"0x12a5\","
	"\"file\":\"leaky.c\",\"line\":88}],"
	"\"pids\":[{\"pid\":4242,\"bytes\":4096,\"count\":1}]}]}\n";

Test(json, checker_is_strict)
{
	cr_assert(json_parses("{\"a\":[1,\"\\u0001\"]}\n"));
	cr_assert_not(json_parses("{\"a\":nan}\n"));
	cr_assert_not(json_parses("{\"a\":NaN}\n"));
	cr_assert_not(json_parses("{\"a\":\"\xc3\"}\n"));
	cr_assert_not(json_parses("{\"a\":\"\x01\"}\n"));
}

Test(json, small_exact)
{
	struct report r = small_report();
	char *out = capture(report_write_json, &r);

	cr_assert_str_eq(out, small_json, "got:\n%s", out);
	cr_assert(json_parses(out));
	free(out);
}

Test(json, sample_is_one_valid_line)
{
	struct report r = sample_report();
	char *out = capture(report_write_json, &r);

	cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1);
	ASSERT_IN_ORDER(out, "\"rank\":1,", "\"rank\":2,", "\"rank\":3,",
			"\"stack_captured\":false,\"stack_complete\":false,\"frames\":[{\"function\":\"malloc\"");
	ASSERT_IN_ORDER(out, "{\"function\":null,\"offset\":0,\"module\":\"libc.so.6\","
			"\"address\":\"0x7f3a2c029d90\",\"module_offset\":\"0x29d90\"}");
	cr_assert(json_parses(out));
	free(out);
}

/* C1 controls are valid JSON, but a terminal showing the file (jq, less
 * -r, cat) would act on U+009B: escaped as \u009b. */
Test(json, c1_controls_escaped)
{
	static const struct report_process procs[] = { { .pid = 1, .comm = "a\xc2\x9b" "31mX\xc2\xa0" } };
	struct report r = sample_report();
	char *out;

	r.procs = procs;
	r.nprocs = 1;
	out = capture(report_write_json, &r);
	ASSERT_IN_ORDER(out, "\"comm\":\"a\\u009b31mX\xc2\xa0\"");
	cr_assert(json_parses(out));
	free(out);
}

Test(json, escaping)
{
	static const char *const warnings[] = { "tab\there", "bell\a" };
	static const struct report_process procs[] = {
		{ .pid = 1, .comm = "a\"b\\c\x01\x1f/" },
		/* comm cut by the kernel in the middle of "é", then a stray byte */
		{ .pid = 2, .comm = "caf\xc3" },
		{ .pid = 3, .comm = "\xe6\x97\xa5\xff\xed\xa0\x80z" },
	};
	static const struct report_frame frames[] = {
		{ .function = "operator\"\"_x\\\n", .module = "m\x7f", .python = true,
		  .file = "a.py", .line = 3 },
	};
	static const struct report_stack stacks[] = {
		{ .allocator = "malloc", .bytes = 1, .nframes = 1, .frames = frames },
	};
	struct report r = sample_report();
	char *out;

	r.procs = procs;
	r.nprocs = 3;
	r.warnings = warnings;
	r.nwarnings = 2;
	r.stacks = stacks;
	r.nstacks = 1;
	out = capture(report_write_json, &r);
	ASSERT_IN_ORDER(out, "\"comm\":\"a\\\"b\\\\c\\u0001\\u001f/\"",
			"\"comm\":\"caf\\ufffd\"",
			"\"comm\":\"\xe6\x97\xa5\\ufffd\\ufffd\\ufffd\\ufffdz\"",
			"\"warnings\":[\"tab\\u0009here\",\"bell\\u0007\"]",
			"{\"function\":\"operator\\\"\\\"_x\\\\\\u000a\",\"offset\":0,"
			"\"module\":\"m\x7f\",\"address\":\"0x0\",\"module_offset\":\"0x0\","
			"\"file\":\"a.py\",\"line\":3,\"python\":true}");
	cr_assert(json_parses(out));
	free(out);
}

Test(json, extremes)
{
	static const struct report_frame frames[] = {
		{ .module = "[unknown]", .offset = UINT64_MAX, .address = UINT64_MAX,
		  .module_offset = UINT64_MAX },
	};
	static const struct report_stack stacks[] = {
		{ .pid = UINT32_MAX, .allocator = "realloc", .bytes = UINT64_MAX,
		  .count = UINT64_MAX, .oldest_age_s = NAN, .peak_bytes = UINT64_MAX,
		  .growth_bytes = INT64_MIN, .nframes = 1, .frames = frames },
	};
	struct report r = sample_report();
	char *out;

	r.final = true;
	r.outstanding_bytes = UINT64_MAX;
	r.elapsed_s = INFINITY;
	r.interval_s = -INFINITY;
	r.alloc_rate = NAN;
	r.free_rate = -NAN;
	r.min_age_s = 2.5;
	r.acct.lost_events = UINT64_MAX;
	r.stacks = stacks;
	r.nstacks = 1;
	out = capture(report_write_json, &r);
	ASSERT_IN_ORDER(out, "\"final\":true,", "\"elapsed_s\":0.000,\"interval_s\":0.000,",
			"\"outstanding_bytes\":18446744073709551615,",
			"\"alloc_rate\":0.000,\"free_rate\":0.000,",
			"\"lost_events\":18446744073709551615,",
			"\"may_be_wrong\":true,",
			"\"filter\":{\"min_age_s\":2.500,\"window_s\":0.000}",
			"\"pid\":4294967295,\"allocator\":\"realloc\","
			"\"bytes\":18446744073709551615,\"count\":18446744073709551615,"
			"\"oldest_age_s\":0.000,",
			"\"growth_bytes\":-9223372036854775808,",
			"{\"function\":null,\"offset\":18446744073709551615,\"module\":\"[unknown]\","
			"\"address\":\"0xffffffffffffffff\",\"module_offset\":\"0xffffffffffffffff\"}");
	/* printf's spellings, as values ("debuginfod_pending" is a key). */
	cr_assert_null(strstr(out, ":nan"));
	cr_assert_null(strstr(out, ":-nan"));
	cr_assert_null(strstr(out, ":inf"));
	cr_assert_null(strstr(out, ":-inf"));
	cr_assert(json_parses(out));
	free(out);
}

Test(json, empty)
{
	struct report r = { .wall = { .tv_sec = WALL_2026_11_21_04_55_01_UTC } };
	char *out = capture(report_write_json, &r);

	ASSERT_IN_ORDER(out, "\"processes\":[],", "\"warnings\":[],",
			"\"top_n\":0,\"stacks_total\":0,\"stacks\":[]}\n");
	cr_assert(json_parses(out));
	free(out);
}

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

Test(errors, full_device)
{
	int (*const writers[])(FILE *, const struct report *) = {
		report_write_text, report_write_json, report_write_folded,
	};
	struct report r = sample_report();

	for (size_t i = 0; i < sizeof(writers) / sizeof(writers[0]); i++) {
		FILE *f = fopen("/dev/full", "w");

		cr_assert_not_null(f);
		cr_assert_eq(writers[i](f, &r), -ENOSPC, "writer %zu", i);
		fclose(f);
	}
}

Test(errors, stream_already_failed)
{
	struct report r = sample_report();
	FILE *f = fopen("/dev/null", "r");

	/* Writing to a read-only stream sets its error flag. */
	cr_assert_not_null(f);
	cr_assert_eq(report_write_json(f, &r), -EIO);
	fclose(f);
}

/* A Python stack: the allocator's path, two Python frames with the
 * interpreter's frames around and between them, a C extension between. */
static const struct report_frame py_frames[] = {
	{ .function = "malloc", .module = "libc.so.6" },
	{ .function = "PyObject_Malloc", .module = "python3.11", .interpreter = true },
	{ .function = "inner", .module = "python", .file = "app.py", .line = 3,
	  .python = true },
	{ .function = "_PyEval_Vector", .module = "python3.11", .interpreter = true },
	{ .function = "call", .module = "python3.11", .interpreter = true },
	{ .function = "ext_call", .module = "_ext.so" },
	{ .function = "vectorcall", .module = "python3.11", .interpreter = true },
	{ .function = "outer", .module = "python", .file = "app.py", .line = 9,
	  .python = true },
	{ .function = "PyEval_EvalCode", .module = "python3.11", .interpreter = true },
	{ .function = "__libc_start_main", .module = "libc.so.6" },
	{ .function = "_start", .module = "python3.11", .interpreter = true },
};

static struct report py_report(struct report_stack *s)
{
	struct report r = sample_report();

	*s = (struct report_stack){ .pid = 4242, .allocator = "malloc", .bytes = 4096,
				    .count = 4, .nframes = sizeof(py_frames) / sizeof(py_frames[0]),
				    .frames = py_frames };
	r.stacks = s;
	r.nstacks = r.nstacks_total = 1;
	r.top_n = 10;
	return r;
}

Test(text, python_stacks_fold_the_interpreter)
{
	struct report_stack s;
	struct report r = py_report(&s);
	char *out = capture_text(&r);

	cr_assert(strstr(out, "      malloc [libc.so.6]\n"
			      "      PyObject_Malloc [python3.11]\n"
			      "      inner (app.py:3)\n"
			      "      ... 2 interpreter frames\n"
			      "      ext_call [_ext.so]\n"
			      "      vectorcall [python3.11]\n"
			      "      outer (app.py:9)\n"
			      "      ... 3 frames, outermost _start [python3.11]\n"), "%s", out);
	free(out);

	r.all_frames = true;
	out = capture_text(&r);
	cr_assert(strstr(out, "      call [python3.11]\n      ext_call [_ext.so]\n"), "%s", out);
	cr_assert(strstr(out, "      _start [python3.11]\n"), "%s", out);
	cr_assert_null(strstr(out, "... "));
	free(out);

	r.all_frames = false;
	r.max_frames = 3;
	out = capture_text(&r);
	cr_assert(strstr(out, "      inner (app.py:3)\n"
			      "      ... 8 more frames (--max-frames 3)\n"), "%s", out);
	free(out);
}

Test(text, groups_in_tracemalloc_form)
{
	const struct report_group groups[] = {
		{ .file = "app.py", .line = 11, .python = true, .bytes = 4194304,
		  .count = 1000, .growth_bytes = 1258291, .growth_count = 300 },
		{ .function = "session_new", .module = "demo", .bytes = 100, .count = 1,
		  .growth_bytes = -50, .growth_count = -1 },
	};
	struct report_stack s;
	struct report r = py_report(&s);
	char *out;

	r.group_by = REPORT_BY_LINE;
	r.groups = groups;
	r.ngroups = r.ngroups_total = 2;
	out = capture_text(&r);
	cr_assert(strstr(out, "top 2 of 2 lines by outstanding bytes:\n"
			      "app.py:11: size=4.0 MiB (+1.2 MiB), count=1000 (+300), "
			      "average=4194 B\n"
			      "session_new [demo]: size=100 B (-50 B), count=1 (-1), "
			      "average=100 B\n"), "%s", out);
	free(out);
	out = capture(report_write_json, &r);
	cr_assert(strstr(out, "\"group_by\":\"line\",\"groups_total\":2,\"groups\":[{\"file\":"
			      "\"app.py\",\"line\":11,\"function\":null,\"module\":null,"
			      "\"python\":true,\"bytes\":4194304,\"count\":1000,"
			      "\"mapped_bytes\":0,"
			      "\"growth_bytes\":1258291,\"growth_count\":300,\"stacks\":0}"), "%s", out);
	cr_assert(json_parses(out));
	free(out);
}

Test(text, types_with_their_growth_and_site)
{
	const struct report_frame site = { .function = "Emitter.on", .module = "python",
					   .file = "events.py", .line = 23, .python = true };
	const struct report_type_row rows[] = {
		{ .name = "Listener", .count = 12345, .bytes = 2411724, .growth_count = 1000,
		  .growth_bytes = 64000, .site = &site, .site_count = 12000, .nsites = 2 },
		{ .name = "int", .count = 7, .bytes = 224, .growth_count = -2 },
	};
	const struct report_types types = {
		.pid = 4242, .ntypes_total = 9, .ntypes = 2, .rows = rows,
		.arena_bytes = 3 << 20, .seconds = 0.0123, .limit_s = 5,
		.large_since_start = true, .sites = true,
	};
	struct report_stack s;
	struct report r = py_report(&s);
	char *out;

	r.type_reports = &types;
	r.ntype_reports = 1;
	out = capture_text(&r);
	cr_assert(strstr(out, "live objects by type, PID 4242: 3.0 MiB of pymalloc arenas read "
			      "from outside in 0.012s (limit 5s); objects over 512 B as far as "
			      "traced\n"), "%s", out);
	cr_assert(strstr(out, "         12,345     2.3 MiB      +1,000  Listener  (12,000 from "
			      "Emitter.on (events.py:23), and 1 more stack)\n"), "%s", out);
	cr_assert(strstr(out, "              7       224 B          -2  int\n"), "%s", out);
	free(out);
	out = capture(report_write_json, &r);
	cr_assert(strstr(out, "\"types\":[{\"pid\":4242,\"error\":null,\"census\":{"), "%s", out);
	cr_assert(strstr(out, "{\"name\":\"Listener\",\"count\":12345,\"bytes\":2411724,"
			      "\"growth_count\":1000,\"growth_bytes\":64000,\"stacks\":2,"
			      "\"site\":{\"count\":12000,\"bytes\":0,\"frame\":"), "%s", out);
	cr_assert(json_parses(out));
	free(out);
}
