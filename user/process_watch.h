/* SPDX-License-Identifier: MIT */
/*
 * The kernel's news of processes that enter the traced set without
 * ptrace (bpf/process_watch.bpf.c): with -a, every new process joins the
 * in-kernel filter before it runs and leaves it at its exit; the children
 * of a traced process that cannot be ptraced join it at once and are
 * announced (MT_EV_FORK); processes entering the --cgroup are announced
 * (MT_EV_CGROUP_ENTER). It shares the probes' filter map and ring buffer.
 */
#ifndef MEMTRACE_PROCESS_WATCH_H
#define MEMTRACE_PROCESS_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct process_watch;

struct process_watch_config {
	bool trace_all;			/* -a */
	uint64_t cgroup_id;		/* --cgroup (0: none) */
	int events_fd;			/* the probes' ring buffer */
	int targets_fd;			/* the probes' filter map */
	const char *btf_path;		/* probes_config's */
};

/* Load and attach. Returns 0 or a negative errno; why: one line. */
int process_watch_open(struct process_watch **out, const struct process_watch_config *cfg,
		       char *why, size_t why_len);
void process_watch_close(struct process_watch *w);

/* pid is traced but not ptraced: let the kernel add its children (and
 * theirs) to the filter as they are created. */
int process_watch_children(struct process_watch *w, pid_t pid);

#endif /* MEMTRACE_PROCESS_WATCH_H */
