// SPDX-License-Identifier: MIT
/*
 * The report for people: a header that says how far the figures can be
 * trusted, then the stacks holding the most memory, each with its frames.
 *
 *   == memtrace report 2026-11-21 04:55:01, 1m30s since start ==
 *   processes    4242 leaky
 *   outstanding  4.0 MiB in 1024 live allocations
 *   ...
 *   #1    4.0 MiB in 1024 allocations, oldest 29.8s, malloc
 *       growth +1.2 MiB, peak 4.0 MiB; since start 2048 allocs, 1024 frees
 *         malloc [libc.so.6]
 *         leak_pages+0x1a [leaky]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

#define LABEL_WIDTH	13	/* "outstanding  " */
#define LINE_WIDTH	80	/* where lists wrap */

static const char *plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

/* A comma-separated list that wraps under its label. */
struct list {
	FILE *out;
	int col;
	bool started;
};

static void list_start(struct list *l, FILE *out, const char *label)
{
	l->out = out;
	l->col = LABEL_WIDTH;
	l->started = false;
	fprintf(out, "%-*s", LABEL_WIDTH, label);
}

/* item must be clean already. */
static void list_add(struct list *l, const char *item)
{
	int n = strlen(item);

	/* ", " before the item, and room for the ',' should the next wrap. */
	if (l->started && l->col + 2 + n + 1 > LINE_WIDTH) {
		fprintf(l->out, ",\n%*s", LABEL_WIDTH, "");
		l->col = LABEL_WIDTH;
	} else if (l->started) {
		fputs(", ", l->out);
		l->col += 2;
	}
	fputs(item, l->out);
	l->col += n;
	l->started = true;
}

static void list_end(struct list *l)
{
	fputc('\n', l->out);
}

/* Processes listed one per line; past this many, the rest are counted. */
#define MAX_LISTED_PROCS 20

/* "4250 gunicorn (/usr/bin/python3.11), parent 4242, born at +0.3s,
 * exited at +5.1s", and on the next line why it is traced only partly. */
static void write_process(FILE *out, const struct report_process *p)
{
	const char *comm = p->comm ? p->comm : "", *exe = p->exe ? p->exe : "";
	char line[768];
	int n;

	n = snprintf(line, sizeof(line), "%" PRIu32 "%s%s", p->pid, *comm ? " " : "", comm);
	if (*exe)
		n += snprintf(line + n, sizeof(line) - n, " (%s)", exe);
	if (p->ppid && n < (int)sizeof(line))
		n += snprintf(line + n, sizeof(line) - n, ", parent %" PRIu32, p->ppid);
	if (n < (int)sizeof(line)) {
		if (p->how && !strcmp(p->how, "born"))
			n += snprintf(line + n, sizeof(line) - n, ", born at +%.1fs",
				      p->traced_from_s);
		else if (p->traced_from_s >= 0.05)
			n += snprintf(line + n, sizeof(line) - n, ", traced from +%.1fs",
				      p->traced_from_s);
		else if (!p->not_traced)
			n += snprintf(line + n, sizeof(line) - n, ", from the start");
	}
	if (p->exited && n < (int)sizeof(line))
		n += p->exited_s > 0 ? snprintf(line + n, sizeof(line) - n, ", exited at +%.1fs",
						p->exited_s)
				     : snprintf(line + n, sizeof(line) - n, ", exited");
	fprintf(out, "%*s", LABEL_WIDTH, "");
	fput_clean(out, line, NAME_TEXT);
	fputc('\n', out);
	if (p->untraced) {
		snprintf(line, sizeof(line), "%s: %s", p->not_traced ? "not traced" :
			 "partly traced", p->untraced);
		fprintf(out, "%*s", LABEL_WIDTH + 2, "");
		fput_clean(out, line, NAME_TEXT);
		fputc('\n', out);
	}
}

/* Every process (the largest first, past 20 the rest counted), and those
 * not traced at all by reason. */
static void write_processes(FILE *out, const struct report *r)
{
	size_t exited = 0, shown = r->nprocs < MAX_LISTED_PROCS ? r->nprocs : MAX_LISTED_PROCS;
	uint64_t rest = 0;
	char b[16];

	for (size_t i = 0; i < r->nprocs; i++)
		exited += r->procs[i].exited;
	fprintf(out, "%-*s", LABEL_WIDTH, "processes");
	if (!r->nprocs)
		fputs("none\n", out);
	else if (exited)
		fprintf(out, "%zu, %zu exited\n", r->nprocs, exited);
	else
		fprintf(out, "%zu\n", r->nprocs);
	for (size_t i = 0; i < shown; i++)
		write_process(out, &r->procs[i]);
	for (size_t i = shown; i < r->nprocs; i++)
		rest += r->procs[i].outstanding_bytes;
	if (shown < r->nprocs)
		fprintf(out, "%*sand %zu more, holding %s\n", LABEL_WIDTH, "", r->nprocs - shown,
			fmt_bytes(b, sizeof(b), rest));
	if (r->nuntraceable) {
		fprintf(out, "%-*s", LABEL_WIDTH, "not traced");
		for (size_t i = 0; i < r->nuntraceable; i++)
			fprintf(out, "%s%" PRIu64 " (%s)", i ? ", " : "", r->untraceable[i].count,
				r->untraceable[i].what);
		fputc('\n', out);
	}
}

static int write_header(FILE *out, const struct report *r)
{
	char when[32], age[16], b[16];
	struct tm tm;

	if (!localtime_r(&r->wall.tv_sec, &tm))
		return -EOVERFLOW;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(out, "== memtrace %sreport %s, %s since start ==\n",
		r->final ? "final " : "", when, fmt_age(age, sizeof(age), r->elapsed_s));

	write_processes(out, r);

	fprintf(out, "%-*s%s in %" PRIu64 " live allocation%s\n", LABEL_WIDTH, "outstanding",
		fmt_bytes(b, sizeof(b), r->outstanding_bytes), r->live_allocations,
		plural(r->live_allocations));
	fprintf(out, "%-*s%.1f allocs/s, %.1f frees/s over the last %s\n", LABEL_WIDTH, "rates",
		finite_or_zero(r->alloc_rate), finite_or_zero(r->free_rate),
		fmt_age(age, sizeof(age), r->interval_s));
	fprintf(out, "%-*s%" PRIu64 " allocs, %" PRIu64 " frees, %" PRIu64 " distinct stack%s\n",
		LABEL_WIDTH, "since start", r->allocs, r->frees, r->distinct_stacks,
		plural(r->distinct_stacks));
	if (r->sample_bytes)
		fprintf(out, "%-*sone allocation per %s allocated on average: bytes and "
			"counts are estimates%s\n", LABEL_WIDTH, "sampled",
			fmt_bytes(b, sizeof(b), r->sample_bytes),
			r->acct.samples_dropped ? " (some samples were dropped: see "
			"may be wrong)" : "");
	return 0;
}

/* "symbols      1204 addresses, 1180 with source lines, 2 objects without
 * debug info, 1 debuginfod fetch pending": how many frames can show their
 * source, and why not the others. */
static void write_symbols(FILE *out, const struct report *r)
{
	char item[64];
	struct list l;

	if (!r->symbols.resolved)
		return;
	list_start(&l, out, "symbols");
	snprintf(item, sizeof(item), "%" PRIu64 " address%s", r->symbols.resolved,
		 r->symbols.resolved == 1 ? "" : "es");
	list_add(&l, item);
	snprintf(item, sizeof(item), "%" PRIu64 " with source lines", r->symbols.with_line);
	list_add(&l, item);
	snprintf(item, sizeof(item), "%" PRIu64 " object%s without debug info",
		 r->symbols.objects_no_debug, plural(r->symbols.objects_no_debug));
	list_add(&l, item);
	if (r->symbols.debuginfod_pending) {
		snprintf(item, sizeof(item), "%" PRIu64 " debuginfod fetch%s pending",
			 r->symbols.debuginfod_pending,
			 r->symbols.debuginfod_pending == 1 ? "" : "es");
		list_add(&l, item);
	}
	list_end(&l);
}

/* One line per process: the allocator its malloc binds to. One memtrace
 * does not know says so, since part of its calls go unseen. */
static int write_allocators(FILE *out, const struct report *r)
{
	bool first = true;

	for (size_t i = 0; i < r->nprocs; i++) {
		const struct report_process *p = &r->procs[i];

		if (!p->allocator)
			continue;
		fprintf(out, "%-*s%" PRIu32 " ", LABEL_WIDTH, first ? "allocator" : "", p->pid);
		first = false;
		if (!p->allocator_known)
			fputs("unknown allocator in ", out);
		else
			fprintf(out, "%s, ", p->allocator);
		if (fput_clean(out, p->allocator_object ? p->allocator_object : "?", NAME_TEXT))
			return -EIO;
		if (!p->allocator_known)
			fputs(" (it defines malloc): only its standard functions are traced, "
			      "calls to its own entry points are not seen", out);
		fputc('\n', out);
	}
	return 0;
}

/* "-1.2 MiB" or "1.2 MiB". */
static const char *fmt_signed(char *buf, size_t len, int64_t v)
{
	char b[16];

	snprintf(buf, len, "%s%s", v < 0 ? "-" : "",
		 fmt_bytes(b, sizeof(b), v < 0 ? (uint64_t)-v : (uint64_t)v));
	return buf;
}

static void write_memory_of(FILE *out, const char *label, const char *who,
			    const struct report_memory *m)
{
	uint64_t since = m->heap + m->mapped + m->python_arenas;
	char b[4][16], g[2][24], item[128];
	struct list l;

	if (!m->valid) {
		fprintf(out, "%-*s%s: not measured (gone)\n", LABEL_WIDTH, label, who);
		return;
	}
	fprintf(out, "%-*s%s: RSS %s (anon %s, file %s, shmem %s)\n", LABEL_WIDTH, label, who,
		fmt_bytes(b[0], sizeof(b[0]), m->rss), fmt_bytes(b[1], sizeof(b[1]), m->rss_anon),
		fmt_bytes(b[2], sizeof(b[2]), m->rss_file),
		fmt_bytes(b[3], sizeof(b[3]), m->rss_shmem));
	/* The line that says whether the stacks listed explain a growth:
	 * all memtrace accounts for but thread stacks was made since. */
	fprintf(out, "%-*sanon %s since start, memtrace accounts for %s", LABEL_WIDTH, "",
		fmt_growth(g[0], sizeof(g[0]), m->rss_anon_growth),
		fmt_growth(g[1], sizeof(g[1]), (int64_t)since));
	if (m->rss_anon_growth > 0)
		fprintf(out, " (%.0f%%)", 100.0 * (double)since / (double)m->rss_anon_growth);
	fputc('\n', out);
	list_start(&l, out, "");
	snprintf(item, sizeof(item), "heap %s", fmt_bytes(b[0], sizeof(b[0]), m->heap));
	list_add(&l, item);
	snprintf(item, sizeof(item), "mapped %s (of %s)", fmt_bytes(b[0], sizeof(b[0]), m->mapped),
		 fmt_bytes(b[1], sizeof(b[1]), m->mapped_size));
	list_add(&l, item);
	snprintf(item, sizeof(item), "Python arenas %s",
		 fmt_bytes(b[0], sizeof(b[0]), m->python_arenas));
	list_add(&l, item);
	snprintf(item, sizeof(item), "thread stacks %s",
		 fmt_bytes(b[0], sizeof(b[0]), m->thread_stacks));
	list_add(&l, item);
	snprintf(item, sizeof(item), "unexplained %s%s",
		 fmt_signed(b[0], sizeof(b[0]), m->unexplained),
		 m->unexplained < 0 ? " (allocated, not resident)" :
		 " (allocator slack, memory from before start)");
	list_add(&l, item);
	list_end(&l);
}

/* Where the RSS goes, per process and summed when there are several. */
static void write_memory(FILE *out, const struct report *r)
{
	char who[32];

	for (size_t i = 0; i < r->nprocs; i++) {
		snprintf(who, sizeof(who), "%" PRIu32, r->procs[i].pid);
		write_memory_of(out, i ? "" : "memory", who, &r->procs[i].mem);
	}
	if (r->nprocs > 1)
		write_memory_of(out, "", "all", &r->mem_total);
}

static void write_accounting(FILE *out, const struct report *r)
{
	const struct report_accounting *a = &r->acct;
	const struct {
		const char *name;
		uint64_t value;
	} counters[] = {
		{ "lost events", a->lost_events },
		{ "returns without entry", a->returns_without_entry },
		{ "returns in flight at attach", a->returns_in_flight },
		{ "entries without return", a->entries_without_return },
		{ "unknown frees", a->unknown_frees },
		{ "stacks not captured", a->stacks_not_captured },
		{ "replaced live", a->replaced_live },
		{ "exec dropped", a->exec_dropped },
		{ "nested calls", a->nested_calls },
		{ "allocator's own maps", a->maps_in_allocator },
	};
	char item[64];
	struct list l;

	list_start(&l, out, "accounting");
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		snprintf(item, sizeof(item), "%s %" PRIu64, counters[i].name, counters[i].value);
		list_add(&l, item);
	}
	list_end(&l);

	list_start(&l, out, "unwinding");
	{
		const struct {
			const char *name;
			uint64_t value;
		} uw[] = {
			{ "no table", a->unwind.no_table },
			{ "no mapping", a->unwind.no_mapping },
			{ "unsupported rule", a->unwind.unsupported },
			{ "bad read", a->unwind.bad_read },
			{ "depth limit", a->unwind.depth },
			{ "frames by frame pointers", a->unwind.fp_frames },
			{ "frame pointers invalid", a->unwind.fp_end },
			{ "finished in user space", a->unwind.finished },
			{ "unfinished", a->unwind.unfinished },
			{ "table full", a->unwind.table_full },
			{ "too many mappings", a->unwind.too_many_mappings },
		};

		for (size_t i = 0; i < sizeof(uw) / sizeof(uw[0]); i++) {
			snprintf(item, sizeof(item), "%s %" PRIu64, uw[i].name, uw[i].value);
			list_add(&l, item);
		}
	}
	list_end(&l);

	write_symbols(out, r);
	if (a->python.unknown_frames || a->python.code_freed) {
		list_start(&l, out, "python");
		snprintf(item, sizeof(item), "frames unknown %" PRIu64, a->python.unknown_frames);
		list_add(&l, item);
		snprintf(item, sizeof(item), "code objects freed %" PRIu64, a->python.code_freed);
		list_add(&l, item);
		snprintf(item, sizeof(item), "named from their copy %" PRIu64,
			 a->python.named_from_copy);
		list_add(&l, item);
		snprintf(item, sizeof(item), "line tables cut %" PRIu64, a->python.lines_cut);
		list_add(&l, item);
		if (a->python.copies_lost) {
			snprintf(item, sizeof(item), "copies lost %" PRIu64, a->python.copies_lost);
			list_add(&l, item);
		}
		list_end(&l);
	}

	if (a->pymalloc.unreadable || a->pymalloc.block_sizes) {
		list_start(&l, out, "pymalloc");
		snprintf(item, sizeof(item), "unreadable %" PRIu64, a->pymalloc.unreadable);
		list_add(&l, item);
		snprintf(item, sizeof(item), "counted at block size %" PRIu64,
			 a->pymalloc.block_sizes);
		list_add(&l, item);
		list_end(&l);
	}

	/* Each counter said with what it costs, since "lost events 3" alone
	 * does not tell which figures to doubt. */
	if (report_may_be_wrong(a))
		fputs("figures may be wrong:\n", out);
	if (a->lost_events)
		fprintf(out, "  %" PRIu64 " event%s lost (ring buffer full): allocations and frees "
			"were missed; try a larger --ringbuf-mb\n", a->lost_events,
			plural(a->lost_events));
	if (a->returns_without_entry)
		fprintf(out, "  %" PRIu64 " return%s without entry: those allocations were missed\n",
			a->returns_without_entry, plural(a->returns_without_entry));
	if (a->entries_without_return)
		fprintf(out, "  %" PRIu64 " entr%s without return: those allocations were missed\n",
			a->entries_without_return, a->entries_without_return == 1 ? "y" : "ies");
	if (a->stacks_not_captured)
		fprintf(out, "  %" PRIu64 " stack%s not captured: those allocations show as "
			"[stack not captured]\n", a->stacks_not_captured,
			plural(a->stacks_not_captured));
	if (a->replaced_live)
		fprintf(out, "  %" PRIu64 " allocation%s over a live address: the free before "
			"each was missed\n", a->replaced_live, plural(a->replaced_live));
	if (a->pymalloc.unreadable)
		fprintf(out, "  %" PRIu64 " pymalloc block%s unreadable at a probe: those "
			"allocations or frees were missed\n", a->pymalloc.unreadable,
			plural(a->pymalloc.unreadable));
	if (a->processes_partial)
		fprintf(out, "  %" PRIu64 " process%s traced only in part: see processes\n",
			a->processes_partial, a->processes_partial == 1 ? "" : "es");
}

static int write_warnings(FILE *out, const struct report *r)
{
	for (size_t i = 0; i < r->nwarnings; i++) {
		fputs("warning: ", out);
		if (fput_clean(out, r->warnings[i], NAME_TEXT))
			return -EIO;
		fputc('\n', out);
	}
	return 0;
}

/* ", counting only allocations older than 5s and made in the last 60s" */
static void write_filter(FILE *out, const struct report *r)
{
	if (!(r->min_age_s > 0) && !(r->window_s > 0))
		return;
	fputs(", counting only allocations", out);
	if (r->min_age_s > 0)
		fprintf(out, " older than %gs", r->min_age_s);
	if (r->min_age_s > 0 && r->window_s > 0)
		fputs(" and", out);
	if (r->window_s > 0)
		fprintf(out, " made in the last %gs", r->window_s);
}

/*
 * Which lines a stack's frames take in the text report. Every frame has one
 * by default; in a stack with Python frames (unless --frames all), a run of
 * the interpreter's own frames between Python frames takes one line, and
 * so do all the frames outside the outermost Python frame (the
 * interpreter's start, the program's); the frames inside the innermost
 * Python frame (the allocator's path, a C extension) keep a line each.
 * fold[i]: frames i.. that line i stands for (1: the frame itself).
 */
static size_t fold_frames(const struct report *r, const struct report_stack *s, size_t *fold)
{
	size_t first = s->nframes, last = 0, nlines = 0;

	for (size_t i = 0; i < s->nframes; i++) {
		if (s->frames[i].python) {
			if (first == s->nframes)
				first = i;
			last = i;
		}
	}
	for (size_t i = 0; i < s->nframes;) {
		size_t n = 1;

		if (!r->all_frames && first < s->nframes && i > last) {
			n = s->nframes - i;
		} else if (!r->all_frames && first < s->nframes && i > first &&
			   s->frames[i].interpreter) {
			while (i + n < s->nframes && i + n < last && s->frames[i + n].interpreter)
				n++;
		}
		fold[nlines++] = n;
		i += n;
	}
	return nlines;
}

/* Is there a Python frame at or after frame i (else i is in the outer end)? */
static bool python_from(const struct report_stack *s, size_t i)
{
	for (; i < s->nframes; i++)
		if (s->frames[i].python)
			return true;
	return false;
}

static int write_frames(FILE *out, const struct report *r, const struct report_stack *s)
{
	size_t *fold = calloc(s->nframes ? s->nframes : 1, sizeof(*fold));
	size_t nlines, shown, at = 0;
	int err = 0;

	if (!fold)
		return -ENOMEM;
	nlines = fold_frames(r, s, fold);
	shown = r->max_frames && nlines > r->max_frames ? r->max_frames : nlines;
	for (size_t k = 0; k < shown && !err; k++) {
		const struct report_frame *f = &s->frames[at];

		if (fold[k] == 1) {
			fputs("      ", out);
			err = fput_frame(out, f, r->short_templates ? NAME_TEXT_SHORT : NAME_TEXT);
			fputc('\n', out);
		} else if (python_from(s, at)) {
			fprintf(out, "      ... %zu interpreter frames\n", fold[k]);
		} else {
			/* The outer end: say where it ends. */
			fprintf(out, "      ... %zu frames, outermost ", fold[k]);
			err = fput_frame(out, &s->frames[at + fold[k] - 1],
					 r->short_templates ? NAME_TEXT_SHORT : NAME_TEXT);
			fputc('\n', out);
		}
		at += fold[k];
	}
	if (!err && shown < nlines)
		fprintf(out, "      ... %zu more frames (--max-frames %zu)\n", s->nframes - at,
			r->max_frames);
	free(fold);
	return err;
}

static int write_stack(FILE *out, const struct report *r, size_t rank, int rank_width)
{
	const struct report_stack *s = &r->stacks[rank - 1];
	char b[16], g[24], peak[16], age[16];
	int err;

	fprintf(out, "#%-*zu %10s in %" PRIu64 " allocation%s, oldest %s, %s",
		rank_width, rank, fmt_bytes(b, sizeof(b), s->bytes), s->count, plural(s->count),
		fmt_age(age, sizeof(age), s->oldest_age_s), s->allocator ? s->allocator : "?");
	if (s->python_arena)
		fputs(" of pymalloc arenas (an estimate)", out);
	if (s->npids > 1)
		fprintf(out, ", in %zu processes", s->npids);
	else if (r->nprocs > 1)
		fprintf(out, ", PID %" PRIu32, s->pid);
	fprintf(out, "\n    growth %s, peak %s; since start %" PRIu64 " alloc%s, %" PRIu64
		" free%s\n", fmt_growth(g, sizeof(g), s->growth_bytes),
		fmt_bytes(peak, sizeof(peak), s->peak_bytes), s->allocs, plural(s->allocs),
		s->frees, plural(s->frees));

	if (s->npids > 1) {
		/* Each process's share, largest first; the rest counted. */
		fputs("    processes", out);
		for (size_t i = 0; i < s->npids && i < 4; i++)
			fprintf(out, "%s %" PRIu32 ": %s", i ? "," : "", s->pids[i].pid,
				fmt_bytes(b, sizeof(b), s->pids[i].bytes));
		if (s->npids > 4)
			fprintf(out, ", and %zu more", s->npids - 4);
		fputc('\n', out);
	}
	if (s->no_stack) {
		fputs("      [stack not captured]\n", out);
		return 0;
	}
	err = write_frames(out, r, s);
	if (err)
		return err;
	if (s->stack_end)
		fprintf(out, "      [stack may be incomplete: %s]\n", s->stack_end);
	return 0;
}

static int write_stacks(FILE *out, const struct report *r)
{
	int rank_width = snprintf(NULL, 0, "%zu", r->nstacks);
	int err;

	if (!r->nstacks) {
		fputs("no outstanding allocations", out);
		write_filter(out, r);
		fputs("\n\n", out);
		return 0;
	}
	fprintf(out, "top %zu of %zu stack%s by outstanding bytes", r->nstacks,
		r->nstacks_total, plural(r->nstacks_total));
	write_filter(out, r);
	fputs(":\n\n", out);
	for (size_t rank = 1; rank <= r->nstacks; rank++) {
		err = write_stack(out, r, rank, rank_width);
		if (err)
			return err;
		fputc('\n', out);
	}
	return 0;
}

/* Bytes as tracemalloc prints an average: exact under 10 KiB. */
static const char *fmt_average(char *buf, size_t len, uint64_t bytes)
{
	if (bytes < 10 * 1024) {
		snprintf(buf, len, "%" PRIu64 " B", bytes);
		return buf;
	}
	return fmt_bytes(buf, len, bytes);
}

static const char *const group_names[] = {
	[REPORT_BY_STACK] = "stacks",
	[REPORT_BY_LINE] = "lines",
	[REPORT_BY_FUNCTION] = "functions",
	[REPORT_BY_FILE] = "files",
};

/* A group's name, as tracemalloc names its statistics: "app.py:11",
 * "app.py:handle_request", "app.py"; a native frame without source lines
 * by its function and module. */
static int write_group_key(FILE *out, const struct report *r, const struct report_group *g)
{
	int err = 0;

	if (g->file) {
		err = fput_clean(out, g->file, NAME_TEXT);
		if (r->group_by == REPORT_BY_LINE)
			fprintf(out, ":%d", g->line);
		else if (r->group_by == REPORT_BY_FUNCTION && g->function) {
			fputc(':', out);
			err = err ? err : fput_clean(out, g->function, NAME_TEXT);
		}
		return err;
	}
	if (g->function) {
		err = fput_clean(out, g->function, NAME_TEXT);
		fputs(" [", out);
	} else {
		fputc('[', out);
	}
	err = err ? err : fput_clean(out, g->module ? g->module : "?", NAME_TEXT);
	if (!g->function && r->group_by != REPORT_BY_FILE)
		fprintf(out, "+0x%" PRIx64, g->address);
	fputc(']', out);
	return err;
}

/* tracemalloc's form: "app.py:11: size=4.0 MiB (+1.2 MiB), count=1000
 * (+300), average=4165 B". */
static int write_groups(FILE *out, const struct report *r)
{
	char b[16], g[24], avg[16];
	int err;

	if (!r->ngroups) {
		fputs("no outstanding allocations", out);
		write_filter(out, r);
		fputs("\n\n", out);
		return 0;
	}
	fprintf(out, "top %zu of %zu %s by outstanding bytes", r->ngroups, r->ngroups_total,
		group_names[r->group_by]);
	write_filter(out, r);
	fputs(":\n", out);
	for (size_t i = 0; i < r->ngroups; i++) {
		const struct report_group *gr = &r->groups[i];

		err = write_group_key(out, r, gr);
		if (err)
			return err;
		fprintf(out, ": size=%s (%s), count=%" PRIu64 " (%+" PRId64 "), average=%s\n",
			fmt_bytes(b, sizeof(b), gr->bytes), fmt_growth(g, sizeof(g), gr->growth_bytes),
			gr->count, gr->growth_count,
			fmt_average(avg, sizeof(avg), gr->count ? gr->bytes / gr->count : 0));
	}
	fputc('\n', out);
	return 0;
}

/* "12,345" */
static const char *fmt_count(char *buf, size_t len, uint64_t n)
{
	char digits[32];
	size_t nd = (size_t)snprintf(digits, sizeof(digits), "%" PRIu64, n), k = 0;

	for (size_t i = 0; i < nd && k + 2 < len; i++) {
		if (i && (nd - i) % 3 == 0)
			buf[k++] = ',';
		buf[k++] = digits[i];
	}
	buf[k] = '\0';
	return buf;
}

static const char *fmt_count_growth(char *buf, size_t len, int64_t n)
{
	uint64_t magnitude = n < 0 ? -(uint64_t)n : (uint64_t)n;

	buf[0] = n < 0 ? '-' : '+';
	fmt_count(buf + 1, len - 1, magnitude);
	return buf;
}

/*
 * --types: objgraph's most common types with their growth, and where the
 * objects come from when memtrace knows:
 *
 *   live objects by type, PID 4242: 981.5 MiB of pymalloc arenas read from
 *   outside in 0.95 s (limit 5 s); objects over 512 B as far as traced
 *          count       bytes      growth  type
 *         13,345     1.0 MiB      +1,000  LeakA  (12,000 from on (events.py:23))
 */
static int write_types(FILE *out, const struct report_types *t)
{
	char c[32], g[32], b[16], a[16];
	int err = 0;

	fprintf(out, "live objects by type, PID %" PRIu32, t->pid);
	if (t->why && !t->ntypes_total) {
		fputs(": ", out);
		err = fput_clean(out, t->why, NAME_TEXT);
		fputs("\n\n", out);
		return err;
	}
	fprintf(out, ": %s of pymalloc arenas read from outside in %.3fs (limit %gs)",
		fmt_bytes(a, sizeof(a), t->arena_bytes), t->seconds, t->limit_s);
	if (t->cut_short)
		fprintf(out, ", stopped there: %" PRIu64 " of %" PRIu64 " arenas read",
			t->arenas, t->arenas_total);
	fputs(t->large_since_start ? "; objects over 512 B as far as traced\n" : "\n", out);
	if (t->pools_changed || t->pools_unreadable)
		fprintf(out, "  %" PRIu64 " pool%s changed while read, %" PRIu64 " unreadable: "
			"their objects are not counted\n", t->pools_changed,
			plural(t->pools_changed), t->pools_unreadable);
	fprintf(out, "  %13s %11s %11s  type (top %zu of %zu)\n", "count", "bytes", "growth",
		t->ntypes, t->ntypes_total);
	for (size_t i = 0; i < t->ntypes && !err; i++) {
		const struct report_type_row *row = &t->rows[i];

		fprintf(out, "  %13s %11s %11s  ", fmt_count(c, sizeof(c), row->count),
			fmt_bytes(b, sizeof(b), row->bytes),
			fmt_count_growth(g, sizeof(g), row->growth_count));
		err = fput_clean(out, row->name, NAME_TEXT);
		if (!err && row->site) {
			fprintf(out, "  (%s from ", fmt_count(c, sizeof(c), row->site_count));
			err = fput_frame(out, row->site, NAME_TEXT);
			if (row->nsites > 1)
				fprintf(out, ", and %zu more stack%s", row->nsites - 1,
					plural(row->nsites - 1));
			fputc(')', out);
		}
		fputc('\n', out);
	}
	fputc('\n', out);
	return err;
}

int report_write_text(FILE *out, const struct report *r)
{
	int err;

	err = write_header(out, r);
	if (!err)
		err = write_allocators(out, r);
	if (err)
		return err;
	write_memory(out, r);
	write_accounting(out, r);
	err = write_warnings(out, r);
	if (err)
		return err;
	fputc('\n', out);
	err = r->group_by != REPORT_BY_STACK ? write_groups(out, r) : write_stacks(out, r);
	if (err)
		return err;
	for (size_t i = 0; i < r->ntype_reports && !err; i++)
		err = write_types(out, &r->type_reports[i]);
	if (err)
		return err;
	/* Every other write failure is sticky in the stream: one check. */
	return fput_finish(out);
}
