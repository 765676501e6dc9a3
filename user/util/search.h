/* SPDX-License-Identifier: MIT */
/*
 * Binary search in an array of structs sorted by an unsigned member (a
 * start address, a pc, a symbol's value), as memtrace's tables are:
 *
 *	size_t i = FIRST_ABOVE(maps, n, start, addr);
 *	if (i == 0)
 *		return NULL;		   (every mapping starts above addr)
 *	return &maps[i - 1];		   (the last one starting at or below)
 *
 * FIRST_ABOVE gives the index of the first element whose member is above
 * key, FIRST_AT_LEAST of the first one at or above it; n when there is
 * none. "The last element <= key" is the one before FIRST_ABOVE's.
 * Elements with equal members are fine: the bound is past or before all
 * of them. The array may be empty (n == 0; base may then be NULL).
 */
#ifndef MEMTRACE_SEARCH_H
#define MEMTRACE_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * The index of the first of the n elements (stride bytes apart from base)
 * whose key (key_size bytes, 4 or 8, at key_offset in the element) is
 * above key, or at least key when at_least is true; n if none is. Inline
 * so that with constant sizes (the macros below) it compiles to the loop
 * it replaces.
 */
static inline size_t search_bound(const void *base, size_t n, size_t stride,
				  size_t key_offset, size_t key_size,
				  uint64_t key, bool at_least)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const unsigned char *p = (const unsigned char *)base +
					 mid * stride + key_offset;
		uint64_t v;

		if (key_size == 4) {
			uint32_t v32;

			memcpy(&v32, p, sizeof(v32));
			v = v32;
		} else {
			memcpy(&v, p, sizeof(v));
		}
		if (at_least ? v < key : v <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* arr: a pointer to the first element; member: the sorted member's name
 * (a 32- or 64-bit unsigned integer, may be nested: sym.value). A member
 * of another size does not compile (a negative array size). */
#define SEARCH_KEY_SIZE_(arr, member)                                      \
	(sizeof((arr)->member) +                                           \
	 0 * sizeof(char[sizeof((arr)->member) == 4 ||                     \
			 sizeof((arr)->member) == 8 ? 1 : -1]))
#define SEARCH_BOUND_(arr, n, member, key, at_least)                       \
	search_bound((arr), (n), sizeof(*(arr)),                           \
		     offsetof(__typeof__(*(arr)), member),                 \
		     SEARCH_KEY_SIZE_(arr, member), (key), (at_least))

#define FIRST_ABOVE(arr, n, member, key) \
	SEARCH_BOUND_(arr, n, member, key, false)
#define FIRST_AT_LEAST(arr, n, member, key) \
	SEARCH_BOUND_(arr, n, member, key, true)

#endif /* MEMTRACE_SEARCH_H */
