/* SPDX-License-Identifier: MIT */
/*
 * Stacks the BPF unwinder could not finish. When a walk reaches a PC in no
 * mapping it knows (a library loaded since the tables were last read), the
 * probe sends a struct mt_snapshot of the thread's registers and stack,
 * then the allocation itself flagged MT_EVF_SNAPSHOT. The snapshot waits
 * here for its allocation; once the caller has loaded the new mappings,
 * snapshots_finish() walks the rest in user space with the same rules and
 * gives the allocation the whole stack's ID.
 *
 * For testing, MEMTRACE_UNWIND_CHECK=1 makes the probes also send a
 * snapshot of the first frame of every stack they walked whole (flagged
 * MT_SNAPF_CHECK, its allocation MT_EVF_SNAPSHOT_CHECK):
 * snapshots_check() walks it again in user space and compares the two
 * walks' frames, end and ID.
 */
#ifndef MEMTRACE_SNAPSHOTS_H
#define MEMTRACE_SNAPSHOTS_H

#include <stdint.h>
#include <stdio.h>

struct mt_event;
struct mt_snapshot;
struct stack_source;
struct unwind_loader;

/* Threads whose snapshot waits for its allocation event (they come one
 * right after the other, so a few suffice). */
#define SNAPSHOTS_PENDING 8

struct snapshots {
	struct mt_snapshot *pending[SNAPSHOTS_PENDING];
	uint64_t done;		/* stacks finished in user space */
	uint64_t failed;	/* snapshots lost or not finished */

	/* MEMTRACE_UNWIND_CHECK: stacks both walks made. */
	uint64_t checked;	/* compared */
	uint64_t check_differ;	/* ... that differ */
	uint64_t check_short;	/* ... the user walk ran off the end of
				   the snapshot's 16 KiB, its frames the
				   first of BPF's (not a difference of
				   the rules) */
	uint64_t check_failed;	/* not compared: no snapshot, no stack */
	char check_first_diff[1024];	/* how the first difference looked */
};

/* Keep a snapshot until its thread's allocation comes. */
void snapshots_keep(struct snapshots *s, const struct mt_snapshot *snap);

/*
 * e is an allocation flagged MT_EVF_SNAPSHOT: finish its stack from the
 * thread's snapshot (the caller has re-read the process's mappings) and
 * set e->stack_id to the whole stack's ID. Where it cannot, e keeps the
 * partial stack and the failure is counted.
 */
void snapshots_finish(struct snapshots *s, struct unwind_loader *ul,
		      struct stack_source *stacks, struct mt_event *e);

/*
 * e is an allocation flagged MT_EVF_SNAPSHOT_CHECK: walk its stack again
 * from the thread's snapshot and compare with the stack the probes
 * stored under e->stack_id. Counts the outcome; e is left as it is.
 */
void snapshots_check(struct snapshots *s, struct unwind_loader *ul,
		     struct stack_source *stacks, const struct mt_event *e);

/* One line for people on what the checks found (nothing if none ran). */
void snapshots_print_check(const struct snapshots *s, FILE *out);

void snapshots_free(struct snapshots *s);

#endif /* MEMTRACE_SNAPSHOTS_H */
