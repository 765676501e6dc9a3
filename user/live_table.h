/* SPDX-License-Identifier: MIT */
/*
 * The live allocations of every traced process, keyed by (pid, address).
 *
 * There may be tens of millions of them, so each is one 20-byte slot:
 * address, stack index, size in 32 bits and time in 32-bit milliseconds.
 * The pid is not in the slot: a stack index is one process's (the
 * aggregator's stack records are per (pid, stack)), and the table keeps
 * the pid of each stack index it has seen, 4 bytes per stack. A size of
 * 4 GiB or more is marked in its slot and kept exactly in a small side
 * table. A time is rounded to the nearest millisecond after the table's
 * base (set by its first allocation), so it is at most 0.5 ms off, for
 * 49.7 days, after which times stay at the last one (live_table_put()).
 *
 * The slots are split into LIVE_SHARDS shards by their hash's top bits.
 * Each shard is open addressing with linear probing and backward-shift
 * deletion (util/open_addr.h: churn leaves no tombstones), at most 13/20
 * full, and grows by 5/4 on its own, one shard's old and new arrays
 * alive together while it does. The shards' capacities are staggered so
 * that they do not all grow at once: at any count from 1 to 10 million
 * the table holds 34 to 35 bytes per live allocation, and at most 37
 * while a shard grows (measured: scripts/bench_aggregator.c -m).
 * Address 0 marks an empty slot: NULL is never a live block.
 *
 * Callers see whole allocations (struct live_alloc), copied in and out;
 * the slots themselves stay inside live_table.c.
 */
#ifndef MEMTRACE_LIVE_TABLE_H
#define MEMTRACE_LIVE_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memtrace_mix.h"

/* One live allocation, full width, as it goes in and comes out. */
struct live_alloc {
	uint64_t addr;		/* never 0 */
	uint32_t pid;
	/* Index into the owner's stack records: small (the table keeps an
	 * array of them), and always of the same pid. */
	uint32_t stack;
	uint64_t size;		/* exact */
	uint64_t ts_ns;		/* out: to the nearest ms (see the top) */
};

#define LIVE_SHARD_BITS 4
#define LIVE_SHARDS (1u << LIVE_SHARD_BITS)

struct live_slot;		/* live_table.c's */
struct live_big;

struct live_shard {
	struct live_slot *slots;
	size_t cap, count;
	unsigned grown;		/* times it has grown: its place on its scale */
};

struct live_table {
	struct live_shard shards[LIVE_SHARDS];
	/* The pid of each stack index seen (UINT32_MAX: none). */
	uint32_t *pids;
	size_t npids;
	/* (pid, addr) -> size, for the sizes a slot cannot hold. */
	struct live_big *big;
	size_t big_cap, nbig;
	uint64_t base_ns;	/* time 0 of the slots */
	bool based;		/* base_ns is set (at the first put) */
	size_t count;
	/* Allocations whose time was before base_ns or 49.7 days after it,
	 * stored as the nearest time the slots can hold. */
	size_t clamped_ts;
	size_t bytes;		/* the arrays' memory, now */
	size_t peak_bytes;	/* and the most it has been (growth included) */
};

/* Mixes a (pid, 64-bit key) pair into a hash whose bits are all good (see
 * memtrace_mix.h). */
static inline uint64_t live_table_hash(uint32_t pid, uint64_t key)
{
	return mt_mix64(key ^ (((uint64_t)pid << 32 | pid) * MT_MIX_GOLDEN));
}

/* An empty table; it allocates nothing until its first put. Returns 0
 * (no failure today; the errno contract leaves room for one). */
int live_table_init(struct live_table *t);

/* Free all the table holds; t is an empty table again. */
void live_table_destroy(struct live_table *t);

/* Copy (pid, addr)'s allocation into *out (if out is not NULL); false if
 * it is not live. */
bool live_table_get(const struct live_table *t, uint32_t pid, uint64_t addr,
		    struct live_alloc *out);

/* Make a (a->addr != 0) live. An allocation already live at its (pid,
 * addr) is replaced, and copied into *old first (if old is not NULL).
 * The time is kept to the nearest millisecond after the table's base,
 * which the first put sets a second before its own time (events from
 * several CPUs arrive a little out of order). A time more than 49.7 days
 * after the base, or before it, cannot be held: it is stored as the last
 * millisecond, or the base, and counted in clamped_ts, so such an
 * allocation looks older, or younger, than it is, and the counter says
 * how many do. Returns 1 if an allocation was replaced, 0 if not,
 * -EINVAL if a->stack was seen before with another pid, or -ENOMEM; the
 * allocations in the table are then unchanged. */
int live_table_put(struct live_table *t, const struct live_alloc *a,
		   struct live_alloc *old);

/* Remove (pid, addr), copying it into *out (if out is not NULL) first;
 * false if it was not live. */
bool live_table_take(struct live_table *t, uint32_t pid, uint64_t addr,
		     struct live_alloc *out);

/* Remove every allocation of pid; returns how many there were. */
size_t live_table_remove_pid(struct live_table *t, uint32_t pid);

/* Where a walk over the table is; start from LIVE_ITER_INIT. */
struct live_iter {
	size_t shard, i;
};
#define LIVE_ITER_INIT ((struct live_iter){ 0, 0 })

/* The walk's next allocation into *out; false at the end. Each live
 * allocation comes once, in no particular order, provided the table is
 * not changed during the walk. */
bool live_table_next(const struct live_table *t, struct live_iter *it,
		     struct live_alloc *out);

/* For tests of the probing: (pid, addr)'s shard, the index in it where
 * its probe starts (its home), and the index it sits at (SIZE_MAX if it
 * is not live). */
void live_table_locate(const struct live_table *t, uint32_t pid, uint64_t addr,
		       size_t *shard, size_t *home, size_t *at);

/* The memory the table's arrays hold now, and the most they ever held at
 * one moment (while a shard grows, its old and new arrays both count). */
static inline size_t live_table_memory_bytes(const struct live_table *t)
{
	return t->bytes;
}

static inline size_t live_table_peak_bytes(const struct live_table *t)
{
	return t->peak_bytes;
}

#endif /* MEMTRACE_LIVE_TABLE_H */
