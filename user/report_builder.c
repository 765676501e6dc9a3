// SPDX-License-Identifier: MIT
/*
 * From aggregator views to a symbolized report.
 *
 * Each stack's first frame is the allocation function itself (the probe
 * knows which one ran); the frames after it are the stored program
 * counters, innermost first, each a return address.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report_builder.h"
#include "map_filter.h"
#include "memtrace_stack_hash.h"
#include "util/vec.h"

#define MT_STR_(x) #x
#define MT_STR(x) MT_STR_(x)

/* Why a stack walk stopped early, for people; NULL when it did not. */
static const char *stack_end_text(unsigned int end)
{
	switch (end) {
	case MT_END_COMPLETE:
	case MT_END_PYTHON:	/* its Python frames stand for the rest */
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

static const struct alloc_target *alloc_of(const struct report_inputs *in, uint32_t pid)
{
	for (size_t i = 0; i < in->nprocs; i++)
		if (in->procs[i].pid == pid)
			return in->allocs[i];
	return NULL;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static const struct py_target *python_of(const struct report_inputs *in, uint32_t pid);

/* The mapping that holds f->address, for the outputs that name it. */
static void map_of(const struct report_inputs *in, uint32_t pid, struct report_frame *f)
{
	struct sym_frame sf;

	if (!f->address || symbolizer_resolve(in->sym, pid, f->address, false, &sf))
		return;
	f->module_path = sf.module_path;
	f->build_id = sf.build_id;
	f->map_start = sf.map_start;
	f->map_end = sf.map_end;
	f->map_offset = sf.map_offset;
}

static void allocator_frame(const struct report_inputs *in, uint32_t pid,
			    uint32_t func, struct report_frame *f)
{
	const struct alloc_target *lt = alloc_of(in, pid);
	const struct py_target *py;

	memset(f, 0, sizeof(*f));
	f->function = func < MT_FUNC_COUNT ? mt_func_names[func] : "?";
	if (func >= MT_FUNC_PY_MALLOC && func <= MT_FUNC_PY_FREE) {
		py = python_of(in, pid);
		f->module = py ? base_name(py->lib_path) : "[python]";
		return;
	}
	if (mt_func_is_mapping(func)) {
		f->module = "[syscall]";	/* the program's own mmap or brk */
		return;
	}
	f->module = lt ? base_name(lt->maps_path) : "[unknown]";
	if (lt && func < MT_FUNC_COUNT) {
		f->address = lt->func_addr[func];
		f->module_offset = lt->func_offset[func];
		map_of(in, pid, f);
	}
}

static const struct py_target *python_of(const struct report_inputs *in, uint32_t pid)
{
	for (size_t i = 0; in->pythons && i < in->nprocs; i++)
		if (in->procs[i].pid == pid)
			return in->pythons[i];
	return NULL;
}

/* Shown where a frame's code could not be named (counted). */
static const char unknown_code[] = "<unknown Python code>";

static void py_frame(const struct report_inputs *in, uint32_t pid,
		     const struct py_target *t, const struct mt_py_frame *pf,
		     struct report_frame *f)
{
	struct py_location loc;

	memset(f, 0, sizeof(*f));
	f->python = true;
	f->address = pf->code;
	f->module = "python";
	if (py_symbols_resolve(in->py, pid, t, pf, &loc) == 0) {
		f->function = loc.qualname;
		f->file = loc.filename;
		f->line = loc.line;
	} else {
		f->function = unknown_code;
	}
}

/* The native frame that runs Python code: each stands for a run of Python
 * frames, up to the next entry frame (py-spy's merge rule). */
static bool is_eval_loop(const struct report_frame *f)
{
	return f->function && !strncmp(f->function, "_PyEval_EvalFrameDefault", 24);
}

/* The frames being built, for all stacks in one array. */
struct frames {
	struct report_frame *v;
	size_t n, cap;
};

static struct report_frame *push(struct frames *fv)
{
	if (vec_reserve(&fv->v, &fv->cap, fv->n + 1, sizeof(*fv->v)))
		return NULL;
	memset(&fv->v[fv->n], 0, sizeof(fv->v[0]));
	return &fv->v[fv->n++];
}

/* A native frame, after the frames inlined at its address (innermost
 * first). A copy of the frame itself goes in *copy. Returns 0 or
 * -ENOMEM. */
static int pc_frame(const struct report_inputs *in, uint32_t pid, uint64_t pc,
		    struct frames *fv, struct report_frame *copy)
{
	struct report_frame *f;
	struct sym_frame sf;

	/* Fills sf even when it fails ("[unknown]" parts). */
	symbolizer_resolve(in->sym, pid, pc, true, &sf);
	for (size_t i = 0; i < sf.ninlined; i++) {
		const struct sym_inline *si = &sf.inlined[i];

		if (!(f = push(fv)))
			return -ENOMEM;
		f->function = si->function;
		f->mangled = si->mangled;
		f->module = sf.module ? sf.module : "[unknown]";
		f->address = pc;
		f->module_offset = sf.module_offset;
		f->file = si->file;
		f->line = si->line;
		f->inlined = true;
		f->module_path = sf.module_path;
		f->build_id = sf.build_id;
		f->map_start = sf.map_start;
		f->map_end = sf.map_end;
		f->map_offset = sf.map_offset;
	}
	if (!(f = push(fv)))
		return -ENOMEM;
	f->function = sf.function;
	f->mangled = sf.mangled;
	f->offset = sf.offset;
	f->module = sf.module ? sf.module : "[unknown]";
	f->address = pc;
	f->module_offset = sf.module_offset;
	f->file = sf.file;
	f->line = sf.line;
	f->module_path = sf.module_path;
	f->build_id = sf.build_id;
	f->map_start = sf.map_start;
	f->map_end = sf.map_end;
	f->map_offset = sf.map_offset;
	*copy = *f;
	return 0;
}

/*
 * The native frames of st, each after the frames inlined into it, with
 * each eval-loop frame (and what is inlined into it) replaced by the
 * Python frames it runs: from the next unused one up to and including the
 * next entry frame. Python frames left over (a native walk that stopped
 * early) go last. Returns 0 or -ENOMEM.
 */
static int merge_frames(const struct report_inputs *in, uint32_t pid,
			const struct mt_stack *st, struct frames *fv)
{
	const struct py_target *t = st->py_len ? python_of(in, pid) : NULL;
	uint32_t py = 0, npy = t ? st->py_len : 0;
	struct report_frame native, *f;
	int err;

	if (npy > MT_MAX_PY_FRAMES)
		npy = MT_MAX_PY_FRAMES;
	for (uint32_t k = 0; k < st->len; k++) {
		size_t start = fv->n;
		bool interp;

		err = pc_frame(in, pid, st->pcs[k], fv, &native);
		if (err)
			return err;
		/* The interpreter's own code: what text reports fold. */
		interp = t && !strcmp(native.module, base_name(t->lib_path));
		for (size_t j = start; j < fv->n; j++)
			fv->v[j].interpreter = interp;
		/* No Python frame left for an eval loop: it stays. */
		if (!npy || py == npy || !is_eval_loop(&native))
			continue;
		fv->n = start;
		do {
			if (!(f = push(fv)))
				return -ENOMEM;
			py_frame(in, pid, t, &st->py[py], f);
		} while (!(st->py_entry & (1ULL << py++)) && py < npy);
	}
	while (py < npy) {
		if (!(f = push(fv)))
			return -ENOMEM;
		py_frame(in, pid, t, &st->py[py++], f);
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Does v hold pymalloc arenas: mmaps of an arena's size each, made by a
 * Python process's interpreter? Its bytes are then an estimate of what
 * the line's objects hold (README, "Small objects without
 * --python-objects"). */
static bool is_python_arena(const struct report_inputs *in, const struct agg_stack_view *v)
{
	const struct py_target *py = python_of(in, v->pid);

	if (v->func != MT_FUNC_MMAP || !v->count || v->bytes % v->count)
		return false;
	return py && map_filter_is_python_arena(in->stacks, in->sym, py, v->pid, v->stack_id,
						v->bytes / v->count);
}

/* Sampling: the view's estimates in place of its sampled figures. Growth
 * and peak are kept per stack as sampled bytes only: they are scaled by
 * the stack's own ratio of estimated to sampled bytes. */
static void use_estimates(struct report_stack *s, const struct agg_stack_view *v)
{
	double ratio = v->total_bytes ? v->est_total_bytes / v->total_bytes : 1;

	s->samples = v->count;
	s->bytes = llround(v->est_bytes);
	s->count = llround(v->est_count);
	s->allocs = llround(v->est_allocs);
	s->alloc_bytes = llround(v->est_alloc_bytes);
	s->frees = llround(v->est_frees);
	s->peak_bytes = llround(v->peak_bytes * ratio);
	s->growth_bytes = llround(v->growth_bytes * ratio);
}

int report_key_frame(const struct report_inputs *in, uint32_t pid, uint64_t stack_id,
		     struct report_frame *out)
{
	const struct py_target *t = python_of(in, pid);
	const struct mt_stack *st;

	if (!stack_id || stack_source_get(in->stacks, stack_id, &st))
		return -ENOENT;
	if (t && st->py_len) {
		py_frame(in, pid, t, &st->py[0], out);
	} else if (st->len) {
		/* The frame itself; what is inlined at it is not wanted. */
		struct frames fv = { 0 };
		int err = pc_frame(in, pid, st->pcs[0], &fv, out);

		free(fv.v);
		return err;
	} else {
		return -ENOENT;
	}
	return 0;
}

/* ---- One stack across processes ---- */

static uint64_t hash_str(uint64_t h, const char *str)
{
	uint64_t chunk = 0;
	size_t k = 0;

	if (!str)
		return mt_stack_hash_mix(h, 0);
	for (; *str; str++) {
		chunk = chunk << 8 | (unsigned char)*str;
		if (++k == 8) {
			h = mt_stack_hash_mix(h, chunk);
			chunk = k = 0;
		}
	}
	return mt_stack_hash_mix(h, chunk ^ (uint64_t)k << 56);
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* Frames are the same code when Python frames name the same function and
 * line, and native ones the same offset in the same module; a frame of no
 * known module is only itself. */
static bool same_frame(const struct report_frame *a, const struct report_frame *b)
{
	if (a->python != b->python)
		return false;
	if (a->python)
		return a->line == b->line && same_str(a->function, b->function) &&
		       same_str(a->file, b->file);
	if (!same_str(a->module, b->module))
		return false;
	if (!strcmp(a->module, "[unknown]"))
		return a->address == b->address;
	return a->module_offset == b->module_offset && same_str(a->function, b->function);
}

static uint64_t frame_hash(uint64_t h, const struct report_frame *f)
{
	if (f->python)
		return mt_stack_hash_mix(hash_str(hash_str(h, f->function), f->file),
					 (uint64_t)f->line);
	h = hash_str(hash_str(h, f->module), f->function);
	return mt_stack_hash_mix(h, !strcmp(f->module, "[unknown]") ? f->address :
				 f->module_offset);
}

/* The identity of a stack for merging: per_process keeps processes apart. */
static bool same_stack(const struct report_stack *a, const struct report_stack *b,
		       bool per_process)
{
	if ((per_process && a->pid != b->pid) || a->no_stack != b->no_stack ||
	    a->nframes != b->nframes || !same_str(a->allocator, b->allocator) ||
	    !same_str(a->stack_end, b->stack_end))
		return false;
	for (size_t i = 0; i < a->nframes; i++)
		if (!same_frame(&a->frames[i], &b->frames[i]))
			return false;
	return true;
}

static uint64_t stack_hash(const struct report_stack *s, bool per_process)
{
	uint64_t h = mt_stack_hash_mix(per_process ? s->pid : 0, s->no_stack);

	h = hash_str(hash_str(h, s->allocator), s->stack_end);
	for (size_t i = 0; i < s->nframes; i++)
		h = frame_hash(h, &s->frames[i]);
	return h;
}

struct keyed { uint64_t hash; size_t index; };

static int cmp_keyed(const void *pa, const void *pb)
{
	const struct keyed *a = pa, *b = pb;

	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

/* Largest first; ties: larger count, then lower PID: a stable order. */
static int cmp_bytes(const void *pa, const void *pb)
{
	const struct report_stack *a = pa, *b = pb;

	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return a->pid < b->pid ? -1 : a->pid > b->pid;
}

static int cmp_share(const void *pa, const void *pb)
{
	const struct report_pid_share *a = pa, *b = pb;

	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	return a->pid < b->pid ? -1 : a->pid > b->pid;
}

/*
 * Merge out->stacks[0..n) (one per process and stack, largest first) into
 * one per identity, each with its processes' shares, and sort them by
 * bytes. Returns the number of merged stacks, or -ENOMEM.
 */
static long merge_stacks(struct built_report *out, size_t n, bool per_process)
{
	struct report_stack *merged = calloc(n ? n : 1, sizeof(*merged));
	struct report_pid_share *shares = calloc(n ? n : 1, sizeof(*shares));
	struct keyed *keys = calloc(n ? n : 1, sizeof(*keys));
	bool *taken = calloc(n ? n : 1, sizeof(*taken));
	size_t nmerged = 0, nshares = 0;

	if (!merged || !shares || !keys || !taken) {
		free(merged);
		free(shares);
		free(keys);
		free(taken);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		keys[i] = (struct keyed){ stack_hash(&out->stacks[i], per_process), i };
	qsort(keys, n, sizeof(*keys), cmp_keyed);

	/* Within a run of equal hashes, each untaken stack starts a group
	 * of the ones equal to it (a hash collision makes two groups). */
	for (size_t run = 0, end; run < n; run = end) {
		for (end = run + 1; end < n && keys[end].hash == keys[run].hash; end++)
			;
		for (size_t a = run; a < end; a++) {
			const struct report_stack *first = &out->stacks[keys[a].index];
			struct report_stack *m;

			if (taken[a])
				continue;
			m = &merged[nmerged++];
			*m = *first;
			m->bytes = m->count = m->allocs = m->frees = m->peak_bytes = 0;
			m->samples = 0;
			m->alloc_bytes = 0;
			m->growth_bytes = m->growth_count = 0;
			m->oldest_age_s = 0;
			m->pids = &shares[nshares];
			m->npids = 0;
			for (size_t b = a; b < end; b++) {
				const struct report_stack *s = &out->stacks[keys[b].index];

				if (taken[b] || !same_stack(first, s, per_process))
					continue;
				taken[b] = true;
				m->bytes += s->bytes;
				m->count += s->count;
				m->allocs += s->allocs;
				m->alloc_bytes += s->alloc_bytes;
				m->frees += s->frees;
				m->peak_bytes += s->peak_bytes;
				m->growth_bytes += s->growth_bytes;
				m->samples += s->samples;
				m->growth_count += s->growth_count;
				if (s->oldest_age_s > m->oldest_age_s)
					m->oldest_age_s = s->oldest_age_s;
				shares[nshares++] = (struct report_pid_share){
					s->pid, s->bytes, s->count };
				m->npids++;
			}
		}
	}
	/* Shares in input order are largest first already; one process may
	 * have several stacks of one identity (Python frames that differ
	 * only below the line): fold those into one share. */
	for (size_t i = 0; i < nmerged; i++) {
		struct report_pid_share *p = (struct report_pid_share *)merged[i].pids;
		size_t k = 0;

		for (size_t j = 0; j < merged[i].npids; j++) {
			size_t d;

			for (d = 0; d < k && p[d].pid != p[j].pid; d++)
				;
			if (d < k) {
				p[d].bytes += p[j].bytes;
				p[d].count += p[j].count;
			} else {
				p[k++] = p[j];
			}
		}
		merged[i].npids = k;
		qsort(p, k, sizeof(*p), cmp_share);
		merged[i].pid = p[0].pid;
	}
	qsort(merged, nmerged, sizeof(*merged), cmp_bytes);
	free(keys);
	free(taken);
	free(out->stacks);
	out->stacks = merged;
	out->shares = shares;
	return (long)nmerged;
}

static int cmp_proc_bytes(const void *a, const void *b)
{
	const struct report_process *x = a, *y = b;

	if (x->outstanding_bytes != y->outstanding_bytes)
		return x->outstanding_bytes < y->outstanding_bytes ? 1 : -1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* The processes, with what the aggregator holds for each. */
static int build_procs(const struct report_inputs *in, struct built_report *out)
{
	struct agg_pid_totals *t = calloc(in->nprocs ? in->nprocs : 1, sizeof(*t));

	out->procs = calloc(in->nprocs ? in->nprocs : 1, sizeof(*out->procs));
	if (!t || !out->procs) {
		free(t);
		return -ENOMEM;
	}
	for (size_t i = 0; i < in->nprocs; i++)
		t[i].pid = in->procs[i].pid;
	agg_pid_totals(in->agg, t, in->nprocs);
	for (size_t i = 0; i < in->nprocs; i++) {
		out->procs[i] = in->procs[i];
		out->procs[i].outstanding_bytes = t[i].bytes;
		out->procs[i].live_allocations = t[i].count;
		if (in->sample_bytes) {
			out->procs[i].outstanding_bytes = llround(t[i].est_bytes);
			out->procs[i].live_allocations = llround(t[i].est_count);
		}
	}
	free(t);
	/* The largest first: a report of a service lists the processes that
	 * matter first (and, past 20, counts the rest). */
	qsort(out->procs, in->nprocs, sizeof(*out->procs), cmp_proc_bytes);
	return 0;
}

/* ---- Groups (--group-by) ---- */

/* The frame a stack is grouped by: its innermost Python frame, else the
 * allocation function's caller (else the allocation function). */
static const struct report_frame *key_frame(const struct report_stack *s)
{
	for (size_t i = 0; i < s->nframes; i++)
		if (s->frames[i].python)
			return &s->frames[i];
	return s->nframes > 1 ? &s->frames[1] : s->nframes ? &s->frames[0] : NULL;
}

/* The group of stack s: its key's fields that the grouping keeps. A
 * native frame without source lines stands for its function (by line and
 * function), or its module (by file); without a function, its address. */
static struct report_group group_of(const struct report_stack *s, enum report_group_by by)
{
	const struct report_frame *f = key_frame(s);
	struct report_group g = { 0 };

	if (!f)
		return g;
	g.python = f->python;
	g.file = f->file;
	g.module = f->python ? NULL : f->module;
	if (by == REPORT_BY_LINE && f->file)
		g.line = f->line;
	if (by == REPORT_BY_FILE)
		return g;
	if (!f->file || by == REPORT_BY_FUNCTION)
		g.function = f->function;
	if (!f->file && !f->function)
		g.address = f->module_offset;
	return g;
}

static bool same_group(const struct report_group *a, const struct report_group *b)
{
	return a->python == b->python && a->line == b->line && a->address == b->address &&
	       same_str(a->file, b->file) && same_str(a->function, b->function) &&
	       same_str(a->module, b->module);
}

static uint64_t group_hash(const struct report_group *g)
{
	uint64_t h = mt_stack_hash_mix(g->python, (uint64_t)g->line);

	h = hash_str(hash_str(hash_str(h, g->file), g->function), g->module);
	return mt_stack_hash_mix(h, g->address);
}

static int cmp_group_bytes(const void *pa, const void *pb)
{
	const struct report_group *a = pa, *b = pb;

	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return 0;
}

/* Memory the program mapped itself, not an allocator call's. */
static bool is_mapping(const struct report_stack *s)
{
	return s->allocator == mt_func_names[MT_FUNC_MMAP] ||
	       s->allocator == mt_func_names[MT_FUNC_MREMAP] ||
	       s->allocator == mt_func_names[MT_FUNC_BRK];
}

/* Sum out->stacks[0..n) into out->groups by in->group_by. */
static int build_groups(struct built_report *out, size_t n, enum report_group_by by)
{
	struct report_group *groups = calloc(n ? n : 1, sizeof(*groups));
	struct keyed *keys = calloc(n ? n : 1, sizeof(*keys));
	size_t ng = 0;

	if (!groups || !keys) {
		free(groups);
		free(keys);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		groups[i] = group_of(&out->stacks[i], by);
		keys[i] = (struct keyed){ group_hash(&groups[i]), i };
	}
	qsort(keys, n, sizeof(*keys), cmp_keyed);
	/* Within a run of one hash, each key not yet summed starts a group
	 * of those equal to it; groups[] is rewritten in place from the front,
	 * which only ever overwrites entries already summed. */
	{
		struct report_group *sum = calloc(n ? n : 1, sizeof(*sum));
		bool *taken = calloc(n ? n : 1, sizeof(*taken));

		if (!sum || !taken) {
			free(sum);
			free(taken);
			free(groups);
			free(keys);
			return -ENOMEM;
		}
		for (size_t run = 0, end; run < n; run = end) {
			for (end = run + 1; end < n && keys[end].hash == keys[run].hash; end++)
				;
			for (size_t a = run; a < end; a++) {
				struct report_group *g;

				if (taken[a])
					continue;
				g = &sum[ng++];
				*g = groups[keys[a].index];
				for (size_t b = a; b < end; b++) {
					const struct report_stack *s = &out->stacks[keys[b].index];

					if (taken[b] || !same_group(g, &groups[keys[b].index]))
						continue;
					taken[b] = true;
					g->bytes += s->bytes;
					g->count += s->count;
					if (is_mapping(s))
						g->mapped_bytes += s->bytes;
					g->growth_bytes += s->growth_bytes;
					g->growth_count += s->growth_count;
					g->nstacks++;
				}
			}
		}
		free(taken);
		free(groups);
		groups = sum;
	}
	free(keys);
	qsort(groups, ng, sizeof(*groups), cmp_group_bytes);
	out->groups = groups;
	out->r.groups = groups;
	out->r.ngroups = out->r.ngroups_total = ng;
	return 0;
}

/* Python frames of the stacks that could not be named. */
static uint64_t count_unknown(const struct built_report *out, size_t n)
{
	uint64_t k = 0;

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < out->stacks[i].nframes; j++)
			k += out->stacks[i].frames[j].python &&
			     out->stacks[i].frames[j].function == unknown_code;
	return k;
}

int report_build(const struct report_inputs *in, struct built_report *out)
{
	struct agg_stack_view *views = NULL;
	const struct mt_stack **pcs = NULL;
	struct agg_filter filter = in->filter;
	struct frames fv = { 0 };
	size_t *first = NULL;
	struct sym_stats ss;
	struct agg_totals t;
	size_t nviews, nlive = 0, nshow;
	long nmerged;
	double t0 = now_s();
	int err;

	memset(out, 0, sizeof(*out));
	filter.all_stacks = in->past_stacks;
	err = agg_collect(in->agg, &filter, &views, &nviews);
	if (err)
		return err;

	/* Every stack is built: which are the top N is known only once
	 * the same stack in several processes is one. */
	pcs = calloc(nviews ? nviews : 1, sizeof(*pcs));
	out->stacks = calloc(nviews ? nviews : 1, sizeof(*out->stacks));
	if (!pcs || !out->stacks) {
		err = -ENOMEM;
		goto out;
	}

	for (size_t i = 0; i < nviews; i++)
		if (views[i].stack_id &&
		    stack_source_get(in->stacks, views[i].stack_id, &pcs[i]))
			pcs[i] = NULL;
	/* Frames go in one array that grows (inlined frames are only known
	 * once resolved); each stack keeps its start, turned into a pointer
	 * once the array has stopped moving. */
	first = calloc(nviews ? nviews : 1, sizeof(*first));
	if (!first) {
		err = -ENOMEM;
		goto out;
	}

	for (size_t i = 0; i < nviews; i++) {
		const struct agg_stack_view *v = &views[i];
		struct report_stack *s = &out->stacks[i];
		struct report_frame *f;

		s->pid = v->pid;
		s->allocator = v->func < MT_FUNC_COUNT ? mt_func_names[v->func] : "?";
		s->bytes = v->bytes;
		s->count = v->count;
		s->oldest_age_s = v->oldest_ts_ns && in->filter.now_ns > v->oldest_ts_ns ?
			(in->filter.now_ns - v->oldest_ts_ns) / 1e9 : 0;
		s->allocs = v->allocs;
		s->alloc_bytes = v->alloc_bytes;
		s->frees = v->frees;
		s->peak_bytes = v->peak_bytes;
		s->growth_bytes = v->growth_bytes;
		s->growth_count = v->growth_count;
		s->no_stack = pcs[i] == NULL;
		s->stack_end = pcs[i] ? stack_end_text(pcs[i]->end) : NULL;
		if (pcs[i] && !s->stack_end && pcs[i]->py_cut)
			s->stack_end = "deeper than " MT_STR(MT_MAX_PY_FRAMES) " Python frames";
		s->python_arena = is_python_arena(in, v);
		if (in->sample_bytes)
			use_estimates(s, v);

		first[i] = fv.n;
		if (!(f = push(&fv))) {
			err = -ENOMEM;
			goto out;
		}
		allocator_frame(in, v->pid, v->func, f);
		if (pcs[i] && (err = merge_frames(in, v->pid, pcs[i], &fv)))
			goto out;
		s->nframes = fv.n - first[i];
	}
	out->frames = fv.v;
	fv.v = NULL;
	for (size_t i = 0; i < nviews; i++)
		out->stacks[i].frames = &out->frames[first[i]];

	nmerged = merge_stacks(out, nviews, in->per_process);
	if (nmerged < 0) {
		err = (int)nmerged;
		goto out;
	}
	/* Stacks that hold nothing passing the filter sort last. */
	while (nlive < (size_t)nmerged && out->stacks[nlive].count)
		nlive++;
	nshow = in->top_n && in->top_n < nlive ? in->top_n : nlive;
	err = build_procs(in, out);
	if (err)
		goto out;
	out->r.acct.python.unknown_frames = count_unknown(out, nlive);
	out->r.group_by = in->group_by;
	if (in->group_by != REPORT_BY_STACK) {
		err = build_groups(out, nlive, in->group_by);
		if (err)
			goto out;
	}
	if (in->types_top && (err = report_types_build(in, out)))
		goto out;

	agg_totals(in->agg, &t);
	out->r.outstanding_bytes = t.live_bytes;
	out->r.live_allocations = t.live_count;
	out->r.allocs = t.allocs;
	out->r.alloc_bytes = t.alloc_bytes;
	out->r.frees = t.frees;
	out->r.sample_bytes = in->sample_bytes;
	if (in->sample_bytes) {
		out->r.outstanding_bytes = llround(t.est_live_bytes);
		out->r.live_allocations = llround(t.est_live_count);
		out->r.allocs = llround(t.est_allocs);
		out->r.alloc_bytes = llround(t.est_alloc_bytes);
		out->r.frees = llround(t.est_frees);
	}
	out->r.distinct_stacks = t.stacks;
	out->r.acct.unknown_frees = t.unknown_frees;
	out->r.acct.replaced_live = t.replaced_live;
	out->r.acct.exec_dropped = t.exec_dropped;
	out->r.top_n = in->top_n;
	out->r.nstacks_total = nlive;
	out->r.nstacks = nshow;
	out->r.stacks = out->stacks;
	out->r.npast_stacks = (size_t)nmerged - nlive;
	out->r.past_stacks = out->stacks + nlive;
	out->r.nprocs = in->nprocs;
	out->r.procs = out->procs;

	symbolizer_stats(in->sym, &ss);
	out->r.symbols.resolved = ss.resolved;
	out->r.symbols.with_line = ss.with_line;
	out->r.symbols.objects_no_debug = ss.objects_no_debug;
	out->r.symbols.debuginfod_pending = ss.debuginfod_pending;
	out->r.symbols.seconds = ss.seconds;
	out->r.symbols.build_s = now_s() - t0;
	err = 0;
out:
	free(fv.v);
	free(first);
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
	free(b->shares);
	free(b->procs);
	free(b->groups);
	free(b->type_reports);
	free(b->type_rows);
	free(b->site_frames);
	memset(b, 0, sizeof(*b));
}

void report_take_python(struct report *r, const struct py_symbols *py)
{
	struct py_symbols_stats st;

	py_symbols_get_stats(py, &st);
	r->acct.python.code_freed = st.freed;
	r->acct.python.named_from_copy = st.named_from_copy;
	r->acct.python.lines_cut = st.tables_cut;
}

void report_take_counters(struct report *r, const uint64_t counters[MT_CNT_COUNT])
{
	struct report_accounting *a = &r->acct;

	a->lost_events = counters[MT_CNT_EVENTS_LOST];
	a->returns_without_entry = counters[MT_CNT_RET_WITHOUT_ENTRY];
	a->returns_in_flight = counters[MT_CNT_RET_IN_FLIGHT];
	a->entries_without_return = counters[MT_CNT_ENTRY_WITHOUT_RET];
	a->stacks_not_captured = counters[MT_CNT_STACK_FAILED];
	a->nested_calls = counters[MT_CNT_NESTED];
	a->maps_in_allocator = counters[MT_CNT_MAPS_IN_ALLOCATOR];
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
	a->python.copies_lost = counters[MT_CNT_PY_CODE_FREED_LOST];
	a->samples_dropped = counters[MT_CNT_SAMPLES_DROPPED];
}
