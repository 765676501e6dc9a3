// SPDX-License-Identifier: MIT
/*
 * From aggregator views to a symbolized report.
 *
 * Each stack's first frame is the allocation function itself (the probe
 * knows which one ran); the frames after it are the stored program
 * counters, innermost first, each a return address.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report_builder.h"

#define MT_STR_(x) #x
#define MT_STR(x) MT_STR_(x)

/* Why a stack walk stopped early, for people; NULL when it did not. */
static const char *stack_end_text(unsigned int end)
{
	switch (end) {
	case MT_END_COMPLETE:
		return NULL;
	case MT_END_NO_TABLE:
		return "no unwind table for a frame";
	case MT_END_NO_MAPPING:
		return "a frame in no known mapping";
	case MT_END_UNSUPPORTED:
		return "an unwind rule memtrace cannot follow";
	case MT_END_BAD_READ:
		return "unreadable stack";
	case MT_END_DEPTH:
		return "deeper than " MT_STR(MT_MAX_FRAMES) " frames";
	case MT_END_FP:
		return "frame pointers cannot tell";
	default:
		return "unknown reason";
	}
}

static const struct libc_target *libc_of(const struct report_inputs *in, uint32_t pid)
{
	for (size_t i = 0; i < in->nprocs; i++)
		if (in->procs[i].pid == pid)
			return in->libcs[i];
	return NULL;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static const struct py_target *python_of(const struct report_inputs *in, uint32_t pid);

static void allocator_frame(const struct report_inputs *in, uint32_t pid,
			    uint32_t func, struct report_frame *f)
{
	const struct libc_target *lt = libc_of(in, pid);
	const struct py_target *py;

	memset(f, 0, sizeof(*f));
	f->function = func < MT_FUNC_COUNT ? mt_func_names[func] : "?";
	if (func >= MT_FUNC_PY_MALLOC && func <= MT_FUNC_PY_FREE) {
		py = python_of(in, pid);
		f->module = py ? base_name(py->lib_path) : "[python]";
		return;
	}
	f->module = lt ? base_name(lt->maps_path) : "[unknown]";
	if (lt && func < MT_FUNC_COUNT) {
		f->address = lt->func_addr[func];
		f->module_offset = lt->func_offset[func];
	}
}

static const struct py_target *python_of(const struct report_inputs *in, uint32_t pid)
{
	for (size_t i = 0; in->pythons && i < in->nprocs; i++)
		if (in->procs[i].pid == pid)
			return in->pythons[i];
	return NULL;
}

static void py_frame(const struct report_inputs *in, uint32_t pid,
		     const struct py_target *t, const struct mt_py_frame *pf,
		     struct report_frame *f)
{
	struct py_location loc;

	memset(f, 0, sizeof(*f));
	f->python = true;
	f->address = pf->code;
	f->module = "python";
	if (py_symbols_resolve(in->py, pid, t, pf->code, pf->instr, &loc) == 0) {
		f->function = loc.qualname;
		f->file = loc.filename;
		f->line = loc.line;
	} else {
		f->function = "<unknown Python code>";
	}
}

/* The native frame that runs Python code: each stands for a run of Python
 * frames, up to the next entry frame (py-spy's merge rule). */
static bool is_eval_loop(const struct report_frame *f)
{
	return f->function && !strncmp(f->function, "_PyEval_EvalFrameDefault", 24);
}

static void pc_frame(const struct report_inputs *in, uint32_t pid, uint64_t pc,
		     struct report_frame *f)
{
	struct sym_frame sf;

	memset(f, 0, sizeof(*f));
	/* Fills sf even when it fails ("[unknown]" parts). */
	symbolizer_resolve(in->sym, pid, pc, true, &sf);
	f->function = sf.function;
	f->offset = sf.offset;
	f->module = sf.module ? sf.module : "[unknown]";
	f->address = pc;
	f->module_offset = sf.module_offset;
	f->file = sf.file;
	f->line = sf.line;
}

/*
 * The native frames of st, with each eval-loop frame replaced by the
 * Python frames it runs: from the next unused one up to and including the
 * next entry frame. Python frames left over (a native walk that stopped
 * early) go last. Returns the number of frames written (at most
 * st->len + st->py_len).
 */
static size_t merge_frames(const struct report_inputs *in, uint32_t pid,
			   const struct mt_stack *st, struct report_frame *out)
{
	const struct py_target *t = st->py_len ? python_of(in, pid) : NULL;
	uint32_t py = 0, npy = t ? st->py_len : 0;
	size_t n = 0;

	if (npy > MT_MAX_PY_FRAMES)
		npy = MT_MAX_PY_FRAMES;
	for (uint32_t k = 0; k < st->len; k++) {
		pc_frame(in, pid, st->pcs[k], &out[n]);
		if (!npy || !is_eval_loop(&out[n])) {
			n++;
			continue;
		}
		if (py == npy) {
			n++;		/* no Python frame left for it: keep it */
			continue;
		}
		do {
			py_frame(in, pid, t, &st->py[py], &out[n++]);
		} while (!(st->py[py++].flags & MT_PYF_ENTRY) && py < npy);
	}
	while (py < npy)
		py_frame(in, pid, t, &st->py[py++], &out[n++]);
	return n;
}

int report_build(const struct report_inputs *in, struct built_report *out)
{
	struct agg_stack_view *views = NULL;
	const struct mt_stack **pcs = NULL;
	struct agg_totals t;
	size_t nviews, nshow, nframes = 0, fi = 0;
	int err;

	memset(out, 0, sizeof(*out));
	err = agg_collect(in->agg, &in->filter, &views, &nviews);
	if (err)
		return err;
	nshow = in->top_n && in->top_n < nviews ? in->top_n : nviews;

	pcs = calloc(nshow ? nshow : 1, sizeof(*pcs));
	out->stacks = calloc(nshow ? nshow : 1, sizeof(*out->stacks));
	if (!pcs || !out->stacks) {
		err = -ENOMEM;
		goto out;
	}

	/* Count the frames first, so they fit in one array. */
	for (size_t i = 0; i < nshow; i++) {
		if (views[i].stack_id &&
		    stack_source_get(in->stacks, views[i].stack_id, &pcs[i]))
			pcs[i] = NULL;
		nframes += 1 + (pcs[i] ? pcs[i]->len + pcs[i]->py_len : 0);
	}
	out->frames = calloc(nframes ? nframes : 1, sizeof(*out->frames));
	if (!out->frames) {
		err = -ENOMEM;
		goto out;
	}

	for (size_t i = 0; i < nshow; i++) {
		const struct agg_stack_view *v = &views[i];
		struct report_stack *s = &out->stacks[i];
		struct report_frame *frames = &out->frames[fi];

		s->pid = v->pid;
		s->allocator = v->func < MT_FUNC_COUNT ? mt_func_names[v->func] : "?";
		s->bytes = v->bytes;
		s->count = v->count;
		s->oldest_age_s = v->oldest_ts_ns && in->filter.now_ns > v->oldest_ts_ns ?
			(in->filter.now_ns - v->oldest_ts_ns) / 1e9 : 0;
		s->allocs = v->allocs;
		s->frees = v->frees;
		s->peak_bytes = v->peak_bytes;
		s->growth_bytes = v->growth_bytes;
		s->no_stack = pcs[i] == NULL;
		s->stack_end = pcs[i] ? stack_end_text(pcs[i]->end) : NULL;

		allocator_frame(in, v->pid, v->func, &frames[0]);
		s->nframes = 1;
		if (pcs[i])
			s->nframes += merge_frames(in, v->pid, pcs[i], &frames[1]);
		s->frames = frames;
		fi += s->nframes;
	}

	agg_totals(in->agg, &t);
	out->r.outstanding_bytes = t.live_bytes;
	out->r.live_allocations = t.live_count;
	out->r.allocs = t.allocs;
	out->r.frees = t.frees;
	out->r.distinct_stacks = t.stacks;
	out->r.acct.unknown_frees = t.unknown_frees;
	out->r.acct.replaced_live = t.replaced_live;
	out->r.acct.exec_dropped = t.exec_dropped;
	out->r.top_n = in->top_n;
	out->r.nstacks_total = nviews;
	out->r.nstacks = nshow;
	out->r.stacks = out->stacks;
	out->r.nprocs = in->nprocs;
	out->r.procs = in->procs;
	err = 0;
out:
	free(pcs);
	free(views);
	if (err)
		report_built_free(out);
	return err;
}

void report_built_free(struct built_report *b)
{
	free(b->stacks);
	free(b->frames);
	memset(b, 0, sizeof(*b));
}

void report_take_counters(struct report *r, const uint64_t counters[MT_CNT_COUNT])
{
	struct report_accounting *a = &r->acct;

	a->lost_events = counters[MT_CNT_EVENTS_LOST];
	a->returns_without_entry = counters[MT_CNT_RET_WITHOUT_ENTRY];
	a->entries_without_return = counters[MT_CNT_ENTRY_WITHOUT_RET];
	a->stacks_not_captured = counters[MT_CNT_STACK_FAILED];
	a->nested_calls = counters[MT_CNT_NESTED];
	a->unwind.no_table = counters[MT_CNT_UNWIND_NO_TABLE];
	a->unwind.no_mapping = counters[MT_CNT_UNWIND_NO_MAPPING];
	a->unwind.unsupported = counters[MT_CNT_UNWIND_UNSUPPORTED];
	a->unwind.bad_read = counters[MT_CNT_UNWIND_BAD_READ];
	a->unwind.depth = counters[MT_CNT_UNWIND_DEPTH];
	a->unwind.fp_frames = counters[MT_CNT_UNWIND_FP_FRAMES];
	a->unwind.fp_end = counters[MT_CNT_UNWIND_FP_END];
	a->unwind.unfinished += counters[MT_CNT_SNAPSHOTS_LOST];
	a->pymalloc.unreadable = counters[MT_CNT_PYMALLOC_BAD_READ];
	a->pymalloc.block_sizes = counters[MT_CNT_PYMALLOC_BLOCK_SIZE];
}
