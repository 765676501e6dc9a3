/* SPDX-License-Identifier: MIT */
/*
 * The memory ranges traced processes mapped themselves (mmap, mremap,
 * brk), live until unmapped: per process, sorted, never overlapping. An
 * unmap may cover any part of any ranges, so removing cuts them: a range
 * loses its head or its tail, or is split in two, or goes whole. Each
 * range remembers who mapped it (a stack index of the aggregator's) and
 * when.
 */
#ifndef MEMTRACE_MAPPED_RANGES_H
#define MEMTRACE_MAPPED_RANGES_H

#include <stddef.h>
#include <stdint.h>

struct mapped_range {
	uint64_t start;
	uint64_t end;		/* one past the last byte */
	uint64_t ts_ns;
	uint32_t pid;
	uint32_t stack;		/* the owner's index into its stacks */
};

struct mapped_ranges {
	struct mapped_range *v;	/* sorted by (pid, start) */
	size_t n, cap;
};

/*
 * What removing did to one range: `piece` is the part removed; `ranges`
 * says how the number of ranges changed: -1 (it went whole), 0 (it lost
 * its head or tail), +1 (it was split in two).
 */
typedef void mapped_cut_fn(const struct mapped_range *piece, int ranges, void *ctx);

/* Add r, which must not overlap any range of its pid (remove first).
 * Returns 0, -EINVAL (empty or overlapping) or -ENOMEM. */
int mapped_ranges_add(struct mapped_ranges *m, const struct mapped_range *r);

/*
 * Remove [start, end) of pid, calling cut (which may be NULL) for each
 * range it touches, in address order. Returns 0 or -ENOMEM (a split that
 * had no room: nothing of that range was removed, the rest is done).
 */
int mapped_ranges_remove(struct mapped_ranges *m, uint32_t pid, uint64_t start,
			 uint64_t end, mapped_cut_fn *cut, void *ctx);

/* pid's ranges: *first and how many (contiguous in m->v). */
size_t mapped_ranges_of(const struct mapped_ranges *m, uint32_t pid,
			const struct mapped_range **first);

/* Forget pid's ranges; returns how many there were. */
size_t mapped_ranges_drop_pid(struct mapped_ranges *m, uint32_t pid);

void mapped_ranges_free(struct mapped_ranges *m);

#endif /* MEMTRACE_MAPPED_RANGES_H */
