/* SPDX-License-Identifier: MIT */
/*
 * The flame graph's tree: the stacks of a report merged frame by frame
 * from the outermost one, as flame graphs draw them. A node is one frame
 * name at one place in the tree (its path from the root); its bytes are
 * the outstanding bytes of every stack through it.
 *
 * Frames are named as in the folded output (format.h, NAME_FOLDED:
 * `function`, `[module]` when unknown, `qualname (file:line)` for Python),
 * so every allocation made from the same function merges into one frame;
 * two functions of the same name in different modules stay apart. A stack
 * whose walk stopped early starts with a frame that says why, and one not
 * captured with "[stack not captured]", as in the folded output.
 *
 * A tree can be compared with an older one (the baseline): each node then
 * also holds the bytes its path held there, and nodes that held bytes only
 * there are added with none now, so that growth and shrinkage are both
 * seen (the differential flame graph, the folded growth diff).
 *
 * Names are copied: a tree outlives the report it was built from.
 */
#ifndef MEMTRACE_FLAME_TREE_H
#define MEMTRACE_FLAME_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "report.h"

enum flame_kind {
	FLAME_ROOT,		/* "all" */
	FLAME_NATIVE,		/* a function of native code */
	FLAME_UNKNOWN,		/* native code without a symbol: [module] */
	FLAME_PYTHON,		/* a Python function */
	FLAME_MARK,		/* no code: why a stack starts where it does */
};

#define FLAME_NONE UINT32_MAX

struct flame_node {
	const char *name;	/* as the program named it: not escaped */
	const char *module;	/* native and unknown frames; else NULL */
	enum flame_kind kind;
	uint32_t parent;	/* FLAME_NONE for the root */
	uint32_t first_child;	/* FLAME_NONE: none; children sorted by name */
	uint32_t next_sibling;	/* FLAME_NONE: the last */
	uint32_t depth;		/* the root is 0 */
	uint64_t bytes;		/* outstanding, through this frame */
	uint64_t count;		/* live allocations, through this frame */
	uint64_t self_bytes;	/* in stacks that end here */
	uint64_t before;	/* bytes through this frame at the baseline */
	uint64_t self_before;
	uint64_t path_id;	/* a hash of the names from the root: the same
				   frame has the same id in every report */
};

struct flame_tree {
	struct flame_node *nodes;	/* nodes[0] is the root; a parent
					   always comes before its children */
	size_t n;
	uint32_t max_depth;
	bool has_baseline;		/* before and self_before are set */
	/* private */
	size_t cap;
	uint32_t *index;		/* (parent, name, module, kind) -> node */
	size_t index_mask;
	struct flame_chunk *strings;
};

/* Build the tree of r's stacks (r->stacks, which the caller built with
 * every stack for a whole picture). Returns 0 or -ENOMEM. */
int flame_tree_build(const struct report *r, struct flame_tree **out);

/* Set before/self_before from base (a tree built the same way earlier),
 * adding the paths only base has, with no bytes now. Returns 0 or
 * -ENOMEM (the tree is then unchanged, or has some nodes added with no
 * bytes and has_baseline false). */
int flame_tree_set_baseline(struct flame_tree *t, const struct flame_tree *base);

/* NULL is fine. */
void flame_tree_free(struct flame_tree *t);

/* Folded stacks with both figures, `frame;frame;frame BEFORE AFTER`: the
 * input of flamegraph.pl's differential mode (and difffolded.pl's
 * output). One line per path that ends a stack in either tree; names
 * cleaned as in the folded output. t must have a baseline (else every
 * BEFORE is 0). Returns 0 or a negative errno. */
int flame_tree_write_folded_diff(FILE *out, const struct flame_tree *t);

#endif /* MEMTRACE_FLAME_TREE_H */
