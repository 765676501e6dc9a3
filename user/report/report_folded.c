// SPDX-License-Identifier: MIT
/*
 * Folded stacks, the input of flamegraph.pl and of most flame graph
 * viewers: one line per stack, frames outermost first, joined by ';', then
 * a space and the stack's outstanding bytes.
 *
 *   main;leak_pages;malloc 4096
 *
 * Frames are named without offsets or addresses, so that every allocation
 * made from the same function merges into one box.
 */
#include <inttypes.h>

#include "format.h"

static int write_stack(FILE *out, const struct report_stack *s)
{
	int err = 0;

	if (s->no_stack || !s->nframes) {
		/* Kept apart from the captured stacks of the same allocator. */
		if (s->no_stack)
			fputs("[stack not captured];", out);
		err = fput_clean(out, s->allocator ? s->allocator : "?", NAME_FOLDED);
	} else {
		for (size_t i = s->nframes; i > 0 && !err; i--) {
			err = fput_frame(out, &s->frames[i - 1], NAME_FOLDED);
			if (i > 1)
				fputc(';', out);
		}
	}
	if (err)
		return err;
	fprintf(out, " %" PRIu64 "\n", s->bytes);
	return 0;
}

int report_write_folded(FILE *out, const struct report *r)
{
	int err;

	for (size_t i = 0; i < r->nstacks; i++) {
		/* A frame of zero width only clutters the graph. */
		if (!r->stacks[i].bytes)
			continue;
		err = write_stack(out, &r->stacks[i]);
		if (err)
			return err;
	}
	/* Every other write failure is sticky in the stream: one check. */
	return fput_finish(out);
}
