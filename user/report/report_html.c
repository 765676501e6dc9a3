// SPDX-License-Identifier: MIT
/*
 * The HTML page (see report_html.h). Everything is drawn here, as inline
 * SVG and tables, so the page reads without its scripts; the scripts (the
 * flame graph's, and report_html.js for the timeline's readout) only add
 * interaction.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"
#include "markup.h"
#include "report_html.h"
#include "report_svg.h"

static const char page_js[] =
#include "report/report_html.js.h"
	;

/* The timeline's drawing, in px. */
#define TL_W	1200.0
#define TL_H	300.0
#define TL_L	90.0	/* room for the byte labels */
#define TL_R	20.0
#define TL_T	15.0
#define TL_B	35.0	/* room for the time labels */
#define TL_DOTS	200	/* points marked when a series has at most this many */

#define SPARK_W	120.0
#define SPARK_H	24.0

/* Distinct colours for processes (a line each for outstanding and RSS). */
static const char *const palette[] = {
	"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
	"#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
};
#define NPALETTE (sizeof(palette) / sizeof(palette[0]))

static const char css[] =
	"body { font-family: sans-serif; margin: 1.5em; color: #222; background: #fff; }\n"
	"h1 { font-size: 1.5em; margin: 0 0 0.2em; }\n"
	"h2 { font-size: 1.2em; margin: 1.6em 0 0.5em; border-bottom: 1px solid #ddd; }\n"
	".sub { color: #555; margin: 0.2em 0; }\n"
	".doubt { background: #fff3cd; border: 1px solid #e0b000; padding: 0.5em 1em; }\n"
	"table { border-collapse: collapse; }\n"
	"td, th { padding: 0.25em 0.7em; text-align: left; vertical-align: top; }\n"
	"th { background: #f3f3f3; }\n"
	"td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }\n"
	"tr.stack:nth-child(even) { background: #fafafa; }\n"
	".frames { font-family: monospace; white-space: pre; margin: 0.3em 0; }\n"
	"code, .mono { font-family: monospace; }\n"
	"summary { cursor: pointer; font-family: monospace; }\n"
	".grow { color: #b00; } .shrink { color: #05a; }\n"
	"svg.memtrace-flame, svg.timeline { max-width: 100%; height: auto; }\n"
	"svg.timeline text { font-family: sans-serif; font-size: 11px; fill: #444; }\n"
	".legend span.sw { display: inline-block; width: 2em; height: 0; margin: 0 0.4em 0.25em 1em;"
	" border-top: 3px solid; vertical-align: middle; }\n"
	".legend span.sw.rss { border-top-style: dashed; }\n"
	"#tl-readout { font-family: monospace; min-height: 1.3em; color: #333; }\n";

static const char *plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

/* ---- scales ---- */

/* A step of 1, 2 or 5 times a power of ten (times a power of 1024 for
 * bytes, so that the labels are round in KiB, MiB, ...) that cuts max
 * into at most six parts. */
static double nice_step(double max, bool bytes)
{
	double base = 1, steps[] = { 1, 2, 5 };

	if (!(max > 0))
		return 1;
	if (bytes)
		while (max / base >= 1024)
			base *= 1024;
	for (;;) {
		for (size_t i = 0; i < 3; i++)
			if (max / (base * steps[i]) <= 6)
				return base * steps[i];
		base *= 10;
	}
}

struct scale {
	double tmax, vmax;
};

static double sx(const struct scale *s, double t)
{
	return TL_L + (s->tmax > 0 ? t / s->tmax : 0) * (TL_W - TL_L - TL_R);
}

static double sy(const struct scale *s, double v)
{
	return TL_H - TL_B - (s->vmax > 0 ? v / s->vmax : 0) * (TL_H - TL_T - TL_B);
}

/* ---- the timeline ---- */

/* The timeline's points: h's, and r's when h has not kept it (a long run
 * keeps every second report, and so on). */
struct timeline {
	size_t n;
	const double *times;
	bool extra;		/* r is one more point */
	double extra_t;
};

static double point_time(const struct timeline *tl, size_t i)
{
	return i < tl->n ? tl->times[i] : tl->extra_t;
}

struct series {
	const char *kind;		/* "outstanding", "RSS" */
	const struct history_proc *proc;	/* NULL: all processes */
	const uint64_t *values;		/* tl->n entries */
	uint64_t extra;			/* the value at r, when tl->extra */
	const char *color;
	bool dashed;
};

static uint64_t series_value(const struct timeline *tl, const struct series *s, size_t i)
{
	return i < tl->n ? s->values[i] : s->extra;
}

static void series_name(FILE *out, const struct series *s)
{
	if (!s->proc) {
		fputs("all processes, outstanding", out);
		return;
	}
	fput_markup(out, s->proc->comm);
	fprintf(out, " (PID %" PRIu32 "), %s", s->proc->pid, s->kind);
}

static void write_series(FILE *out, const struct timeline *tl, const struct series *s,
			 const struct scale *sc)
{
	size_t n = tl->n + tl->extra, shown = 0;
	bool pen = false;

	fprintf(out, "<path class=\"s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s d=\"",
		s->color, s->dashed ? " stroke-dasharray=\"6 4\"" : "");
	for (size_t i = 0; i < n; i++) {
		uint64_t v = series_value(tl, s, i);

		if (v == HISTORY_NONE) {
			pen = false;	/* a gap: not traced, or gone */
			continue;
		}
		fprintf(out, "%s%.1f,%.1f ", pen ? "L" : "M", sx(sc, point_time(tl, i)), sy(sc, v));
		pen = true;
		shown++;
	}
	fputs("\" data-v=\"", out);
	for (size_t i = 0; i < n; i++) {
		uint64_t v = series_value(tl, s, i);

		if (v != HISTORY_NONE)
			fprintf(out, "%" PRIu64, v);
		if (i + 1 < n)
			fputc(',', out);
	}
	fputs("\"><title>", out);
	series_name(out, s);
	fputs("</title></path>\n", out);
	if (shown > TL_DOTS)
		return;
	/* A point per report, so that a short run still shows each one. */
	for (size_t i = 0; i < n; i++) {
		uint64_t v = series_value(tl, s, i);

		if (v != HISTORY_NONE)
			fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\"/>\n",
				sx(sc, point_time(tl, i)), sy(sc, v), s->dashed ? "2" : "3", s->color);
	}
}

static void write_axes(FILE *out, const struct scale *sc)
{
	double step = nice_step(sc->vmax, true), tstep = nice_step(sc->tmax, false);
	char b[32];

	fprintf(out, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"#fcfcfc\" "
		"stroke=\"#ccc\"/>\n", TL_L, TL_T, TL_W - TL_L - TL_R, TL_H - TL_T - TL_B);
	for (double v = 0; v <= sc->vmax * 1.0001; v += step) {
		fprintf(out, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
			"<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", TL_L,
			TL_W - TL_R, sy(sc, v), sy(sc, v), TL_L - 6, sy(sc, v) + 4,
			fmt_bytes(b, sizeof(b), (uint64_t)llround(v)));
	}
	for (double t = 0; t <= sc->tmax * 1.0001; t += tstep) {
		fprintf(out, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"#e4e4e4\"/>"
			"<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n", sx(sc, t),
			sx(sc, t), TL_T, TL_H - TL_B, sx(sc, t), TL_H - TL_B + 16,
			fmt_age(b, sizeof(b), t));
	}
	fprintf(out, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">time since start</text>\n",
		(TL_L + TL_W - TL_R) / 2, TL_H - 3);
}

static int write_timeline(FILE *out, const struct report *r, const struct report_history *h)
{
	size_t nprocs = history_nprocs(h), ns = 0;
	struct timeline tl = { .n = history_points(h), .times = history_times(h) };
	struct series *s = calloc(2 * nprocs + 1, sizeof(*s));
	struct scale sc = { 0 };

	if (!s)
		return -ENOMEM;
	tl.extra = !tl.n || tl.times[tl.n - 1] < r->elapsed_s;
	tl.extra_t = r->elapsed_s;

	if (nprocs > 1)
		s[ns++] = (struct series){ .kind = "outstanding", .values = history_outstanding(h),
					   .extra = r->outstanding_bytes, .color = "#000" };
	for (size_t i = 0; i < nprocs; i++) {
		const struct history_proc *p = history_proc(h, i);
		uint64_t now = HISTORY_NONE, rss = HISTORY_NONE;

		for (size_t k = 0; k < r->nprocs; k++) {
			if (r->procs[k].pid == p->pid) {
				now = r->procs[k].outstanding_bytes;
				rss = r->procs[k].rss_known ? r->procs[k].rss_bytes : HISTORY_NONE;
			}
		}
		s[ns++] = (struct series){ .kind = "outstanding", .proc = p, .values = p->bytes,
					   .extra = now, .color = palette[i % NPALETTE] };
		s[ns++] = (struct series){ .kind = "RSS", .proc = p, .values = p->rss, .extra = rss,
					   .color = palette[i % NPALETTE], .dashed = true };
	}
	for (size_t i = 0; i < tl.n + tl.extra; i++) {
		sc.tmax = fmax(sc.tmax, point_time(&tl, i));
		for (size_t k = 0; k < ns; k++) {
			uint64_t v = series_value(&tl, &s[k], i);

			if (v != HISTORY_NONE)
				sc.vmax = fmax(sc.vmax, (double)v);
		}
	}
	sc.vmax = sc.vmax > 0 ? sc.vmax * 1.05 : 1024;
	if (!(sc.tmax > 0))
		sc.tmax = 1;

	fputs("<h2 id=\"timeline\">Memory over time</h2>\n", out);
	fprintf(out, "<svg class=\"timeline\" id=\"tl\" xmlns=\"http://www.w3.org/2000/svg\" "
		"width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" data-l=\"%.0f\" "
		"data-r=\"%.0f\" data-tmax=\"%.3f\" data-t=\"", TL_W, TL_H, TL_W, TL_H, TL_L,
		TL_W - TL_R, sc.tmax);
	for (size_t i = 0; i < tl.n + tl.extra; i++)
		fprintf(out, "%s%.3f", i ? "," : "", point_time(&tl, i));
	fputs("\">\n", out);
	write_axes(out, &sc);
	for (size_t k = 0; k < ns; k++)
		write_series(out, &tl, &s[k], &sc);
	fprintf(out, "<line id=\"tl-cursor\" x1=\"0\" x2=\"0\" y1=\"%.0f\" y2=\"%.0f\" "
		"stroke=\"#888\" visibility=\"hidden\"/>\n</svg>\n", TL_T, TL_H - TL_B);
	fputs("<p id=\"tl-readout\"> </p>\n<p class=\"legend\">", out);
	for (size_t k = 0; k < ns; k++) {
		fprintf(out, "<span class=\"sw%s\" style=\"border-color: %s\"></span>",
			s[k].dashed ? " rss" : "", s[k].color);
		series_name(out, &s[k]);
	}
	fprintf(out, "</p>\n<p class=\"sub\">One point per report (%zu so far%s). Outstanding: "
		"bytes allocated and not freed, as memtrace counts them; RSS: the resident set "
		"size the kernel reports (code, libraries and memory the allocator keeps "
		"count there too).</p>\n", tl.n + tl.extra,
		history_points(h) == HISTORY_POINTS || tl.extra ? ", spread over the run" : "");
	free(s);
	return 0;
}

/* ---- stacks ---- */

static void write_spark(FILE *out, const struct report_history *h, const struct report *r,
			const struct report_stack *s)
{
	const double *times;
	const uint64_t *values;
	size_t n = history_stack_series(h, s, &times, &values);
	double tmax = r->elapsed_s, vmax = s->bytes, t0 = -1;
	bool pen = false;

	if (!n) {
		fputs("<span class=\"sub\">not tracked</span>", out);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (values[i] == HISTORY_NONE)
			continue;
		if (t0 < 0)
			t0 = times[i];
		vmax = fmax(vmax, (double)values[i]);
	}
	if (t0 < 0)
		t0 = tmax;
	fprintf(out, "<svg class=\"spark\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">"
		"<path fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" d=\"", SPARK_W, SPARK_H,
		SPARK_W, SPARK_H);
#define SPX(t) (tmax > t0 ? 2 + ((t) - t0) / (tmax - t0) * (SPARK_W - 4) : SPARK_W - 2)
#define SPY(v) (SPARK_H - 2 - (vmax > 0 ? (v) / vmax : 0) * (SPARK_H - 4))
	for (size_t i = 0; i < n; i++) {
		if (values[i] == HISTORY_NONE)
			continue;
		fprintf(out, "%s%.1f,%.1f ", pen ? "L" : "M", SPX(times[i]), SPY((double)values[i]));
		pen = true;
	}
	/* The report itself, when the samples have not kept it. */
	if (times[n - 1] < r->elapsed_s)
		fprintf(out, "%s%.1f,%.1f", pen ? "L" : "M", SPX(r->elapsed_s), SPY((double)s->bytes));
	fprintf(out, "\"/><circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\" fill=\"#1f77b4\"/></svg>",
		SPX(r->elapsed_s), SPY((double)s->bytes));
#undef SPX
#undef SPY
}

/* The first frame that is not the allocation function: where the
 * allocation was made. */
static void write_where(FILE *out, const struct report_stack *s)
{
	char name[512];

	if (s->no_stack) {
		fputs("[stack not captured]", out);
		return;
	}
	if (s->nframes < 2) {
		fput_markup(out, s->allocator ? s->allocator : "?");
		return;
	}
	fmt_frame_folded(name, sizeof(name), &s->frames[1]);
	fput_markup_cut(out, name, 80);
}

static int write_frames(FILE *out, const struct report_stack *s)
{
	char small[512], *buf = small;

	fputs("<div class=\"frames\">", out);
	for (size_t i = 0; i < s->nframes; i++) {
		size_t n = fmt_frame(small, sizeof(small), &s->frames[i]);

		buf = small;
		if (n >= sizeof(small)) {
			buf = malloc(n + 1);
			if (!buf)
				return -ENOMEM;
			fmt_frame(buf, n + 1, &s->frames[i]);
		}
		fput_markup(out, buf);
		fputc('\n', out);
		if (buf != small)
			free(buf);
	}
	if (s->no_stack)
		fputs("[stack not captured]\n", out);
	else if (s->stack_end) {
		fputs("[stack may be incomplete: ", out);
		fput_markup(out, s->stack_end);
		fputs("]\n", out);
	}
	fputs("</div>", out);
	return 0;
}

static void write_signed(FILE *out, int64_t d)
{
	char g[40];

	fprintf(out, "<span class=\"%s\">%s</span>", d > 0 ? "grow" : d < 0 ? "shrink" : "",
		fmt_growth(g, sizeof(g), d));
}

static int write_stacks(FILE *out, const struct report *r, const struct report_history *h,
			const struct html_options *o)
{
	size_t n = o->top_n && o->top_n < r->nstacks ? o->top_n : r->nstacks;
	bool base = history_baseline(h, NULL) != NULL;
	int err;

	if (n > HTML_MAX_STACKS)
		n = HTML_MAX_STACKS;
	fprintf(out, "<h2 id=\"stacks\">Top stacks</h2>\n<p class=\"sub\">The %zu of %zu stack%s "
		"holding the most outstanding bytes", n, r->nstacks_total, plural(r->nstacks_total));
	if (r->min_age_s > 0)
		fprintf(out, ", counting only allocations older than %gs", r->min_age_s);
	if (r->window_s > 0)
		fprintf(out, "%s made in the last %gs", r->min_age_s > 0 ? " and" :
			", counting only allocations", r->window_s);
	fputs(". Growth: over the last interval, and since the baseline; the trend is the "
	      "stack's bytes across reports.</p>\n", out);
	if (!n) {
		fputs("<p>No outstanding allocations.</p>\n", out);
		return 0;
	}
	fputs("<table class=\"stacks\"><tr><th class=\"n\">#</th><th class=\"n\">bytes</th>"
	      "<th class=\"n\">allocations</th><th class=\"n\">oldest</th><th class=\"n\">growth</th>"
	      "<th class=\"n\">since baseline</th><th>trend</th><th>allocator</th>"
	      "<th>allocated in</th></tr>\n", out);
	for (size_t i = 0; i < n; i++) {
		const struct report_stack *s = &r->stacks[i];
		char b[16], age[16];
		uint64_t then;

		fprintf(out, "<tr class=\"stack\"><td class=\"n\">%zu</td><td class=\"n\" title=\"%"
			PRIu64 " bytes\">%s</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%s</td>"
			"<td class=\"n\">", i + 1, s->bytes, fmt_bytes(b, sizeof(b), s->bytes), s->count,
			fmt_age(age, sizeof(age), s->oldest_age_s));
		write_signed(out, s->growth_bytes);
		fputs("</td><td class=\"n\">", out);
		if (base && history_stack_baseline(h, s, &then))
			write_signed(out, (int64_t)(s->bytes - then));
		else
			fputs("&#8211;", out);
		fputs("</td><td>", out);
		write_spark(out, h, r, s);
		fputs("</td><td><code>", out);
		fput_markup(out, s->allocator ? s->allocator : "?");
		fputs("</code></td><td><details><summary>", out);
		write_where(out, s);
		if (r->nprocs > 1)
			fprintf(out, " (PID %" PRIu32 ")", s->pid);
		fputs("</summary>", out);
		err = write_frames(out, s);
		if (err)
			return err;
		fprintf(out, "<div class=\"sub\">since start %" PRIu64 " allocation%s (%s), %" PRIu64
			" free%s; peak %s</div></details></td></tr>\n", s->allocs, plural(s->allocs),
			fmt_bytes(b, sizeof(b), s->alloc_bytes), s->frees, plural(s->frees),
			fmt_bytes(age, sizeof(age), s->peak_bytes));
	}
	fputs("</table>\n", out);
	if (n < r->nstacks_total)
		fprintf(out, "<p class=\"sub\">%zu more stack%s not listed (-n, at most %d here); "
			"the flame graph has them all.</p>\n", r->nstacks_total - n,
			plural(r->nstacks_total - n), HTML_MAX_STACKS);
	return 0;
}

/* ---- figures, accounting, warnings ---- */

static void row(FILE *out, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void row(FILE *out, const char *name, const char *fmt, ...)
{
	va_list ap;

	fprintf(out, "<tr><th>%s</th><td class=\"n\">", name);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputs("</td></tr>\n", out);
}

static void write_doubts(FILE *out, const struct report *r)
{
	const struct report_accounting *a = &r->acct;

	if (!report_may_be_wrong(a))
		return;
	fputs("<div class=\"doubt\"><strong>Figures may be wrong:</strong><ul>\n", out);
	if (a->lost_events)
		fprintf(out, "<li>%" PRIu64 " event%s lost (ring buffer full): allocations and frees "
			"were missed; try a larger --ringbuf-mb</li>\n", a->lost_events,
			plural(a->lost_events));
	if (a->returns_without_entry)
		fprintf(out, "<li>%" PRIu64 " return%s without entry: those allocations were "
			"missed</li>\n", a->returns_without_entry, plural(a->returns_without_entry));
	if (a->entries_without_return)
		fprintf(out, "<li>%" PRIu64 " entr%s without return: those allocations were "
			"missed</li>\n", a->entries_without_return,
			a->entries_without_return == 1 ? "y" : "ies");
	if (a->stacks_not_captured)
		fprintf(out, "<li>%" PRIu64 " stack%s not captured: those allocations show as "
			"[stack not captured]</li>\n", a->stacks_not_captured,
			plural(a->stacks_not_captured));
	if (a->replaced_live)
		fprintf(out, "<li>%" PRIu64 " allocation%s over a live address: the free before each "
			"was missed</li>\n", a->replaced_live, plural(a->replaced_live));
	if (a->pymalloc.unreadable)
		fprintf(out, "<li>%" PRIu64 " pymalloc block%s unreadable at a probe: those "
			"allocations or frees were missed</li>\n", a->pymalloc.unreadable,
			plural(a->pymalloc.unreadable));
	fputs("</ul></div>\n", out);
}

static void write_summary(FILE *out, const struct report *r)
{
	char b[16], c[16];

	fputs("<h2 id=\"summary\">Figures</h2>\n<table class=\"figures\">\n", out);
	row(out, "outstanding", "%s (%" PRIu64 " bytes) in %" PRIu64 " live allocation%s",
	    fmt_bytes(b, sizeof(b), r->outstanding_bytes), r->outstanding_bytes,
	    r->live_allocations, plural(r->live_allocations));
	row(out, "since start", "%" PRIu64 " allocation%s (%s), %" PRIu64 " free%s", r->allocs,
	    plural(r->allocs), fmt_bytes(c, sizeof(c), r->alloc_bytes), r->frees,
	    plural(r->frees));
	row(out, "rates", "%.1f allocs/s, %.1f frees/s over the last %s",
	    finite_or_zero(r->alloc_rate), finite_or_zero(r->free_rate),
	    fmt_age(b, sizeof(b), r->interval_s));
	row(out, "distinct stacks", "%" PRIu64, r->distinct_stacks);
	if (r->sample_bytes)
		row(out, "sampled", "one allocation per %s allocated on average: bytes and "
		    "counts are estimates%s", fmt_bytes(b, sizeof(b), r->sample_bytes),
		    r->acct.samples_dropped ? " (some samples were dropped)" : "");
	fputs("</table>\n<table class=\"procs\"><tr><th>PID</th><th>command</th>"
	      "<th class=\"n\">outstanding</th><th class=\"n\">live allocations</th>"
	      "<th class=\"n\">RSS</th><th></th></tr>\n", out);
	for (size_t i = 0; i < r->nprocs; i++) {
		const struct report_process *p = &r->procs[i];

		fprintf(out, "<tr><td class=\"n\">%" PRIu32 "</td><td><code>", p->pid);
		fput_markup(out, p->comm ? p->comm : "");
		fprintf(out, "</code></td><td class=\"n\">%s</td><td class=\"n\">%" PRIu64 "</td>"
			"<td class=\"n\">%s</td><td>%s</td></tr>\n",
			fmt_bytes(b, sizeof(b), p->outstanding_bytes), p->live_allocations,
			p->rss_known ? fmt_bytes(c, sizeof(c), p->rss_bytes) : "&#8211;",
			p->exited ? "exited" : "");
	}
	fputs("</table>\n", out);
}

static void write_accounting(FILE *out, const struct report *r)
{
	const struct report_accounting *a = &r->acct;
	const struct {
		const char *name;
		uint64_t value;
		const char *meaning;
	} counters[] = {
		{ "lost events", a->lost_events, "ring buffer full: events missed" },
		{ "returns without entry", a->returns_without_entry, "allocations missed" },
		{ "entries without return", a->entries_without_return, "allocations missed" },
		{ "unknown frees", a->unknown_frees,
		  "frees of addresses never seen allocated (normal for memory allocated before attach)" },
		{ "stacks not captured", a->stacks_not_captured, "shown as [stack not captured]" },
		{ "replaced live", a->replaced_live, "allocations at a live address: a free missed" },
		{ "exec dropped", a->exec_dropped, "live allocations dropped by an exec" },
		{ "nested calls", a->nested_calls, "probed calls inside probed calls, counted once" },
		{ "unwinding: no table", a->unwind.no_table, "walks stopped early" },
		{ "unwinding: no mapping", a->unwind.no_mapping, "walks stopped early" },
		{ "unwinding: unsupported rule", a->unwind.unsupported, "walks stopped early" },
		{ "unwinding: bad read", a->unwind.bad_read, "walks stopped early" },
		{ "unwinding: depth limit", a->unwind.depth, "walks stopped early" },
		{ "unwinding: frames by frame pointers", a->unwind.fp_frames, "" },
		{ "unwinding: frame pointers invalid", a->unwind.fp_end, "walks stopped early" },
		{ "unwinding: finished in user space", a->unwind.finished, "" },
		{ "unwinding: unfinished", a->unwind.unfinished, "walks stopped early" },
		{ "pymalloc: unreadable", a->pymalloc.unreadable, "allocations or frees missed" },
		{ "pymalloc: counted at block size", a->pymalloc.block_sizes,
		  "requested size unknown at the site" },
	};

	fputs("<h2 id=\"accounting\">Accounting</h2>\n<table class=\"accounting\">\n", out);
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		fprintf(out, "<tr><th>%s</th><td class=\"n\">%" PRIu64 "</td><td class=\"sub\">%s"
			"</td></tr>\n", counters[i].name, counters[i].value, counters[i].meaning);
	fputs("</table>\n<h3>Warnings</h3>\n", out);
	if (!r->nwarnings) {
		fputs("<p class=\"warnings\">none</p>\n", out);
		return;
	}
	fputs("<ul class=\"warnings\">\n", out);
	for (size_t i = 0; i < r->nwarnings; i++) {
		fputs("<li>", out);
		fput_markup(out, r->warnings[i]);
		fputs("</li>\n", out);
	}
	fputs("</ul>\n", out);
}

static void write_head(FILE *out, const struct report *r, const struct html_options *o)
{
	char when[32], age[16];
	struct tm tm;

	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<meta name=\"generator\" content=\"memtrace " MEMTRACE_VERSION "\">\n<title>memtrace: ",
	      out);
	if (r->nprocs == 1)
		fput_markup(out, r->procs[0].comm ? r->procs[0].comm : "");
	else
		fprintf(out, "%zu processes", r->nprocs);
	fprintf(out, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", css);
	if (!gmtime_r(&r->wall.tv_sec, &tm))
		memset(&tm, 0, sizeof(tm));
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	fputs("<h1>memtrace: memory that is still allocated</h1>\n<p class=\"sub\">", out);
	for (size_t i = 0; i < r->nprocs; i++) {
		fprintf(out, "%s<code>", i ? ", " : "");
		fput_markup(out, r->procs[i].comm ? r->procs[i].comm : "");
		fprintf(out, "</code> (PID %" PRIu32 "%s)", r->procs[i].pid,
			r->procs[i].exited ? ", exited" : "");
	}
	fprintf(out, "</p>\n<p class=\"sub\">%s report of %s, %s since start.", r->final ?
		"Final" : "Latest", when, fmt_age(age, sizeof(age), r->elapsed_s));
	if (!r->final)
		fprintf(out, " memtrace rewrites this page at every report (every %s): reload "
			"for the latest.", fmt_age(age, sizeof(age), o->interval_s));
	fputs("</p>\n<p class=\"sub\"><a href=\"#timeline\">timeline</a> &#183; "
	      "<a href=\"#stacks\">top stacks</a> &#183; <a href=\"#flame\">flame graph</a> "
	      "&#183; <a href=\"#accounting\">accounting</a></p>\n", out);
}

int report_write_html(FILE *out, const struct report *r, const struct report_history *h,
		      const struct flame_tree *t, const struct html_options *o)
{
	char baseline[96];
	struct flame_svg_options fo = { .id = "fg", .embedded = true, .baseline = baseline };
	int err;

	history_baseline_text(h, baseline, sizeof(baseline));
	write_head(out, r, o);
	write_doubts(out, r);
	write_summary(out, r);
	err = write_timeline(out, r, h);
	if (!err)
		err = write_stacks(out, r, h, o);
	if (err)
		return err;
	fputs("<h2 id=\"flame\">Flame graph</h2>\n<p class=\"sub\">Width: outstanding bytes; the "
	      "outermost frame at the bottom. Click a frame to zoom, Ctrl-F (or Search) to find "
	      "frames by regular expression", out);
	if (t->has_baseline) {
		fputs("; \"Colour\" switches to growth since ", out);
		fput_markup(out, baseline);
		fputs(" (red grew, blue shrank)", out);
	}
	fputs(".</p>\n", out);
	err = flame_svg_write(out, t, &fo);
	if (err)
		return err;
	write_accounting(out, r);
	fprintf(out, "<script>\n%s</script>\n</body>\n</html>\n", page_js);
	return fput_finish(out);
}
