/* SPDX-License-Identifier: MIT */
/*
 * A tiny symbolic interpreter for the requested size of pymalloc_sites'
 * allocation sites: it walks the branch of an inlined pymalloc_alloc
 * that falls back to the raw allocator, and says what that call gets in
 * %rdi, in terms of the registers at the start of the walk (struct
 * value). Only what is certain is kept: full 64-bit copies and spills,
 * constants; anything else an instruction writes becomes unknown.
 */
#ifndef MEMTRACE_PYMALLOC_FALLBACK_H
#define MEMTRACE_PYMALLOC_FALLBACK_H

#include <stdbool.h>
#include <stdint.h>

#include "pymalloc_scan.h"

enum value_kind {
	VAL_UNKNOWN,
	VAL_CONST,	/* the constant c */
	VAL_REG,	/* what register r held at the nextpool test */
};

struct value {
	uint8_t kind;	/* enum value_kind */
	uint8_t reg;
	int32_t c;
};

/*
 * Walk the empty branch of a nextpool test, from instruction index from:
 * the call to allocate_from_new_pool (new_pool), `test %rax,%rax; jne` (a
 * block: back to the pop path), then, on the NULL path, conditional jumps
 * not taken, up to the next direct call, the raw allocator. Sets
 * *raw_call to its target and *arg to what %rdi then holds. false if the
 * branch has not this shape.
 */
bool fallback_walk(const struct scan *s, size_t from, uint64_t new_pool,
		   uint64_t *raw_call, struct value *arg);

#endif /* MEMTRACE_PYMALLOC_FALLBACK_H */
