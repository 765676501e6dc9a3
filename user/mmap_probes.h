/* SPDX-License-Identifier: MIT */
/*
 * The probes on the memory-mapping syscalls (bpf/mmap_probes.bpf.c): mmap,
 * munmap, mremap and brk of the traced processes, from the kernel side.
 * Every map of theirs is one the allocation probes share too
 * (probe_maps.h: the ring buffer, the filter of traced processes, the
 * counters, the stacks), so they trace whatever processes those trace,
 * and their events arrive in the same ring, in order with the
 * allocator's.
 */
#ifndef MEMTRACE_MMAP_PROBES_H
#define MEMTRACE_MMAP_PROBES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "probes.h"

struct mmap_probes;
struct probe_maps;

/*
 * Load and attach them, on the shared maps (created for cfg); safe on
 * another thread while probes_open() loads the allocation probes.
 * fentry/fexit on the syscalls' functions where the kernel allows it (not
 * tried where a two-instruction fexit program is refused), else the
 * tracepoint of the mmap lock with a task work at the syscall's return,
 * else the syscalls' own tracepoints, else the raw syscall tracepoints.
 * MEMTRACE_NO_FEXIT=1 skips fexit, MEMTRACE_NO_LOCK_TP=1 the mmap lock,
 * MEMTRACE_RAW_SYSCALL_TP=1 the syscalls' tracepoints. Returns 0 or a
 * negative errno with why filled.
 */
int mmap_probes_open(struct mmap_probes **out, const struct probe_maps *maps,
		     const struct probes_config *cfg, char *why, size_t why_len);
void mmap_probes_close(struct mmap_probes *m);

/* Whether the raw syscall tracepoints carry them, the last fallback: every
 * syscall on the machine then runs a BPF program while memtrace runs. */
bool mmap_probes_on_raw_tracepoints(const struct mmap_probes *m);

/* Whether the syscalls' own tracepoints carry them: the kernel's syscall
 * tracepoint hook is then on for every task, and every syscall on the
 * machine takes its slow path while memtrace runs. */
bool mmap_probes_on_syscall_tracepoints(const struct mmap_probes *m);

/* As probes_print_stats(), for these programs (no header line). */
int mmap_probes_print_stats(const struct mmap_probes *m, FILE *out);

#endif /* MEMTRACE_MMAP_PROBES_H */
