// SPDX-License-Identifier: MIT
/*
 * The files rewritten at every report (see outputs.h).
 *
 * The pictures share one flame tree per report, compared with the
 * baseline's (flame_tree.h); the history (report_history.h) is kept only
 * when a picture is asked for.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flame_tree.h"
#include "out_file.h"
#include "outputs.h"
#include "report_history.h"
#include "report_html.h"
#include "report_svg.h"
#include "util/why.h"

/* How many of the largest stacks get a sparkline when the page lists all. */
#define TRACK_ALL 64

struct outputs {
	struct outputs_config c;
	struct out_file *file[OUT_COUNT];	/* NULL: not written */
	struct report_history *history;	/* NULL without pictures */
	unsigned int wrote;		/* bit per enum output_kind */
};

/* The option that names each file, for people. */
static const char *const option_of[OUT_COUNT] = {
	[OUT_FOLDED] = "--folded",
	[OUT_FOLDED_DIFF] = "--folded-diff",
	[OUT_FLAMEGRAPH] = "--flamegraph",
	[OUT_FLAMEGRAPH_DIFF] = "--flamegraph-diff",
	[OUT_HTML] = "--html",
	[OUT_PPROF] = "--pprof",
};

static bool wants_tree(enum output_kind k)
{
	return k == OUT_FOLDED_DIFF || k == OUT_FLAMEGRAPH || k == OUT_FLAMEGRAPH_DIFF ||
	       k == OUT_HTML;
}

int outputs_new(const struct outputs_config *c, struct outputs **out)
{
	struct outputs *o = calloc(1, sizeof(*o));
	bool pictures = false;

	*out = NULL;
	if (!o)
		return -ENOMEM;
	o->c = *c;
	for (enum output_kind k = 0; k < OUT_COUNT; k++)
		pictures |= c->path[k] && wants_tree(k);
	if (pictures && report_history_new(c->baseline_s, &o->history)) {
		free(o);
		return -ENOMEM;
	}
	*out = o;
	return 0;
}

int outputs_close(struct outputs *o)
{
	int first = 0;

	if (!o)
		return 0;
	for (enum output_kind k = 0; k < OUT_COUNT; k++) {
		int err = out_file_close(o->file[k]);

		first = first ? first : err;
	}
	report_history_free(o->history);
	free(o);
	return first;
}

int outputs_check(struct outputs *o, char *why, size_t why_len)
{
	for (enum output_kind k = 0; k < OUT_COUNT; k++) {
		int err;

		if (!o->c.path[k] || o->file[k])
			continue;
		err = out_file_open(&o->file[k], o->c.path[k], option_of[k], OUT_FILE_REWRITE,
				    why, why_len);
		if (err)
			return err;
	}
	return 0;
}

bool outputs_want_all_stacks(const struct outputs *o)
{
	for (enum output_kind k = 0; k < OUT_COUNT; k++)
		if (o->c.path[k])
			return true;
	return false;
}

bool outputs_want_past_stacks(const struct outputs *o)
{
	/* pprof's alloc_* count what every stack allocated, freed or not. */
	return o->c.path[OUT_PPROF] != NULL;
}

/* What one report gives every writer. */
struct round {
	const struct outputs *o;
	const struct report *r;
	struct flame_tree *tree;	/* NULL without pictures */
	char baseline[96];		/* what the baseline is, for legends */
};

static int write_kind(FILE *f, enum output_kind k, const struct round *w)
{
	struct html_options ho = { .top_n = w->o->c.top_n, .interval_s = w->o->c.interval_s };

	switch (k) {
	case OUT_FOLDED:
		return report_write_folded(f, w->r);
	case OUT_FOLDED_DIFF:
		return flame_tree_write_folded_diff(f, w->tree);
	case OUT_FLAMEGRAPH:
		return report_write_flamegraph(f, w->r, w->tree, false, w->baseline);
	case OUT_FLAMEGRAPH_DIFF:
		return report_write_flamegraph(f, w->r, w->tree, true, w->baseline);
	case OUT_HTML:
		return report_write_html(f, w->r, w->o->history, w->tree, &ho);
	case OUT_PPROF:
		return report_write_pprof(f, w->r);
	default:
		return -EINVAL;
	}
}

/* A new version of the file, renamed over the last one (out_file.h): a
 * reader never sees half a file, and no symlink is ever followed. */
static int write_file(struct out_file *f, enum output_kind k, const struct round *w)
{
	FILE *fp = out_file_begin(f);

	if (fp)
		out_file_fail(f, write_kind(fp, k, w));
	return out_file_commit(f);
}

/* The report's tree, compared with the baseline's; before the baseline is
 * taken, with itself (no growth anywhere). */
static int make_tree(struct outputs *o, const struct report *r, struct round *w)
{
	const struct flame_tree *base;
	int err;

	/* The page's sparklines follow the stacks it lists. */
	err = report_history_add(o->history, r, o->c.top_n ? o->c.top_n : TRACK_ALL);
	if (!err)
		err = flame_tree_build(r, &w->tree);
	if (err)
		return err;
	history_baseline_text(o->history, w->baseline, sizeof(w->baseline));
	base = history_baseline(o->history, NULL);
	return flame_tree_set_baseline(w->tree, base ? base : w->tree);
}

int outputs_write(struct outputs *o, const struct report *r, char *why, size_t why_len)
{
	struct round w = { .o = o, .r = r };
	int first = 0, err = 0;

	if (o->history && (err = make_tree(o, r, &w))) {
		flame_tree_free(w.tree);
		return why_fail(err, why, why_len, "cannot draw the pictures: %s", strerror(-err));
	}
	for (enum output_kind k = 0; k < OUT_COUNT; k++) {
		int before;

		if (!o->file[k])
			continue;
		/* A file that failed stays failed: said once, here. */
		before = out_file_error(o->file[k]);
		err = write_file(o->file[k], k, &w);
		if (!err) {
			o->wrote |= 1u << k;
		} else if (!before && !first) {
			first = err;
			why_fail(err, why, why_len, "cannot write %s: %s",
				 out_file_name(o->file[k]), strerror(-err));
		}
	}
	flame_tree_free(w.tree);
	return first;
}

static void say(FILE *out, bool *any, const char *what, const char *how, const char *path)
{
	char abs[PATH_MAX];

	if (!*any)
		fputs("memtrace: wrote\n", out);
	*any = true;
	fprintf(out, "  %-13s %s: ", what, path);
	if (!strncmp(how, "file://", 7))
		fprintf(out, "open file://%s in a web browser", realpath(path, abs) ? abs : path);
	else
		fprintf(out, how, path);
	fputc('\n', out);
}

void outputs_say(const struct outputs *o, FILE *out, bool json_written, bool text_written)
{
	static const struct { const char *what, *how; } kinds[OUT_COUNT] = {
		[OUT_FOLDED] = { "folded stacks", "flamegraph.pl %s > flame.svg" },
		[OUT_FOLDED_DIFF] = { "growth diff", "flamegraph.pl %s > diff.svg" },
		[OUT_FLAMEGRAPH] = { "flame graph", "file://" },
		[OUT_FLAMEGRAPH_DIFF] = { "growth graph", "file://" },
		[OUT_HTML] = { "report page", "file://" },
		[OUT_PPROF] = { "pprof profile", "go tool pprof -http=: %s" },
	};
	bool any = false;

	for (enum output_kind k = 0; k < OUT_COUNT; k++)
		if (o->wrote & 1u << k)
			say(out, &any, kinds[k].what, kinds[k].how, o->c.path[k]);
	/* The caller's files, where they did not fail. */
	if (o->c.json_path && json_written)
		say(out, &any, "JSON lines", "jq -c .totals %s", o->c.json_path);
	if (o->c.text_path && text_written)
		say(out, &any, "text reports", "less %s", o->c.text_path);
}
