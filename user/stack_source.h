/* SPDX-License-Identifier: MIT */
/*
 * The user-space half of the stack source: a stack ID from an event to the
 * program counters the probe stored for it. The BPF half is
 * bpf/stack_source.bpf.h; a different unwinder keeps this interface.
 */
#ifndef MEMTRACE_STACK_SOURCE_H
#define MEMTRACE_STACK_SOURCE_H

#include <stdint.h>
#include "memtrace_events.h"

struct stack_source;

int stack_source_new(struct stack_source **out, int stacks_map_fd);
void stack_source_free(struct stack_source *s);

/* The stack stored under id. *out stays valid until stack_source_free().
 * Returns 0, or -ENOENT when no such stack is stored. */
int stack_source_get(struct stack_source *s, uint64_t id, const struct mt_stack **out);

/* Store a stack made in user space (one finished from a snapshot) under
 * id. Returns 0, -EEXIST if id is taken, or -ENOMEM. */
int stack_source_put(struct stack_source *s, uint64_t id, const struct mt_stack *stack);

/* The ID a stack gets is mt_stack_id() (include/memtrace_stack_hash.h),
 * the same composition as the probes'. */

#endif /* MEMTRACE_STACK_SOURCE_H */
