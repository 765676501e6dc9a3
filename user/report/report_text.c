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

static int write_header(FILE *out, const struct report *r)
{
	char when[32], age[16], b[16], name[256], item[320];
	struct list l;
	struct tm tm;

	if (!localtime_r(&r->wall.tv_sec, &tm))
		return -EOVERFLOW;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(out, "== memtrace %sreport %s, %s since start ==\n",
		r->final ? "final " : "", when, fmt_age(age, sizeof(age), r->elapsed_s));

	list_start(&l, out, "processes");
	for (size_t i = 0; i < r->nprocs; i++) {
		const struct report_process *p = &r->procs[i];
		const char *comm = p->comm ? p->comm : "";

		clean_name(name, sizeof(name), comm, NAME_TEXT);
		snprintf(item, sizeof(item), "%" PRIu32 "%s%s%s", p->pid,
			 *comm ? " " : "", name, p->exited ? " (exited)" : "");
		list_add(&l, item);
	}
	if (!r->nprocs)
		list_add(&l, "none");
	list_end(&l);

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

static int write_stack(FILE *out, const struct report *r, size_t rank, int rank_width)
{
	const struct report_stack *s = &r->stacks[rank - 1];
	char b[16], g[24], peak[16], age[16];
	int err;

	fprintf(out, "#%-*zu %10s in %" PRIu64 " allocation%s, oldest %s, %s",
		rank_width, rank, fmt_bytes(b, sizeof(b), s->bytes), s->count, plural(s->count),
		fmt_age(age, sizeof(age), s->oldest_age_s), s->allocator ? s->allocator : "?");
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
	for (size_t i = 0; i < s->nframes; i++) {
		fputs("      ", out);
		err = fput_frame(out, &s->frames[i], NAME_TEXT);
		if (err)
			return err;
		fputc('\n', out);
	}
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
	err = write_stacks(out, r);
	if (err)
		return err;
	/* Every other write failure is sticky in the stream: one check. */
	return fput_finish(out);
}
