// SPDX-License-Identifier: MIT
/*
 * The aggregator (see aggregator.h for what it answers).
 *
 * Three tables:
 *   - live: every live allocation, (pid, address) -> size, time, stack
 *     (live_table.c; the one that gets big);
 *   - stacks: a dense array of per-(pid, stack_id) records, found through
 *     a small open-addressing index. Live slots refer to their stack by
 *     array index, which also gives their pid: 20 bytes each. Stacks are
 *     never removed: their allocs/frees history outlives their
 *     allocations;
 *   - pending: per (pid, tid), the block a realloc in flight has set aside.
 *
 * Every event that contradicts the state (a lost event upstream) is
 * resolved so that these always hold: totals.live_bytes/live_count equal
 * the sums over the stacks, and each stack's outstanding bytes/count equal
 * the sums over its live slots. A block parked by a realloc in flight is
 * counted in neither until it is put back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aggregator.h"
#include "sampling.h"
#include "live_table.h"
#include "mapped_ranges.h"
#include "util/open_addr.h"
#include "util/vec.h"

#define AGG_STACK_INDEX_MIN 256
#define AGG_PENDING_MIN 64

struct agg_stack {
	uint64_t stack_id;
	uint32_t pid;
	uint32_t func;
	uint64_t bytes;			/* outstanding */
	uint64_t count;
	uint64_t allocs;
	uint64_t alloc_bytes;
	uint64_t frees;
	uint64_t peak_bytes;
	uint64_t collected_bytes;	/* bytes at the previous agg_collect() */
	double est_allocs, est_frees;	/* sampling: estimates */
	double est_alloc_bytes;
	/* Sampling: estimated outstanding bytes and count, unfiltered, as of
	 * the previous agg_collect() (for agg_pid_totals()). */
	double collected_est_bytes, collected_est_count;
	uint64_t collected_count;	/* count at the previous agg_collect() */
};

/* The block a thread's realloc has set aside until the realloc's outcome
 * (MT_EV_ALLOC or MT_EV_REALLOC_DONE) arrives. */
struct agg_pending {
	struct live_alloc block;	/* block.addr == 0: empty slot */
	uint32_t tid;
	/* false: the old block was not live when the realloc began (it
	 * predates tracing, or its allocation was lost); only block.addr and
	 * block.pid are meaningful then. */
	bool known;
};

struct aggregator {
	struct live_table live;

	struct agg_stack *stacks;
	size_t nstacks, stacks_cap;
	/* Index + 1 into stacks, 0: empty; at most half full. */
	uint32_t *stack_index;
	size_t stack_index_mask;

	/* Open addressing keyed by (pid, tid), on util/open_addr.h as
	 * live_table.c is; at most half full. Tiny: one slot per thread
	 * inside realloc, plus leftovers of lost events until their process
	 * execs. */
	struct agg_pending *pending;
	size_t pending_cap, npending;

	/* What processes mapped themselves, and the pieces an mremap in
	 * flight has set aside (per thread, as a realloc's block is). */
	struct mapped_ranges ranges;
	struct agg_remap *remaps;
	size_t nremaps, remaps_cap;

	struct agg_totals totals;
	uint64_t sample_bytes;		/* 0: not sampling */
};

/* One piece of a range set aside by a thread's mremap in flight. */
struct agg_remap {
	uint32_t tid;
	bool whole;		/* a whole range, not part of one */
	struct mapped_range piece;
};

int agg_new(struct aggregator **out)
{
	struct aggregator *agg = calloc(1, sizeof(*agg));

	*out = NULL;
	if (!agg)
		return -ENOMEM;
	agg->stack_index = calloc(AGG_STACK_INDEX_MIN, sizeof(*agg->stack_index));
	agg->pending = calloc(AGG_PENDING_MIN, sizeof(*agg->pending));
	if (!agg->stack_index || !agg->pending || live_table_init(&agg->live)) {
		free(agg->stack_index);
		free(agg->pending);
		free(agg);
		return -ENOMEM;
	}
	agg->stack_index_mask = AGG_STACK_INDEX_MIN - 1;
	agg->pending_cap = AGG_PENDING_MIN;
	*out = agg;
	return 0;
}

void agg_free(struct aggregator *agg)
{
	if (!agg)
		return;
	live_table_destroy(&agg->live);
	mapped_ranges_free(&agg->ranges);
	free(agg->remaps);
	free(agg->stacks);
	free(agg->stack_index);
	free(agg->pending);
	free(agg);
}

/* ---- stacks ---- */

static size_t agg_stack_home(size_t mask, uint32_t pid, uint64_t stack_id)
{
	return live_table_hash(pid, stack_id) & mask;
}

static int agg_stack_index_grow(struct aggregator *agg)
{
	size_t cap = (agg->stack_index_mask + 1) * 2, mask = cap - 1;
	uint32_t *index = calloc(cap, sizeof(*index));

	if (!index)
		return -ENOMEM;
	for (size_t k = 0; k < agg->nstacks; k++) {
		const struct agg_stack *s = &agg->stacks[k];
		size_t i = agg_stack_home(mask, s->pid, s->stack_id);

		while (index[i])
			i = (i + 1) & mask;
		index[i] = k + 1;
	}
	free(agg->stack_index);
	agg->stack_index = index;
	agg->stack_index_mask = mask;
	return 0;
}

bool agg_has_stack(const struct aggregator *agg, uint32_t pid, uint64_t stack_id)
{
	size_t i = agg_stack_home(agg->stack_index_mask, pid, stack_id);

	for (; agg->stack_index[i]; i = (i + 1) & agg->stack_index_mask) {
		const struct agg_stack *s = &agg->stacks[agg->stack_index[i] - 1];

		if (s->pid == pid && s->stack_id == stack_id)
			return true;
	}
	return false;
}

uint64_t agg_live_stack(const struct aggregator *agg, uint32_t pid, uint64_t addr)
{
	struct live_alloc a;

	return live_table_get(&agg->live, pid, addr, &a) ? agg->stacks[a.stack].stack_id : 0;
}

void agg_each_live(const struct aggregator *agg, uint32_t pid,
		   void (*fn)(void *arg, uint64_t addr, uint64_t size, uint64_t stack_id),
		   void *arg)
{
	struct live_iter it = LIVE_ITER_INIT;
	struct live_alloc a;

	while (live_table_next(&agg->live, &it, &a))
		if (a.pid == pid)
			fn(arg, a.addr, a.size, agg->stacks[a.stack].stack_id);
}

/* The index of (pid, stack_id)'s record, made on first sight with func as
 * its function. Returns 0 or -ENOMEM. */
static int agg_stack_get(struct aggregator *agg, uint32_t pid,
			 uint64_t stack_id, uint32_t func, uint32_t *out)
{
	size_t i = agg_stack_home(agg->stack_index_mask, pid, stack_id);
	struct agg_stack *s;

	for (; agg->stack_index[i]; i = (i + 1) & agg->stack_index_mask) {
		s = &agg->stacks[agg->stack_index[i] - 1];
		if (s->pid == pid && s->stack_id == stack_id) {
			*out = agg->stack_index[i] - 1;
			return 0;
		}
	}

	/* Index values are index + 1 in 32 bits. */
	if (agg->nstacks >= UINT32_MAX - 1)
		return -ENOMEM;
	if (vec_reserve(&agg->stacks, &agg->stacks_cap, agg->nstacks + 1,
			sizeof(*agg->stacks)))
		return -ENOMEM;
	if ((agg->nstacks + 1) * 2 > agg->stack_index_mask + 1) {
		if (agg_stack_index_grow(agg))
			return -ENOMEM;
		/* The free slot found above moved with the new size. */
		i = agg_stack_home(agg->stack_index_mask, pid, stack_id);
		while (agg->stack_index[i])
			i = (i + 1) & agg->stack_index_mask;
	}

	s = &agg->stacks[agg->nstacks];
	memset(s, 0, sizeof(*s));
	s->pid = pid;
	s->stack_id = stack_id;
	s->func = func;
	agg->stack_index[i] = agg->nstacks + 1;
	*out = agg->nstacks++;
	return 0;
}

static void agg_outstanding_add(struct aggregator *agg, uint32_t stack,
				uint64_t size)
{
	struct agg_stack *s = &agg->stacks[stack];

	s->bytes += size;
	s->count++;
	if (s->bytes > s->peak_bytes)
		s->peak_bytes = s->bytes;
	agg->totals.live_bytes += size;
	agg->totals.live_count++;
}

static void agg_outstanding_sub(struct aggregator *agg, uint32_t stack,
				uint64_t size)
{
	struct agg_stack *s = &agg->stacks[stack];

	s->bytes -= size;
	s->count--;
	agg->totals.live_bytes -= size;
	agg->totals.live_count--;
}

/* ---- live allocations ---- */

/* Make a live. An allocation already live at that address must have been
 * freed by an event that was lost: it goes, but is not counted as a free. */
static void agg_live_put(struct aggregator *agg, const struct live_alloc *a)
{
	struct live_alloc old;
	int replaced = live_table_put(&agg->live, a, &old);

	/* Out of memory (or a.stack not pid's, which agg_stack_get() rules
	 * out): the allocation goes untracked, its free will count as an
	 * unknown one, or free the one it did not replace. */
	if (replaced < 0)
		return;
	if (replaced) {
		agg_outstanding_sub(agg, old.stack, old.size);
		agg->totals.replaced_live++;
	}
	agg_outstanding_add(agg, a->stack, a->size);
}

/* Sampling: one more free of a sampled block of size bytes. */
static void agg_est_free(struct aggregator *agg, uint32_t stack, uint64_t size)
{
	double w;

	if (!agg->sample_bytes)
		return;
	w = sampling_weight(size, agg->sample_bytes);
	agg->stacks[stack].est_frees += w;
	agg->totals.est_frees += w;
}

static void agg_live_free(struct aggregator *agg, uint32_t pid, uint64_t addr)
{
	struct live_alloc a;

	if (!live_table_take(&agg->live, pid, addr, &a)) {
		agg->totals.unknown_frees++;
		return;
	}
	agg_outstanding_sub(agg, a.stack, a.size);
	agg->stacks[a.stack].frees++;
	agg->totals.frees++;
	agg_est_free(agg, a.stack, a.size);
}

/* ---- reallocs in flight ---- */

static bool agg_pending_empty(const void *slot)
{
	return !((const struct agg_pending *)slot)->block.addr;
}

static uint64_t agg_pending_hash(const void *slot, const void *ctx)
{
	const struct agg_pending *p = slot;

	return live_table_hash(p->block.pid, p->tid);
}

static const struct oa_type agg_pending_slots = {
	.size = sizeof(struct agg_pending),
	.empty = agg_pending_empty,
	.hash = agg_pending_hash,
};

/* What a lookup compares: the thread, (pid, tid), or for a removal by
 * process, the pid alone. */
struct agg_thread {
	uint32_t pid, tid;
};

static bool agg_pending_is(const void *slot, const void *key)
{
	const struct agg_pending *p = slot;
	const struct agg_thread *k = key;

	return p->block.pid == k->pid && p->tid == k->tid;
}

static bool agg_pending_of_pid(const void *slot, const void *key)
{
	return ((const struct agg_pending *)slot)->block.pid ==
	       ((const struct agg_thread *)key)->pid;
}

static struct agg_pending *agg_pending_find(struct aggregator *agg,
					    uint32_t pid, uint32_t tid)
{
	struct agg_thread k = { .pid = pid, .tid = tid };

	return oa_find(agg->pending, agg->pending_cap, live_table_hash(pid, tid),
		       agg_pending_is, &k, &agg_pending_slots);
}

/* Add p, whose (pid, tid) has no slot. Returns 0 or -ENOMEM. */
static int agg_pending_insert(struct aggregator *agg, const struct agg_pending *p)
{
	size_t cap = agg->pending_cap;

	if ((agg->npending + 1) * 2 > cap) {
		struct agg_pending *table = calloc(cap * 2, sizeof(*table));

		if (!table)
			return -ENOMEM;
		oa_place_all(table, cap * 2, agg->pending, cap, NULL, &agg_pending_slots);
		free(agg->pending);
		agg->pending = table;
		agg->pending_cap = cap * 2;
	}
	oa_place(agg->pending, agg->pending_cap, p, NULL, &agg_pending_slots);
	agg->npending++;
	return 0;
}

static void agg_pending_remove(struct aggregator *agg, struct agg_pending *p)
{
	oa_remove_at(agg->pending, agg->pending_cap, p - agg->pending, NULL,
		     &agg_pending_slots);
	agg->npending--;
}

static void agg_pending_count_known(const void *slot, void *arg)
{
	*(size_t *)arg += ((const struct agg_pending *)slot)->known;
}

/* Forget pid's parked blocks; returns how many were real allocations. */
static size_t agg_pending_remove_pid(struct aggregator *agg, uint32_t pid)
{
	struct agg_thread k = { .pid = pid };
	size_t known = 0;

	agg->npending -= oa_remove_matching(agg->pending, agg->pending_cap,
					    agg_pending_of_pid, &k,
					    agg_pending_count_known, &known, NULL,
					    &agg_pending_slots);
	return known;
}

/* The old block of a realloc is gone (moved or freed). */
static void agg_pending_drop_as_free(struct aggregator *agg,
				     const struct agg_pending *p)
{
	if (p->known) {
		agg->stacks[p->block.stack].frees++;
		agg->totals.frees++;
		agg_est_free(agg, p->block.stack, p->block.size);
	} else {
		/* A block allocated before tracing began, or whose allocation
		 * was lost: like a free() of it, an unknown free. */
		agg->totals.unknown_frees++;
	}
}

/* The thread's parked block if it is old_addr, else NULL. A parked block
 * for another address is the leftover of a realloc whose outcome was lost:
 * it is discarded (most reallocs succeed, so it is most likely gone). */
static struct agg_pending *agg_pending_take(struct aggregator *agg,
					    const struct mt_event *e)
{
	struct agg_pending *p = agg_pending_find(agg, e->pid, e->tid);

	if (p && p->block.addr != e->old_addr) {
		agg_pending_remove(agg, p);
		p = NULL;
	}
	return p;
}

static void agg_on_realloc_begin(struct aggregator *agg, const struct mt_event *e)
{
	struct agg_pending park = { .tid = e->tid };
	struct agg_pending *p;

	if (!e->old_addr)
		return;
	/* A block already parked means this thread's previous realloc
	 * outcome was lost: the new realloc replaces it. */
	p = agg_pending_find(agg, e->pid, e->tid);
	if (p)
		agg_pending_remove(agg, p);

	park.known = live_table_get(&agg->live, e->pid, e->old_addr, &park.block);
	if (!park.known) {
		park.block.addr = e->old_addr;
		park.block.pid = e->pid;
	}
	/* If it cannot be parked, leave the block live: the outcome event
	 * then acts as if this one had been lost, which is handled. */
	if (agg_pending_insert(agg, &park))
		return;
	if (park.known) {
		/* A second lookup, of the slot just read: in cache. */
		agg_outstanding_sub(agg, park.block.stack, park.block.size);
		live_table_take(&agg->live, e->pid, e->old_addr, NULL);
	}
}

static void agg_on_realloc_done(struct aggregator *agg, const struct mt_event *e)
{
	struct agg_pending *p, park;

	if (!e->old_addr)
		return;
	p = agg_pending_take(agg, e);
	if (!p) {
		/* BEGIN was lost: the old block never left the live table. */
		if (e->size == 0)
			agg_live_free(agg, e->pid, e->old_addr);
		return;
	}
	park = *p;
	agg_pending_remove(agg, p);
	if (e->size == 0)
		agg_pending_drop_as_free(agg, &park);	/* realloc(p, 0) */
	else if (park.known)
		agg_live_put(agg, &park.block);		/* failed: p still live */
}

static void agg_on_alloc(struct aggregator *agg, const struct mt_event *e)
{
	struct live_alloc a = {
		.addr = e->addr,
		.pid = e->pid,
		.size = e->size,
		.ts_ns = e->ts_ns,
	};

	agg->totals.allocs++;
	agg->totals.alloc_bytes += e->size;
	if (e->flags & MT_EVF_NO_STACK)
		agg->totals.no_stack++;

	/* A successful realloc: its old block is gone, before the new one
	 * may take the same address. */
	if (e->old_addr && mt_func_resizes(e->func)) {
		struct agg_pending *p = agg_pending_take(agg, e);

		if (p) {
			agg_pending_drop_as_free(agg, p);
			agg_pending_remove(agg, p);
		} else {
			agg_live_free(agg, e->pid, e->old_addr);	/* BEGIN lost */
		}
	}

	/* Without memory for a stack record, the allocation can only be
	 * counted: its free will be an unknown one. */
	if (agg_stack_get(agg, e->pid, e->stack_id, e->func, &a.stack))
		return;
	agg->stacks[a.stack].allocs++;
	agg->stacks[a.stack].alloc_bytes += e->size;
	if (agg->sample_bytes) {
		double w = sampling_weight(e->size, agg->sample_bytes);

		agg->stacks[a.stack].est_allocs += w;
		agg->stacks[a.stack].est_alloc_bytes += w * e->size;
		agg->totals.est_allocs += w;
		agg->totals.est_alloc_bytes += w * e->size;
	}
	agg_live_put(agg, &a);
}

/* ---- ranges the program mapped itself ---- */

/* A range lost `piece`: its stack loses the bytes, and a live range when
 * it went whole (a free of it) or gains one when it was split. */
static void agg_range_cut(const struct mapped_range *piece, int ranges, void *ctx)
{
	struct aggregator *agg = ctx;
	struct agg_stack *s = &agg->stacks[piece->stack];
	uint64_t len = piece->end - piece->start;

	s->bytes -= len;
	agg->totals.live_bytes -= len;
	if (ranges < 0) {
		s->count--;
		agg->totals.live_count--;
		s->frees++;
		agg->totals.frees++;
		if (agg->sample_bytes) {
			s->est_frees += 1;
			agg->totals.est_frees += 1;
		}
	} else if (ranges > 0) {
		s->count++;
		agg->totals.live_count++;
	}
}

/* The same, keeping the piece aside for the thread's mremap. A piece that
 * cannot be kept is dropped as unmapped (the mremap most likely moves it). */
struct agg_park {
	struct aggregator *agg;
	uint32_t tid;
};

static void agg_range_park(const struct mapped_range *piece, int ranges, void *ctx)
{
	struct agg_park *pk = ctx;
	struct aggregator *agg = pk->agg;
	struct agg_stack *s = &agg->stacks[piece->stack];

	agg_range_cut(piece, ranges, agg);
	if (ranges < 0) {
		/* Not gone yet: set aside. */
		s->frees--;
		agg->totals.frees--;
		if (agg->sample_bytes) {
			s->est_frees -= 1;
			agg->totals.est_frees -= 1;
		}
	}
	if (vec_reserve(&agg->remaps, &agg->remaps_cap, agg->nremaps + 1,
			sizeof(*agg->remaps)))
		return;
	agg->remaps[agg->nremaps++] = (struct agg_remap){
		.tid = pk->tid,
		.whole = ranges < 0,
		.piece = *piece,
	};
}

/* Map [addr, addr + size) on stack_id, after removing what it replaces. */
static void agg_range_map(struct aggregator *agg, const struct mt_event *e,
			  uint64_t addr, uint64_t size)
{
	struct mapped_range r = {
		.start = addr,
		.end = addr + size,
		.ts_ns = e->ts_ns,
		.pid = e->pid,
	};

	agg->totals.allocs++;
	agg->totals.est_allocs += agg->sample_bytes ? 1 : 0;
	if (e->flags & MT_EVF_NO_STACK)
		agg->totals.no_stack++;
	mapped_ranges_remove(&agg->ranges, e->pid, r.start, r.end, agg_range_cut, agg);
	if (!size || agg_stack_get(agg, e->pid, e->stack_id, e->func, &r.stack) ||
	    mapped_ranges_add(&agg->ranges, &r))
		return;
	agg->stacks[r.stack].allocs++;
	agg->stacks[r.stack].est_allocs += agg->sample_bytes ? 1 : 0;
	agg->stacks[r.stack].count++;
	agg->stacks[r.stack].bytes += size;
	if (agg->stacks[r.stack].bytes > agg->stacks[r.stack].peak_bytes)
		agg->stacks[r.stack].peak_bytes = agg->stacks[r.stack].bytes;
	agg->totals.live_bytes += size;
	agg->totals.live_count++;
}

/* An unmap of memory never seen mapped (made before tracing, or by the
 * allocator outside its calls) changes nothing. */
static void agg_range_unmap(struct aggregator *agg, uint32_t pid, uint64_t addr,
			    uint64_t size)
{
	mapped_ranges_remove(&agg->ranges, pid, addr, addr + size, agg_range_cut, agg);
}

/* Take the thread's parked pieces out; put_back: as ranges again (the
 * mremap failed), else dropped as unmapped. Returns how many there were. */
static size_t agg_remap_finish(struct aggregator *agg, uint32_t pid, uint32_t tid,
			       bool put_back)
{
	size_t n = 0, k = 0;

	for (size_t i = 0; i < agg->nremaps; i++) {
		struct agg_remap *rm = &agg->remaps[i];
		struct agg_stack *s;

		if (rm->piece.pid != pid || rm->tid != tid) {
			agg->remaps[k++] = *rm;
			continue;
		}
		n++;
		s = &agg->stacks[rm->piece.stack];
		if (!put_back) {
			s->frees += rm->whole;
			agg->totals.frees += rm->whole;
			if (agg->sample_bytes) {
				s->est_frees += rm->whole;
				agg->totals.est_frees += rm->whole;
			}
			continue;
		}
		if (mapped_ranges_add(&agg->ranges, &rm->piece))
			continue;
		s->count++;
		s->bytes += rm->piece.end - rm->piece.start;
		agg->totals.live_count++;
		agg->totals.live_bytes += rm->piece.end - rm->piece.start;
	}
	agg->nremaps = k;
	return n;
}

static void agg_on_mapping(struct aggregator *agg, const struct mt_event *e)
{
	struct agg_park pk = { .agg = agg, .tid = e->tid };

	switch (e->type) {
	case MT_EV_MMAP:
		if (e->flags & MT_EVF_MAP_FILE)
			agg_range_unmap(agg, e->pid, e->addr, e->size);
		else
			agg_range_map(agg, e, e->addr, e->size);
		break;
	case MT_EV_MUNMAP:
		agg_range_unmap(agg, e->pid, e->addr, e->size);
		break;
	case MT_EV_MREMAP_BEGIN:
		/* A leftover of a lost outcome: most mremaps succeed. */
		agg_remap_finish(agg, e->pid, e->tid, false);
		mapped_ranges_remove(&agg->ranges, e->pid, e->old_addr, e->old_addr + e->size,
				     agg_range_park, &pk);
		break;
	case MT_EV_MREMAP_DONE:
		/* Memory mapped before tracing stays untraced when it moves. */
		if (agg_remap_finish(agg, e->pid, e->tid, !e->addr) && e->addr)
			agg_range_map(agg, e, e->addr, e->size);
		break;
	case MT_EV_BRK:
		if (e->addr > e->old_addr)
			agg_range_map(agg, e, e->old_addr, e->size);
		else
			agg_range_unmap(agg, e->pid, e->addr, e->old_addr - e->addr);
		break;
	}
}

void agg_handle(struct aggregator *agg, const struct mt_event *e)
{
	agg->totals.events++;
	switch (e->type) {
	case MT_EV_ALLOC:
		/* NULL is how an allocation fails; the probes never send it,
		 * and address 0 marks an empty live slot. */
		if (e->addr)
			agg_on_alloc(agg, e);
		break;
	case MT_EV_FREE:
		if (e->addr)		/* free(NULL) does nothing */
			agg_live_free(agg, e->pid, e->addr);
		break;
	case MT_EV_REALLOC_BEGIN:
		agg_on_realloc_begin(agg, e);
		break;
	case MT_EV_REALLOC_DONE:
		agg_on_realloc_done(agg, e);
		break;
	case MT_EV_EXEC:
		agg_drop_pid(agg, e->pid);
		break;
	case MT_EV_MMAP:
	case MT_EV_MUNMAP:
	case MT_EV_MREMAP_BEGIN:
	case MT_EV_MREMAP_DONE:
	case MT_EV_BRK:
		agg_on_mapping(agg, e);
		break;
	default:
		break;
	}
}

/* Counted in exec_dropped whether called for an exec or not: that is the
 * one counter for allocations forgotten without a free. */
void agg_drop_pid(struct aggregator *agg, uint32_t pid)
{
	size_t dropped = live_table_remove_pid(&agg->live, pid);

	/* Every live allocation of pid is gone, so each of pid's stacks
	 * loses all its outstanding bytes; their history stays. */
	for (size_t k = 0; k < agg->nstacks; k++) {
		struct agg_stack *s = &agg->stacks[k];

		if (s->pid != pid)
			continue;
		agg->totals.live_bytes -= s->bytes;
		agg->totals.live_count -= s->count;
		s->bytes = 0;
		s->count = 0;
	}
	/* A parked block is a live allocation too, only set aside. */
	dropped += agg_pending_remove_pid(agg, pid);
	dropped += mapped_ranges_drop_pid(&agg->ranges, pid);
	{
		size_t k = 0;

		for (size_t i = 0; i < agg->nremaps; i++) {
			if (agg->remaps[i].piece.pid != pid)
				agg->remaps[k++] = agg->remaps[i];
			else
				dropped += agg->remaps[i].whole;
		}
		agg->nremaps = k;
	}
	agg->totals.exec_dropped += dropped;
}

void agg_set_sampling(struct aggregator *agg, uint64_t sample_bytes)
{
	agg->sample_bytes = sample_bytes;
}

void agg_totals(const struct aggregator *agg, struct agg_totals *out)
{
	*out = agg->totals;
	out->stacks = agg->nstacks;
}

/* ---- views ---- */

struct agg_acc {
	uint64_t bytes;
	uint64_t count;
	uint64_t oldest_ts_ns;
	double est_bytes, est_count, est_total_bytes, est_total_count;
};

static bool agg_filter_pass(const struct agg_filter *f, uint64_t ts_ns)
{
	/* An event may be stamped after the caller read its clock. */
	uint64_t age = f->now_ns > ts_ns ? f->now_ns - ts_ns : 0;

	if (f->min_age_ns && age < f->min_age_ns)
		return false;
	if (f->window_ns && age > f->window_ns)
		return false;
	return true;
}

static int agg_view_cmp(const void *pa, const void *pb)
{
	const struct agg_stack_view *a = pa, *b = pb;

	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	if (a->stack_id != b->stack_id)
		return a->stack_id < b->stack_id ? -1 : 1;
	/* Different processes can share a stack_id: keep the order stable. */
	if (a->pid != b->pid)
		return a->pid < b->pid ? -1 : 1;
	return 0;
}

int agg_collect(struct aggregator *agg, const struct agg_filter *f,
		struct agg_stack_view **out, size_t *n)
{
	static const struct agg_filter no_filter;
	struct live_iter it = LIVE_ITER_INIT;
	struct live_alloc a;
	size_t nviews = 0;
	double est_bytes = 0, est_count = 0;
	struct agg_stack_view *views;
	struct agg_acc *acc;

	*out = NULL;
	*n = 0;
	if (!f)
		f = &no_filter;
	acc = calloc(agg->nstacks ? agg->nstacks : 1, sizeof(*acc));
	if (!acc)
		return -ENOMEM;

	/* One pass over the live table; per-stack sums live in acc, which
	 * is small next to the table. */
	while (live_table_next(&agg->live, &it, &a)) {
		struct agg_acc *c = &acc[a.stack];
		double w = 1;

		if (agg->sample_bytes) {
			w = sampling_weight(a.size, agg->sample_bytes);
			est_bytes += w * a.size;
			est_count += w;
			c->est_total_bytes += w * a.size;
			c->est_total_count += w;
		}
		if (!agg_filter_pass(f, a.ts_ns))
			continue;
		c->est_bytes += w * a.size;
		c->est_count += w;
		if (!c->count || a.ts_ns < c->oldest_ts_ns)
			c->oldest_ts_ns = a.ts_ns;
		c->bytes += a.size;
		c->count++;
	}
	/* Maps are never sampled: each counts once, sampling or not. */
	for (size_t i = 0; i < agg->ranges.n; i++) {
		const struct mapped_range *a = &agg->ranges.v[i];
		uint64_t len = a->end - a->start;
		struct agg_acc *c = &acc[a->stack];

		if (agg->sample_bytes) {
			est_bytes += len;
			est_count += 1;
			c->est_total_bytes += len;
		}
		if (!agg_filter_pass(f, a->ts_ns))
			continue;
		c->est_bytes += len;
		c->est_count += 1;
		if (!c->count || a->ts_ns < c->oldest_ts_ns)
			c->oldest_ts_ns = a->ts_ns;
		c->bytes += len;
		c->count++;
	}

	for (size_t k = 0; k < agg->nstacks; k++)
		nviews += acc[k].count > 0 || f->all_stacks;
	/* Never NULL on success, so NULL always means an error. */
	views = malloc((nviews ? nviews : 1) * sizeof(*views));
	if (!views) {
		free(acc);
		return -ENOMEM;
	}

	nviews = 0;
	for (size_t k = 0; k < agg->nstacks; k++) {
		struct agg_stack *s = &agg->stacks[k];

		if (acc[k].count || f->all_stacks) {
			struct agg_stack_view *v = &views[nviews++];

			v->pid = s->pid;
			v->func = s->func;
			v->stack_id = s->stack_id;
			v->bytes = acc[k].bytes;
			v->count = acc[k].count;
			v->oldest_ts_ns = acc[k].oldest_ts_ns;
			v->allocs = s->allocs;
			v->alloc_bytes = s->alloc_bytes;
			v->frees = s->frees;
			v->peak_bytes = s->peak_bytes;
			v->total_bytes = s->bytes;
			/* At the first call, and for a stack first seen
			 * since the previous one, 0 is recorded: it grew by
			 * all it holds. */
			v->growth_bytes = (int64_t)(s->bytes - s->collected_bytes);
			v->est_bytes = acc[k].est_bytes;
			v->est_count = acc[k].est_count;
			v->est_allocs = s->est_allocs;
			v->est_frees = s->est_frees;
			v->est_total_bytes = acc[k].est_total_bytes;
			v->est_alloc_bytes = s->est_alloc_bytes;
			v->growth_count = (int64_t)(s->count - s->collected_count);
		}
		s->collected_bytes = s->bytes;
		s->collected_count = s->count;
		s->collected_est_bytes = acc[k].est_total_bytes;
		s->collected_est_count = acc[k].est_total_count;
	}
	free(acc);
	agg->totals.est_live_bytes = est_bytes;
	agg->totals.est_live_count = est_count;

	qsort(views, nviews, sizeof(*views), agg_view_cmp);
	*out = views;
	*n = nviews;
	return 0;
}

void agg_pid_outstanding(const struct aggregator *agg, uint32_t pid, uint64_t *heap,
			 uint64_t *mapped)
{
	*heap = *mapped = 0;
	for (size_t k = 0; k < agg->nstacks; k++) {
		const struct agg_stack *s = &agg->stacks[k];

		if (s->pid != pid)
			continue;
		if (mt_func_is_mapping(s->func))
			*mapped += s->bytes;
		else
			*heap += s->bytes;
	}
}

size_t agg_mapped_ranges(const struct aggregator *agg, uint32_t pid,
			 struct agg_range_view *out, size_t max)
{
	const struct mapped_range *first;
	size_t n = mapped_ranges_of(&agg->ranges, pid, &first);

	for (size_t i = 0; i < n && i < max; i++)
		out[i] = (struct agg_range_view){
			.start = first[i].start,
			.end = first[i].end,
			.stack_id = agg->stacks[first[i].stack].stack_id,
			.func = agg->stacks[first[i].stack].func,
		};
	return n;
}

void agg_pid_totals(const struct aggregator *agg, struct agg_pid_totals *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		p[i].bytes = p[i].count = 0;
		p[i].est_bytes = p[i].est_count = 0;
	}
	/* A process has few stacks next to all of them, and reports are
	 * seconds apart: a pass over the stacks per report is cheap. */
	for (size_t k = 0; k < agg->nstacks; k++) {
		const struct agg_stack *s = &agg->stacks[k];

		if (!s->count)
			continue;
		for (size_t i = 0; i < n; i++) {
			if (p[i].pid == s->pid) {
				p[i].bytes += s->bytes;
				p[i].count += s->count;
				p[i].est_bytes += s->collected_est_bytes;
				p[i].est_count += s->collected_est_count;
				break;
			}
		}
	}
}

size_t agg_memory_bytes(const struct aggregator *agg)
{
	return sizeof(*agg) + live_table_memory_bytes(&agg->live) +
	       agg->ranges.cap * sizeof(*agg->ranges.v) +
	       agg->remaps_cap * sizeof(*agg->remaps) +
	       agg->stacks_cap * sizeof(*agg->stacks) +
	       (agg->stack_index_mask + 1) * sizeof(*agg->stack_index) +
	       agg->pending_cap * sizeof(*agg->pending);
}

size_t agg_peak_memory_bytes(const struct aggregator *agg)
{
	return agg_memory_bytes(agg) - live_table_memory_bytes(&agg->live) +
	       live_table_peak_bytes(&agg->live);
}
