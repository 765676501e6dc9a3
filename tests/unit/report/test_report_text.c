// SPDX-License-Identifier: MIT
/*
 * The text report (user/report/report_text.c):
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

/* --- write errors ------------------------------------------------------- */

Test(text, full_device)
{
	assert_full_device(report_write_text);
}
