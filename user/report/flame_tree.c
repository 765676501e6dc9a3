// SPDX-License-Identifier: MIT
/*
 * The flame graph's tree (see flame_tree.h).
 *
 * Nodes live in one array, found by (parent, name, module, kind) through
 * an open-addressing index; strings are copied into chunks that live as
 * long as the tree.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "flame_tree.h"
#include "format.h"

#define CHUNK_BYTES 65536

struct flame_chunk {
	struct flame_chunk *next;
	size_t used, size;
	char data[];
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

#define FNV_START 0xcbf29ce484222325ULL

/* The key of a child of parent: also its path_id, since the parent's own
 * path_id stands for the path above it. */
static uint64_t child_hash(uint64_t parent_path, const char *name, const char *module,
			   enum flame_kind kind)
{
	unsigned char k = kind;
	uint64_t h = fnv(FNV_START, &parent_path, sizeof(parent_path));

	h = fnv(h, &k, 1);
	h = fnv(h, name, strlen(name) + 1);
	if (module)
		h = fnv(h, module, strlen(module) + 1);
	return h;
}

static const char *copy_string(struct flame_tree *t, const char *s)
{
	size_t n = strlen(s) + 1;
	struct flame_chunk *c = t->strings;

	if (!c || c->size - c->used < n) {
		size_t size = n > CHUNK_BYTES ? n : CHUNK_BYTES;

		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->size = size;
		c->used = 0;
		c->next = t->strings;
		t->strings = c;
	}
	memcpy(c->data + c->used, s, n);
	c->used += n;
	return c->data + c->used - n;
}

static bool same_node(const struct flame_node *a, uint32_t parent, const char *name,
		      const char *module, enum flame_kind kind)
{
	if (a->parent != parent || a->kind != kind || strcmp(a->name, name))
		return false;
	if (!a->module || !module)
		return a->module == module;
	return !strcmp(a->module, module);
}

static int index_grow(struct flame_tree *t)
{
	size_t cap = (t->index_mask + 1) * 2;
	uint32_t *index = malloc(cap * sizeof(*index));

	if (!index)
		return -ENOMEM;
	memset(index, 0xff, cap * sizeof(*index));
	for (size_t k = 1; k < t->n; k++) {
		size_t i = t->nodes[k].path_id & (cap - 1);

		while (index[i] != FLAME_NONE)
			i = (i + 1) & (cap - 1);
		index[i] = k;
	}
	free(t->index);
	t->index = index;
	t->index_mask = cap - 1;
	return 0;
}

/* The child of parent with this name, made with no bytes if it is new.
 * Returns its index, or FLAME_NONE when out of memory. */
static uint32_t child(struct flame_tree *t, uint32_t parent, const char *name,
		      const char *module, enum flame_kind kind)
{
	uint64_t h = child_hash(t->nodes[parent].path_id, name, module, kind);
	struct flame_node *n;
	size_t i;

	for (i = h & t->index_mask; t->index[i] != FLAME_NONE; i = (i + 1) & t->index_mask) {
		uint32_t k = t->index[i];

		if (t->nodes[k].path_id == h && same_node(&t->nodes[k], parent, name, module, kind))
			return k;
	}
	if (t->n >= FLAME_NONE - 1)
		return FLAME_NONE;
	if (t->n == t->cap) {
		size_t cap = t->cap * 2;

		n = realloc(t->nodes, cap * sizeof(*n));
		if (!n)
			return FLAME_NONE;
		t->nodes = n;
		t->cap = cap;
	}
	n = &t->nodes[t->n];
	memset(n, 0, sizeof(*n));
	n->name = copy_string(t, name);
	n->module = module ? copy_string(t, module) : NULL;
	if (!n->name || (module && !n->module))
		return FLAME_NONE;
	n->kind = kind;
	n->parent = parent;
	n->first_child = FLAME_NONE;
	n->next_sibling = FLAME_NONE;
	n->depth = t->nodes[parent].depth + 1;
	n->path_id = h;
	if (n->depth > t->max_depth)
		t->max_depth = n->depth;
	t->index[i] = t->n++;
	/* At most half full, so that probes stay short. */
	if (t->n * 2 > t->index_mask + 1 && index_grow(t))
		return FLAME_NONE;
	return t->n - 1;
}

static enum flame_kind frame_kind(const struct report_frame *f)
{
	if (f->python)
		return FLAME_PYTHON;
	return f->function ? FLAME_NATIVE : FLAME_UNKNOWN;
}

/* Add s's bytes along its path, outermost frame first. */
static int add_stack(struct flame_tree *t, const struct report_stack *s)
{
	char small[512], *name = small;
	uint32_t at = 0;
	int err = 0;

	t->nodes[0].bytes += s->bytes;
	t->nodes[0].count += s->count;
	if (s->no_stack || s->stack_end) {
		char mark[300];

		if (s->no_stack)
			snprintf(mark, sizeof(mark), "[stack not captured]");
		else
			snprintf(mark, sizeof(mark), "[stack may be incomplete: %s]", s->stack_end);
		at = child(t, at, mark, NULL, FLAME_MARK);
		if (at == FLAME_NONE)
			return -ENOMEM;
		t->nodes[at].bytes += s->bytes;
		t->nodes[at].count += s->count;
	}
	if (!s->nframes) {
		/* No frame at all: the allocator's name, as the folded output
		 * writes it. */
		at = child(t, at, s->allocator ? s->allocator : "?", NULL, FLAME_NATIVE);
		if (at == FLAME_NONE)
			return -ENOMEM;
		t->nodes[at].bytes += s->bytes;
		t->nodes[at].count += s->count;
	}
	for (size_t i = s->nframes; i > 0; i--) {
		const struct report_frame *f = &s->frames[i - 1];
		enum flame_kind kind = frame_kind(f);
		size_t n = fmt_frame_folded(small, sizeof(small), f);

		name = small;
		if (n >= sizeof(small)) {
			/* C++ names can take kilobytes. */
			name = malloc(n + 1);
			if (!name)
				return -ENOMEM;
			fmt_frame_folded(name, n + 1, f);
		}
		at = child(t, at, name, kind == FLAME_PYTHON ? NULL : f->module, kind);
		if (name != small)
			free(name);
		if (at == FLAME_NONE) {
			err = -ENOMEM;
			break;
		}
		t->nodes[at].bytes += s->bytes;
		t->nodes[at].count += s->count;
	}
	if (!err)
		t->nodes[at].self_bytes += s->bytes;
	return err;
}

static int cmp_nodes(const void *pa, const void *pb, void *ctx)
{
	const struct flame_node *nodes = ctx;
	const struct flame_node *a = &nodes[*(const uint32_t *)pa];
	const struct flame_node *b = &nodes[*(const uint32_t *)pb];
	int c = strcmp(a->name, b->name);

	if (c)
		return c;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	return strcmp(a->module ? a->module : "", b->module ? b->module : "");
}

/* Link every node's children, sorted by name, as flamegraph.pl orders
 * them: a frame keeps its place from one report to the next. Siblings are
 * grouped by parent first (a counting sort), so that only siblings are
 * compared: names often share long prefixes (C++ namespaces). */
static int link_children(struct flame_tree *t)
{
	uint32_t *order = malloc((t->n ? t->n : 1) * sizeof(*order));
	uint32_t *start = calloc(t->n + 1, sizeof(*start));

	if (!order || !start) {
		free(order);
		free(start);
		return -ENOMEM;
	}
	for (size_t k = 1; k < t->n; k++)
		start[t->nodes[k].parent + 1]++;
	for (size_t k = 0; k < t->n; k++)
		start[k + 1] += start[k];
	/* start[p] is where p's children go; fill, moving it on. */
	for (size_t k = 1; k < t->n; k++)
		order[start[t->nodes[k].parent]++] = k;
	/* Each start[p] now ends p's run; the run began at start[p - 1]. */
	for (size_t p = 0, from = 0; p < t->n; from = start[p++]) {
		size_t n = start[p] - from;

		t->nodes[p].first_child = FLAME_NONE;
		if (n > 1)
			qsort_r(order + from, n, sizeof(*order), cmp_nodes, t->nodes);
		/* Linked from the last, so that each list comes out in order. */
		for (size_t i = n; i > 0; i--) {
			struct flame_node *c = &t->nodes[order[from + i - 1]];

			c->next_sibling = t->nodes[p].first_child;
			t->nodes[p].first_child = order[from + i - 1];
		}
	}
	free(order);
	free(start);
	return 0;
}

static int tree_new(struct flame_tree **out)
{
	struct flame_tree *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->cap = 256;
	t->nodes = calloc(t->cap, sizeof(*t->nodes));
	t->index_mask = 1023;
	t->index = malloc((t->index_mask + 1) * sizeof(*t->index));
	if (!t->nodes || !t->index || !(t->nodes[0].name = copy_string(t, "all"))) {
		flame_tree_free(t);
		return -ENOMEM;
	}
	memset(t->index, 0xff, (t->index_mask + 1) * sizeof(*t->index));
	t->nodes[0].kind = FLAME_ROOT;
	t->nodes[0].parent = FLAME_NONE;
	t->nodes[0].first_child = t->nodes[0].next_sibling = FLAME_NONE;
	t->nodes[0].path_id = FNV_START;
	t->n = 1;
	*out = t;
	return 0;
}

int flame_tree_build(const struct report *r, struct flame_tree **out)
{
	struct flame_tree *t;
	int err = tree_new(&t);

	if (err)
		return err;
	for (size_t i = 0; i < r->nstacks && !err; i++)
		if (r->stacks[i].bytes)
			err = add_stack(t, &r->stacks[i]);
	if (!err)
		err = link_children(t);
	if (err) {
		flame_tree_free(t);
		return err;
	}
	*out = t;
	return 0;
}

int flame_tree_set_baseline(struct flame_tree *t, const struct flame_tree *base)
{
	/* Where each of base's nodes is in t: parents come first in base,
	 * so a node's parent is always mapped before it. */
	uint32_t *map = malloc((base->n ? base->n : 1) * sizeof(*map));
	int err = 0;

	if (!map)
		return -ENOMEM;
	t->has_baseline = false;
	for (size_t k = 0; k < t->n; k++)
		t->nodes[k].before = t->nodes[k].self_before = 0;
	map[0] = 0;
	for (size_t k = 1; k < base->n; k++) {
		const struct flame_node *b = &base->nodes[k];

		map[k] = child(t, map[b->parent], b->name, b->module, b->kind);
		if (map[k] == FLAME_NONE) {
			err = -ENOMEM;
			break;
		}
	}
	if (!err) {
		for (size_t k = 0; k < base->n; k++) {
			t->nodes[map[k]].before = base->nodes[k].bytes;
			t->nodes[map[k]].self_before = base->nodes[k].self_bytes;
		}
		err = link_children(t);
	}
	free(map);
	if (!err)
		t->has_baseline = true;
	return err;
}

void flame_tree_free(struct flame_tree *t)
{
	if (!t)
		return;
	for (struct flame_chunk *c = t->strings, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	free(t->nodes);
	free(t->index);
	free(t);
}

/* Write the path from the root's child down to k, ';'-separated. */
static int write_path(FILE *out, const struct flame_tree *t, uint32_t k)
{
	int err;

	if (t->nodes[k].parent != 0) {
		err = write_path(out, t, t->nodes[k].parent);
		if (err)
			return err;
		fputc(';', out);
	}
	return fput_clean(out, t->nodes[k].name, NAME_FOLDED);
}

int flame_tree_write_folded_diff(FILE *out, const struct flame_tree *t)
{
	int err = 0;

	/* Depth first, children in name order: lines come sorted. The
	 * stack of the walk is explicit; trees can be deep. */
	for (uint32_t k = t->nodes[0].first_child; k != FLAME_NONE && !err;) {
		const struct flame_node *n = &t->nodes[k];

		if (n->self_bytes || n->self_before) {
			err = write_path(out, t, k);
			if (!err)
				fprintf(out, " %" PRIu64 " %" PRIu64 "\n", n->self_before,
					n->self_bytes);
		}
		if (n->first_child != FLAME_NONE) {
			k = n->first_child;
			continue;
		}
		/* Up until a node has a next sibling. */
		while (k != FLAME_NONE && t->nodes[k].next_sibling == FLAME_NONE)
			k = t->nodes[k].parent == 0 ? FLAME_NONE : t->nodes[k].parent;
		if (k != FLAME_NONE)
			k = t->nodes[k].next_sibling;
	}
	if (err)
		return err;
	return fput_finish(out);
}
