// SPDX-License-Identifier: MIT
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshots.h"
#include "unwind_loader.h"
#include "memtrace_events.h"
#include "memtrace_stack_hash.h"
#include "stack_source.h"

void snapshots_keep(struct snapshots *s, const struct mt_snapshot *snap)
{
	struct mt_snapshot **slot = NULL;

	for (size_t i = 0; i < SNAPSHOTS_PENDING; i++) {
		if (s->pending[i] && s->pending[i]->tid == snap->tid) {
			slot = &s->pending[i];	/* its allocation was lost */
			break;
		}
		if (!slot && (!s->pending[i] || !s->pending[i]->type))
			slot = &s->pending[i];
	}
	if (!slot) {
		s->failed++;
		return;
	}
	if (!*slot && !(*slot = malloc(sizeof(**slot)))) {
		s->failed++;
		return;
	}
	memcpy(*slot, snap, sizeof(*snap));
}

/* The thread's pending snapshot, taken off the list (its slot is free
 * again once the caller is done with it); NULL if none. */
static struct mt_snapshot *take(struct snapshots *s, uint32_t tid)
{
	for (size_t i = 0; i < SNAPSHOTS_PENDING; i++)
		if (s->pending[i] && s->pending[i]->type && s->pending[i]->tid == tid) {
			s->pending[i]->type = 0;
			return s->pending[i];
		}
	return NULL;
}

/* The header and Python frames of a stack record, and its first len PCs. */
static void copy_stack(struct mt_stack *dst, const struct mt_stack *src, size_t len)
{
	memcpy(dst, src, offsetof(struct mt_stack, pcs) + len * sizeof(src->pcs[0]));
	dst->len = len;
}

void snapshots_finish(struct snapshots *s, struct unwind_loader *ul,
		      struct stack_source *stacks, struct mt_event *e)
{
	struct mt_snapshot *snap = take(s, e->tid);
	const struct mt_stack *partial;
	struct mt_stack whole;
	uint64_t id;

	if (!snap || (snap->flags & MT_SNAPF_CHECK) || !ul ||
	    stack_source_get(stacks, e->stack_id, &partial) || partial->len > MT_MAX_FRAMES) {
		s->failed++;
		return;
	}
	copy_stack(&whole, partial, partial->len);
	if (unwind_loader_finish(ul, e->pid, snap, &whole)) {
		s->failed++;
		return;
	}
	id = mt_stack_id(&whole);
	stack_source_put(stacks, id, &whole);	/* -EEXIST: already known */
	e->stack_id = id;
	s->done++;
}

static void describe(char *out, size_t len, const struct mt_snapshot *snap,
		     const struct mt_stack *bpf, uint64_t bpf_id, const struct mt_stack *user,
		     uint64_t user_id)
{
	const struct mt_stack *st[2] = { bpf, user };
	const char *who[2] = { "bpf", "user" };
	uint64_t ids[2] = { bpf_id, user_id };
	size_t used;

	used = snprintf(out, len, "snapshot of %u bytes (chunks %04x) at %" PRIx64 ", sp %"
			PRIx64 ", %u return probes; ", snap->len, snap->chunks,
			(uint64_t)snap->addr, (uint64_t)snap->regs.sp, snap->nreturns);

	for (int k = 0; k < 2 && used < len; k++) {
		used += snprintf(out + used, len - used, "%s%s: id %016" PRIx64 " end %u, %u frames:",
				 k ? "; " : "", who[k], ids[k], st[k]->end, st[k]->len);
		for (size_t i = 0; i < st[k]->len && i < MT_MAX_FRAMES && used < len; i++)
			used += snprintf(out + used, len - used, " %" PRIx64, (uint64_t)st[k]->pcs[i]);
	}
}

void snapshots_check(struct snapshots *s, struct unwind_loader *ul,
		     struct stack_source *stacks, const struct mt_event *e)
{
	struct mt_snapshot *snap = take(s, e->tid);
	const struct mt_stack *bpf;
	struct mt_stack user;
	uint64_t id;
	bool same, prefix;

	if (!snap || !(snap->flags & MT_SNAPF_CHECK) || !ul ||
	    stack_source_get(stacks, e->stack_id, &bpf) || bpf->len > MT_MAX_FRAMES) {
		s->check_failed++;
		return;
	}
	/* The same record as BPF's but for the native frames, walked anew. */
	copy_stack(&user, bpf, 0);
	user.fp_frames = 0;
	user.end = 0;
	if (unwind_loader_walk(ul, e->pid, snap, &user)) {
		s->check_failed++;
		return;
	}
	id = mt_stack_id(&user);
	s->checked++;
	prefix = user.len <= bpf->len &&
		 !memcmp(user.pcs, bpf->pcs, user.len * sizeof(user.pcs[0]));
	same = id == e->stack_id && prefix && user.len == bpf->len && user.end == bpf->end &&
	       user.fp_frames == bpf->fp_frames;
	if (same)
		return;
	if (prefix && user.end == MT_END_BAD_READ && snap->len == MT_SNAPSHOT_BYTES) {
		s->check_short++;
		return;
	}
	if (!s->check_differ++)
		describe(s->check_first_diff, sizeof(s->check_first_diff), snap, bpf,
			 e->stack_id, &user, id);
}

void snapshots_print_check(const struct snapshots *s, FILE *out)
{
	if (!s->checked && !s->check_failed)
		return;
	fprintf(out, "memtrace: unwind check: %" PRIu64 " stacks walked by both, %" PRIu64
		" differ, %" PRIu64 " past the snapshot, %" PRIu64 " not compared\n",
		s->checked, s->check_differ, s->check_short, s->check_failed);
	if (s->check_differ)
		fprintf(out, "memtrace: unwind check: first difference: %s\n",
			s->check_first_diff);
}

void snapshots_free(struct snapshots *s)
{
	for (size_t i = 0; i < SNAPSHOTS_PENDING; i++)
		free(s->pending[i]);
	*s = (struct snapshots){ 0 };
}
