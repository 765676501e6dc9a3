/* SPDX-License-Identifier: MIT */
/*
 * Open addressing with linear probing and backward-shift deletion over an
 * array of fixed-size slots, of any number of slots (not only powers of
 * two): the algorithm of the live-allocation table (live_table.c, whose
 * shards grow by 5/4), written once for every table that uses it (also
 * the aggregator's reallocs in flight).
 *
 * A slot's home is its hash's high bits scaled to [0, cap) (oa_home()),
 * and a probe that passes the last slot wraps to slot 0. One invariant:
 * between a slot's home and the place it sits in, no slot is empty. A
 * lookup stops at the first empty slot, and removing a slot pulls the
 * later slots of its run back into the hole for as long as that keeps the
 * invariant, so that churn never leaves tombstones behind.
 *
 * Each table describes its slots with a `static const struct oa_type`:
 * their size, which ones are empty (an all-zero slot must be), and their
 * hash, which may need more than the slot: the functions that rehash
 * slots hand it their `ctx` (the live table's slots hold no pid, which
 * their table knows; NULL for a table whose slots say it all). A lookup's
 * match(slot, key) gets what it needs in its key. The functions are
 * always inlined, so with the type a constant each table compiles to its
 * own loops, calls to the callbacks included, as if it had been written
 * out by hand.
 *
 * The caller owns the array, its capacity and its count, and keeps at
 * least one slot empty (every probe ends at one).
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
	/* Of a full slot. Only its high bits choose the home (oa_home()):
	 * they must be well mixed. */
	uint64_t (*hash)(const void *slot, const void *ctx);
};

#define OA_INLINE static inline __attribute__((always_inline))

OA_INLINE void *oa_slot(const void *slots, size_t i, const struct oa_type *ty)
{
	return (char *)slots + i * ty->size;
}

/* hash's home among cap slots: hash / 2^64 * cap, the multiply-shift
 * range reduction (one multiplication, where `hash % cap` would be a
 * division, and exact for any cap). */
OA_INLINE size_t oa_home(uint64_t hash, size_t cap)
{
	return (size_t)(((unsigned __int128)hash * cap) >> 64);
}

/* The slot after i, wrapping around the table's end. */
OA_INLINE size_t oa_next(size_t i, size_t cap)
{
	return i + 1 < cap ? i + 1 : 0;
}

/* How many steps a probe takes from `from` to `to`, around the end. */
OA_INLINE size_t oa_dist(size_t from, size_t to, size_t cap)
{
	return to >= from ? to - from : to + cap - from;
}

/* The first slot from hash's home on for which match(slot, key) holds,
 * or else the empty slot that ends the run: where such a slot would go.
 * One probe for "replace it, or add it". */
OA_INLINE void *oa_lookup(const void *slots, size_t cap, uint64_t hash,
			  bool (*match)(const void *slot, const void *key),
			  const void *key, const struct oa_type *ty)
{
	size_t i = oa_home(hash, cap);

	for (;;) {
		void *s = oa_slot(slots, i, ty);

		if (ty->empty(s) || match(s, key))
			return s;
		i = oa_next(i, cap);
	}
}

/* The same, but NULL when no slot matches. */
OA_INLINE void *oa_find(const void *slots, size_t cap, uint64_t hash,
			bool (*match)(const void *slot, const void *key),
			const void *key, const struct oa_type *ty)
{
	void *s = oa_lookup(slots, cap, hash, match, key, ty);

	return ty->empty(s) ? NULL : s;
}

/* Copy item, whose key is known to be absent, into the first empty slot
 * of its run. */
OA_INLINE void oa_place(void *slots, size_t cap, const void *item, const void *ctx,
			const struct oa_type *ty)
{
	size_t i = oa_home(ty->hash(item, ctx), cap);

	while (!ty->empty(oa_slot(slots, i, ty)))
		i = oa_next(i, cap);
	memcpy(oa_slot(slots, i, ty), item, ty->size);
}

/* Empty slot `hole` and close the gap behind it (see the top). */
OA_INLINE void oa_remove_at(void *slots, size_t cap, size_t hole, const void *ctx,
			    const struct oa_type *ty)
{
	size_t i = hole;

	for (;;) {
		void *s;
		size_t home;

		i = oa_next(i, cap);
		s = oa_slot(slots, i, ty);
		if (ty->empty(s))
			break;
		/* s may fill the hole only if its home is not after the hole,
		 * i.e. it has probed at least as far as the hole is behind it
		 * (both distances counted around the table's end). */
		home = oa_home(ty->hash(s, ctx), cap);
		if (oa_dist(home, i, cap) >= oa_dist(hole, i, cap)) {
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
OA_INLINE size_t oa_remove_matching(void *slots, size_t cap,
				    bool (*match)(const void *slot, const void *key),
				    const void *key,
				    void (*seen)(const void *slot, void *arg),
				    void *arg, const void *ctx, const struct oa_type *ty)
{
	size_t i = 0, removed = 0;

	while (!ty->empty(oa_slot(slots, i, ty)))
		i++;
	/* cap steps from the empty slot: every slot once, that one last. */
	for (size_t n = 0; n < cap; n++) {
		void *s;

		i = oa_next(i, cap);
		while (s = oa_slot(slots, i, ty), !ty->empty(s) && match(s, key)) {
			if (seen)
				seen(s, arg);
			oa_remove_at(slots, cap, i, ctx, ty);
			removed++;
		}
	}
	return removed;
}

/* Place every full slot of the old_cap slots of old into slots (cap of
 * them, empty, more than old holds): growing a table. */
OA_INLINE void oa_place_all(void *slots, size_t cap, const void *old,
			    size_t old_cap, const void *ctx, const struct oa_type *ty)
{
	for (size_t i = 0; i < old_cap; i++) {
		const void *s = oa_slot(old, i, ty);

		if (!ty->empty(s))
			oa_place(slots, cap, s, ctx, ty);
	}
}

#endif /* MEMTRACE_OPEN_ADDR_H */
