// SPDX-License-Identifier: MIT
/*
 * What the pictures remember across reports: the timeline, the baseline,
 * and the stacks' sparklines, over runs short and long.
 */
#include "pictures.h"
#include "report/report_history.h"

static struct report at(double scale, double elapsed)
{
	struct report r = pic_report(scale);

	r.elapsed_s = elapsed;
	return r;
}

Test(history, timeline_one_point_per_report)
{
	struct report_history *h;
	struct report r;

	cr_assert_eq(report_history_new(0, &h), 0);
	for (int i = 1; i <= 3; i++) {
		r = at(i, 10.0 * i);
		cr_assert_eq(report_history_add(h, &r, 10), 0);
	}
	cr_assert_eq(history_points(h), 3);
	for (int i = 0; i < 3; i++) {
		cr_assert_float_eq(history_times(h)[i], 10.0 * (i + 1), 1e-9);
		cr_assert_eq(history_outstanding(h)[i], pic_total() * (i + 1));
	}
	cr_assert_eq(history_nprocs(h), 1);
	cr_assert_eq(history_proc(h, 0)->pid, 4242);
	cr_assert_str_eq(history_proc(h, 0)->comm, "leaky<&>\xff");
	cr_assert_eq(history_proc(h, 0)->bytes[2], pic_procs[0].outstanding_bytes);
	cr_assert_eq(history_proc(h, 0)->rss[1], pic_procs[0].rss_bytes);
	report_history_free(h);
}

Test(history, processes_come_and_go)
{
	struct report_process two[] = {
		{ .pid = 1, .comm = "a", .outstanding_bytes = 10, .rss_bytes = 100, .rss_known = true },
		{ .pid = 2, .comm = "b", .outstanding_bytes = 20, .rss_bytes = 200, .rss_known = true },
	};
	struct report_history *h;
	struct report r = at(1, 1);

	cr_assert_eq(report_history_new(0, &h), 0);
	r.procs = two;
	r.nprocs = 1;
	cr_assert_eq(report_history_add(h, &r, 10), 0);
	r.nprocs = 2;
	r.elapsed_s = 2;
	cr_assert_eq(report_history_add(h, &r, 10), 0);
	two[0].exited = true;
	two[0].rss_known = false;
	r.elapsed_s = 3;
	cr_assert_eq(report_history_add(h, &r, 10), 0);
	cr_assert_eq(history_nprocs(h), 2);
	/* b was not traced at the first point. */
	cr_assert_eq(history_proc(h, 1)->bytes[0], HISTORY_NONE);
	cr_assert_eq(history_proc(h, 1)->rss[0], HISTORY_NONE);
	cr_assert_eq(history_proc(h, 1)->bytes[1], 20);
	/* a exited: what it held stays, its RSS is not known. */
	cr_assert_eq(history_proc(h, 0)->bytes[2], 10);
	cr_assert_eq(history_proc(h, 0)->rss[2], HISTORY_NONE);
	cr_assert_eq(history_proc(h, 0)->rss[1], 100);
	report_history_free(h);
}

Test(history, baseline_first_report_or_when_due)
{
	struct report_history *h;
	struct report r;
	uint64_t bytes;
	double when;
	char text[96];

	cr_assert_eq(report_history_new(0, &h), 0);
	r = at(1, 10);
	cr_assert_eq(report_history_add(h, &r, 10), 0);
	r = at(2, 20);
	cr_assert_eq(report_history_add(h, &r, 10), 0);
	cr_assert_not_null(history_baseline(h, &when));
	cr_assert_float_eq(when, 10, 1e-9);
	cr_assert_eq(history_baseline(h, NULL)->nodes[0].bytes, pic_total());
	cr_assert(history_stack_baseline(h, &pic_stacks[PIC_LEAK], &bytes));
	cr_assert_eq(bytes, pic_bytes[PIC_LEAK]);
	history_baseline_text(h, text, sizeof(text));
	cr_assert_str_eq(text, "the first report (10.0s)");
	report_history_free(h);

	cr_assert_eq(report_history_new(15, &h), 0);
	r = at(1, 10);
	cr_assert_eq(report_history_add(h, &r, 10), 0);
	cr_assert_null(history_baseline(h, NULL));
	cr_assert_not(history_stack_baseline(h, &pic_stacks[PIC_LEAK], &bytes));
	history_baseline_text(h, text, sizeof(text));
	cr_assert_str_eq(text, "the baseline (due at 15.0s, not reached yet)");
	r = at(2, 20);
	cr_assert_eq(report_history_add(h, &r, 10), 0);
	cr_assert_not_null(history_baseline(h, &when));
	cr_assert_float_eq(when, 20, 1e-9);
	cr_assert(history_stack_baseline(h, &pic_stacks[PIC_LEAK], &bytes));
	cr_assert_eq(bytes, 2 * pic_bytes[PIC_LEAK]);
	history_baseline_text(h, text, sizeof(text));
	cr_assert_str_eq(text, "the report at 20.0s");
	report_history_free(h);
}

Test(history, sparklines_follow_the_largest_stacks)
{
	struct report_history *h;
	struct report r;
	const double *times;
	const uint64_t *values;
	size_t n;

	cr_assert_eq(report_history_new(0, &h), 0);
	for (int i = 1; i <= 4; i++) {
		r = at(i, i);
		cr_assert_eq(report_history_add(h, &r, 2), 0);
	}
	n = history_stack_series(h, &pic_stacks[PIC_LEAK], &times, &values);
	cr_assert_eq(n, 4);
	for (size_t i = 0; i < n; i++) {
		cr_assert_float_eq(times[i], i + 1.0, 1e-9);
		cr_assert_eq(values[i], pic_bytes[PIC_LEAK] * (i + 1));
	}
	cr_assert_eq(history_stack_series(h, &pic_stacks[PIC_LONG], &times, &values), 4);
	/* Only the two largest are tracked. */
	cr_assert_eq(history_stack_series(h, &pic_stacks[PIC_TABLE], &times, &values), 0);
	report_history_free(h);
}

Test(history, a_stack_tracked_late_has_no_values_before)
{
	struct report_history *h;
	struct report r;
	const double *times;
	const uint64_t *values;

	cr_assert_eq(report_history_new(0, &h), 0);
	r = at(1, 1);
	cr_assert_eq(report_history_add(h, &r, 1), 0);
	/* Now make_table is the largest. */
	r = at(1, 2);
	pic_stacks[PIC_TABLE].bytes = 1u << 30;
	r.stacks = pic_stacks;
	{
		struct report_stack tmp = pic_stacks[PIC_TABLE];

		pic_stacks[PIC_TABLE] = pic_stacks[PIC_LEAK];
		pic_stacks[PIC_LEAK] = tmp;
	}
	cr_assert_eq(report_history_add(h, &r, 1), 0);
	cr_assert_eq(history_stack_series(h, &pic_stacks[PIC_LEAK], &times, &values), 2);
	cr_assert_eq(values[0], HISTORY_NONE);
	cr_assert_eq(values[1], 1u << 30);
	report_history_free(h);
}

Test(history, long_runs_stay_small_and_spread)
{
	struct report_history *h;
	struct report r;
	const double *times;
	const uint64_t *values;
	size_t n;

	cr_assert_eq(report_history_new(0, &h), 0);
	for (int i = 0; i < 1000; i++) {
		r = at(1 + i / 100.0, i);
		cr_assert_eq(report_history_add(h, &r, 3), 0);
	}
	cr_assert_eq(history_points(h), 1000, "every report on the timeline");
	n = history_stack_series(h, &pic_stacks[PIC_LEAK], &times, &values);
	cr_assert_gt(n, HISTORY_SAMPLES / 2 - 1);
	cr_assert_lt(n, HISTORY_SAMPLES);
	cr_assert_float_eq(times[0], 0, 1e-9);
	for (size_t i = 1; i < n; i++) {
		cr_assert_gt(times[i], times[i - 1]);
		cr_assert_geq(values[i], values[i - 1], "the stack only grew");
	}
	/* Evenly spread: the samples are every 2^k-th report. */
	cr_assert_float_eq(times[1] - times[0], times[n - 1] - times[n - 2], 1e-9);
	cr_assert_gt(times[n - 1], 1000 - 2 * (times[1] - times[0]));
	report_history_free(h);
}

Test(history, many_stacks_evict_the_smallest)
{
	enum { N = HISTORY_TRACKED, NEW = 200 };
	static struct report_stack many[N + NEW], second[N + NEW];
	static struct report_frame frames[N + NEW];
	struct report_history *h;
	struct report r = { .nprocs = 0 };
	const double *times;
	const uint64_t *values;

	cr_assert_eq(report_history_new(0, &h), 0);
	for (size_t i = 0; i < N + NEW; i++) {
		frames[i] = (struct report_frame){ .function = "f", .module = "m", .address = i + 1 };
		/* The new ones are the largest. */
		many[i] = (struct report_stack){ .allocator = "malloc", .count = 1, .nframes = 1,
						 .bytes = i < N ? 1000000 - i : 5000000 - i,
						 .frames = &frames[i] };
	}
	r.stacks = many;
	r.nstacks = N;
	cr_assert_eq(report_history_add(h, &r, N), 0);
	cr_assert_eq(history_stack_series(h, &many[N - 1], &times, &values), 1);

	/* Then 200 new stacks at the top: the smallest tracked ones make
	 * room for them. */
	memcpy(second, many + N, NEW * sizeof(*second));
	memcpy(second + NEW, many, N * sizeof(*second));
	r.stacks = second;
	r.nstacks = N + NEW;
	r.elapsed_s = 1;
	cr_assert_eq(report_history_add(h, &r, NEW), 0);
	cr_assert_eq(history_stack_series(h, &many[N], &times, &values), 2);
	cr_assert_eq(values[0], HISTORY_NONE);
	cr_assert_eq(values[1], many[N].bytes);
	cr_assert_eq(history_stack_series(h, &many[N - 1], &times, &values), 0, "evicted");
	cr_assert_eq(history_stack_series(h, &many[0], &times, &values), 2, "kept");
	cr_assert_eq(values[1], many[0].bytes);
	report_history_free(h);
}
