/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 decoder under pymalloc_sites' rules: every instruction of
 * the executable sections of an ELF file, decoded once with capstone
 * into a compact array (struct insn), by address, with the few
 * instruction forms the rules look for ("shapes"), where control goes
 * next, and the registers written; and every direct jump and call, by
 * target.
 *
 * The file may be anything: every libelf call is checked, and the
 * decoded array is only ever indexed within its bounds.
 */
#ifndef MEMTRACE_PYMALLOC_SCAN_H
#define MEMTRACE_PYMALLOC_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* No register (struct insn fields hold enum mt_reg values). */
#define NO_REG 0xff

/* The few instruction forms the rules look for. "mem" is [base + disp],
 * with a 64-bit general register as base, no index and no segment. */
enum shape {
	SH_OTHER,
	SH_LOAD,	/* mov mem -> reg (any width) */
	SH_STORE,	/* mov reg (any width) -> mem */
	SH_INC32,	/* addl $1, mem */
	SH_DEC32,	/* subl $1, mem */
	SH_POOL_MASK,	/* and $~0x3fff, reg (64-bit) */
	SH_CMP_RR,	/* cmp between two 64-bit registers: reg and base */
	SH_CMP_RM,	/* cmp between a 64-bit reg and mem, either order */
	/* For the requested size (find_sizes): */
	SH_MOV_IMM,	/* mov $imm, reg (32- or 64-bit reg, imm in imm) */
	SH_MOV_RR,	/* mov reg, reg (64-bit): reg is the destination,
			   base the source */
	SH_CMOVNE_RR,	/* cmovne reg, reg (64-bit), as SH_MOV_RR */
	SH_TEST_RR,	/* test %R,%R (64-bit): reg */
};

/* Where execution goes after an instruction. */
enum flow {
	FL_NEXT,	/* the next instruction, only */
	FL_JCC,		/* a conditional jump the kernel emulates */
	FL_JMP,		/* an unconditional jump */
	FL_CALL,
	FL_OTHER,	/* ret, jrcxz, loop, ud2, int3...: none of the above */
};

struct insn {
	uint64_t addr;
	uint64_t target;	/* of a direct jump or call, else 0 */
	int32_t disp;		/* of the memory operand */
	int32_t imm;		/* of SH_MOV_IMM */
	uint16_t id;		/* enum x86_insn */
	uint16_t writes;	/* 1 << enum mt_reg per register written, in any part */
	uint8_t shape;		/* enum shape */
	uint8_t flow;		/* enum flow */
	uint8_t reg;		/* the register operand (enum mt_reg) or NO_REG */
	uint8_t reg_bytes;	/* its width: 8 for %rax, 4 for %eax... */
	uint8_t base;		/* the memory operand's base (enum mt_reg), or
				   the second register of SH_CMP_RR */
	bool alloc_load;	/* bp = pool->freeblock of an allocation site */
	bool stack_write;	/* may write memory based on %rsp */
};

/* A direct jump or call: the code at target is entered from source. */
struct edge {
	uint64_t target, source;
};

struct exec_section {
	uint64_t addr, size, offset;
	const uint8_t *bytes;	/* only while the file is open */
};

/* What the rules look at, built once per file. */
struct scan {
	struct insn *v;		/* every instruction, by address */
	size_t n, cap;
	struct edge *edges;	/* sorted by target */
	size_t n_edges;
	struct exec_section *secs;
	size_t n_secs;
};

/*
 * Decode the ELF file open on fd (only read; it stays the caller's) into
 * *s (zeroed by the caller). Returns 0, -ENOEXEC when it is not a readable
 * x86-64 ELF file, -ENOSYS for a capstone without x86, or -ENOMEM. Free
 * with scan_free(), whatever it returns.
 */
int scan_fd(int fd, struct scan *s);

/* scan_fd() decoding on at most `threads` threads (scan_fd() takes one per
 * CPU); the result is the same whatever the number. */
int scan_fd_threads(int fd, struct scan *s, size_t threads);
void scan_free(struct scan *s);

/* Index of the instruction at addr, or SIZE_MAX. */
size_t scan_index_of(const struct scan *s, uint64_t addr);

/* The file offset of vaddr, in a code section: 0, or -ENOENT. */
int scan_offset_of(const struct scan *s, uint64_t vaddr, uint64_t *offset);

/* Is the code at addr entered by a direct jump or call from anywhere but
 * the n_allowed sources in allowed? */
bool scan_entered(const struct scan *s, uint64_t addr, const uint64_t *allowed,
		  size_t n_allowed);

#endif /* MEMTRACE_PYMALLOC_SCAN_H */
