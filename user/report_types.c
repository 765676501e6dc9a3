// SPDX-License-Identifier: MIT
/*
 * --types: each Python process's census (user/python/py_census.h) into
 * report rows: the most numerous types, their growth since the previous
 * census, and, where the census knows stacks (--python-objects), the one
 * that allocated the most objects of each type.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report_builder.h"

struct ranked {
	size_t index;			/* in the census's types[] */
	uint64_t count;
};

static int cmp_ranked(const void *pa, const void *pb)
{
	const struct ranked *a = pa, *b = pb;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

/* The same type in the previous census: the same object with the same
 * name (a type freed and another made at its address is another type). */
static const struct py_type_count *previous_of(const struct python_process *pp,
					       const struct py_type_count *now)
{
	for (size_t i = 0; pp->have_previous && i < pp->previous.ntypes; i++)
		if (pp->previous.types[i].type == now->type &&
		    pp->previous.types[i].name == now->name)
			return &pp->previous.types[i];
	return NULL;
}

static bool same_place(const struct report_frame *a, const struct report_frame *b)
{
	if (a->python != b->python)
		return false;
	if (a->python)
		return a->function == b->function && a->file == b->file && a->line == b->line;
	return a->module == b->module && a->module_offset == b->module_offset;
}

/*
 * The place that made the most objects of census type `type`: stacks are
 * summed by their key frame (one line reached by several native paths is
 * one place), into row and *frame.
 */
static void best_of(const struct report_inputs *in, uint32_t pid, const struct py_census *c,
		    size_t type, struct report_type_row *row, struct report_frame *frame)
{
	struct place { struct report_frame f; uint64_t count, bytes; } *places;
	size_t n = 0, best = SIZE_MAX;

	places = calloc(c->nsites ? c->nsites : 1, sizeof(*places));
	if (!places)
		return;
	for (size_t s = 0; s < c->nsites; s++) {
		struct report_frame f;
		size_t k;

		if (c->sites[s].type != type ||
		    report_key_frame(in, pid, c->sites[s].stack_id, &f))
			continue;
		for (k = 0; k < n && !same_place(&places[k].f, &f); k++)
			;
		if (k == n)
			places[n++].f = f;
		places[k].count += c->sites[s].count;
		places[k].bytes += c->sites[s].bytes;
		if (best == SIZE_MAX || places[k].count > places[best].count)
			best = k;
	}
	if (best != SIZE_MAX) {
		*frame = places[best].f;
		row->site = frame;
		row->site_count = places[best].count;
		row->site_bytes = places[best].bytes;
		row->nsites = n;
	}
	free(places);
}

/* Rows for one process's census; *rows and *frames are where they go. */
static void fill_rows(const struct report_inputs *in, const struct python_process *pp,
		      uint32_t pid, struct report_types *rt, struct report_type_row *rows,
		      struct report_frame *frames, struct ranked *order)
{
	const struct py_census *c = &pp->census;
	size_t n = 0;

	for (size_t i = 0; i < c->ntypes; i++)
		if (c->types[i].count)
			order[n++] = (struct ranked){ i, c->types[i].count };
	qsort(order, n, sizeof(*order), cmp_ranked);
	rt->ntypes_total = n;
	rt->ntypes = n < in->types_top ? n : in->types_top;
	rt->rows = rows;
	for (size_t k = 0; k < rt->ntypes; k++) {
		const struct py_type_count *tc = &c->types[order[k].index];
		const struct py_type_count *was = previous_of(pp, tc);
		struct report_type_row *row = &rows[k];

		row->name = tc->name;
		row->count = tc->count;
		row->bytes = tc->bytes;
		row->growth_count = (int64_t)tc->count - (int64_t)(was ? was->count : 0);
		row->growth_bytes = (int64_t)tc->bytes - (int64_t)(was ? was->bytes : 0);
		best_of(in, pid, c, order[k].index, row, &frames[k]);
	}
}

int report_types_build(const struct report_inputs *in, struct built_report *out)
{
	size_t nrows = 0, maxtypes = 1, np = 0;
	struct ranked *order;

	for (size_t i = 0; in->py_states && i < in->nprocs; i++) {
		const struct python_process *pp = in->py_states[i];

		if (!pp || !pp->python)
			continue;
		np++;
		if (pp->have_census) {
			nrows += pp->census.ntypes < in->types_top ? pp->census.ntypes :
								       in->types_top;
			if (pp->census.ntypes > maxtypes)
				maxtypes = pp->census.ntypes;
		}
	}
	out->type_reports = calloc(np ? np : 1, sizeof(*out->type_reports));
	out->type_rows = calloc(nrows ? nrows : 1, sizeof(*out->type_rows));
	out->site_frames = calloc(nrows ? nrows : 1, sizeof(*out->site_frames));
	order = calloc(maxtypes, sizeof(*order));
	if (!out->type_reports || !out->type_rows || !out->site_frames || !order) {
		free(order);
		return -ENOMEM;
	}
	np = nrows = 0;
	for (size_t i = 0; in->py_states && i < in->nprocs; i++) {
		const struct python_process *pp = in->py_states[i];
		struct report_types *rt;

		if (!pp || !pp->python)
			continue;
		rt = &out->type_reports[np++];
		rt->pid = in->procs[i].pid;
		rt->limit_s = in->types_limit_s;
		rt->sites = in->types_sites;
		/* In -p mode, or after an exec, big objects allocated before
		 * tracing are not in the live table. */
		rt->large_since_start = true;
		if (pp->census_why[0])
			rt->why = pp->census_why;
		else if (!pp->have_census)
			rt->why = "no census yet";
		if (!pp->have_census)
			continue;
		rt->arena_bytes = pp->census.arena_bytes;
		rt->arenas = pp->census.arenas;
		rt->arenas_total = pp->census.arenas_total;
		rt->pools = pp->census.pools;
		rt->pools_changed = pp->census.pools_changed;
		rt->pools_unreadable = pp->census.pools_unreadable;
		rt->blocks = pp->census.blocks;
		rt->objects = pp->census.objects;
		rt->large = pp->census.large;
		rt->large_objects = pp->census.large_objects;
		rt->seconds = pp->census.seconds;
		rt->cut_short = pp->census.cut_short;
		fill_rows(in, pp, rt->pid, rt, &out->type_rows[nrows], &out->site_frames[nrows],
			  order);
		nrows += rt->ntypes;
	}
	free(order);
	out->r.type_reports = out->type_reports;
	out->r.ntype_reports = np;
	return 0;
}
