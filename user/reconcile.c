// SPDX-License-Identifier: MIT
/* Where a process's RSS goes (see reconcile.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "map_filter.h"
#include "proc/proc_maps.h"
#include "proc/rss.h"
#include "reconcile.h"

/* Threads whose stacks are looked for, at most. */
#define MAX_THREADS 4096

/* The mappings holding pid's thread stacks: the main thread's [stack] and
 * each blocked thread's stack pointer. Marks them in is_stack (one flag
 * per mapping of maps). */
static void find_stacks(pid_t pid, const struct proc_maps *maps, bool *is_stack)
{
	uint64_t *sps = calloc(MAX_THREADS, sizeof(*sps));
	int n = sps ? rss_thread_sps(pid, sps, MAX_THREADS) : 0;

	for (size_t i = 0; i < maps->n; i++)
		if (!strcmp(maps->maps[i].path, "[stack]"))
			is_stack[i] = true;
	for (int k = 0; k < n; k++) {
		const struct proc_map *m = proc_maps_find(maps, sps[k]);

		if (m)
			is_stack[m - maps->maps] = true;
	}
	free(sps);
}

/* Does [start, end) overlap a mapping marked as a stack? */
static bool on_a_stack(const struct proc_maps *maps, const bool *is_stack, uint64_t start,
		       uint64_t end)
{
	for (size_t i = 0; i < maps->n; i++)
		if (is_stack[i] && maps->maps[i].start < end && maps->maps[i].end > start)
			return true;
	return false;
}

int reconcile_process(const struct reconcile_in *in, struct report_memory *out)
{
	struct proc_maps maps = { 0 };
	struct rss_pages pages = { .fd = -1 };
	struct agg_range_view *ranges = NULL;
	uint64_t heap, mapped;
	bool *is_stack = NULL;
	struct rss rss;
	size_t nranges;
	int err;

	memset(out, 0, sizeof(*out));
	err = rss_read(in->pid, &rss);
	if (err)
		return err == -ESRCH ? 0 : err;
	err = proc_maps_read(in->pid, &maps);
	if (err)
		return err == -ESRCH ? 0 : err;
	if (!maps.n)
		goto out;	/* a zombie: nothing to measure */
	is_stack = calloc(maps.n, sizeof(*is_stack));
	nranges = agg_mapped_ranges(in->agg, in->pid, NULL, 0);
	ranges = calloc(nranges ? nranges : 1, sizeof(*ranges));
	if (!is_stack || !ranges) {
		err = -ENOMEM;
		goto out;
	}
	agg_mapped_ranges(in->agg, in->pid, ranges, nranges);
	find_stacks(in->pid, &maps, is_stack);
	rss_pages_open(in->pid, &pages);

	out->valid = true;
	out->rss = rss.total;
	out->rss_anon = rss.anon;
	out->rss_file = rss.file;
	out->rss_shmem = rss.shmem;
	out->rss_anon_growth = (int64_t)(rss.anon - in->rss_anon_start);
	/* heap holds pymalloc's objects too where they are traced. */
	agg_pid_outstanding(in->agg, in->pid, &heap, &mapped);
	out->heap = heap;

	for (size_t i = 0; i < maps.n; i++)
		if (is_stack[i])
			out->thread_stacks += rss_pages_resident(&pages, maps.maps[i].start,
								 maps.maps[i].end);
	for (size_t i = 0; i < nranges; i++) {
		const struct agg_range_view *r = &ranges[i];
		uint64_t resident;

		if (on_a_stack(&maps, is_stack, r->start, r->end))
			continue;	/* counted with the thread stacks */
		resident = rss_pages_resident(&pages, r->start, r->end);
		if (!in->py_objects &&
		    map_filter_is_python_arena(in->stacks, in->sym, in->py, in->pid, r->stack_id,
					       r->end - r->start)) {
			out->python_arenas += resident;
			continue;
		}
		out->mapped += resident;
		out->mapped_size += r->end - r->start;
	}
	out->unexplained = (int64_t)out->rss_anon - (int64_t)(out->heap + out->mapped +
							      out->python_arenas +
							      out->thread_stacks);
out:
	rss_pages_close(&pages);
	free(ranges);
	free(is_stack);
	proc_maps_free(&maps);
	return err;
}

void reconcile_sum(struct report_memory *total, const struct report_memory *m)
{
	if (!m->valid)
		return;
	total->valid = true;
	total->rss += m->rss;
	total->rss_anon += m->rss_anon;
	total->rss_file += m->rss_file;
	total->rss_shmem += m->rss_shmem;
	total->rss_anon_growth += m->rss_anon_growth;
	total->heap += m->heap;
	total->mapped += m->mapped;
	total->mapped_size += m->mapped_size;
	total->python_arenas += m->python_arenas;
	total->thread_stacks += m->thread_stacks;
	total->unexplained += m->unexplained;
}
