// SPDX-License-Identifier: MIT
/*
 * The JSON report (user/report/report_json.c):
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

/* --- write errors ------------------------------------------------------- */

Test(json, full_device)
{
	assert_full_device(report_write_json);
}

Test(json, stream_already_failed)
{
	struct report r = sample_report();
	FILE *f = fopen("/dev/null", "r");

	/* Writing to a read-only stream sets its error flag. */
	cr_assert_not_null(f);
	cr_assert_eq(report_write_json(f, &r), -EIO);
	fclose(f);
}
