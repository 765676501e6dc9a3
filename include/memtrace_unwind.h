/* SPDX-License-Identifier: MIT */
/*
 * The unwind table format, shared by the table builder (user space, from
 * .eh_frame / .debug_frame) and the unwind step both walks apply
 * (memtrace_unwind_step.h).
 *
 * One row covers [pc, next row's pc) of one object file, in the file's own
 * virtual addresses (the process's address minus the load bias). It says
 * how to find the caller's frame from the registers at a PC in that range:
 *   CFA = (cfa_type == RSP ? rsp : rbp) + cfa_offset
 *   return address = *(CFA - 8)
 *   caller's rsp   = CFA
 *   caller's rbp   = rbp_type == OFFSET ? *(CFA + rbp_offset) : rbp
 * which is all that x86-64 code from gcc and clang needs, apart from the
 * few special forms that have their own cfa_type. Anything else is
 * MT_CFA_UNSUPPORTED: the unwinder stops and counts it, never guesses.
 */
#ifndef MEMTRACE_UNWIND_H
#define MEMTRACE_UNWIND_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

enum mt_cfa_type {
	MT_CFA_NONE = 0,	/* no unwind information for this range (a gap
				   between functions) */
	MT_CFA_RSP = 1,		/* CFA = rsp + cfa_offset */
	MT_CFA_RBP = 2,		/* CFA = rbp + cfa_offset */
	MT_CFA_PLT = 3,		/* PLT stub: CFA = rsp + 8, +8 more when
				   (pc & 15) >= 11 */
	MT_CFA_SIGNAL = 4,	/* signal trampoline (__restore_rt): registers
				   come from the ucontext on the stack */
	MT_CFA_END = 5,		/* outermost frame: return address undefined */
	MT_CFA_UNSUPPORTED = 6,	/* a rule this format cannot express */
};

enum mt_rbp_type {
	MT_RBP_UNCHANGED = 0,	/* the caller's rbp is the current rbp */
	MT_RBP_OFFSET = 1,	/* saved at CFA + rbp_offset */
	MT_RBP_UNSUPPORTED = 2,	/* any other rule */
};

/* 16 bytes a row: libc has ~25 k rows, python3.11 ~180 k. */
struct mt_unwind_row {
	__u64 pc;
	__s32 cfa_offset;	/* 32 bits: CFA offsets above 32767 occur */
	__s16 rbp_offset;
	__u8 cfa_type;		/* enum mt_cfa_type */
	__u8 rbp_type;		/* enum mt_rbp_type */
};

/*
 * Where the kernel's x86-64 signal frame keeps the interrupted registers
 * (MT_CFA_SIGNAL): at __restore_rt, sp points at a struct ucontext (uapi:
 * uc_flags, uc_link, uc_stack, then uc_mcontext, a struct sigcontext:
 * r8..r15, di, si, bp, bx, dx, ax, cx, sp, ip). The kernel ABI, so
 * constants; both sides check them against their own headers.
 */
#define MT_SIGFRAME_BP (40 + 10 * 8)
#define MT_SIGFRAME_SP (40 + 15 * 8)
#define MT_SIGFRAME_IP (40 + 16 * 8)

/* Executable mappings of one process, sorted by start, as the unwinder
 * finds the table for a PC. */
#define MT_MAX_MAPPINGS 256

struct mt_mapping {
	__u64 start;		/* runtime address range [start, end) */
	__u64 end;
	__u64 bias;		/* runtime address - file virtual address */
	__u32 rows_start;	/* first row in the unwind_rows array */
	__u32 rows_len;		/* 0: no table (JIT, anonymous memory, a file
				   without unwind info): frame pointers */
};

struct mt_proc_mappings {
	__u32 n;
	__u32 generation;	/* bumped at each update, for debugging */
	struct mt_mapping m[MT_MAX_MAPPINGS];
};

#endif /* MEMTRACE_UNWIND_H */
