// SPDX-License-Identifier: MIT
/*
 * The SVG flame graph on a small report model: a strict XML parser reads
 * it (Python's expat, via tests/unit/report/data/check_svg.py, which also
 * checks every frame's geometry), names from the program come back as the
 * program wrote them (escaped, never markup), and the colours say native,
 * Python, growth and shrinkage.
 */
#include "pictures.h"
#include "report/flame_tree.h"
#include "report/report_svg.h"

#define CHECK_SVG "tests/unit/report/data/check_svg.py"

struct svg_job {
	const struct report *r;
	struct flame_tree *t;
	struct flame_svg_options o;
	bool standalone;	/* report_write_flamegraph() */
	bool diff;
};

static int write_svg(FILE *f, void *ctx)
{
	struct svg_job *j = ctx;

	if (j->standalone)
		return report_write_flamegraph(f, j->r, j->t, j->diff, "the first report (10.0s)");
	return flame_svg_write(f, j->t, &j->o);
}

/* The frames check_svg.py printed: "depth bytes fill name" per line. */
struct frame_line {
	int depth;
	unsigned long long bytes;
	char fill[32];
	const char *name;
};

static size_t parse_frames(char *out, struct frame_line *lines, size_t max)
{
	size_t n = 0;

	for (char *line = strtok(out, "\n"); line && n < max; line = strtok(NULL, "\n")) {
		int used = 0;

		cr_assert_eq(sscanf(line, "%d %llu %31s %n", &lines[n].depth, &lines[n].bytes,
				    lines[n].fill, &used), 3, "%s", line);
		lines[n].name = line + used;
		n++;
	}
	return n;
}

static const struct frame_line *find_frame(const struct frame_line *l, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(l[i].name, name))
			return &l[i];
	return NULL;
}

/* Draw r (against base when given) and check it; returns the frames. */
static size_t draw(const struct report *r, const struct report *base, bool diff,
		   struct frame_line *lines, size_t max, char **svg, char **checker_out)
{
	struct svg_job j = { .r = r, .standalone = true, .diff = diff };
	struct flame_tree *bt = NULL;
	char *path;
	int status;

	cr_assert_eq(flame_tree_build(r, &j.t), 0);
	if (base) {
		cr_assert_eq(flame_tree_build(base, &bt), 0);
		cr_assert_eq(flame_tree_set_baseline(j.t, bt), 0);
	}
	path = to_file(write_svg, &j);
	*svg = slurp(path);
	*checker_out = run_checker(CHECK_SVG, path, NULL, &status);
	cr_assert_eq(status, 0, "check_svg.py failed on\n%.3000s", *svg);
	unlink(path);
	free(path);
	flame_tree_free(j.t);
	flame_tree_free(bt);
	return parse_frames(*checker_out, lines, max);
}

Test(svg, frames_add_up_to_the_outstanding_bytes)
{
	struct report r = pic_report(1);
	struct frame_line l[64];
	char *svg, *out;
	size_t n = draw(&r, NULL, false, l, 64, &svg, &out);
	unsigned long long depth1 = 0;

	cr_assert_gt(n, 10);
	cr_assert_eq(l[0].depth, 0);
	cr_assert_str_eq(l[0].name, "all");
	cr_assert_eq(l[0].bytes, pic_total());
	for (size_t i = 0; i < n; i++)
		if (l[i].depth == 1)
			depth1 += l[i].bytes;
	cr_assert_eq(depth1, pic_total());
	/* Outermost at the bottom: the shared libc frame holds the four
	 * complete native stacks' bytes, main above it. */
	cr_assert_eq(find_frame(l, n, "[libc.so.6]")->depth, 1);
	cr_assert_eq(find_frame(l, n, "[libc.so.6]")->bytes,
		     pic_bytes[PIC_LEAK] + pic_bytes[PIC_TABLE] + pic_bytes[PIC_HOSTILE] +
		     pic_bytes[PIC_LONG]);
	cr_assert_eq(find_frame(l, n, "leak_pages")->depth, 3);
	cr_assert_eq(find_frame(l, n, "leak_pages")->bytes, pic_bytes[PIC_LEAK]);
	/* A stack not captured, and one that stopped early, say so at their
	 * bottom. */
	cr_assert_eq(find_frame(l, n, "[stack not captured]")->bytes, pic_bytes[PIC_NO_STACK]);
	cr_assert_eq(find_frame(l, n, "[stack may be incomplete: a frame in no known mapping]")
		     ->depth, 1);
	cr_assert(strstr(svg, "<?xml version=\"1.0\" encoding=\"UTF-8\""));
	cr_assert(strstr(svg, "memtrace: outstanding memory by stack"));
	free(svg);
	free(out);
}

Test(svg, tooltips_say_bytes_share_and_count)
{
	struct report r = pic_report(1);
	struct flame_tree *t;
	struct svg_job j = { .r = &r, .standalone = true };
	char *path, *svg;

	cr_assert_eq(flame_tree_build(&r, &t), 0);
	j.t = t;
	path = to_file(write_svg, &j);
	svg = slurp(path);
	/* 4096000 B of 4349616: 94.17 %, 40961 live allocations. */
	cr_assert(strstr(svg, "<title>leak_pages\n3.9 MiB (4096000 bytes), 94.17% of all, "
			      "40961 live allocations\nin leaky</title>"), "%.2000s", svg);
	cr_assert(strstr(svg, "<title>handle_request (/srv/app.py:25)\n2.0 KiB (2048 bytes), "
			      "0.05% of all, 21 live allocations\nPython</title>"));
	unlink(path);
	free(path);
	free(svg);
	flame_tree_free(t);
}

Test(svg, hostile_names_come_back_as_written)
{
	struct report r = pic_report(1);
	struct frame_line l[64];
	char *svg, *out;
	size_t n = draw(&r, NULL, false, l, 64, &svg, &out);
	const struct frame_line *h = find_frame(l, n, HOSTILE_READ);

	cr_assert_not_null(h, "the hostile name did not come back");
	cr_assert_eq(h->bytes, pic_bytes[PIC_HOSTILE]);
	/* Never markup, never a script's end, never a CDATA end before the
	 * script's own. */
	cr_assert_null(strstr(svg, "<script>alert"));
	cr_assert(strstr(svg, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;amp;&quot;q&quot;"));
	cr_assert_eq(count_of(svg, "]]>"), 1);
	cr_assert_eq(count_of(svg, "<script"), 1);
	cr_assert(strstr(svg, "in evil&lt;lib&gt;&amp;.so"));
	free(svg);
	free(out);
}

Test(svg, long_names_are_whole_in_tooltips_and_cut_in_labels)
{
	struct report r = pic_report(1);
	struct frame_line l[64];
	char *svg, *out;
	size_t n = draw(&r, NULL, false, l, 64, &svg, &out);

	cr_assert_not_null(find_frame(l, n, the_long_name()));
	/* The label (a <text>, not the <title>): as many characters as fit
	 * in its 41 px (150000 B of 4349616), then "..". */
	cr_assert(strstr(svg, ">ab..</text>"));
	free(svg);
	free(out);
}

static bool is_memory_green(const char *fill)
{
	int r, g, b;

	return sscanf(fill, "rgb(%d,%d,%d)", &r, &g, &b) == 3 && r == 0 && g >= 190 && g <= 240 &&
	       b <= 210;
}

static bool is_python_yellow(const char *fill)
{
	int r, g, b;

	return sscanf(fill, "rgb(%d,%d,%d)", &r, &g, &b) == 3 && r >= 235 && g >= 150 &&
	       g <= 220 && b <= 70;
}

Test(svg, python_and_native_frames_have_their_colours)
{
	struct report r = pic_report(1);
	struct frame_line l[64];
	char *svg, *out;
	size_t n = draw(&r, NULL, false, l, 64, &svg, &out);

	cr_assert(is_memory_green(find_frame(l, n, "leak_pages")->fill));
	cr_assert(is_memory_green(find_frame(l, n, "PyObject_Malloc")->fill));
	cr_assert(is_python_yellow(find_frame(l, n, "handle_request (/srv/app.py:25)")->fill));
	cr_assert(is_python_yellow(find_frame(l, n, "<module> (/srv/main.py:3)")->fill));
	for (size_t i = 0; i < n; i++)
		if (l[i].depth > 0 && strchr(l[i].name, '(') && strstr(l[i].name, ".py:"))
			cr_assert(!is_memory_green(l[i].fill), "%s", l[i].name);
	free(svg);
	free(out);
}

static void rgb(const char *fill, int *r, int *g, int *b)
{
	cr_assert_eq(sscanf(fill, "rgb(%d,%d,%d)", r, g, b), 3, "%s", fill);
}

Test(svg, diff_colours_growth_red_and_shrinkage_blue)
{
	struct report base = pic_report(1);
	struct report_stack before[PIC_NSTACKS];
	struct report now;
	struct frame_line l[64];
	char *svg, *out;
	size_t n;
	int r, g, b;

	/* The baseline: leak_pages held half, make_table twice as much. */
	memcpy(before, pic_stacks, sizeof(before));
	before[PIC_LEAK].bytes /= 2;
	before[PIC_TABLE].bytes *= 2;
	base.stacks = before;
	now = pic_report(1);
	n = draw(&now, &base, true, l, 64, &svg, &out);

	rgb(find_frame(l, n, "leak_pages")->fill, &r, &g, &b);
	cr_assert(r == 255 && g < 100 && g == b, "leak_pages grew: %d,%d,%d", r, g, b);
	rgb(find_frame(l, n, "make_table")->fill, &r, &g, &b);
	cr_assert(b == 255 && r < 255 && r == g, "make_table shrank: %d,%d,%d", r, g, b);
	rgb(find_frame(l, n, "handle_request (/srv/app.py:25)")->fill, &r, &g, &b);
	cr_assert(r == 250 && g == 250 && b == 250, "no change is white: %d,%d,%d", r, g, b);
	/* Width is still the bytes now. */
	cr_assert_eq(find_frame(l, n, "leak_pages")->bytes, pic_bytes[PIC_LEAK]);
	cr_assert(strstr(svg, "memtrace: growth of outstanding memory"));
	cr_assert(strstr(svg, "+2.0 MiB since the baseline (2.0 MiB then)"));
	cr_assert(strstr(svg, "red grew, blue shrank since the baseline, the first report (10.0s)"));
	free(svg);
	free(out);
}

Test(svg, frames_beyond_the_budget_are_left_out_and_counted)
{
	struct report r = pic_report(1);
	struct svg_job j = { .r = &r, .o = { .max_frames = 4, .embedded = true } };
	char *path, *svg, *out;
	int status;

	cr_assert_eq(flame_tree_build(&r, &j.t), 0);
	path = to_file(write_svg, &j);
	svg = slurp(path);
	out = run_checker(CHECK_SVG, path, NULL, &status);
	cr_assert_eq(status, 0);
	/* Ties with the first frame left out go too. */
	cr_assert_leq(count_of(svg, "<g class=\"f\""), 4, "%s", out);
	cr_assert_geq(count_of(svg, "<g class=\"f\""), 1, "%s", out);
	cr_assert(strstr(svg, "frames under "), "the picture says what it left out");
	cr_assert_null(strstr(svg, "<?xml"), "an embedded picture has no XML declaration");
	unlink(path);
	free(path);
	free(svg);
	free(out);
	flame_tree_free(j.t);
}

Test(svg, empty_report)
{
	struct report r = { 0 };
	struct svg_job j = { .r = &r, .standalone = true };
	char *path, *svg, *out;
	int status;

	cr_assert_eq(flame_tree_build(&r, &j.t), 0);
	path = to_file(write_svg, &j);
	svg = slurp(path);
	out = run_checker(CHECK_SVG, path, NULL, &status);
	cr_assert_eq(status, 0, "%s", svg);
	cr_assert(strstr(svg, "no outstanding bytes"));
	unlink(path);
	free(path);
	free(svg);
	free(out);
	flame_tree_free(j.t);
}

Test(svg, bad_id_refused)
{
	struct report r = pic_report(1);
	struct flame_tree *t;
	struct flame_svg_options o = { .id = "a\"b" };
	FILE *f = fopen("/dev/null", "w");

	cr_assert_eq(flame_tree_build(&r, &t), 0);
	cr_assert_eq(flame_svg_write(f, t, &o), -EINVAL);
	fclose(f);
	flame_tree_free(t);
}

Test(svg, full_device)
{
	struct report r = pic_report(1);
	struct flame_tree *t;
	FILE *f = fopen("/dev/full", "w");

	cr_assert_eq(flame_tree_build(&r, &t), 0);
	cr_assert_neq(report_write_flamegraph(f, &r, t, false, NULL), 0);
	fclose(f);
	flame_tree_free(t);
}
