/* SPDX-License-Identifier: MIT */
/*
 * Where on a function its uprobe costs least.
 *
 * The kernel emulates a few x86 instructions at a breakpoint (push, jmp,
 * jcc, call) and single-steps every other one out of line: one more trap,
 * ~9.5 us instead of ~0.7 us per hit on this platform (see
 * /work/shared/notes/platform.md and README "Allocators"). Many allocators
 * start with a few register-only instructions (jemalloc's malloc with
 * `cmp $0x1000,%rdi`, tcmalloc's with a rip-relative load) before the
 * first jump. A probe on that jump sees every call with the stack as it
 * was at the first byte, so both the entry probe and the return probe
 * (which takes the return address from the top of the stack) can sit
 * there; the arguments may have moved to other registers on the way
 * (mimalloc's malloc moves the size to %rsi), which the site records.
 */
#ifndef MEMTRACE_PROBE_SITE_H
#define MEMTRACE_PROBE_SITE_H

#include <stddef.h>
#include <stdint.h>

#include "memtrace_events.h"

/* Instructions looked at before giving up on finding a cheap one. */
#define PROBE_SITE_MAX_INSNS 16

struct probe_site {
	uint32_t offset;		/* from the function's first byte */
	uint8_t arg_reg[3];		/* enum mt_reg holding arguments 0..2
					   there (the ABI's rdi, rsi, rdx at
					   offset 0) */
};

/*
 * The cheapest site of a function whose probes read the arguments in
 * `need` (bit i: argument i). code holds the function's bytes from its
 * first one (len of them: its whole body where known, so that a jump back
 * into the skipped instructions is found; at least the first 64).
 *
 * A site past offset 0 is the first emulated instruction after only
 * instructions that neither branch, nor write memory or the stack
 * pointer, and after which every needed argument is still in some
 * register; no direct jump in code may land in the skipped range. Else
 * the site is offset 0. Never fails.
 */
void probe_site_find(const uint8_t *code, size_t len, unsigned int need,
		     struct probe_site *out);

/*
 * Bytes to skip for a function whose one probe reads only what is still in
 * its ABI argument registers `need` at the site (free-like functions: no
 * return probe, no moved argument): probe_site_find's offset when the
 * needed arguments did not move, else 0.
 */
size_t probe_site_skip(const uint8_t *code, size_t len, unsigned int need);

/* Does the kernel emulate the instruction at code (push, jmp, jcc, call)? */
int probe_site_emulated(const uint8_t *code, size_t len);

#endif /* MEMTRACE_PROBE_SITE_H */
