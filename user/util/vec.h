/* SPDX-License-Identifier: MIT */
/*
 * A growable array, as memtrace's modules keep them: a pointer, a count and
 * a capacity, held by the caller. vec_reserve() makes room; the caller
 * stores and counts:
 *
 *	if ((err = vec_reserve(&v, &cap, n + 1, sizeof(*v))))
 *		return err;
 *	v[n++] = item;
 *
 * Capacity doubles (from 16), so n appends cost O(n) in all.
 */
#ifndef MEMTRACE_VEC_H
#define MEMTRACE_VEC_H

#include <stddef.h>

/*
 * Make *items (an array of elements of `size` bytes with room for *cap)
 * hold at least `need` elements. Returns 0, or -ENOMEM with *items and
 * *cap unchanged (the caller's array is still valid and still its own).
 * `items` is the address of the caller's pointer (T **, passed as void *).
 */
int vec_reserve(void *items, size_t *cap, size_t need, size_t size);

#endif /* MEMTRACE_VEC_H */
