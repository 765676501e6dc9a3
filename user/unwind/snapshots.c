// SPDX-License-Identifier: MIT
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "snapshots.h"
#include "unwind_loader.h"
#include "memtrace_events.h"
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

void snapshots_finish(struct snapshots *s, struct unwind_loader *ul,
		      struct stack_source *stacks, struct mt_event *e)
{
	const struct mt_stack *partial;
	struct mt_snapshot *snap = NULL;
	struct mt_stack whole;
	uint64_t id;

	for (size_t i = 0; i < SNAPSHOTS_PENDING && !snap; i++)
		if (s->pending[i] && s->pending[i]->type && s->pending[i]->tid == e->tid)
			snap = s->pending[i];
	if (!snap || !ul || stack_source_get(stacks, e->stack_id, &partial)) {
		s->failed++;
		return;
	}
	snap->type = 0;		/* the slot is free again */
	memcpy(&whole, partial, offsetof(struct mt_stack, pcs) +
	       partial->len * sizeof(partial->pcs[0]));
	if (unwind_loader_finish(ul, e->pid, snap, &whole)) {
		s->failed++;
		return;
	}
	id = stack_source_id(&whole);
	stack_source_put(stacks, id, &whole);	/* -EEXIST: already known */
	e->stack_id = id;
	s->done++;
}

void snapshots_free(struct snapshots *s)
{
	for (size_t i = 0; i < SNAPSHOTS_PENDING; i++)
		free(s->pending[i]);
	*s = (struct snapshots){ 0 };
}
