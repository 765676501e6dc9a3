// SPDX-License-Identifier: MIT
/*
 * The ranges traced processes mapped themselves (see mapped_ranges.h).
 *
 * One sorted array: a process maps few ranges next to the malloc blocks
 * the live table holds (CPython maps one arena per MiB of small objects),
 * so a binary search and a memmove per change cost less than a tree.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mapped_ranges.h"
#include "util/vec.h"

/* The first range of pid that ends after addr (or the first of a later
 * pid, or n). Ranges of one pid do not overlap, so their ends are sorted
 * as their starts are. */
static size_t first_after(const struct mapped_ranges *m, uint32_t pid, uint64_t addr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct mapped_range *r = &m->v[mid];

		if (r->pid < pid || (r->pid == pid && r->end <= addr))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int insert_at(struct mapped_ranges *m, size_t i, const struct mapped_range *r)
{
	int err = vec_reserve(&m->v, &m->cap, m->n + 1, sizeof(*m->v));

	if (err)
		return err;
	memmove(&m->v[i + 1], &m->v[i], (m->n - i) * sizeof(*m->v));
	m->v[i] = *r;
	m->n++;
	return 0;
}

static void erase_at(struct mapped_ranges *m, size_t i)
{
	memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof(*m->v));
	m->n--;
}

int mapped_ranges_add(struct mapped_ranges *m, const struct mapped_range *r)
{
	size_t i;

	if (r->end <= r->start)
		return -EINVAL;
	i = first_after(m, r->pid, r->start);
	if (i < m->n && m->v[i].pid == r->pid && m->v[i].start < r->end)
		return -EINVAL;
	return insert_at(m, i, r);
}

int mapped_ranges_remove(struct mapped_ranges *m, uint32_t pid, uint64_t start,
			 uint64_t end, mapped_cut_fn *cut, void *ctx)
{
	size_t i = first_after(m, pid, start);

	while (i < m->n && m->v[i].pid == pid && m->v[i].start < end) {
		struct mapped_range *r = &m->v[i], piece = *r;

		if (r->start >= start && r->end <= end) {
			erase_at(m, i);
			if (cut)
				cut(&piece, -1, ctx);
			continue;
		}
		if (r->start < start && r->end > end) {
			struct mapped_range tail = *r;
			int err;

			tail.start = end;
			err = insert_at(m, i + 1, &tail);
			if (err)
				return err;
			m->v[i].end = start;
			piece.start = start;
			piece.end = end;
			if (cut)
				cut(&piece, +1, ctx);
			return 0;
		}
		if (r->start < start) {
			piece.start = start;
			r->end = start;
			i++;
		} else {
			piece.end = end;
			r->start = end;
		}
		if (cut)
			cut(&piece, 0, ctx);
		if (piece.end == end)
			break;
	}
	return 0;
}

size_t mapped_ranges_of(const struct mapped_ranges *m, uint32_t pid,
			const struct mapped_range **first)
{
	size_t i = first_after(m, pid, 0), k = i;

	while (k < m->n && m->v[k].pid == pid)
		k++;
	*first = m->v ? &m->v[i] : NULL;
	return k - i;
}

size_t mapped_ranges_drop_pid(struct mapped_ranges *m, uint32_t pid)
{
	const struct mapped_range *first;
	size_t n = mapped_ranges_of(m, pid, &first), i;

	if (!n)
		return 0;
	i = first - m->v;
	memmove(&m->v[i], &m->v[i + n], (m->n - i - n) * sizeof(*m->v));
	m->n -= n;
	return n;
}

void mapped_ranges_free(struct mapped_ranges *m)
{
	free(m->v);
	*m = (struct mapped_ranges){ 0 };
}
