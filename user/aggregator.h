/* SPDX-License-Identifier: MIT */
/*
 * The aggregator: turns the event stream into live allocations and per-stack
 * figures. It knows nothing of BPF, symbols or output formats; it is fed
 * struct mt_event records in ring-buffer order and asked for views.
 *
 * State:
 *   - live allocations keyed by (pid, address): size, time, stack;
 *   - per (pid, stack_id): outstanding bytes and count, allocations and
 *     frees since start, peak outstanding bytes;
 *   - per thread: the block a realloc in flight has set aside;
 *   - the ranges processes mapped themselves (mmap, mremap, brk: see
 *     mapped_ranges.h), which count as allocations of their stacks.
 */
#ifndef MEMTRACE_AGGREGATOR_H
#define MEMTRACE_AGGREGATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "memtrace_events.h"

struct aggregator;

/* Running totals since the aggregator was created. */
struct agg_totals {
	uint64_t live_bytes;		/* outstanding bytes, all stacks */
	uint64_t live_count;		/* live allocations */
	uint64_t allocs;		/* allocations seen */
	uint64_t alloc_bytes;		/* bytes they asked for */
	uint64_t frees;			/* frees of known allocations */
	uint64_t unknown_frees;		/* frees of addresses never seen allocated */
	uint64_t replaced_live;		/* allocations at an address already live:
					   the missed free of a lost event */
	uint64_t exec_dropped;		/* live allocations dropped by an exec */
	uint64_t no_stack;		/* allocations whose stack was not captured */
	uint64_t stacks;		/* distinct (pid, stack) seen */
	uint64_t events;		/* events handled */
	/* Sampling (agg_set_sampling): estimates of live bytes and count
	 * (as of the last agg_collect()), allocations and frees. */
	double est_live_bytes, est_live_count, est_allocs, est_frees;
	double est_alloc_bytes;
};

/* One stack as a report sees it. */
struct agg_stack_view {
	uint32_t pid;
	uint32_t func;			/* enum mt_func of its allocations */
	uint64_t stack_id;		/* 0: allocations without a stack */
	uint64_t bytes;			/* outstanding bytes passing the filter */
	uint64_t count;			/* live allocations passing the filter */
	uint64_t oldest_ts_ns;		/* oldest such allocation (0 if none) */
	uint64_t allocs;		/* allocations since start */
	uint64_t alloc_bytes;		/* bytes allocated since start */
	uint64_t frees;			/* frees since start */
	uint64_t peak_bytes;		/* peak outstanding bytes (unfiltered) */
	uint64_t total_bytes;		/* outstanding bytes, unfiltered */
	int64_t growth_bytes;		/* total_bytes now minus at the previous
					   agg_collect() call (at the first call,
					   or for a stack new since, all of it) */
	/* Sampling: estimates of bytes and count (as filtered), of
	 * allocations and frees since start, and of total_bytes. */
	double est_bytes, est_count, est_allocs, est_frees, est_total_bytes;
	double est_alloc_bytes;
	int64_t growth_count;		/* the same for live allocations */
};

/* Which live allocations a view counts. Times are CLOCK_MONOTONIC ns; the
 * probes take an allocation's time as of the kernel's latest tick (up to
 * 4 ms early at HZ=250) and the live table keeps it to the nearest
 * millisecond (live_table.h): ages and oldest_ts_ns are right to a few
 * milliseconds. */
struct agg_filter {
	uint64_t now_ns;
	uint64_t min_age_ns;		/* 0: no minimum age */
	uint64_t window_ns;		/* 0: no window; else only allocations
					   made within the last window_ns */
	bool all_stacks;		/* also the stacks with no live allocation
					   passing the filter (bytes and count 0),
					   for figures since start */
};

int agg_new(struct aggregator **out);
void agg_free(struct aggregator *agg);

/* The events are of allocations sampled at mean interval sample_bytes
 * (--sample-bytes; 0: every allocation): keep the est_* figures, each
 * sampled allocation weighed by 1 / P(sampled). Set before any event. */
void agg_set_sampling(struct aggregator *agg, uint64_t sample_bytes);

/* Apply one event. Never fails: an event that contradicts the state is
 * counted in the totals, and the state stays consistent. */
void agg_handle(struct aggregator *agg, const struct mt_event *e);

/* Forget every live allocation of pid (the process exec'd or exited). */
void agg_drop_pid(struct aggregator *agg, uint32_t pid);

void agg_totals(const struct aggregator *agg, struct agg_totals *out);

/* Has an allocation with this (pid, stack_id) been seen? */
bool agg_has_stack(const struct aggregator *agg, uint32_t pid, uint64_t stack_id);

/*
 * Stacks with at least one live allocation passing the filter, sorted by
 * filtered bytes, largest first (ties: larger count, then lower stack_id);
 * with f->all_stacks, every other stack after them.
 * *out is malloc'ed by the callee and freed by the caller with free().
 * Also records each stack's total_bytes for the next call's growth_bytes.
 * Returns 0 or -ENOMEM.
 */
int agg_collect(struct aggregator *agg, const struct agg_filter *f,
		struct agg_stack_view **out, size_t *n);

/* pid's outstanding bytes: of allocator calls (heap), and of ranges it
 * mapped itself (mmap, mremap, brk). */
void agg_pid_outstanding(const struct aggregator *agg, uint32_t pid, uint64_t *heap,
			 uint64_t *mapped);

/* One range a process mapped itself and has not unmapped. */
struct agg_range_view {
	uint64_t start, end;
	uint64_t stack_id;		/* who mapped it; 0: stack not captured */
	uint32_t func;			/* MT_FUNC_MMAP, _MREMAP or _BRK */
};

/* pid's live mapped ranges, in address order: up to max into out; returns
 * how many there are (call with max 0 to count). */
size_t agg_mapped_ranges(const struct aggregator *agg, uint32_t pid,
			 struct agg_range_view *out, size_t max);
/* Per process: outstanding bytes and live allocations, unfiltered. */
struct agg_pid_totals {
	uint32_t pid;			/* in: the process */
	uint64_t bytes;			/* out */
	uint64_t count;			/* out */
	double est_bytes, est_count;	/* out, sampling: estimates as of the
					   last agg_collect() */
};

/* Fill the figures of each of the n entries (0 for a pid with nothing
 * live). */
void agg_pid_totals(const struct aggregator *agg, struct agg_pid_totals *p, size_t n);
/* The stack_id of pid's live allocation at addr; 0 if there is none (or
 * it has no stack). */
uint64_t agg_live_stack(const struct aggregator *agg, uint32_t pid, uint64_t addr);

/* Call fn for each live allocation of pid (in no particular order); fn
 * must not change the aggregator. */
void agg_each_live(const struct aggregator *agg, uint32_t pid,
		   void (*fn)(void *arg, uint64_t addr, uint64_t size, uint64_t stack_id),
		   void *arg);

/* Memory the aggregator holds, in bytes (tables and arrays). */
size_t agg_memory_bytes(const struct aggregator *agg);

/* The same with the live-allocation table at the most it has held at any
 * moment, while it grew included (the other tables are small beside it,
 * and counted as they are now). */
size_t agg_peak_memory_bytes(const struct aggregator *agg);

#endif /* MEMTRACE_AGGREGATOR_H */
