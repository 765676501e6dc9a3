/* SPDX-License-Identifier: MIT */
/*
 * The live allocations of every traced process, keyed by (pid, address).
 *
 * There may be tens of millions of them, so the table is one flat array of
 * 32-byte slots: open addressing, linear probing, a power-of-two capacity
 * kept at most 3/4 full, and backward-shift deletion, so a busy malloc/free
 * churn never leaves tombstones that slow lookups down. Address 0 marks an
 * empty slot: NULL is never a live block.
 */
#ifndef MEMTRACE_LIVE_TABLE_H
#define MEMTRACE_LIVE_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "memtrace_mix.h"

struct live_alloc {
	uint64_t addr;		/* 0: empty slot */
	uint32_t pid;
	uint32_t stack;		/* index into the owner's stack records */
	uint64_t size;
	uint64_t ts_ns;
};

struct live_table {
	struct live_alloc *slots;
	size_t mask;		/* capacity - 1 */
	size_t count;
};

/* Mixes a (pid, 64-bit key) pair into a hash whose low bits are all good
 * (see memtrace_mix.h). */
static inline uint64_t live_table_hash(uint32_t pid, uint64_t key)
{
	return mt_mix64(key ^ (((uint64_t)pid << 32 | pid) * MT_MIX_GOLDEN));
}

int live_table_init(struct live_table *t);
void live_table_destroy(struct live_table *t);

/* The slot holding (pid, addr), or NULL. The pointer stays valid until the
 * next insert or remove. */
struct live_alloc *live_table_find(const struct live_table *t, uint32_t pid,
				   uint64_t addr);

/* Add a (a->addr != 0) whose key is not in the table. Returns 0 or
 * -ENOMEM (the table is then unchanged). */
int live_table_insert(struct live_table *t, const struct live_alloc *a);

/* Remove the slot that live_table_find() returned. */
void live_table_remove(struct live_table *t, struct live_alloc *slot);

/* Remove every allocation of pid; returns how many there were. */
size_t live_table_remove_pid(struct live_table *t, uint32_t pid);

static inline size_t live_table_capacity(const struct live_table *t)
{
	return t->mask + 1;
}

static inline size_t live_table_memory_bytes(const struct live_table *t)
{
	return live_table_capacity(t) * sizeof(struct live_alloc);
}

#endif /* MEMTRACE_LIVE_TABLE_H */
