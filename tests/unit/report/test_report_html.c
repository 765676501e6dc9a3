// SPDX-License-Identifier: MIT
/*
 * The HTML page on a small report model, read by Python's HTML parser
 * (tests/unit/report/data/check_html.py): it refers to nothing outside
 * itself, its scripts cannot be ended early by a name, its drawings are
 * XML, and names from the program come back as the program wrote them.
 * The flame graph inside it passes the SVG checks too.
 */
#include "pictures.h"
#include "report/flame_tree.h"
#include "report/report_history.h"
#include "report/report_html.h"

#define CHECK_HTML "tests/unit/report/data/check_html.py"
#define CHECK_SVG "tests/unit/report/data/check_svg.py"

struct page {
	const struct report *r;
	struct report_history *h;
	struct flame_tree *t;
	struct html_options o;
};

static int write_page(FILE *f, void *ctx)
{
	struct page *p = ctx;

	return report_write_html(f, p->r, p->h, p->t, &p->o);
}

/* A run of n reports, each larger; the page of the last. */
static char *run(int n, double baseline_s, size_t top_n, char **path_out, struct report *last)
{
	struct page p = { .o = { .top_n = top_n, .interval_s = 10 } };
	const struct flame_tree *base;
	char *path, *html;

	cr_assert_eq(report_history_new(baseline_s, &p.h), 0);
	for (int i = 1; i <= n; i++) {
		*last = pic_report(i);
		last->elapsed_s = 10.0 * i;
		cr_assert_eq(report_history_add(p.h, last, top_n), 0);
	}
	last->final = true;
	p.r = last;
	cr_assert_eq(flame_tree_build(last, &p.t), 0);
	base = history_baseline(p.h, NULL);
	cr_assert_eq(flame_tree_set_baseline(p.t, base ? base : p.t), 0);
	path = to_file(write_page, &p);
	html = slurp(path);
	flame_tree_free(p.t);
	report_history_free(p.h);
	*path_out = path;
	return html;
}

static bool has_line(const char *out, const char *line)
{
	size_t n = strlen(line);

	for (const char *at = out; (at = strstr(at, line)); at += n)
		if ((at == out || at[-1] == '\n') && (at[n] == '\n' || !at[n]))
			return true;
	return false;
}

Test(html, self_contained_and_parsed)
{
	struct report r;
	char *path, *html = run(3, 0, 10, &path, &r), *out;
	int status;

	out = run_checker(CHECK_HTML, path, NULL, &status);
	cr_assert_eq(status, 0, "%s", out);
	/* Three reports: three points, the process's outstanding and RSS. */
	cr_assert(has_line(out, "timeline 3 2"), "%s", out);
	cr_assert(strstr(html, "<meta charset=\"utf-8\">"));
	cr_assert(strstr(html, "id=\"timeline\""));
	cr_assert(strstr(html, "id=\"stacks\""));
	cr_assert(strstr(html, "id=\"flame\""));
	cr_assert(strstr(html, "id=\"accounting\""));
	cr_assert(strstr(html, "Final report"));
	/* The only address in the page is the SVG namespace's name. */
	cr_assert_eq(count_of(html, "http"), count_of(html, "http://www.w3.org/2000/svg"));
	free(out);
	out = run_checker(CHECK_SVG, path, "--embedded", &status);
	cr_assert_eq(status, 0, "%s", out);
	unlink(path);
	free(path);
	free(html);
	free(out);
}

Test(html, hostile_names_come_back_as_written)
{
	struct report r;
	char *path, *html = run(2, 0, 10, &path, &r), *out;
	int status;

	out = run_checker(CHECK_HTML, path, NULL, &status);
	cr_assert_eq(status, 0, "%s", out);
	cr_assert(has_line(out, "title memtrace: leaky<&>" FFFD), "%s", out);
	cr_assert(has_line(out, "code leaky<&>" FFFD));
	cr_assert(has_line(out, "summary " HOSTILE_READ), "%s", out);
	cr_assert(has_line(out, "warning PID 4242 exec'd (now <b>&amp;</b>)"));
	cr_assert_null(strstr(html, "<script>alert"));
	cr_assert_null(strstr(html, "<b>&amp;</b>"));
	unlink(path);
	free(path);
	free(html);
	free(out);
}

Test(html, long_names_cut_in_summaries_whole_in_frames)
{
	struct report r;
	char *path, *html = run(1, 0, 10, &path, &r), *out;
	char cut[128];
	int status;

	out = run_checker(CHECK_HTML, path, NULL, &status);
	cr_assert_eq(status, 0, "%s", out);
	snprintf(cut, sizeof(cut), "summary %.78s..", the_long_name());
	cr_assert(has_line(out, cut), "%s", out);
	/* The frame list under the summary has it whole. */
	cr_assert(strstr(html, the_long_name()));
	unlink(path);
	free(path);
	free(html);
	free(out);
}

Test(html, top_stacks_with_growth_and_trend)
{
	struct report r;
	char *path, *html = run(4, 0, 3, &path, &r);

	/* Three rows, each with a sparkline; the rest said. */
	cr_assert_eq(count_of(html, "<tr class=\"stack\">"), 3);
	cr_assert_eq(count_of(html, "<svg class=\"spark\""), 3);
	cr_assert(strstr(html, "4 more stacks not listed"));
	/* leak_pages: 4 x 4096000 now, 4096000 at the baseline (the first
	 * report): +11.7 MiB. */
	cr_assert(strstr(html, "<span class=\"grow\">+11.7 MiB</span>"), "%.4000s",
		  strstr(html, "id=\"stacks\""));
	cr_assert(strstr(html, "Colour"), "growth colours one click away");
	cr_assert(strstr(html, "Figures may be wrong"), "3 lost events");
	unlink(path);
	free(path);
	free(html);
}

Test(html, before_the_baseline)
{
	struct report r;
	char *path, *html = run(2, 1000, 10, &path, &r);

	cr_assert(strstr(html, "due at 16m40s, not reached yet"));
	cr_assert_eq(count_of(html, "<span class=\"grow\">+11.7 MiB</span>"), 0);
	unlink(path);
	free(path);
	free(html);
}

Test(html, empty_run)
{
	struct report r = { 0 };
	struct page p = { .r = &r, .o = { .interval_s = 10 } };
	char *path, *html, *out;
	int status;

	cr_assert_eq(report_history_new(0, &p.h), 0);
	cr_assert_eq(report_history_add(p.h, &r, 10), 0);
	cr_assert_eq(flame_tree_build(&r, &p.t), 0);
	path = to_file(write_page, &p);
	html = slurp(path);
	out = run_checker(CHECK_HTML, path, NULL, &status);
	cr_assert_eq(status, 0, "%s", out);
	cr_assert(strstr(html, "No outstanding allocations."));
	cr_assert(strstr(html, "no outstanding bytes"));
	unlink(path);
	free(path);
	free(html);
	free(out);
	flame_tree_free(p.t);
	report_history_free(p.h);
}

Test(html, full_device)
{
	struct report r = pic_report(1);
	struct page p = { .r = &r, .o = { .interval_s = 10 } };
	FILE *f = fopen("/dev/full", "w");

	cr_assert_eq(report_history_new(0, &p.h), 0);
	cr_assert_eq(report_history_add(p.h, &r, 10), 0);
	cr_assert_eq(flame_tree_build(&r, &p.t), 0);
	cr_assert_neq(report_write_html(f, &r, p.h, p.t, &p.o), 0);
	fclose(f);
	flame_tree_free(p.t);
	report_history_free(p.h);
}
