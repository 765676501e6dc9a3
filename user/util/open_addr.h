/* SPDX-License-Identifier: MIT */
/*
 * Open addressing with linear probing and backward-shift deletion over a
 * power-of-two array of fixed-size slots: the algorithm of the live
 * allocation table (live_table.c), written once for every table that
 * uses it (also the aggregator's reallocs in flight).
 *
 * One invariant: between a slot's home (its hash & mask) and the place it
 * sits in, no slot is empty. A lookup stops at the first empty slot, and
 * removing a slot pulls the later slots of its run back into the hole
 * for as long as that keeps the invariant, so that churn never leaves
 * tombstones behind.
 *
 * Each table describes its slots with a `static const struct oa_type`:
 * their size, which ones are empty (an all-zero slot must be), and their
 * hash. The functions are always inlined, so with the type a constant
 * each table compiles to its own loops, calls to the callbacks included,
 * as if it had been written out by hand: live_table.c's hot paths are the
 * same machine code as before this header existed.
 *
 * The caller owns the array and its count, and keeps at least one slot
 * empty (every probe ends at one).
 */
#ifndef MEMTRACE_OPEN_ADDR_H
#define MEMTRACE_OPEN_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct oa_type {
	size_t size;				/* bytes per slot */
	bool (*empty)(const void *slot);
	uint64_t (*hash)(const void *slot);	/* of a full slot */
};

#define OA_INLINE static inline __attribute__((always_inline))

OA_INLINE void *oa_slot(const void *slots, size_t i, const struct oa_type *ty)
{
	return (char *)slots + i * ty->size;
}

/* The first slot from hash's home on for which match(slot, key) holds, or
 * NULL when an empty slot comes first. */
OA_INLINE void *oa_find(const void *slots, size_t mask, uint64_t hash,
			bool (*match)(const void *slot, const void *key),
			const void *key, const struct oa_type *ty)
{
	size_t i = hash & mask;

	for (;;) {
		void *s = oa_slot(slots, i, ty);

		if (ty->empty(s))
			return NULL;
		if (match(s, key))
			return s;
		i = (i + 1) & mask;
	}
}

/* Copy item, whose key is known to be absent, into the first empty slot
 * of its run. */
OA_INLINE void oa_place(void *slots, size_t mask, const void *item,
			const struct oa_type *ty)
{
	size_t i = ty->hash(item) & mask;

	while (!ty->empty(oa_slot(slots, i, ty)))
		i = (i + 1) & mask;
	memcpy(oa_slot(slots, i, ty), item, ty->size);
}

/* Empty slot `hole` and close the gap behind it (see the top). */
OA_INLINE void oa_remove_at(void *slots, size_t mask, size_t hole,
			    const struct oa_type *ty)
{
	size_t i = hole;

	for (;;) {
		void *s;
		size_t home;

		i = (i + 1) & mask;
		s = oa_slot(slots, i, ty);
		if (ty->empty(s))
			break;
		/* s may fill the hole only if its home is not after the hole,
		 * i.e. it has probed at least as far as the hole is behind it;
		 * the subtractions wrap correctly around the table's end. */
		home = ty->hash(s) & mask;
		if (((i - home) & mask) >= ((i - hole) & mask)) {
			memcpy(oa_slot(slots, hole, ty), s, ty->size);
			hole = i;
		}
	}
	memset(oa_slot(slots, hole, ty), 0, ty->size);
}

/*
 * Remove every slot for which match(slot, key) holds; returns how many.
 * Calls seen(slot, arg) on each before it goes, when seen is not NULL.
 *
 * Removing while scanning moves slots backwards into the hole just made.
 * Starting right after an empty slot (there is always one) means no run
 * wraps past the scan's start, so a slot only ever moves into the one
 * being looked at, which is then looked at again, or into one not scanned
 * yet: none is skipped.
 */
OA_INLINE size_t oa_remove_matching(void *slots, size_t mask,
				    bool (*match)(const void *slot, const void *key),
				    const void *key,
				    void (*seen)(const void *slot, void *arg),
				    void *arg, const struct oa_type *ty)
{
	size_t start = 0, removed = 0;

	while (!ty->empty(oa_slot(slots, start, ty)))
		start++;
	for (size_t n = 1; n <= mask + 1; n++) {
		size_t i = (start + n) & mask;
		void *s;

		while (s = oa_slot(slots, i, ty), !ty->empty(s) && match(s, key)) {
			if (seen)
				seen(s, arg);
			oa_remove_at(slots, mask, i, ty);
			removed++;
		}
	}
	return removed;
}

/* Place every full slot of the old_cap slots of old into slots (mask + 1
 * of them, empty, at least as many as old holds): growing a table. */
OA_INLINE void oa_place_all(void *slots, size_t mask, const void *old,
			    size_t old_cap, const struct oa_type *ty)
{
	for (size_t i = 0; i < old_cap; i++) {
		const void *s = oa_slot(old, i, ty);

		if (!ty->empty(s))
			oa_place(slots, mask, s, ty);
	}
}

#endif /* MEMTRACE_OPEN_ADDR_H */
