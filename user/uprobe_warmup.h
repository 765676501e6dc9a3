/* SPDX-License-Identifier: MIT */
/*
 * The grace period of the kernel's first uprobe install, taken at
 * memtrace's start instead of in the attach.
 *
 * Why: the first uprobe a run installs waits for an RCU grace period:
 * register_for_each_vma() takes dup_mmap_sem for writing, and its rcu_sync
 * waits for one when it is idle (a sched_switch call chain under perf
 * showed it); installs within a grace period of the last do not wait.
 * That was 13-29 ms of each attach here, and with the programs loading in
 * 10-20 ms (user/kernel_btf.h) it was the last thing start-up waited for.
 * uprobe_warmup_start() installs, on a thread, one uprobe on memtrace's
 * own executable for memtrace alone: at its entry point, which ran once,
 * before main, so the breakpoint is never hit, and no other process gets
 * it. The arming and attaching that follow find the grace period passed,
 * or the rest of it under way.
 *
 * Removing that uprobe waits for grace periods again (65-85 ms here),
 * under the kernel's trace event mutex, which attaching needs: it is done
 * on a thread once memtrace's own probes are in (uprobe_warmup_end()). A
 * start that fails after uprobe_warmup_start() waits for it at exit
 * (uprobe_warmup_free()): up to ~0.1 s more for the error line's exit.
 * MEMTRACE_NO_WARMUP=1: none (to measure with and without).
 */
#ifndef MEMTRACE_UPROBE_WARMUP_H
#define MEMTRACE_UPROBE_WARMUP_H

#include "util/side_task.h"

struct uprobe_warmup {
	struct side_task task;
	int fd;			/* the uprobe's perf event, or -1 */
	bool started;
};

/* Install the uprobe on a thread; nothing if it cannot be (no uprobe
 * PMU, ...): only the attach is slower then. */
void uprobe_warmup_start(struct uprobe_warmup *w);

/* Once the probes are in: remove it on a thread. */
void uprobe_warmup_end(struct uprobe_warmup *w);

/* Wait for the thread (at once if it is done) and free what is left. */
void uprobe_warmup_free(struct uprobe_warmup *w);

#endif /* MEMTRACE_UPROBE_WARMUP_H */
