// SPDX-License-Identifier: MIT
#include <stdlib.h>

#include "fresh_stacks.h"
#include "python_symbols.h"
#include "processes.h"
#include "stack_source.h"
#include "util/vec.h"

void fresh_stacks_note(struct fresh_stacks *f, struct stack_source *stacks,
		       struct py_symbols *py, uint32_t pid, const struct py_target *t,
		       uint64_t id)
{
	const struct mt_stack *st;

	if (!stack_source_get(stacks, id, &st))
		for (uint32_t k = 0; k < st->py_len && k < MT_MAX_PY_FRAMES; k++)
			py_symbols_want(py, (pid_t)pid, t, &st->py[k]);
	if (vec_reserve(&f->v, &f->cap, f->n + 1, sizeof(*f->v)))
		return;
	f->v[f->n++] = (struct fresh_stack){ pid, id };
}

void fresh_stacks_resolve(struct fresh_stacks *f, const struct processes *ps,
			  struct stack_source *stacks, struct py_symbols *py)
{
	for (size_t i = 0; i < f->n; i++) {
		struct traced *t = processes_find(ps, f->v[i].pid);
		const struct mt_stack *st;
		struct py_location loc;

		if (!t || !t->py.python || t->exited ||
		    stack_source_get(stacks, f->v[i].id, &st))
			continue;
		for (uint32_t k = 0; k < st->py_len && k < MT_MAX_PY_FRAMES; k++)
			py_symbols_resolve(py, t->pid, &t->py.py, &st->py[k], &loc);
	}
	f->n = 0;
}

void fresh_stacks_forget(struct fresh_stacks *f, uint32_t pid)
{
	size_t k = 0;

	for (size_t i = 0; i < f->n; i++)
		if (f->v[i].pid != pid)
			f->v[k++] = f->v[i];
	f->n = k;
}

void fresh_stacks_free(struct fresh_stacks *f)
{
	free(f->v);
	*f = (struct fresh_stacks){ 0 };
}
