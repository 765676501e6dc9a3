// SPDX-License-Identifier: MIT
/* One report of the run (report_cycle.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report_cycle.h"
#include "output_files.h"
#include "aggregator.h"
#include "probes.h"
#include "reconcile.h"
#include "report_builder.h"
#include "ringbuf_consumer.h"
#include "proc/alloc_target.h"
#include "proc/target.h"
#include "python/python_process.h"
#include "report/outputs.h"
#include "report/out_file.h"
#include "report/report.h"
#include "report/warnings.h"
#include "symbols/symbolizer.h"
#include "unwind/unwind_loader.h"
#include "util/why.h"

/* Processes traced in part that a report's warnings name one by one. */
#define MAX_PROCESS_WARNINGS 4
/* How often the mappings of a live process are re-read while new stacks
 * appear, so that stacks in libraries loaded later still resolve after
 * the process has exited. */
#define MAPS_REFRESH_NS 1000000000ULL
/* --types: the most time a census of one process takes. Measured: 0.9 s
 * for 981 MiB of arenas holding 24 M objects (Debian's python3.11). */
#define CENSUS_LIMIT_S 5.0

/* Per-process inputs of the report builder, in the order of mt->procs. */
struct report_procs {
	struct report_process *procs;
	const struct alloc_target **allocs;
	const struct py_target **pythons;
	const struct python_process **py_states;
	struct report_count untraceable[4];	/* by UNTRACED_* */
	size_t nuntraceable;
	uint64_t partial;			/* processes traced in part */
};

static const char *how_name(enum traced_how how)
{
	switch (how) {
	case TRACED_NAMED: return "named";
	case TRACED_DESCENDANT: return "child";
	case TRACED_BORN: return "born";
	case TRACED_LATE: return "late";
	case TRACED_CGROUP: return "cgroup";
	case TRACED_ALL: return "all";
	}
	return "?";
}

static double since_start_s(const struct memtrace *mt, uint64_t ns)
{
	return ns > mt->start_ns && mt->start_ns ? (ns - mt->start_ns) / 1e9 : 0;
}

/* Count a process not traced at all under its reason. */
static void count_untraceable(struct report_procs *rp, const char *kind)
{
	size_t i;

	for (i = 0; i < rp->nuntraceable; i++)
		if (!strcmp(rp->untraceable[i].what, kind))
			break;
	if (i == rp->nuntraceable) {
		if (i == sizeof(rp->untraceable) / sizeof(rp->untraceable[0]))
			return;
		rp->untraceable[rp->nuntraceable++] = (struct report_count){ kind, 0 };
	}
	rp->untraceable[i].count++;
}

static int report_procs_fill(const struct memtrace *mt, struct report_procs *rp)
{
	size_t n = mt->procs.n ? mt->procs.n : 1;

	rp->procs = calloc(n, sizeof(*rp->procs));
	rp->allocs = calloc(n, sizeof(*rp->allocs));
	rp->pythons = calloc(n, sizeof(*rp->pythons));
	rp->py_states = calloc(n, sizeof(*rp->py_states));
	if (!rp->procs || !rp->allocs || !rp->pythons || !rp->py_states)
		return -ENOMEM;
	for (size_t i = 0; i < mt->procs.n; i++) {
		const struct traced *t = mt->procs.v[i];

		rp->procs[i] = (struct report_process){
			.pid = t->pid,
			.comm = t->comm,
			.exited = t->exited,
			.allocator = alloc_kind_name(t->alloc.kind),
			.allocator_object = t->alloc.maps_path,
			.allocator_known = t->alloc.kind != ALLOC_UNKNOWN,
			.ppid = (uint32_t)t->ppid,
			.exe = t->exe,
			.how = how_name(t->how),
			.traced_from_s = since_start_s(mt, t->traced_from_ns),
			.exited_s = since_start_s(mt, t->exited_ns),
			.untraced = t->untraced[0] ? t->untraced : NULL,
			.not_traced = t->not_at_all,
		};
		if (t->not_at_all)
			count_untraceable(rp, t->untraced_kind ? t->untraced_kind : "other");
		else if (t->untraced[0])
			rp->partial++;
		rp->allocs[i] = &t->alloc;
		if (!t->exited) {
			struct reconcile_in ri = {
				.pid = t->pid,
				.agg = mt->agg,
				.stacks = mt->stacks,
				.sym = mt->sym,
				.py = t->py.python ? &t->py.py : NULL,
				.py_objects = t->py.pymalloc_probed[0] != '\0',
				.rss_anon_start = t->rss_anon_start,
			};

			reconcile_process(&ri, &rp->procs[i].mem);
		}
		rp->procs[i].rss_known = !t->exited &&
					 !target_rss(t->pid, &rp->procs[i].rss_bytes);
		rp->pythons[i] = t->py.python ? &t->py.py : NULL;
		rp->py_states[i] = &t->py;
	}
	return 0;
}

static void report_procs_free(struct report_procs *rp)
{
	free(rp->procs);
	free(rp->allocs);
	free(rp->pythons);
	free(rp->py_states);
}

/* What a census asks of memtrace: the live allocations it tracks. */
static void census_each_live(void *ctx, uint32_t pid,
			     void (*fn)(void *arg, uint64_t addr, uint64_t size, uint64_t stack_id),
			     void *arg)
{
	agg_each_live(ctx, pid, fn, arg);
}

static uint64_t census_stack_of(void *ctx, uint32_t pid, uint64_t addr)
{
	return agg_live_stack(ctx, pid, addr);
}

/* --types: count each live Python process's objects by type now. */
static void take_censuses(struct memtrace *mt)
{
	struct py_census_source src = {
		.each_live = census_each_live,
		/* Only --python-objects tracks small objects' stacks. */
		.stack_of = mt->opt.python_objects ? census_stack_of : NULL,
		.ctx = mt->agg,
	};

	for (size_t i = 0; mt->opt.types_top && i < mt->procs.n; i++) {
		struct traced *t = mt->procs.v[i];

		if (t->py.python && !t->exited)
			python_process_census(&t->py, t->pid, &src, CENSUS_LIMIT_S,
					      &mt->type_names);
	}
}

int report(struct memtrace *mt, bool final)
{
	/* The warnings kept, then what this report says of the processes. */
	const char *warnings[WARNINGS_MAX + MAX_PROCESS_WARNINGS + 1];
	char proc_lines[MAX_PROCESS_WARNINGS + 1][WARNING_LEN];
	size_t nproc_lines = 0;
	uint64_t counters[MT_CNT_COUNT] = { 0 }, now = now_ns();
	struct report_procs rp = { 0 };
	struct built_report b;
	struct report *r = &b.r;
	struct report_inputs in;
	double interval;
	char why[512];
	int err;

	rb_consumer_drain(mt->consumer);
	if (probes_read_counters(mt->probes, counters))
		warnings_add(&mt->warnings, "could not read the probes' counters");
	if (rb_consumer_malformed(mt->consumer))
		warnings_add(&mt->warnings, "%llu ring buffer records were malformed and ignored",
			     (unsigned long long)rb_consumer_malformed(mt->consumer));
	if (counters[MT_CNT_STATE_FAILED])
		warnings_add(&mt->warnings, "per-thread state could not be created %llu times: "
			     "those calls were not traced",
			     (unsigned long long)counters[MT_CNT_STATE_FAILED]);

	take_censuses(mt);
	err = report_procs_fill(mt, &rp);
	if (err) {
		report_procs_free(&rp);
		return err;
	}
	in = (struct report_inputs){
		.agg = mt->agg,
		.stacks = mt->stacks,
		.sym = mt->sym,
		.nprocs = mt->procs.n,
		.procs = rp.procs,
		.allocs = rp.allocs,
		.filter = {
			.now_ns = now,
			.min_age_ns = mt->opt.min_age_s * 1e9,
			.window_ns = mt->opt.window_s * 1e9,
		},
		/* Flame graphs want every stack; the text and JSON reports
		 * show the first top_n of the same, largest-first list. */
		.top_n = outputs_want_all_stacks(mt->outputs) ? 0 : mt->opt.top_n,
		.past_stacks = outputs_want_past_stacks(mt->outputs),
		.pythons = rp.pythons,
		.py = mt->py,
		.per_process = mt->opt.per_process,
		.sample_bytes = mt->opt.sample_bytes,
		.group_by = mt->opt.group_by,
		.types_top = mt->opt.types_top,
		.types_limit_s = CENSUS_LIMIT_S,
		.types_sites = mt->opt.python_objects,
		.py_states = rp.py_states,
	};
	err = report_build(&in, &b);
	if (err) {
		report_procs_free(&rp);
		return err;
	}

	for (size_t i = 0; i < r->nprocs; i++)
		reconcile_sum(&r->mem_total, &r->procs[i].mem);
	clock_gettime(CLOCK_REALTIME, &r->wall);
	r->final = final;
	r->elapsed_s = (now - mt->start_ns) / 1e9;
	interval = (now - mt->last_report_ns) / 1e9;
	r->interval_s = interval;
	if (interval > 0) {
		r->alloc_rate = (r->allocs - mt->last_allocs) / interval;
		r->free_rate = (r->frees - mt->last_frees) / interval;
	}
	r->nuntraceable = rp.nuntraceable;
	r->untraceable = rp.untraceable;
	r->acct.processes_partial = rp.partial;
	r->acct.unwind.finished = mt->snapshots.done;
	r->acct.unwind.unfinished = mt->snapshots.failed;
	if (mt->unwind) {
		struct unwind_loader_stats us;

		unwind_loader_stats(mt->unwind, &us);
		r->acct.unwind.table_full = us.full;
		r->acct.unwind.too_many_mappings = us.too_many_mappings;
	}
	report_take_counters(r, counters);
	r->acct.maps_in_allocator += mt->maps_in_allocator;
	r->min_age_s = mt->opt.min_age_s;
	r->window_s = mt->opt.window_s;
	r->short_templates = mt->opt.short_templates;
	r->nwarnings = warnings_list(&mt->warnings, warnings, WARNINGS_MAX);
	/* Processes traced in part, each said (the first few), and those
	 * not traced at all, counted: in every report, JSON included. */
	for (size_t i = 0; i < mt->procs.n && nproc_lines < MAX_PROCESS_WARNINGS; i++) {
		const struct traced *t = mt->procs.v[i];

		if (t->untraced[0] && !t->not_at_all)
			snprintf(proc_lines[nproc_lines++], WARNING_LEN, "PID %d (%.16s) is "
				 "traced only in part: %.190s", t->pid, t->comm, t->untraced);
	}
	if (rp.partial > nproc_lines && nproc_lines < MAX_PROCESS_WARNINGS + 1)
		snprintf(proc_lines[nproc_lines++], WARNING_LEN, "%" PRIu64 " processes are "
			 "traced only in part: see processes", rp.partial);
	if (rp.nuntraceable && nproc_lines < MAX_PROCESS_WARNINGS + 1) {
		uint64_t n = 0;

		for (size_t i = 0; i < rp.nuntraceable; i++)
			n += rp.untraceable[i].count;
		snprintf(proc_lines[nproc_lines++], WARNING_LEN, "%" PRIu64 " process%s not "
			 "traced at all (see \"not traced\"): their allocations are not in "
			 "these figures", n, n == 1 ? " is" : "es are");
	}
	for (size_t i = 0; i < nproc_lines; i++)
		warnings[r->nwarnings++] = proc_lines[i];
	r->warnings = warnings;

	mt->last_report_ns = now;
	mt->last_allocs = r->allocs;
	mt->last_frees = r->frees;

	/* A file that cannot be written does not keep the others back. */
	err = outputs_write(mt->outputs, r, why, sizeof(why));
	if (err)
		why_say("%s", why);
	r->top_n = mt->opt.top_n;
	if (r->top_n && r->nstacks > r->top_n)
		r->nstacks = r->top_n;
	if (r->top_n && r->ngroups > r->top_n)
		r->ngroups = r->top_n;
	r->all_frames = mt->opt.all_frames;
	r->max_frames = mt->opt.max_frames;
	report_take_python(r, mt->py);
	if (!mt->opt.quiet || final)
		write_output(mt->text, report_write_text, r);
	if (mt->json)
		write_output(mt->json, report_write_json, r);
	err = out_file_error(mt->text) ? out_file_error(mt->text) :
	      out_file_error(mt->json) ? out_file_error(mt->json) : err;
	report_built_free(&b);
	report_procs_free(&rp);
	return err;
}

/* Re-read the mappings of live processes while new stacks keep
 * appearing: a library loaded after attach must be known before the
 * process exits, or its frames cannot be named afterwards. */
void refresh_maps(struct memtrace *mt, uint64_t now)
{
	struct agg_totals t;

	if (now - mt->last_maps_ns < MAPS_REFRESH_NS)
		return;
	agg_totals(mt->agg, &t);
	if (t.stacks == mt->stacks_at_maps)
		return;
	mt->stacks_at_maps = t.stacks;
	mt->last_maps_ns = now;
	for (size_t i = 0; i < mt->procs.n; i++)
		if (!mt->procs.v[i]->exited)
			symbolizer_add_pid(mt->sym, mt->procs.v[i]->pid);
}
