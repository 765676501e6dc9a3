// SPDX-License-Identifier: MIT
/*
 * Stacks by ID, read from the probes' stacks map once and then kept: a
 * report asks for the same stacks again and again, and a map lookup is a
 * system call that copies a whole 1 KiB record.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "memtrace_mix.h"
#include "stack_source.h"

struct cached_stack {
	uint64_t id;
	struct mt_stack *stack;	/* NULL: empty slot */
};

struct stack_source {
	int map_fd;
	struct cached_stack *slots;
	size_t cap;		/* power of two */
	size_t used;
};

static size_t slot_of(uint64_t id, size_t cap)
{
	return mt_mix64(id) & (cap - 1);
}

int stack_source_new(struct stack_source **out, int stacks_map_fd)
{
	struct stack_source *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->map_fd = stacks_map_fd;
	s->cap = 1024;
	s->slots = calloc(s->cap, sizeof(*s->slots));
	if (!s->slots) {
		free(s);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

void stack_source_free(struct stack_source *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->cap; i++)
		free(s->slots[i].stack);
	free(s->slots);
	free(s);
}

static int grow(struct stack_source *s)
{
	size_t cap = s->cap * 2;
	struct cached_stack *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < s->cap; i++) {
		size_t j;

		if (!s->slots[i].stack)
			continue;
		for (j = slot_of(s->slots[i].id, cap); slots[j].stack; j = (j + 1) & (cap - 1))
			;
		slots[j] = s->slots[i];
	}
	free(s->slots);
	s->slots = slots;
	s->cap = cap;
	return 0;
}

/* Keep a copy of rec (only its frames) under id, which is not cached. */
static int insert(struct stack_source *s, uint64_t id, const struct mt_stack *rec,
		  const struct mt_stack **out)
{
	size_t i, len = rec->len > MT_MAX_FRAMES ? MT_MAX_FRAMES : rec->len;
	size_t bytes = offsetof(struct mt_stack, pcs) + len * sizeof(rec->pcs[0]);
	struct mt_stack *copy;

	/* Keep only the frames the stack has, not all 127 slots. */
	copy = malloc(bytes);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, rec, bytes);
	copy->len = len;

	if ((s->used + 1) * 4 > s->cap * 3) {
		int err = grow(s);

		if (err) {
			free(copy);
			return err;
		}
	}
	for (i = slot_of(id, s->cap); s->slots[i].stack; i = (i + 1) & (s->cap - 1))
		;
	s->slots[i].id = id;
	s->slots[i].stack = copy;
	s->used++;
	if (out)
		*out = copy;
	return 0;
}

static const struct mt_stack *cached(const struct stack_source *s, uint64_t id)
{
	for (size_t i = slot_of(id, s->cap); s->slots[i].stack; i = (i + 1) & (s->cap - 1))
		if (s->slots[i].id == id)
			return s->slots[i].stack;
	return NULL;
}

int stack_source_get(struct stack_source *s, uint64_t id, const struct mt_stack **out)
{
	struct mt_stack rec;

	*out = cached(s, id);
	if (*out)
		return 0;
	if (bpf_map_lookup_elem(s->map_fd, &id, &rec))
		return -ENOENT;
	return insert(s, id, &rec, out);
}

int stack_source_put(struct stack_source *s, uint64_t id, const struct mt_stack *stack)
{
	if (cached(s, id))
		return -EEXIST;
	return insert(s, id, stack, NULL);
}
