/* SPDX-License-Identifier: MIT */
/*
 * Many uprobes in one file as one BPF link (Linux 6.6+). Closing one
 * uprobe waits for an RCU grace period (~0.1 s here), one close after
 * another; a multi-uprobe link waits once for all of its probes.
 */
#ifndef MEMTRACE_UPROBE_MULTI_H
#define MEMTRACE_UPROBE_MULTI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The program must be loaded with one of these expected attach types:
 * entry or return probes, or session probes (Linux 6.13+: one program runs
 * at the entry and, unless its entry run returned 1, at the return). */
#define MT_BPF_TRACE_UPROBE_MULTI 48
#define MT_BPF_TRACE_UPROBE_SESSION 57

enum uprobe_multi_kind {
	UPROBE_MULTI_ENTRY,
	UPROBE_MULTI_RETURN,
	UPROBE_MULTI_SESSION,
};

/*
 * Attach prog_fd at each offsets[i] of the file at path, for process pid
 * only, with attach cookie cookies[i], as kind says. Returns the link's fd
 * (close it to detach) or a negative errno.
 */
int uprobe_multi_attach(int prog_fd, pid_t pid, const char *path,
			const uint64_t *offsets, const uint64_t *cookies, size_t n,
			enum uprobe_multi_kind kind);

#endif /* MEMTRACE_UPROBE_MULTI_H */
