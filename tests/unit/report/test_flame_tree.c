// SPDX-License-Identifier: MIT
/*
 * The flame tree: stacks merged frame by frame from the outermost, the
 * baseline's bytes beside each frame, and the folded growth diff that
 * flamegraph.pl's differential mode reads.
 */
#include "pictures.h"
#include "report/flame_tree.h"

static const struct flame_node *path(const struct flame_tree *t, const char *const *names,
				     size_t n)
{
	uint32_t at = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t c;

		for (c = t->nodes[at].first_child; c != FLAME_NONE; c = t->nodes[c].next_sibling)
			if (!strcmp(t->nodes[c].name, names[i]))
				break;
		if (c == FLAME_NONE)
			return NULL;
		at = c;
	}
	return &t->nodes[at];
}

#define PATH(t, ...) path(t, (const char *const[]){ __VA_ARGS__ }, \
			  sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))

Test(flame_tree, merges_from_the_outermost_frame)
{
	struct report r = pic_report(1);
	struct flame_tree *t;
	const struct flame_node *n;

	cr_assert_eq(flame_tree_build(&r, &t), 0);
	cr_assert_str_eq(t->nodes[0].name, "all");
	cr_assert_eq(t->nodes[0].bytes, pic_total());
	n = PATH(t, "[libc.so.6]", "main");
	cr_assert_not_null(n);
	cr_assert_eq(n->bytes, pic_bytes[PIC_LEAK] + pic_bytes[PIC_TABLE] +
		     pic_bytes[PIC_HOSTILE] + pic_bytes[PIC_LONG]);
	cr_assert_eq(n->kind, FLAME_NATIVE);
	cr_assert_str_eq(n->module, "leaky");
	n = PATH(t, "[libc.so.6]", "main", "leak_pages", "malloc");
	cr_assert_not_null(n);
	cr_assert_eq(n->bytes, pic_bytes[PIC_LEAK]);
	cr_assert_eq(n->self_bytes, pic_bytes[PIC_LEAK]);
	cr_assert_eq(n->depth, 4);
	cr_assert_eq(PATH(t, "[libc.so.6]")->kind, FLAME_UNKNOWN);
	/* Python frames are named with their file and line. */
	n = PATH(t, "main", "<module> (/srv/main.py:3)", "handle_request (/srv/app.py:25)");
	cr_assert_not_null(n);
	cr_assert_eq(n->kind, FLAME_PYTHON);
	cr_assert_null(n->module);
	/* Marks say why a stack starts where it does. */
	cr_assert_eq(PATH(t, "[stack not captured]", "malloc")->bytes, pic_bytes[PIC_NO_STACK]);
	cr_assert_eq(PATH(t, "[stack may be incomplete: a frame in no known mapping]")->kind,
		     FLAME_MARK);
	/* Children in name order, parents before children. */
	for (size_t k = 0; k < t->n; k++) {
		uint32_t c = t->nodes[k].first_child;

		for (; c != FLAME_NONE && t->nodes[c].next_sibling != FLAME_NONE;
		     c = t->nodes[c].next_sibling)
			cr_assert_leq(strcmp(t->nodes[c].name, t->nodes[t->nodes[c].next_sibling].name),
				      0);
		if (k)
			cr_assert_lt(t->nodes[k].parent, k);
	}
	flame_tree_free(t);
}

Test(flame_tree, same_function_in_two_modules_stays_apart)
{
	static const struct report_frame a[] = {
		{ .function = "malloc", .module = "libc.so.6" },
		{ .function = "init", .module = "liba.so" },
	};
	static const struct report_frame b[] = {
		{ .function = "malloc", .module = "libc.so.6" },
		{ .function = "init", .module = "libb.so" },
	};
	const struct report_stack s[] = {
		{ .allocator = "malloc", .bytes = 10, .count = 1, .nframes = 2, .frames = a },
		{ .allocator = "malloc", .bytes = 20, .count = 1, .nframes = 2, .frames = b },
		{ .allocator = "malloc", .bytes = 5, .count = 1, .nframes = 2, .frames = a },
	};
	struct report r = { .nstacks = 3, .stacks = s };
	struct flame_tree *t;
	uint32_t c;
	int seen = 0;

	cr_assert_eq(flame_tree_build(&r, &t), 0);
	for (c = t->nodes[0].first_child; c != FLAME_NONE; c = t->nodes[c].next_sibling) {
		cr_assert_str_eq(t->nodes[c].name, "init");
		cr_assert_eq(t->nodes[c].bytes, strcmp(t->nodes[c].module, "liba.so") ? 20 : 15);
		seen++;
	}
	cr_assert_eq(seen, 2);
	flame_tree_free(t);
}

Test(flame_tree, path_ids_are_stable_across_reports)
{
	struct report r = pic_report(1);
	struct flame_tree *a, *b;
	const struct flame_node *na, *nb;

	cr_assert_eq(flame_tree_build(&r, &a), 0);
	r = pic_report(3);
	cr_assert_eq(flame_tree_build(&r, &b), 0);
	na = PATH(a, "[libc.so.6]", "main", "leak_pages");
	nb = PATH(b, "[libc.so.6]", "main", "leak_pages");
	cr_assert_eq(na->path_id, nb->path_id);
	cr_assert_neq(na->path_id, PATH(a, "[libc.so.6]", "main")->path_id);
	flame_tree_free(a);
	flame_tree_free(b);
}

Test(flame_tree, baseline_before_beside_now)
{
	struct report base = pic_report(1), now;
	struct report_stack before[PIC_NSTACKS];
	struct flame_tree *t, *bt;
	const struct flame_node *n;
	size_t nodes;

	/* At the baseline: leak_pages half, make_table gone, and a stack
	 * that is gone now. */
	memcpy(before, pic_stacks, sizeof(before));
	before[PIC_LEAK].bytes /= 2;
	before[PIC_TABLE].bytes = 0;
	before[PIC_SHORT].frames = pic_table;
	before[PIC_SHORT].nframes = 2;
	before[PIC_SHORT].stack_end = NULL;
	base.stacks = before;
	cr_assert_eq(flame_tree_build(&base, &bt), 0);
	now = pic_report(1);
	cr_assert_eq(flame_tree_build(&now, &t), 0);
	nodes = t->n;
	cr_assert_eq(flame_tree_set_baseline(t, bt), 0);
	cr_assert(t->has_baseline);

	n = PATH(t, "[libc.so.6]", "main", "leak_pages");
	cr_assert_eq(n->bytes, pic_bytes[PIC_LEAK]);
	cr_assert_eq(n->before, pic_bytes[PIC_LEAK] / 2);
	n = PATH(t, "[libc.so.6]", "main", "make_table");
	cr_assert_eq(n->before, 0);
	cr_assert_eq(n->bytes, pic_bytes[PIC_TABLE]);
	/* Only at the baseline: added with no bytes now. */
	n = PATH(t, "make_table", "calloc");
	cr_assert_not_null(n);
	cr_assert_eq(n->bytes, 0);
	cr_assert_eq(n->before, pic_bytes[PIC_SHORT]);
	cr_assert_gt(t->n, nodes);
	cr_assert_eq(t->nodes[0].before, pic_total() - pic_bytes[PIC_LEAK] / 2 -
		     pic_bytes[PIC_TABLE]);
	flame_tree_free(t);
	flame_tree_free(bt);
}

static int write_diff(FILE *f, void *ctx)
{
	return flame_tree_write_folded_diff(f, ctx);
}

Test(flame_tree, folded_diff_has_both_columns)
{
	static const struct report_frame a[] = {
		{ .function = "malloc", .module = "libc.so.6" },
		{ .function = "grow;er", .module = "app" },
		{ .function = "main", .module = "app" },
	};
	static const struct report_frame b[] = {
		{ .function = "malloc", .module = "libc.so.6" },
		{ .function = "main", .module = "app" },
	};
	static const struct report_frame c[] = {
		{ .function = "free_me\n", .module = "app" },
	};
	struct report_stack then[] = {
		{ .allocator = "malloc", .bytes = 100, .count = 1, .nframes = 3, .frames = a },
		{ .allocator = "malloc", .bytes = 50, .count = 1, .nframes = 1, .frames = c },
	};
	struct report_stack now[] = {
		{ .allocator = "malloc", .bytes = 300, .count = 3, .nframes = 3, .frames = a },
		{ .allocator = "malloc", .bytes = 7, .count = 1, .nframes = 2, .frames = b },
	};
	struct report rt = { .nstacks = 2, .stacks = then }, rn = { .nstacks = 2, .stacks = now };
	struct flame_tree *t, *bt;
	char *file, *text;

	cr_assert_eq(flame_tree_build(&rt, &bt), 0);
	cr_assert_eq(flame_tree_build(&rn, &t), 0);
	cr_assert_eq(flame_tree_set_baseline(t, bt), 0);
	file = to_file(write_diff, t);
	text = slurp(file);
	/* Sorted by path; ';' in a name is ':', control characters '?'. */
	cr_assert_str_eq(text,
			 "free_me\\x0a 50 0\n"
			 "main;grow:er;malloc 100 300\n"
			 "main;malloc 0 7\n");
	unlink(file);
	free(file);
	free(text);
	flame_tree_free(t);
	flame_tree_free(bt);
}

Test(flame_tree, empty)
{
	struct report r = { 0 };
	struct flame_tree *t;
	char *file, *text;

	cr_assert_eq(flame_tree_build(&r, &t), 0);
	cr_assert_eq(t->n, 1);
	cr_assert_eq(t->nodes[0].bytes, 0);
	cr_assert_eq(flame_tree_set_baseline(t, t), 0);
	file = to_file(write_diff, t);
	text = slurp(file);
	cr_assert_str_eq(text, "");
	unlink(file);
	free(file);
	free(text);
	flame_tree_free(t);
}

Test(flame_tree, deep_stacks)
{
	static struct report_frame frames[300];
	struct report_stack s = { .allocator = "malloc", .bytes = 1, .count = 1, .nframes = 300,
				  .frames = frames };
	struct report r = { .nstacks = 1, .stacks = &s };
	struct flame_tree *t;
	char names[300][16];

	for (int i = 0; i < 300; i++) {
		snprintf(names[i], sizeof(names[i]), "f%d", i);
		frames[i] = (struct report_frame){ .function = names[i], .module = "m" };
	}
	cr_assert_eq(flame_tree_build(&r, &t), 0);
	cr_assert_eq(t->max_depth, 300);
	cr_assert_eq(t->n, 301);
	flame_tree_free(t);
}
