// SPDX-License-Identifier: MIT
/* Command-line parsing (user/options.c). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>

#include "options.h"

static int parse(struct options *o, char **argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	return options_parse(o, argc, argv);
}

Test(options, defaults_and_pids)
{
	char *argv[] = { "memtrace", "-p", "12,34", "-p", "56", NULL };
	struct options o;

	cr_assert_eq(parse(&o, argv), 0);
	cr_assert_eq(o.npids, 3);
	cr_assert_eq(o.pids[0], 12);
	cr_assert_eq(o.pids[2], 56);
	cr_assert_float_eq(o.interval_s, 10, 1e-9);
	cr_assert_eq(o.top_n, 10);
	cr_assert_eq(o.command, NULL);
	cr_assert_eq(o.stack_mode, MT_STACK_DWARF);
}

Test(options, command_keeps_its_own_options)
{
	char *argv[] = { "memtrace", "-i", "2.5", "-n", "0", "--", "ls", "-l", "-p", NULL };
	struct options o;

	cr_assert_eq(parse(&o, argv), 0);
	cr_assert_float_eq(o.interval_s, 2.5, 1e-9);
	cr_assert_eq(o.top_n, 0);
	cr_assert_str_eq(o.command[0], "ls");
	cr_assert_str_eq(o.command[1], "-l");
	cr_assert_str_eq(o.command[2], "-p");
	cr_assert_eq(o.command[3], NULL);
	cr_assert_eq(o.npids, 0);
}

Test(options, all_values)
{
	char *argv[] = { "memtrace", "--min-age", "5", "--window", "60", "-d", "3",
			 "--json", "a.json", "--folded", "f", "-o", "t", "--stack",
			 "none", "--ringbuf-mb", "8", "-q", "-p", "1", NULL };
	struct options o;

	cr_assert_eq(parse(&o, argv), 0);
	cr_assert_float_eq(o.min_age_s, 5, 1e-9);
	cr_assert_float_eq(o.window_s, 60, 1e-9);
	cr_assert_float_eq(o.duration_s, 3, 1e-9);
	cr_assert_str_eq(o.json_path, "a.json");
	cr_assert_str_eq(o.folded_path, "f");
	cr_assert_str_eq(o.output_path, "t");
	cr_assert_eq(o.stack_mode, MT_STACK_NONE);
	cr_assert_eq(o.ringbuf_bytes, 8u << 20);
	cr_assert(o.quiet);
}

Test(options, bad_values_are_refused, .init = cr_redirect_stderr)
{
	char *bad[][8] = {
		{ "memtrace", "-i", "0", "-p", "1", NULL },
		{ "memtrace", "-i", "nan", "-p", "1", NULL },
		{ "memtrace", "-n", "-3", "-p", "1", NULL },
		{ "memtrace", "-p", "1x", NULL },
		{ "memtrace", "-p", ",", NULL },
		{ "memtrace", "--stack", "dwarfish", "-p", "1", NULL },
		{ "memtrace", "--ringbuf-mb", "0", "-p", "1", NULL },
		{ "memtrace", NULL },
		{ "memtrace", "-p", "1", "--", "ls", NULL },
		{ "memtrace", "-x", NULL },
		{ "memtrace", "--group-by", "lines", "-p", "1", NULL },
		{ "memtrace", "--frames", "some", "-p", "1", NULL },
		{ "memtrace", "--max-frames", "-1", "-p", "1", NULL },
		{ "memtrace", "--types=0", "-p", "1", NULL },
		{ "memtrace", "--types=x", "-p", "1", NULL },
		{ "memtrace", "--types", "--python", "off", "-p", "1", NULL },
	};
	struct options o;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_lt(parse(&o, bad[i]), 0, "case %zu accepted", i);
}

/* A word from a fixed list: each one is taken, and anything else is
 * refused with one line naming them all. */
Test(options, choices, .init = cr_redirect_stderr)
{
	char *python[] = { "memtrace", "--python", "off", "--stack", "fp", "-p", "1", NULL };
	char *bad_stack[] = { "memtrace", "--stack", "DWARF", "-p", "1", NULL };
	char *bad_python[] = { "memtrace", "--python", "", "-p", "1", NULL };
	struct options o;

	cr_assert_eq(parse(&o, python), 0);
	cr_assert_eq(o.python, PY_OFF);
	cr_assert_eq(o.stack_mode, MT_STACK_FP);
	cr_assert_eq(parse(&o, bad_stack), -EINVAL);
	cr_assert_eq(parse(&o, bad_python), -EINVAL);
	fflush(stderr);
	cr_assert_stderr_eq_str(
		"memtrace: --stack 'DWARF': expected dwarf, fp or none\n"
		"memtrace: --python '': expected auto, on or off\n");
}

Test(options, python_views)
{
	char *argv[] = { "memtrace", "--group-by", "line", "--frames", "all", "--max-frames",
			 "7", "--types", "-p", "1", NULL };
	char *argv2[] = { "memtrace", "--group-by", "file", "--types=5", "-p", "1", NULL };
	char *argv3[] = { "memtrace", "-p", "1", NULL };
	struct options o;

	cr_assert_eq(parse(&o, argv), 0);
	cr_assert_eq(o.group_by, REPORT_BY_LINE);
	cr_assert(o.all_frames);
	cr_assert_eq(o.max_frames, 7);
	cr_assert_eq(o.types_top, 20);
	cr_assert_eq(parse(&o, argv2), 0);
	cr_assert_eq(o.group_by, REPORT_BY_FILE);
	cr_assert_eq(o.types_top, 5);
	cr_assert_eq(parse(&o, argv3), 0);
	cr_assert_eq(o.group_by, REPORT_BY_STACK);
	cr_assert_not(o.all_frames);
	cr_assert_eq(o.max_frames, 0);
	cr_assert_eq(o.types_top, 0);
}
