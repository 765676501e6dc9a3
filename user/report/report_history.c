// SPDX-License-Identifier: MIT
/*
 * What the pictures remember across reports (see report_history.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "report_history.h"

/* uint64 -> uint64, open addressing; key 0 marks an empty slot (keys are
 * hashes, made non-zero). */
struct keymap {
	uint64_t *keys;
	uint64_t *values;
	size_t mask, n;
};

struct tracked {
	uint64_t key;
	uint64_t values[HISTORY_SAMPLES];
	uint64_t last;		/* at the latest sample */
	bool in_top;		/* among the largest at the latest sample */
};

struct report_history {
	double baseline_s;
	size_t reports;			/* reports added */

	/* The timeline. */
	size_t npoints, points_cap, point_stride;
	double *times;
	uint64_t *outstanding;
	struct history_proc *procs;
	size_t nprocs, procs_cap;

	/* The baseline. */
	struct flame_tree *baseline;
	double baseline_elapsed_s;
	struct keymap base_bytes;

	/* Sparklines. */
	size_t nsamples, sample_stride;
	double sample_times[HISTORY_SAMPLES];
	struct tracked *tracked;	/* HISTORY_TRACKED entries */
	size_t ntracked;
	struct keymap tracked_ix;	/* key -> index in tracked */
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		h = (h ^ (v & 0xff)) * 0x100000001b3ULL;
	return h;
}

static uint64_t mix_str(uint64_t h, const char *s)
{
	if (!s)
		return mix(h, 0);
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return mix(h, 1);
}

static uint64_t stack_key(const struct report_stack *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	h = mix(h, s->pid);
	h = mix_str(h, s->allocator);
	h = mix(h, s->no_stack);
	h = mix(h, s->nframes);
	for (size_t i = 0; i < s->nframes; i++) {
		const struct report_frame *f = &s->frames[i];

		h = mix(h, f->address);
		if (f->python) {
			/* A code object's address may be reused by another. */
			h = mix_str(h, f->function);
			h = mix(h, (uint64_t)f->line);
		}
	}
	return h ? h : 1;
}

static int keymap_init(struct keymap *m, size_t cap)
{
	m->mask = cap - 1;
	m->n = 0;
	m->keys = calloc(cap, sizeof(*m->keys));
	m->values = calloc(cap, sizeof(*m->values));
	return m->keys && m->values ? 0 : -ENOMEM;
}

static void keymap_destroy(struct keymap *m)
{
	free(m->keys);
	free(m->values);
	memset(m, 0, sizeof(*m));
}

static uint64_t *keymap_find(const struct keymap *m, uint64_t key)
{
	if (!m->keys)
		return NULL;
	for (size_t i = key & m->mask; m->keys[i]; i = (i + 1) & m->mask)
		if (m->keys[i] == key)
			return &m->values[i];
	return NULL;
}

/* Add value to key's value (0 when new). Returns 0 or -ENOMEM. */
static int keymap_add(struct keymap *m, uint64_t key, uint64_t value)
{
	uint64_t *v = keymap_find(m, key);
	size_t i;

	if (v) {
		*v += value;
		return 0;
	}
	if ((m->n + 1) * 2 > m->mask + 1) {
		struct keymap bigger;

		if (keymap_init(&bigger, (m->mask + 1) * 2)) {
			keymap_destroy(&bigger);
			return -ENOMEM;
		}
		for (size_t k = 0; k <= m->mask; k++)
			if (m->keys[k])
				keymap_add(&bigger, m->keys[k], m->values[k]);
		keymap_destroy(m);
		*m = bigger;
	}
	for (i = key & m->mask; m->keys[i]; i = (i + 1) & m->mask)
		;
	m->keys[i] = key;
	m->values[i] = value;
	m->n++;
	return 0;
}

int report_history_new(double baseline_s, struct report_history **out)
{
	struct report_history *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (!h)
		return -ENOMEM;
	h->baseline_s = baseline_s;
	h->point_stride = 1;
	h->sample_stride = 1;
	h->tracked = calloc(HISTORY_TRACKED, sizeof(*h->tracked));
	if (!h->tracked || keymap_init(&h->tracked_ix, 4 * HISTORY_TRACKED)) {
		report_history_free(h);
		return -ENOMEM;
	}
	*out = h;
	return 0;
}

void report_history_free(struct report_history *h)
{
	if (!h)
		return;
	free(h->times);
	free(h->outstanding);
	for (size_t i = 0; i < h->nprocs; i++) {
		free(h->procs[i].bytes);
		free(h->procs[i].rss);
	}
	free(h->procs);
	flame_tree_free(h->baseline);
	keymap_destroy(&h->base_bytes);
	free(h->tracked);
	keymap_destroy(&h->tracked_ix);
	free(h);
}

/* ---- the timeline ---- */

static int grow_points(struct report_history *h)
{
	size_t cap = h->points_cap ? h->points_cap * 2 : 256;
	double *t;
	uint64_t *o;

	if (cap > HISTORY_POINTS)
		cap = HISTORY_POINTS;
	t = realloc(h->times, cap * sizeof(*t));
	if (!t)
		return -ENOMEM;
	h->times = t;
	o = realloc(h->outstanding, cap * sizeof(*o));
	if (!o)
		return -ENOMEM;
	h->outstanding = o;
	for (size_t i = 0; i < h->nprocs; i++) {
		uint64_t *b = realloc(h->procs[i].bytes, cap * sizeof(*b)), *r;

		if (!b)
			return -ENOMEM;
		h->procs[i].bytes = b;
		r = realloc(h->procs[i].rss, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		h->procs[i].rss = r;
	}
	h->points_cap = cap;
	return 0;
}

/* Keep every second point: the run has outgrown HISTORY_POINTS. */
static void halve_points(struct report_history *h)
{
	size_t n = 0;

	for (size_t i = 0; i < h->npoints; i += 2, n++) {
		h->times[n] = h->times[i];
		h->outstanding[n] = h->outstanding[i];
		for (size_t k = 0; k < h->nprocs; k++) {
			h->procs[k].bytes[n] = h->procs[k].bytes[i];
			h->procs[k].rss[n] = h->procs[k].rss[i];
		}
	}
	h->npoints = n;
	h->point_stride *= 2;
}

static struct history_proc *proc_of(struct report_history *h, const struct report_process *p)
{
	struct history_proc *hp;

	for (size_t i = 0; i < h->nprocs; i++)
		if (h->procs[i].pid == p->pid)
			return &h->procs[i];
	if (h->nprocs == h->procs_cap) {
		size_t cap = h->procs_cap ? h->procs_cap * 2 : 8;

		hp = realloc(h->procs, cap * sizeof(*hp));
		if (!hp)
			return NULL;
		h->procs = hp;
		h->procs_cap = cap;
	}
	hp = &h->procs[h->nprocs];
	memset(hp, 0, sizeof(*hp));
	hp->pid = p->pid;
	hp->bytes = malloc((h->points_cap ? h->points_cap : 1) * sizeof(*hp->bytes));
	hp->rss = malloc((h->points_cap ? h->points_cap : 1) * sizeof(*hp->rss));
	if (!hp->bytes || !hp->rss) {
		free(hp->bytes);
		free(hp->rss);
		return NULL;
	}
	/* Not traced before now. */
	for (size_t i = 0; i < h->npoints; i++)
		hp->bytes[i] = hp->rss[i] = HISTORY_NONE;
	h->nprocs++;
	return hp;
}

static int add_point(struct report_history *h, const struct report *r)
{
	size_t at;

	if (h->reports % h->point_stride)
		return 0;
	if (h->npoints == HISTORY_POINTS)
		halve_points(h);
	if (h->npoints == h->points_cap && grow_points(h))
		return -ENOMEM;
	/* Processes first, so that each has room for the point. */
	for (size_t i = 0; i < r->nprocs; i++)
		if (!proc_of(h, &r->procs[i]))
			return -ENOMEM;
	at = h->npoints;
	h->times[at] = r->elapsed_s;
	h->outstanding[at] = r->outstanding_bytes;
	for (size_t k = 0; k < h->nprocs; k++)
		h->procs[k].bytes[at] = h->procs[k].rss[at] = HISTORY_NONE;
	for (size_t i = 0; i < r->nprocs; i++) {
		const struct report_process *p = &r->procs[i];
		struct history_proc *hp = proc_of(h, p);

		snprintf(hp->comm, sizeof(hp->comm), "%s", p->comm ? p->comm : "");
		/* An exited process holds what it held, but nothing is
		 * resident any more: no RSS, and its line ends. */
		hp->bytes[at] = p->outstanding_bytes;
		hp->rss[at] = p->rss_known ? p->rss_bytes : HISTORY_NONE;
	}
	h->npoints++;
	return 0;
}

/* ---- the baseline ---- */

static int take_baseline(struct report_history *h, const struct report *r)
{
	struct flame_tree *t;
	struct keymap m;
	int err;

	if (h->baseline || r->elapsed_s < h->baseline_s)
		return 0;
	err = keymap_init(&m, 256);
	for (size_t i = 0; i < r->nstacks && !err; i++)
		err = keymap_add(&m, stack_key(&r->stacks[i]), r->stacks[i].bytes);
	if (!err)
		err = flame_tree_build(r, &t);
	if (err) {
		keymap_destroy(&m);
		return err;
	}
	h->baseline = t;
	h->base_bytes = m;
	h->baseline_elapsed_s = r->elapsed_s;
	return 0;
}

/* ---- sparklines ---- */

static void rebuild_tracked_index(struct report_history *h)
{
	memset(h->tracked_ix.keys, 0, (h->tracked_ix.mask + 1) * sizeof(uint64_t));
	h->tracked_ix.n = 0;
	/* The index has room for 4 x HISTORY_TRACKED keys: no growth. */
	for (size_t i = 0; i < h->ntracked; i++)
		keymap_add(&h->tracked_ix, h->tracked[i].key, i);
}

/* Start tracking key; returns its entry, or NULL when every entry is
 * among the largest stacks already. */
static struct tracked *track(struct report_history *h, uint64_t key)
{
	struct tracked *t;
	size_t victim = SIZE_MAX;

	if (h->ntracked < HISTORY_TRACKED) {
		t = &h->tracked[h->ntracked];
		keymap_add(&h->tracked_ix, key, h->ntracked++);
	} else {
		/* The smallest of those no longer among the largest. */
		for (size_t i = 0; i < h->ntracked; i++)
			if (!h->tracked[i].in_top &&
			    (victim == SIZE_MAX || h->tracked[i].last < h->tracked[victim].last))
				victim = i;
		if (victim == SIZE_MAX)
			return NULL;
		t = &h->tracked[victim];
		t->key = key;
		rebuild_tracked_index(h);
	}
	t->key = key;
	t->last = 0;
	t->in_top = false;
	for (size_t i = 0; i < HISTORY_SAMPLES; i++)
		t->values[i] = HISTORY_NONE;
	return t;
}

static void halve_samples(struct report_history *h)
{
	size_t n = 0;

	for (size_t i = 0; i < h->nsamples; i += 2, n++) {
		h->sample_times[n] = h->sample_times[i];
		for (size_t k = 0; k < h->ntracked; k++)
			h->tracked[k].values[n] = h->tracked[k].values[i];
	}
	for (size_t k = 0; k < h->ntracked; k++)
		for (size_t i = n; i < HISTORY_SAMPLES; i++)
			h->tracked[k].values[i] = HISTORY_NONE;
	h->nsamples = n;
	h->sample_stride *= 2;
}

static int add_sample(struct report_history *h, const struct report *r, size_t ntop)
{
	struct keymap now;
	int err;

	if (h->reports % h->sample_stride)
		return 0;
	err = keymap_init(&now, 256);
	for (size_t i = 0; i < r->nstacks && !err; i++)
		err = keymap_add(&now, stack_key(&r->stacks[i]), r->stacks[i].bytes);
	if (err) {
		keymap_destroy(&now);
		return err;
	}
	for (size_t k = 0; k < h->ntracked; k++)
		h->tracked[k].in_top = false;
	for (size_t i = 0; i < ntop && i < r->nstacks; i++) {
		uint64_t key = stack_key(&r->stacks[i]), *at = keymap_find(&h->tracked_ix, key);
		struct tracked *t = at ? &h->tracked[*at] : track(h, key);

		if (t)
			t->in_top = true;
	}
	for (size_t k = 0; k < h->ntracked; k++) {
		uint64_t *v = keymap_find(&now, h->tracked[k].key);

		/* Not in the report: nothing outstanding (as filtered). */
		h->tracked[k].values[h->nsamples] = h->tracked[k].last = v ? *v : 0;
	}
	h->sample_times[h->nsamples++] = r->elapsed_s;
	if (h->nsamples == HISTORY_SAMPLES)
		halve_samples(h);
	keymap_destroy(&now);
	return 0;
}

int report_history_add(struct report_history *h, const struct report *r, size_t ntop)
{
	int err;

	if (ntop > HISTORY_TRACKED)
		ntop = HISTORY_TRACKED;
	err = add_point(h, r);
	if (!err)
		err = take_baseline(h, r);
	if (!err)
		err = add_sample(h, r, ntop);
	h->reports++;
	return err;
}

size_t history_points(const struct report_history *h)
{
	return h->npoints;
}

const double *history_times(const struct report_history *h)
{
	return h->times;
}

const uint64_t *history_outstanding(const struct report_history *h)
{
	return h->outstanding;
}

size_t history_nprocs(const struct report_history *h)
{
	return h->nprocs;
}

const struct history_proc *history_proc(const struct report_history *h, size_t i)
{
	return i < h->nprocs ? &h->procs[i] : NULL;
}

const struct flame_tree *history_baseline(const struct report_history *h, double *elapsed_s)
{
	if (elapsed_s)
		*elapsed_s = h->baseline_elapsed_s;
	return h->baseline;
}

double history_baseline_due(const struct report_history *h)
{
	return h->baseline_s;
}

void history_baseline_text(const struct report_history *h, char *buf, size_t len)
{
	char age[16];

	if (!h->baseline)
		snprintf(buf, len, "the baseline (due at %s, not reached yet)",
			 fmt_age(age, sizeof(age), h->baseline_s));
	else if (h->baseline_s > 0)
		snprintf(buf, len, "the report at %s", fmt_age(age, sizeof(age), h->baseline_elapsed_s));
	else
		snprintf(buf, len, "the first report (%s)",
			 fmt_age(age, sizeof(age), h->baseline_elapsed_s));
}

bool history_stack_baseline(const struct report_history *h, const struct report_stack *s,
			    uint64_t *bytes)
{
	uint64_t *v;

	if (!h->baseline)
		return false;
	v = keymap_find(&h->base_bytes, stack_key(s));
	*bytes = v ? *v : 0;
	return true;
}

size_t history_stack_series(const struct report_history *h, const struct report_stack *s,
			    const double **times, const uint64_t **values)
{
	uint64_t *at = keymap_find(&h->tracked_ix, stack_key(s));

	if (!at)
		return 0;
	*times = h->sample_times;
	*values = h->tracked[*at].values;
	return h->nsamples;
}
