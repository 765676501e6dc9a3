// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * News of processes that enter the traced set without ptrace's help:
 *   - -a: every process created is let through the filter before it runs,
 *     and leaves it when it exits;
 *   - a traced process that memtrace could not ptrace (another tracer has
 *     it): its children join the filter at once and user space is told
 *     (MT_EV_FORK), to put their probes in place;
 *   - --cgroup: a process moved into the cgroup (or below), or created in
 *     it by an untraced process (clone3 with CLONE_INTO_CGROUP, as systemd
 *     does): MT_EV_CGROUP_ENTER.
 * The filter map and the ring buffer are alloc_probes.bpf.c's, shared
 * (bpf_map__reuse_fd).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "memtrace_events.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile bool trace_all = false;
const volatile __u32 self_tgid = 0;
/* --cgroup: its id (its directory's inode number); 0: no cgroup. */
const volatile __u64 cgroup_id = 0;

/* Deepest cgroup nesting looked at (the kernel's own limit is higher,
 * real hierarchies are a few levels deep). */
#define MAX_CGROUP_DEPTH 32

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);	/* replaced by alloc_probes' */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);	/* replaced by alloc_probes' */
	__type(key, __u32);
	__type(value, struct mt_target);
} targets SEC(".maps");

/* Traced processes whose children BPF adds (they cannot be ptraced). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} fork_watch SEC(".maps");

static __always_inline void tell(__u8 type, __u32 pid, __u32 parent)
{
	struct mt_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return;		/* the alloc programs count lost events */
	__builtin_memset(e, 0, sizeof(*e));
	e->type = type;
	e->pid = pid;
	e->tid = pid;
	e->ts_ns = bpf_ktime_get_ns();
	e->addr = parent;
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
}

/* Is cgrp the --cgroup or below it? Its ancestors[], root first, hold
 * every cgroup above it and itself. */
static __always_inline bool in_cgroup(struct cgroup *cgrp)
{
	int level;

	if (!cgroup_id || !cgrp)
		return false;
	level = BPF_CORE_READ(cgrp, level);
	for (int i = 0; i < MAX_CGROUP_DEPTH; i++) {
		struct cgroup *anc = NULL;

		if (i > level)
			break;
		/* A flexible array: read, not dereferenced. */
		bpf_probe_read_kernel(&anc, sizeof(anc), &cgrp->ancestors[i]);
		if (anc && BPF_CORE_READ(anc, kn, id) == cgroup_id)
			return true;
	}
	return false;
}

/*
 * The programs are raw tracepoints, which take the tracepoint's arguments
 * as plain values: a BTF tracepoint (tp_btf) would make libbpf parse the
 * kernel's whole BTF to find it, ~15 ms of every start (user/kernel_btf.h).
 * The tasks' fields are read with BPF_CORE_READ.
 */

/* In the parent's context, before the child has run. */
SEC("raw_tp/sched_process_fork")
int BPF_PROG(watch_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid), ctgid = BPF_CORE_READ(child, tgid);
	struct mt_target tv = { 0 }, *pt;
	__u32 one = 1;

	if (BPF_CORE_READ(child, pid) != ctgid)
		return 0;	/* a thread */
	if (trace_all) {
		if (ptgid != self_tgid)
			bpf_map_update_elem(&targets, &ctgid, &tv, BPF_ANY);
		return 0;
	}
	pt = bpf_map_lookup_elem(&targets, &ptgid);
	if (pt && bpf_map_lookup_elem(&fork_watch, &ptgid)) {
		bpf_map_update_elem(&targets, &ctgid, pt, BPF_ANY);
		bpf_map_update_elem(&fork_watch, &ctgid, &one, BPF_ANY);
		tell(MT_EV_FORK, ctgid, ptgid);
		return 0;
	}
	if (!pt && in_cgroup(BPF_CORE_READ(child, cgroups, dfl_cgrp)))
		tell(MT_EV_CGROUP_ENTER, ctgid, ptgid);
	return 0;
}

SEC("raw_tp/cgroup_attach_task")
int BPF_PROG(watch_cgroup, struct cgroup *dst, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);

	if (in_cgroup(dst) && !bpf_map_lookup_elem(&targets, &tgid))
		tell(MT_EV_CGROUP_ENTER, tgid, 0);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(watch_exit, struct task_struct *p, bool group_dead)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);

	if (group_dead) {
		if (trace_all)
			bpf_map_delete_elem(&targets, &tgid);
		bpf_map_delete_elem(&fork_watch, &tgid);
	}
	return 0;
}
