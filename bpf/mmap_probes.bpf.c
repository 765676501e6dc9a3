// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Memory the traced programs map themselves: mmap, munmap, mremap and brk,
 * seen where the kernel runs them, not through uprobes (what each call
 * does: bpf/mmap_calls.bpf.h).
 *
 * Four ways in, best first (user/mmap_probes.c tries them in order):
 * fentry/fexit on the syscalls' entry functions (__x64_sys_mmap, ...),
 * which run for those four syscalls only; the tracepoint where a process
 * takes its mmap lock for writing (bpf/mmap_lock.bpf.c, an object of its
 * own); the syscalls' own tracepoints; the raw syscall tracepoints. The
 * last two put every syscall on the machine on the kernel's slow path
 * (~80 and ~170 ns more per syscall here, measured in README
 * "Allocators"), so they are fallbacks only.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "mmap_calls.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

SEC("fexit/__x64_sys_mmap")
int BPF_PROG(mmap_exit, const struct pt_regs *uregs, long ret)
{
	struct map_out o = {};

	on_mmap_exit(uregs, ret, &o);
	map_finish(ctx, uregs, &o);
	return 0;
}

SEC("fentry/__x64_sys_munmap")
int BPF_PROG(munmap_enter, const struct pt_regs *uregs)
{
	on_munmap_enter(uregs);
	return 0;
}

SEC("fentry/__x64_sys_mremap")
int BPF_PROG(mremap_enter, const struct pt_regs *uregs)
{
	on_mremap_enter(uregs);
	return 0;
}

SEC("fexit/__x64_sys_mremap")
int BPF_PROG(mremap_exit, const struct pt_regs *uregs, long ret)
{
	struct map_out o = {};

	on_mremap_exit(uregs, ret, &o);
	map_finish(ctx, uregs, &o);
	return 0;
}

SEC("fentry/__x64_sys_brk")
int BPF_PROG(brk_enter, const struct pt_regs *uregs)
{
	on_brk_enter();
	return 0;
}

SEC("fexit/__x64_sys_brk")
int BPF_PROG(brk_exit, const struct pt_regs *uregs, long ret)
{
	struct map_out o = {};

	on_brk_exit(uregs, ret, &o);
	map_finish(ctx, uregs, &o);
	return 0;
}

/*
 * Then the syscalls' own tracepoints. One program for the entries
 * (munmap, mremap, brk) and one for the exits (mmap, mremap, brk), each
 * verified once and attached to its three tracepoints by user space
 * (user/mmap_probes.c): a syscall of another kind runs no BPF at all.
 * The arguments are in the task's user registers, as at the raw
 * tracepoints.
 */
SEC("tracepoint")
int syscall_tp_enter(struct syscall_trace_enter *ctx)
{
	on_enter_nr(ctx->nr, task_user_regs());
	return 0;
}

SEC("tracepoint")
int syscall_tp_exit(struct syscall_trace_exit *ctx)
{
	on_exit_nr(ctx, ctx->nr, task_user_regs(), ctx->ret);
	return 0;
}

/* The last fallback: every syscall of every process passes here. */
SEC("tp_btf/sys_enter")
int BPF_PROG(syscall_enter, struct pt_regs *uregs, long id)
{
	on_enter_nr(id, uregs);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(syscall_exit, struct pt_regs *uregs, long ret)
{
	on_exit_nr(ctx, BPF_CORE_READ(uregs, orig_ax), uregs, ret);
	return 0;
}
