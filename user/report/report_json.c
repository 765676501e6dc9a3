// SPDX-License-Identifier: MIT
/*
 * The report for programs: one JSON object per line (JSON Lines), the same
 * figures as the text report, unrounded. The README's "JSON output
 * (--json)" section describes it.
 *
 * Addresses are hex strings: JSON readers commonly hold numbers as doubles,
 * which lose precision past 2^53.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "format.h"
#include "util/escape.h"

/*
 * A JSON string, or null. The traced program chooses its comm and symbol
 * names, and the kernel cuts comm at 15 bytes, possibly mid-character:
 * bytes that are not UTF-8 become U+FFFD so that the line stays JSON.
 */
static void json_str(FILE *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, n, len;

	if (!s) {
		fputs("null", out);
		return;
	}
	n = strlen(str);
	fputc('"', out);
	while (i < n) {
		size_t run = 0;

		/* Write plain runs whole. */
		while (i + run < n && s[i + run] >= 0x20 && s[i + run] != '"' &&
		       s[i + run] != '\\' && (len = utf8_seq_len(s + i + run, n - i - run)) &&
		       !utf8_is_c1(s + i + run, len))
			run += len;
		fwrite(s + i, 1, run, out);
		i += run;
		if (i == n)
			break;
		len = utf8_seq_len(s + i, n - i);
		if (s[i] == '"' || s[i] == '\\') {
			fprintf(out, "\\%c", s[i]);
		} else if (s[i] < 0x20) {
			fprintf(out, "\\u%04x", s[i]);
		} else if (utf8_is_c1(s + i, len)) {
			/* Valid JSON raw, but a terminal acts on it. */
			fprintf(out, "\\u%04x", s[i + 1]);
			i += len;
			continue;
		} else {
			fputs("\\ufffd", out);
		}
		i++;
	}
	fputc('"', out);
}

static void json_bool(FILE *out, bool b)
{
	fputs(b ? "true" : "false", out);
}

/* Durations and rates: milliseconds are plenty, and JSON has no NaN. */
static void json_num(FILE *out, double d)
{
	fprintf(out, "%.3f", finite_or_zero(d));
}

static void write_frame(FILE *out, const struct report_frame *f)
{
	fputs("{\"function\":", out);
	json_str(out, f->function);
	if (f->mangled) {
		fputs(",\"mangled\":", out);
		json_str(out, f->mangled);
	}
	fprintf(out, ",\"offset\":%" PRIu64 ",\"module\":", f->offset);
	json_str(out, f->module);
	fprintf(out, ",\"address\":\"0x%" PRIx64 "\",\"module_offset\":\"0x%" PRIx64 "\"",
		f->address, f->module_offset);
	if (f->file) {
		fputs(",\"file\":", out);
		json_str(out, f->file);
		fprintf(out, ",\"line\":%d", f->line);
	}
	if (f->inlined)
		fputs(",\"inlined\":true", out);
	if (f->python)
		fputs(",\"python\":true", out);
	if (f->interpreter)
		fputs(",\"interpreter\":true", out);
	fputc('}', out);
}

static void write_share(FILE *out, const struct report_pid_share *p, size_t i)
{
	fprintf(out, "%s{\"pid\":%" PRIu32 ",\"bytes\":%" PRIu64 ",\"count\":%" PRIu64 "}",
		i ? "," : "", p->pid, p->bytes, p->count);
}

static void write_memory(FILE *out, const struct report_memory *m)
{
	if (!m->valid) {
		fputs("null", out);
		return;
	}
	fprintf(out, "{\"rss\":%" PRIu64 ",\"rss_anon\":%" PRIu64 ",\"rss_file\":%" PRIu64
		",\"rss_shmem\":%" PRIu64 ",\"rss_anon_growth\":%" PRId64 ",\"heap\":%" PRIu64
		",\"mapped\":%" PRIu64 ",\"mapped_size\":%" PRIu64 ",\"python_arenas\":%" PRIu64
		",\"thread_stacks\":%" PRIu64 ",\"accounted\":%" PRIu64
		",\"unexplained\":%" PRId64 "}",
		m->rss, m->rss_anon, m->rss_file, m->rss_shmem, m->rss_anon_growth, m->heap,
		m->mapped, m->mapped_size, m->python_arenas, m->thread_stacks,
		m->heap + m->mapped + m->python_arenas + m->thread_stacks, m->unexplained);
}

static void write_stack(FILE *out, const struct report_stack *s, size_t rank)
{
	fprintf(out, "{\"rank\":%zu,\"pid\":%" PRIu32 ",\"allocator\":", rank, s->pid);
	json_str(out, s->allocator);
	fprintf(out, ",\"bytes\":%" PRIu64 ",\"count\":%" PRIu64 ",\"oldest_age_s\":",
		s->bytes, s->count);
	json_num(out, s->oldest_age_s);
	fprintf(out, ",\"allocs\":%" PRIu64 ",\"alloc_bytes\":%" PRIu64 ",\"frees\":%" PRIu64
		",\"peak_bytes\":%" PRIu64 ",\"growth_bytes\":%" PRId64 ",\"growth_count\":%" PRId64
		",\"stack_captured\":",
		s->allocs, s->alloc_bytes, s->frees, s->peak_bytes, s->growth_bytes, s->growth_count);
	json_bool(out, !s->no_stack);
	fputs(",\"stack_complete\":", out);
	json_bool(out, !s->no_stack && !s->stack_end);
	if (s->samples)
		fprintf(out, ",\"samples\":%" PRIu64, s->samples);
	if (s->python_arena)
		fputs(",\"python_arena\":true", out);
	if (s->stack_end) {
		fputs(",\"stack_end\":", out);
		json_str(out, s->stack_end);
	}
	fputs(",\"frames\":[", out);
	for (size_t i = 0; i < s->nframes; i++) {
		if (i)
			fputc(',', out);
		write_frame(out, &s->frames[i]);
	}
	/* Every stack names its processes; a model without shares is the
	 * stack's own process alone. */
	fputs("],\"pids\":[", out);
	if (!s->npids)
		write_share(out, &(struct report_pid_share){ s->pid, s->bytes, s->count }, 0);
	for (size_t i = 0; i < s->npids; i++)
		write_share(out, &s->pids[i], i);
	fputs("]}", out);
}

static const char *const group_by_names[] = {
	[REPORT_BY_STACK] = "stack",
	[REPORT_BY_LINE] = "line",
	[REPORT_BY_FUNCTION] = "function",
	[REPORT_BY_FILE] = "file",
};

/* --group-by: ,"group_by":"line","groups_total":N,"groups":[...] */
static void write_groups(FILE *out, const struct report *r)
{
	fprintf(out, ",\"group_by\":\"%s\",\"groups_total\":%zu,\"groups\":[",
		group_by_names[r->group_by], r->ngroups_total);
	for (size_t i = 0; i < r->ngroups; i++) {
		const struct report_group *g = &r->groups[i];

		fputs(i ? ",{\"file\":" : "{\"file\":", out);
		json_str(out, g->file);
		fprintf(out, ",\"line\":%d,\"function\":", g->line);
		json_str(out, g->function);
		fputs(",\"module\":", out);
		json_str(out, g->module);
		fprintf(out, ",\"python\":%s,\"bytes\":%" PRIu64 ",\"count\":%" PRIu64
			",\"mapped_bytes\":%" PRIu64 ",\"growth_bytes\":%" PRId64
			",\"growth_count\":%" PRId64 ",\"stacks\":%zu}",
			g->python ? "true" : "false", g->bytes, g->count, g->mapped_bytes,
			g->growth_bytes, g->growth_count, g->nstacks);
	}
	fputc(']', out);
}

/* --types: ,"types":[{"pid":..,"census":{..},"types_total":N,"types":[..]}] */
static void write_types(FILE *out, const struct report *r)
{
	fputs(",\"types\":[", out);
	for (size_t i = 0; i < r->ntype_reports; i++) {
		const struct report_types *t = &r->type_reports[i];

		fprintf(out, "%s{\"pid\":%" PRIu32 ",\"error\":", i ? "," : "", t->pid);
		json_str(out, t->why);
		fprintf(out, ",\"census\":{\"arena_bytes\":%" PRIu64 ",\"arenas\":%" PRIu64
			",\"arenas_total\":%" PRIu64 ",\"pools\":%" PRIu64
			",\"pools_changed\":%" PRIu64 ",\"pools_unreadable\":%" PRIu64
			",\"blocks\":%" PRIu64 ",\"objects\":%" PRIu64 ",\"large\":%" PRIu64
			",\"large_objects\":%" PRIu64 ",\"seconds\":", t->arena_bytes, t->arenas,
			t->arenas_total, t->pools, t->pools_changed, t->pools_unreadable, t->blocks,
			t->objects, t->large, t->large_objects);
		json_num(out, t->seconds);
		fputs(",\"limit_s\":", out);
		json_num(out, t->limit_s);
		fputs(",\"cut_short\":", out);
		json_bool(out, t->cut_short);
		fputs(",\"large_as_far_as_traced\":", out);
		json_bool(out, t->large_since_start);
		fprintf(out, "},\"types_total\":%zu,\"types\":[", t->ntypes_total);
		for (size_t k = 0; k < t->ntypes; k++) {
			const struct report_type_row *row = &t->rows[k];

			fputs(k ? ",{\"name\":" : "{\"name\":", out);
			json_str(out, row->name);
			fprintf(out, ",\"count\":%" PRIu64 ",\"bytes\":%" PRIu64
				",\"growth_count\":%" PRId64 ",\"growth_bytes\":%" PRId64,
				row->count, row->bytes, row->growth_count, row->growth_bytes);
			if (t->sites) {
				fprintf(out, ",\"stacks\":%zu,\"site\":", row->nsites);
				if (row->site) {
					fprintf(out, "{\"count\":%" PRIu64 ",\"bytes\":%" PRIu64
						",\"frame\":", row->site_count, row->site_bytes);
					write_frame(out, row->site);
					fputc('}', out);
				} else {
					fputs("null", out);
				}
			}
			fputc('}', out);
		}
		fputs("]}", out);
	}
	fputc(']', out);
}

int report_write_json(FILE *out, const struct report *r)
{
	const struct report_accounting *a = &r->acct;
	char when[32];
	struct tm tm;

	if (!gmtime_r(&r->wall.tv_sec, &tm))
		return -EOVERFLOW;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);

	fputs("{\"type\":\"report\",\"final\":", out);
	json_bool(out, r->final);
	fprintf(out, ",\"time\":\"%s\",\"elapsed_s\":", when);
	json_num(out, r->elapsed_s);
	fputs(",\"interval_s\":", out);
	json_num(out, r->interval_s);

	fputs(",\"processes\":[", out);
	for (size_t i = 0; i < r->nprocs; i++) {
		fprintf(out, "%s{\"pid\":%" PRIu32 ",\"comm\":", i ? "," : "", r->procs[i].pid);
		json_str(out, r->procs[i].comm ? r->procs[i].comm : "");
		fputs(",\"exited\":", out);
		json_bool(out, r->procs[i].exited);
		fprintf(out, ",\"outstanding_bytes\":%" PRIu64 ",\"live_allocations\":%" PRIu64
			",\"rss_bytes\":", r->procs[i].outstanding_bytes, r->procs[i].live_allocations);
		if (r->procs[i].rss_known)
			fprintf(out, "%" PRIu64, r->procs[i].rss_bytes);
		else
			fputs("null", out);
		fputs(",\"allocator\":", out);
		if (r->procs[i].allocator) {
			fputs("{\"kind\":", out);
			json_str(out, r->procs[i].allocator);
			fputs(",\"object\":", out);
			json_str(out, r->procs[i].allocator_object);
			fputs(",\"known\":", out);
			json_bool(out, r->procs[i].allocator_known);
			fputc('}', out);
		} else {
			fputs("null", out);
		}
		fputs(",\"memory\":", out);
		write_memory(out, &r->procs[i].mem);
		/* Unknown is null: a parent of 0, an empty program or how. */
		fputs(",\"ppid\":", out);
		if (r->procs[i].ppid)
			fprintf(out, "%" PRIu32, r->procs[i].ppid);
		else
			fputs("null", out);
		fputs(",\"exe\":", out);
		json_str(out, r->procs[i].exe && *r->procs[i].exe ? r->procs[i].exe : NULL);
		fputs(",\"how\":", out);
		json_str(out, r->procs[i].how && *r->procs[i].how ? r->procs[i].how : NULL);
		fputs(",\"traced_from_s\":", out);
		json_num(out, r->procs[i].traced_from_s);
		fputs(",\"exited_s\":", out);
		if (r->procs[i].exited && r->procs[i].exited_s > 0)
			json_num(out, r->procs[i].exited_s);
		else
			fputs("null", out);
		fputs(",\"traced\":", out);
		json_str(out, r->procs[i].not_traced ? "no" : r->procs[i].untraced ? "partly" :
			 "yes");
		fputs(",\"untraced\":", out);
		if (r->procs[i].untraced)
			json_str(out, r->procs[i].untraced);
		else
			fputs("null", out);
		fputc('}', out);
	}
	fputs("],\"untraceable\":{", out);
	for (size_t i = 0; i < r->nuntraceable; i++) {
		if (i)
			fputc(',', out);
		json_str(out, r->untraceable[i].what);
		fprintf(out, ":%" PRIu64, r->untraceable[i].count);
	}
	fputc('}', out);

	fprintf(out, ",\"totals\":{\"outstanding_bytes\":%" PRIu64 ",\"live_allocations\":%" PRIu64
		",\"allocs\":%" PRIu64 ",\"alloc_bytes\":%" PRIu64 ",\"frees\":%" PRIu64
		",\"alloc_rate\":",
		r->outstanding_bytes, r->live_allocations, r->allocs, r->alloc_bytes, r->frees);
	json_num(out, r->alloc_rate);
	fputs(",\"free_rate\":", out);
	json_num(out, r->free_rate);
	fprintf(out, ",\"distinct_stacks\":%" PRIu64 ",\"memory\":", r->distinct_stacks);
	write_memory(out, &r->mem_total);
	fputc('}', out);
	/* Sampled: every bytes, count, allocs and frees figure is an
	 * estimate (see the README's "Sampling"). */
	fputs(",\"sampled\":", out);
	json_bool(out, r->sample_bytes != 0);
	if (r->sample_bytes)
		fprintf(out, ",\"sample_bytes\":%" PRIu64 ",\"samples_dropped\":%" PRIu64,
			r->sample_bytes, a->samples_dropped);

	fprintf(out, ",\"accounting\":{\"lost_events\":%" PRIu64 ",\"returns_without_entry\":%" PRIu64
		",\"returns_in_flight_at_attach\":%" PRIu64 ",\"entries_without_return\":%" PRIu64 ",\"unknown_frees\":%" PRIu64
		",\"stacks_not_captured\":%" PRIu64 ",\"replaced_live\":%" PRIu64
		",\"exec_dropped\":%" PRIu64 ",\"nested_calls\":%" PRIu64
		",\"maps_in_allocator\":%" PRIu64
		",\"processes_partial\":%" PRIu64
		",\"unwind\":{\"no_table\":%" PRIu64 ",\"no_mapping\":%" PRIu64
		",\"unsupported\":%" PRIu64 ",\"bad_read\":%" PRIu64 ",\"depth\":%" PRIu64
		",\"fp_frames\":%" PRIu64 ",\"fp_end\":%" PRIu64 ",\"finished\":%" PRIu64
		",\"unfinished\":%" PRIu64 ",\"table_full\":%" PRIu64
		",\"too_many_mappings\":%" PRIu64 "},\"pymalloc\":{\"unreadable\":%" PRIu64
		",\"block_sizes\":%" PRIu64 "}",
		a->lost_events, a->returns_without_entry, a->returns_in_flight,
		a->entries_without_return,
		a->unknown_frees, a->stacks_not_captured, a->replaced_live, a->exec_dropped,
		a->nested_calls, a->maps_in_allocator, a->processes_partial, a->unwind.no_table,
		a->unwind.no_mapping,
		a->unwind.unsupported, a->unwind.bad_read, a->unwind.depth,
		a->unwind.fp_frames, a->unwind.fp_end, a->unwind.finished,
		a->unwind.unfinished, a->unwind.table_full, a->unwind.too_many_mappings,
		a->pymalloc.unreadable, a->pymalloc.block_sizes);
	fprintf(out, ",\"python\":{\"unknown_frames\":%" PRIu64 ",\"code_freed\":%" PRIu64
		",\"named_from_copy\":%" PRIu64 ",\"lines_cut\":%" PRIu64
		",\"copies_lost\":%" PRIu64 "}},\"may_be_wrong\":",
		a->python.unknown_frames, a->python.code_freed, a->python.named_from_copy,
		a->python.lines_cut, a->python.copies_lost);
	json_bool(out, report_may_be_wrong(a));

	fprintf(out, ",\"symbols\":{\"resolved\":%" PRIu64 ",\"with_line\":%" PRIu64
		",\"objects_no_debug\":%" PRIu64 ",\"debuginfod_pending\":%" PRIu64
		",\"seconds\":", r->symbols.resolved, r->symbols.with_line,
		r->symbols.objects_no_debug, r->symbols.debuginfod_pending);
	json_num(out, r->symbols.seconds);
	fputs(",\"build_s\":", out);
	json_num(out, r->symbols.build_s);
	fputc('}', out);

	fputs(",\"warnings\":[", out);
	for (size_t i = 0; i < r->nwarnings; i++) {
		if (i)
			fputc(',', out);
		json_str(out, r->warnings[i]);
	}

	fputs("],\"filter\":{\"min_age_s\":", out);
	json_num(out, r->min_age_s);
	fputs(",\"window_s\":", out);
	json_num(out, r->window_s);
	fprintf(out, "},\"top_n\":%zu,\"stacks_total\":%zu,\"stacks\":[", r->top_n,
		r->nstacks_total);
	for (size_t i = 0; i < r->nstacks; i++) {
		if (i)
			fputc(',', out);
		write_stack(out, &r->stacks[i], i + 1);
	}
	fputc(']', out);
	if (r->group_by != REPORT_BY_STACK)
		write_groups(out, r);
	if (r->ntype_reports)
		write_types(out, r);
	fputs("}\n", out);

	/* Every write failure is sticky in the stream: one check. */
	return fput_finish(out);
}
