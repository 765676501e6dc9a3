/* SPDX-License-Identifier: MIT */
/*
 * Stacks of Python processes first seen since the last tick. Their code
 * objects are read (and their names cached by python_symbols) at the next
 * tick, while the process still lives: once it has exited its memory
 * cannot be read, and the names would be lost.
 */
#ifndef MEMTRACE_FRESH_STACKS_H
#define MEMTRACE_FRESH_STACKS_H

#include <stddef.h>
#include <stdint.h>

struct processes;
struct stack_source;
struct py_symbols;

struct fresh_stacks {
	struct fresh_stack { uint32_t pid; uint64_t id; } *v;
	size_t n, cap;
};

/* Remember stack id of pid. Out of memory, it is not remembered: its
 * names may then be unknown after the process exits. */
void fresh_stacks_note(struct fresh_stacks *f, uint32_t pid, uint64_t id);

/* Resolve the Python frames of every remembered stack whose process is a
 * live Python process, and forget them all. */
void fresh_stacks_resolve(struct fresh_stacks *f, const struct processes *ps,
			  struct stack_source *stacks, struct py_symbols *py);

void fresh_stacks_free(struct fresh_stacks *f);

#endif /* MEMTRACE_FRESH_STACKS_H */
