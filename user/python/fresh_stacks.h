/* SPDX-License-Identifier: MIT */
/*
 * Stacks of Python processes first seen since the last tick. Their frames
 * are made known to python_symbols at once, in event order (a code object
 * that dies before the tick is then named from the copy its death sends),
 * and their code objects are read at the next tick, while the process
 * still lives: once it has exited its memory cannot be read.
 */
#ifndef MEMTRACE_FRESH_STACKS_H
#define MEMTRACE_FRESH_STACKS_H

#include <stddef.h>
#include <stdint.h>

struct processes;
struct py_symbols;
struct py_target;
struct stack_source;

struct fresh_stacks {
	struct fresh_stack { uint32_t pid; uint64_t id; } *v;
	size_t n, cap;
};

/* Remember stack id of pid, whose interpreter is t, and tell py of its
 * frames. Out of memory, it is not remembered: its names may then be
 * unknown after the process exits. */
void fresh_stacks_note(struct fresh_stacks *f, struct stack_source *stacks,
		       struct py_symbols *py, uint32_t pid, const struct py_target *t,
		       uint64_t id);

/* Resolve the Python frames of every remembered stack whose process is a
 * live Python process, and forget them all. */
void fresh_stacks_resolve(struct fresh_stacks *f, const struct processes *ps,
			  struct stack_source *stacks, struct py_symbols *py);

/* Forget the stacks of pid (it exec'd: they belong to the old program). */
void fresh_stacks_forget(struct fresh_stacks *f, uint32_t pid);

void fresh_stacks_free(struct fresh_stacks *f);

#endif /* MEMTRACE_FRESH_STACKS_H */
