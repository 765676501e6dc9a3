// SPDX-License-Identifier: MIT
/*
 * Flame graphs as SVG (see report_svg.h). Every frame is placed here, so
 * the file is a whole picture without its script; the script (built in
 * from flame_svg.js) only moves frames when zooming and recolours them
 * when searching.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"
#include "markup.h"
#include "report_svg.h"

static const char flame_js[] =
#include "report/flame_svg.js.h"
	;

#define WIDTH		1200.0	/* the frames' area, in px */
#define PAD		10.0	/* left and right of it */
#define FRAME_H		16	/* one frame's row */
#define TOP		84	/* title, subtitle, note, buttons */
#define BOTTOM		30	/* details line */
#define CHAR_W		7.2	/* 12 px monospace, for the labels drawn here */

/* Two numbers in [0, 1) that stay the same for a name, so that a
 * function keeps its colour from one report to the next. */
static void name_shades(const char *name, double *a, double *b)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const unsigned char *s = (const unsigned char *)name; *s; s++)
		h = (h ^ *s) * 0x100000001b3ULL;
	*a = (h & 0xffff) / 65536.0;
	*b = (h >> 16 & 0xffff) / 65536.0;
}

/* The memory colours: flamegraph.pl's --colors=mem greens and blues for
 * native code, yellows and oranges for Python, greys for the rest. */
static void memory_color(const struct flame_node *n, char *buf, size_t len)
{
	double a, b;

	name_shades(n->name, &a, &b);
	switch (n->kind) {
	case FLAME_NATIVE:
		snprintf(buf, len, "rgb(0,%d,%d)", 190 + (int)(50 * a), (int)(210 * b));
		break;
	case FLAME_UNKNOWN:
		snprintf(buf, len, "rgb(%d,%d,%d)", 120 + (int)(30 * b), 175 + (int)(30 * a),
			 150 + (int)(30 * b));
		break;
	case FLAME_PYTHON:
		snprintf(buf, len, "rgb(%d,%d,%d)", 235 + (int)(20 * a), 150 + (int)(70 * b),
			 30 + (int)(40 * a));
		break;
	case FLAME_MARK:
		snprintf(buf, len, "rgb(200,200,200)");
		break;
	default:
		snprintf(buf, len, "rgb(215,215,215)");
		break;
	}
}

static double growth_of(const struct flame_node *n)
{
	return (double)n->bytes - (double)n->before;
}

/* Red for growth, blue for shrinkage, white for none; full colour at the
 * largest change of the picture. */
static void growth_color(const struct flame_node *n, double max_change, char *buf, size_t len)
{
	double d = growth_of(n);
	int v = max_change > 0 ? (int)lround(fmin(fabs(d) / max_change, 1) * 210) : 0;

	if (d > 0)
		snprintf(buf, len, "rgb(255,%d,%d)", 255 - v, 255 - v);
	else if (d < 0)
		snprintf(buf, len, "rgb(%d,%d,255)", 255 - v, 255 - v);
	else
		snprintf(buf, len, "rgb(250,250,250)");
}

static bool valid_id(const char *id)
{
	if (!*id)
		return false;
	for (; *id; id++)
		if (!(('a' <= *id && *id <= 'z') || ('A' <= *id && *id <= 'Z') ||
		      ('0' <= *id && *id <= '9') || *id == '_' || *id == '-'))
			return false;
	return true;
}

static int cmp_desc(const void *pa, const void *pb)
{
	uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;

	return a > b ? -1 : a < b;
}

/* The fewest bytes a frame must hold to be drawn: every frame while they
 * fit in the budget (a frame narrower than a pixel still counts in a
 * search, and shows when zoomed), else the widest ones that fit. */
static uint64_t threshold(const struct flame_tree *t, size_t max_frames)
{
	size_t nonzero = 0;
	uint64_t *v, k;

	for (size_t i = 0; i < t->n; i++)
		nonzero += t->nodes[i].bytes > 0;
	if (nonzero <= max_frames)
		return 1;
	v = malloc(t->n * sizeof(*v));
	if (!v)
		return t->nodes[0].bytes;	/* out of memory: the root only */
	for (size_t i = 0; i < t->n; i++)
		v[i] = t->nodes[i].bytes;
	qsort(v, t->n, sizeof(*v), cmp_desc);
	/* Strictly more than the first frame left out, so that ties do not
	 * break the budget; a child is never wider than its parent, so the
	 * frames drawn always reach down to the root. */
	k = v[max_frames] + 1;
	free(v);
	return k;
}

/* The frame's <title>: its name (the first line, which the script reads),
 * then its figures. What the baseline is, the legend says once. */
static void write_tooltip(FILE *out, const struct flame_tree *t, const struct flame_node *n)
{
	uint64_t total = t->nodes[0].bytes;
	char b[32], g[40];

	fput_markup(out, n->name);
	fprintf(out, "\n%s (%" PRIu64 " bytes), %.2f%% of all, %" PRIu64 " live allocation%s",
		fmt_bytes(b, sizeof(b), n->bytes), n->bytes, total ? 100.0 * n->bytes / total : 0,
		n->count, n->count == 1 ? "" : "s");
	if (n->kind == FLAME_NATIVE || n->kind == FLAME_UNKNOWN) {
		fputs("\nin ", out);
		fput_markup(out, n->module ? n->module : "?");
	} else if (n->kind == FLAME_PYTHON) {
		fputs("\nPython", out);
	}
	if (t->has_baseline) {
		double d = growth_of(n);
		int64_t gr = d > (double)INT64_MAX ? INT64_MAX : d < (double)INT64_MIN ? INT64_MIN :
			     (int64_t)n->bytes - (int64_t)n->before;

		fprintf(out, "\n%s since the baseline (%s then)", fmt_growth(g, sizeof(g), gr),
			fmt_bytes(b, sizeof(b), n->before));
	}
}

static void write_frame(FILE *out, const struct flame_tree *t, uint32_t k, uint64_t offset,
			double height, double max_change, const struct flame_svg_options *o)
{
	const struct flame_node *n = &t->nodes[k];
	double total = t->nodes[0].bytes, x = PAD + offset / total * WIDTH;
	double w = n->bytes / total * WIDTH;
	double y = height - BOTTOM - (n->depth + 1) * FRAME_H;
	char mem[48], gro[48];
	long chars = lround(floor((w - 6) / CHAR_W));

	memory_color(n, mem, sizeof(mem));
	if (t->has_baseline)
		growth_color(n, max_change, gro, sizeof(gro));
	fprintf(out, "<g class=\"f\" data-v=\"%" PRIu64 "\" data-o=\"%" PRIu64 "\" data-d=\"%u\" "
		"data-p=\"%016" PRIx64 "\"", n->bytes, offset, n->depth, n->path_id);
	/* The colour not shown, for the script's Colour switch. */
	if (t->has_baseline)
		fprintf(out, " data-c=\"%s\" data-b=\"%" PRIu64 "\"", o->diff ? mem : gro,
			n->before);
	fputs("><title>", out);
	write_tooltip(out, t, n);
	fprintf(out, "</title><rect x=\"%.2f\" y=\"%.0f\" width=\"%.2f\" height=\"%d\" "
		"fill=\"%s\" rx=\"2\"/><text x=\"%.2f\" y=\"%.1f\">", x, y, w, FRAME_H - 1,
		o->diff && t->has_baseline ? gro : mem, x + 3, y + 11.5);
	if (chars >= 3)
		fput_markup_cut(out, n->name, chars);
	fputs("</text></g>\n", out);
}

/* The largest change of any frame but the root (whose change is the sum
 * of all); the root's when it is alone. */
static double largest_change(const struct flame_tree *t)
{
	double m = 0;

	for (size_t k = t->n > 1 ? 1 : 0; k < t->n; k++)
		m = fmax(m, fabs(growth_of(&t->nodes[k])));
	return m;
}

static void write_head(FILE *out, const char *id, double width, double height,
		       const struct flame_tree *t, const struct flame_svg_options *o)
{
	if (!o->embedded)
		fputs("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n", out);
	fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" id=\"%s\" "
		"class=\"memtrace-flame\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
		"data-w=\"%.0f\" data-pad=\"%.0f\" data-color=\"%s\">\n",
		id, width, height, width, height, WIDTH, PAD, o->diff && t->has_baseline ? "g" : "m");
	/* Selectors start with the id: in an HTML page, SVG styles apply to
	 * the whole page. */
	fprintf(out, "<style>\n"
		"#%1$s text { font-family: monospace; font-size: 12px; fill: #000; }\n"
		"#%1$s .title { font-size: 17px; }\n"
		"#%1$s .sub { fill: #444; }\n"
		"#%1$s .btn { cursor: pointer; fill: #0645ad; }\n"
		"#%1$s .f { cursor: pointer; }\n"
		"#%1$s .f:hover rect { stroke: #000; stroke-width: 0.7; }\n"
		"#%1$s .anc rect { opacity: 0.55; }\n"
		"#%1$s .hide { display: none; }\n"
		"</style>\n", id);
	fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#fcfcf6\"/>\n",
		width, height);
	if (o->title) {
		fprintf(out, "<text class=\"title\" x=\"%.0f\" y=\"22\" text-anchor=\"middle\">",
			width / 2);
		fput_markup(out, o->title);
		fputs("</text>\n", out);
	}
	if (o->subtitle) {
		fprintf(out, "<text class=\"sub\" x=\"%.0f\" y=\"40\" text-anchor=\"middle\">",
			width / 2);
		fput_markup(out, o->subtitle);
		fputs("</text>\n", out);
	}
	fprintf(out, "<text id=\"%s-reset\" class=\"btn hide\" x=\"%.0f\" y=\"76\">Reset Zoom</text>\n",
		id, PAD);
	fprintf(out, "<text id=\"%s-search\" class=\"btn\" x=\"%.0f\" y=\"76\" "
		"text-anchor=\"end\">Search (Ctrl-F)</text>\n", id, PAD + WIDTH);
	fprintf(out, "<text id=\"%s-clear\" class=\"btn hide\" x=\"%.0f\" y=\"76\" "
		"text-anchor=\"end\">Clear search</text>\n", id, PAD + WIDTH - 150);
	if (t->has_baseline)
		fprintf(out, "<text id=\"%s-mode\" class=\"btn\" x=\"%.0f\" y=\"76\" "
			"text-anchor=\"end\">%s</text>\n", id, PAD + WIDTH - 300,
			o->diff ? "Colour: growth" : "Colour: memory");
}

/* One line under the subtitle: what the growth colours mean, and what
 * was left out. */
static void write_note(FILE *out, const struct flame_tree *t, const struct flame_svg_options *o,
		       double width, size_t left_out, uint64_t min)
{
	if (!t->has_baseline && !left_out)
		return;
	fprintf(out, "<text class=\"sub\" x=\"%.0f\" y=\"58\" text-anchor=\"middle\">", width / 2);
	if (t->has_baseline) {
		fputs("growth colours: red grew, blue shrank since the baseline, ", out);
		fput_markup(out, o->baseline ? o->baseline : "the baseline");
	}
	if (left_out)
		fprintf(out, "%s%zu frame%s under %" PRIu64 " bytes not drawn",
			t->has_baseline ? "; " : "", left_out, left_out == 1 ? "" : "s", min);
	fputs("</text>\n", out);
}

int flame_svg_write(FILE *out, const struct flame_tree *t, const struct flame_svg_options *o)
{
	const char *id = o->id ? o->id : "fg";
	size_t max_frames = o->max_frames ? o->max_frames : FLAME_SVG_MAX_FRAMES;
	uint64_t total = t->nodes[0].bytes, min;
	uint64_t *offset;
	uint32_t depth = 0;
	size_t left_out = 0;
	double height, width = WIDTH + 2 * PAD, max_change;

	if (!valid_id(id))
		return -EINVAL;
	offset = calloc(t->n, sizeof(*offset));
	if (!offset)
		return -ENOMEM;
	min = total ? threshold(t, max_frames) : 1;
	/* Children start at their parent's left edge, in name order; a
	 * parent always comes before its children in t->nodes. */
	for (size_t k = 0; k < t->n; k++) {
		uint64_t at = offset[k];

		for (uint32_t c = t->nodes[k].first_child; c != FLAME_NONE;
		     c = t->nodes[c].next_sibling) {
			offset[c] = at;
			at += t->nodes[c].bytes;
		}
		if (t->nodes[k].bytes >= min && total) {
			if (t->nodes[k].depth > depth)
				depth = t->nodes[k].depth;
		} else if (t->nodes[k].bytes) {
			left_out++;
		}
	}
	height = TOP + (depth + 1) * FRAME_H + BOTTOM;
	max_change = t->has_baseline ? largest_change(t) : 0;

	write_head(out, id, width, height, t, o);
	write_note(out, t, o, width, left_out, min);
	if (!total) {
		fprintf(out, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">"
			"no outstanding bytes</text>\n", width / 2, height - BOTTOM - 4);
	} else {
		for (size_t k = 0; k < t->n; k++) {
			if (t->nodes[k].bytes < min)
				continue;
			write_frame(out, t, k, offset[k], height, max_change, o);
		}
	}
	fprintf(out, "<text id=\"%s-details\" x=\"%.0f\" y=\"%.0f\"> </text>\n", id, PAD,
		height - 10);
	/* On the buttons' line: the details line below can be as wide as
	 * the picture. */
	fprintf(out, "<text id=\"%s-matched\" x=\"%.0f\" y=\"76\"></text>\n", id, PAD + 110);
	/* CDATA: the script has < and &. It has no "]]>" (a unit test
	 * checks). */
	fprintf(out, "<script type=\"text/javascript\"><![CDATA[\n%s(document.getElementById('%s'));\n"
		"]]></script>\n</svg>\n", flame_js, id);
	free(offset);
	return ferror(out) ? -EIO : 0;
}

/* "leaky (PID 4242), 2 processes, ..." for the subtitle. */
static void describe(const struct report *r, char *buf, size_t len)
{
	char when[32], b[16], age[16];
	struct tm tm;
	size_t at = 0;

	if (r->nprocs == 1)
		at += snprintf(buf, len, "%s (PID %" PRIu32 "%s), ", r->procs[0].comm,
			       r->procs[0].pid, r->procs[0].exited ? ", exited" : "");
	else
		at += snprintf(buf, len, "%zu processes, ", r->nprocs);
	if (at >= len)
		return;
	if (!gmtime_r(&r->wall.tv_sec, &tm))
		memset(&tm, 0, sizeof(tm));
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	at += snprintf(buf + at, len - at, "%s, %s since start%s: %s in %" PRIu64
		       " live allocations", when, fmt_age(age, sizeof(age), r->elapsed_s),
		       r->final ? " (final)" : "", fmt_bytes(b, sizeof(b), r->outstanding_bytes),
		       r->live_allocations);
	if (r->sample_bytes && at < len)
		snprintf(buf + at, len - at, " (estimates: sampled one per %s)",
			 fmt_bytes(b, sizeof(b), r->sample_bytes));
}

int report_write_flamegraph(FILE *out, const struct report *r, const struct flame_tree *t,
			    bool diff, const char *baseline)
{
	struct flame_svg_options o = {
		.title = diff ? "memtrace: growth of outstanding memory" :
			 "memtrace: outstanding memory by stack",
		.diff = diff,
		.baseline = baseline,
	};
	char sub[512];
	int err;

	describe(r, sub, sizeof(sub));
	o.subtitle = sub;
	err = flame_svg_write(out, t, &o);
	return err ? err : fput_finish(out);
}
