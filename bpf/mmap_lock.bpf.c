// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The memory-mapping probes' second way in (see bpf/mmap_probes.bpf.c),
 * an object of its own: its task work is a kfunc, and an object that
 * calls one makes libbpf read and parse the kernel's whole BTF (5.5 MB,
 * 15-17 ms of CPU here) whichever of its programs load. Where the kernel
 * refuses this way (Linux 6.18.44: "sleepable callback in a program that
 * is not sleepable"), the syscalls' tracepoints load from an object that
 * needs no more than the types cut at build time.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define EBUSY 16

#include "mmap_calls.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/*
 * Where fentry/fexit are refused, first: the mmap lock. Each of the four
 * syscalls takes its process's mmap lock for writing, once; the
 * tracepoint there (mmap_lock_acquire_returned) is where the entry is
 * handled, under the lock. Other syscalls never pass it, so a process
 * memtrace does not trace pays for its own mmap-lock takings only, a map
 * lookup each.
 *
 * The end is seen where the thread returns to user space, with the
 * return value in its registers: a task work (bpf_task_work_schedule_resume)
 * the kernel runs then, before any signal handler or restart (get_signal()
 * runs task works first). One entry per thread in such a call; the work
 * removes its own.
 */
extern int bpf_task_work_schedule_resume_impl(struct task_struct *task,
					      struct bpf_task_work *tw, void *map__map,
					      int (*callback)(struct bpf_map *map, void *key,
							      void *value),
					      void *aux__prog) __ksym;

struct map_call {
	__u64 nr;			/* the syscall, checked at its end */
	struct bpf_task_work work;
};

/* Threads at once inside one of the four calls. */
#define MAP_CALLS 16384

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MAP_CALLS);
	__type(key, __u32);
	__type(value, struct map_call);
} map_calls SEC(".maps");

static int map_call_done(struct bpf_map *map, void *key, void *value)
{
	struct map_call *c = value;
	struct pt_regs *uregs = task_user_regs();
	long nr = BPF_CORE_READ(uregs, orig_ax);

	/* Another syscall: the work ran later than the call's return
	 * (it cannot here, but a kernel whose irq_work waits could). */
	if (nr == c->nr)
		on_exit_nr(NULL, nr, uregs, BPF_CORE_READ(uregs, ax));
	else
		count(MT_CNT_EVENTS_LOST);
	bpf_map_delete_elem(&map_calls, key);
	return 0;
}

/* Have map_call_done() run as the thread returns from syscall nr. */
static __always_inline void await_return(struct task_struct *task, long nr)
{
	struct map_call fresh = { .nr = nr }, *c;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	long err;

	/* An entry already there is this call's (a second taking of the
	 * lock) and is kept: replacing it would cancel its work. */
	bpf_map_update_elem(&map_calls, &tid, &fresh, BPF_NOEXIST);
	c = bpf_map_lookup_elem(&map_calls, &tid);
	if (!c) {
		count(MT_CNT_EVENTS_LOST);
		return;
	}
	c->nr = nr;
	err = bpf_task_work_schedule_resume_impl(task, &c->work, &map_calls, map_call_done,
						 NULL);
	if (err && err != -EBUSY) {
		count(MT_CNT_EVENTS_LOST);
		bpf_map_delete_elem(&map_calls, &tid);
	}
}

SEC("tp_btf/mmap_lock_acquire_returned")
int BPF_PROG(map_lock_taken, struct mm_struct *mm, bool write, bool success)
{
	struct task_struct *task;
	struct pt_regs *uregs;
	long nr;

	if (!write || !success || empty_probes || !is_target(bpf_get_current_pid_tgid() >> 32))
		return 0;
	task = bpf_get_current_task_btf();
	/* Another address space's lock (exec's new one, a remote madvise),
	 * or a 32-bit syscall. */
	if ((__u64)mm != (__u64)BPF_CORE_READ(task, mm) ||
	    (BPF_CORE_READ(task, thread_info.status) & MT_TS_COMPAT))
		return 0;
	uregs = task_user_regs();
	nr = BPF_CORE_READ(uregs, orig_ax);
	if (on_enter_nr(nr, uregs))
		await_return(task, nr);
	return 0;
}
