// SPDX-License-Identifier: MIT
/*
 * Decoding an x86-64 ELF file's code for pymalloc_sites (see
 * pymalloc_scan.h). Linearly, as objdump -d does, but on the operands
 * capstone decodes:
 *  - registers written come from capstone, explicit and implicit, any
 *    part of the register;
 *  - (%P) and 0x0(%P) are the same operand; blocks and pools are 64-bit
 *    registers only;
 *  - a probe point is a jcc the kernel emulates (FL_JCC): not jrcxz or
 *    loop.
 */
#include <capstone/capstone.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memtrace_python.h"
#include "pymalloc_scan.h"
#include "symbols/elf_file.h"
#include "util/search.h"
#include "util/vec.h"

/* The pool address mask, ~(16 KiB - 1), as an and's immediate. */
#define POOL_MASK_IMM (-0x4000LL)

/*
 * Capstone's general registers, any width, to enum mt_reg (+ 1, so that 0
 * means "not one") and their width in bytes.
 */
struct gpr_part {
	uint8_t reg_plus_1;
	uint8_t bytes;
};

#define GPR(mt, r64, r32, r16, r8)				\
	[X86_REG_##r64] = { (mt) + 1, 8 }, [X86_REG_##r32] = { (mt) + 1, 4 }, \
	[X86_REG_##r16] = { (mt) + 1, 2 }, [X86_REG_##r8] = { (mt) + 1, 1 }

static const struct gpr_part gprs[X86_REG_ENDING] = {
	GPR(MT_REG_RAX, RAX, EAX, AX, AL), [X86_REG_AH] = { MT_REG_RAX + 1, 1 },
	GPR(MT_REG_RBX, RBX, EBX, BX, BL), [X86_REG_BH] = { MT_REG_RBX + 1, 1 },
	GPR(MT_REG_RCX, RCX, ECX, CX, CL), [X86_REG_CH] = { MT_REG_RCX + 1, 1 },
	GPR(MT_REG_RDX, RDX, EDX, DX, DL), [X86_REG_DH] = { MT_REG_RDX + 1, 1 },
	GPR(MT_REG_RSI, RSI, ESI, SI, SIL),
	GPR(MT_REG_RDI, RDI, EDI, DI, DIL),
	GPR(MT_REG_RBP, RBP, EBP, BP, BPL),
	GPR(MT_REG_RSP, RSP, ESP, SP, SPL),
	GPR(MT_REG_R8, R8, R8D, R8W, R8B),
	GPR(MT_REG_R9, R9, R9D, R9W, R9B),
	GPR(MT_REG_R10, R10, R10D, R10W, R10B),
	GPR(MT_REG_R11, R11, R11D, R11W, R11B),
	GPR(MT_REG_R12, R12, R12D, R12W, R12B),
	GPR(MT_REG_R13, R13, R13D, R13W, R13B),
	GPR(MT_REG_R14, R14, R14D, R14W, R14B),
	GPR(MT_REG_R15, R15, R15D, R15W, R15B),
};

/* enum mt_reg of a capstone register and its width, or NO_REG. */
static uint8_t gpr(unsigned int r, uint8_t *bytes)
{
	if (r >= X86_REG_ENDING || !gprs[r].reg_plus_1)
		return NO_REG;
	if (bytes)
		*bytes = gprs[r].bytes;
	return gprs[r].reg_plus_1 - 1;
}

static bool is_reg64(const cs_x86_op *op)
{
	uint8_t bytes = 0;

	return op->type == X86_OP_REG && gpr(op->reg, &bytes) != NO_REG &&
	       bytes == 8;
}

static bool is_simple_mem(const cs_x86_op *op)
{
	uint8_t bytes = 0;

	return op->type == X86_OP_MEM && op->mem.segment == X86_REG_INVALID &&
	       op->mem.index == X86_REG_INVALID &&
	       gpr(op->mem.base, &bytes) != NO_REG && bytes == 8 &&
	       op->mem.disp >= INT32_MIN && op->mem.disp <= INT32_MAX;
}

static void set_reg(struct insn *in, const cs_x86_op *op)
{
	in->reg = gpr(op->reg, &in->reg_bytes);
}

static void set_mem(struct insn *in, const cs_x86_op *op)
{
	in->base = gpr(op->mem.base, NULL);
	in->disp = (int32_t)op->mem.disp;
}

/* Operands in capstone's (Intel) order: destination first. */
static void find_shape(const cs_x86 *x, struct insn *in)
{
	const cs_x86_op *a = &x->operands[0], *b = &x->operands[1];

	if (x->op_count != 2)
		return;
	switch (in->id) {
	case X86_INS_MOV:
		if (is_reg64(a) && is_reg64(b)) {
			in->shape = SH_MOV_RR;
			set_reg(in, a);
			in->base = gpr(b->reg, NULL);
		} else if (a->type == X86_OP_REG && gpr(a->reg, NULL) != NO_REG &&
			   b->type == X86_OP_IMM && b->imm >= INT32_MIN &&
			   b->imm <= INT32_MAX) {
			in->shape = SH_MOV_IMM;
			set_reg(in, a);
			in->imm = (int32_t)b->imm;
		} else if (a->type == X86_OP_REG && gpr(a->reg, NULL) != NO_REG &&
		    is_simple_mem(b)) {
			in->shape = SH_LOAD;
			set_reg(in, a);
			set_mem(in, b);
		} else if (is_simple_mem(a) && b->type == X86_OP_REG &&
			   gpr(b->reg, NULL) != NO_REG) {
			in->shape = SH_STORE;
			set_reg(in, b);
			set_mem(in, a);
		}
		break;
	case X86_INS_ADD:
	case X86_INS_SUB:
		if (is_simple_mem(a) && a->size == 4 && b->type == X86_OP_IMM &&
		    b->imm == 1) {
			in->shape = in->id == X86_INS_ADD ? SH_INC32 : SH_DEC32;
			set_mem(in, a);
		}
		break;
	case X86_INS_AND:
		if (is_reg64(a) && b->type == X86_OP_IMM && b->imm == POOL_MASK_IMM) {
			in->shape = SH_POOL_MASK;
			set_reg(in, a);
		}
		break;
	case X86_INS_CMOVNE:
		if (is_reg64(a) && is_reg64(b)) {
			in->shape = SH_CMOVNE_RR;
			set_reg(in, a);
			in->base = gpr(b->reg, NULL);
		}
		break;
	case X86_INS_TEST:
		if (is_reg64(a) && is_reg64(b) && a->reg == b->reg) {
			in->shape = SH_TEST_RR;
			set_reg(in, a);
		}
		break;
	case X86_INS_CMP:
		if (is_reg64(a) && is_reg64(b)) {
			in->shape = SH_CMP_RR;
			set_reg(in, a);
			in->base = gpr(b->reg, NULL);
		} else if (is_reg64(a) && is_simple_mem(b)) {
			in->shape = SH_CMP_RM;
			set_reg(in, a);
			set_mem(in, b);
		} else if (is_simple_mem(a) && is_reg64(b)) {
			in->shape = SH_CMP_RM;
			set_reg(in, b);
			set_mem(in, a);
		}
		break;
	}
}

static enum flow find_flow(csh cs, const cs_insn *ci)
{
	switch (ci->id) {
	case X86_INS_JA: case X86_INS_JAE: case X86_INS_JB: case X86_INS_JBE:
	case X86_INS_JE: case X86_INS_JNE: case X86_INS_JG: case X86_INS_JGE:
	case X86_INS_JL: case X86_INS_JLE: case X86_INS_JO: case X86_INS_JNO:
	case X86_INS_JP: case X86_INS_JNP: case X86_INS_JS: case X86_INS_JNS:
		/* The kernel single-steps a jcc with an operand-size prefix
		 * (CPUs disagree on what it means). */
		return ci->detail->x86.prefix[2] == X86_PREFIX_OPSIZE ? FL_OTHER
								      : FL_JCC;
	case X86_INS_JMP:
		return FL_JMP;
	case X86_INS_UD2:
	case X86_INS_HLT:
		return FL_OTHER;
	}
	if (cs_insn_group(cs, ci, CS_GRP_CALL))
		return FL_CALL;
	/* jrcxz, loop, ljmp; ret, iret, int, int3, syscall */
	if (cs_insn_group(cs, ci, CS_GRP_JUMP) || cs_insn_group(cs, ci, CS_GRP_RET) ||
	    cs_insn_group(cs, ci, CS_GRP_IRET) || cs_insn_group(cs, ci, CS_GRP_INT))
		return FL_OTHER;
	return FL_NEXT;
}

/* The general registers an instruction writes, in any part: writing %al
 * spoils a pointer in %rax as surely as writing %eax does. Explicit
 * operands and implicit ones (cltq writes %rax, rep movs %rdi...). */
static uint16_t find_writes(csh cs, const cs_insn *ci)
{
	cs_regs rd, wr;
	uint8_t n_rd = 0, n_wr = 0;
	uint16_t mask = 0;

	if (cs_regs_access(cs, ci, rd, &n_rd, wr, &n_wr) != CS_ERR_OK)
		return 0xffff;	/* unknown: assume it spoils everything */
	for (uint8_t i = 0; i < n_wr; i++) {
		uint8_t r = gpr(wr[i], NULL);

		if (r != NO_REG)
			mask |= 1u << r;
	}
	return mask;
}

static void describe(csh cs, const cs_insn *ci, struct insn *in)
{
	const cs_x86 *x = &ci->detail->x86;

	*in = (struct insn){
		.addr = ci->address,
		.id = (uint16_t)ci->id,
		.reg = NO_REG,
		.base = NO_REG,
	};
	in->flow = find_flow(cs, ci);
	/* Any jump (jrcxz and loop too) or call; not int $0x80, not ret $8. */
	if ((cs_insn_group(cs, ci, CS_GRP_JUMP) || cs_insn_group(cs, ci, CS_GRP_CALL)) &&
	    x->op_count == 1 && x->operands[0].type == X86_OP_IMM)
		in->target = (uint64_t)x->operands[0].imm;
	in->writes = find_writes(cs, ci);
	/* An access capstone does not qualify counts as a write. */
	for (uint8_t k = 0; k < x->op_count; k++)
		if (x->operands[k].type == X86_OP_MEM &&
		    gpr(x->operands[k].mem.base, NULL) == MT_REG_RSP &&
		    (!x->operands[k].access ||
		     (x->operands[k].access & CS_AC_WRITE)))
			in->stack_write = true;
	find_shape(x, in);
}

static int push_insn(struct scan *s, const struct insn *in)
{
	if (vec_reserve(&s->v, &s->cap, s->n + 1, sizeof(*s->v)))
		return -ENOMEM;
	s->v[s->n++] = *in;
	return 0;
}

/* Linearly, as objdump -d does. Bytes capstone cannot decode (data,
 * padding, instructions it does not know) are skipped one at a time until
 * decoding falls back in step, which x86 code does within a few bytes. */
static int decode(csh cs, cs_insn *ci, const uint8_t *code, size_t size,
		  uint64_t addr, struct scan *s)
{
	while (size) {
		struct insn in;
		int err;

		if (!cs_disasm_iter(cs, &code, &size, &addr, ci)) {
			code++;
			size--;
			addr++;
			continue;
		}
		describe(cs, ci, &in);
		err = push_insn(s, &in);
		if (err)
			return err;
	}
	return 0;
}

static int by_addr(const void *a, const void *b)
{
	const struct exec_section *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* The executable sections of an x86-64 ELF file of file_size bytes,
 * decoded. */
static int decode_elf(Elf *elf, uint64_t file_size, struct scan *s)
{
	Elf_Scn *scn = NULL;
	uint64_t total = 0, end = 0;
	cs_insn *ci = NULL;
	size_t nscn;
	csh cs = 0;
	int err = 0;

	/* elf_file_open() checked the header: an x86-64 file whose section
	 * table is in it. */
	if (elf_getshdrnum(elf, &nscn))
		return -ENOEXEC;
	s->secs = calloc(nscn ? nscn : 1, sizeof(*s->secs));
	if (!s->secs)
		return -ENOMEM;
	while ((scn = elf_nextscn(elf, scn)) && s->n_secs < nscn) {
		Elf_Data *data;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			return -ENOEXEC;
		if (sh.sh_type != SHT_PROGBITS || !(sh.sh_flags & SHF_ALLOC) ||
		    !(sh.sh_flags & SHF_EXECINSTR) || !sh.sh_size)
			continue;
		/* Fails when the section's bytes are not all in the file (a
		 * truncated or corrupt file): trust no size before this. */
		data = elf_getdata(scn, NULL);
		if (!data || !data->d_buf || data->d_size != sh.sh_size)
			return -ENOEXEC;
		s->secs[s->n_secs++] = (struct exec_section){
			sh.sh_addr, sh.sh_size, sh.sh_offset, data->d_buf };
		total += sh.sh_size;
	}
	/* Code sections share no bytes: more code than file is a corrupt
	 * file, which could otherwise have the same bytes decoded again and
	 * again, for as long and with as much memory as it likes. */
	if (total > file_size)
		return -ENOEXEC;
	/* By address, so that the instructions are: searches rely on it. */
	qsort(s->secs, s->n_secs, sizeof(*s->secs), by_addr);

	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return -ENOSYS;	/* a capstone built without x86 */
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	ci = cs_malloc(cs);
	/* About 4 bytes an instruction: one allocation for most files. */
	s->cap = total / 4 + 1;
	s->v = malloc(s->cap * sizeof(*s->v));
	if (!ci || !s->v)
		err = -ENOMEM;
	for (size_t i = 0; i < s->n_secs && !err; i++) {
		const struct exec_section *sec = &s->secs[i];

		/* Overlapping sections (a corrupt file) would break the
		 * ordering: the first one wins. */
		if (sec->addr < end)
			continue;
		end = sec->addr + sec->size;
		err = decode(cs, ci, sec->bytes, sec->size, sec->addr, s);
	}
	if (ci)
		cs_free(ci, 1);
	cs_close(&cs);
	return err;
}

static int by_target(const void *a, const void *b)
{
	const struct edge *x = a, *y = b;

	if (x->target != y->target)
		return x->target < y->target ? -1 : 1;
	return x->source < y->source ? -1 : x->source > y->source;
}

/* Every direct jump and call, by target: who enters where. */
static int collect_edges(struct scan *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += s->v[i].target != 0;
	s->edges = malloc((n ? n : 1) * sizeof(*s->edges));
	if (!s->edges)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].target)
			s->edges[s->n_edges++] = (struct edge){ s->v[i].target,
								s->v[i].addr };
	qsort(s->edges, s->n_edges, sizeof(*s->edges), by_target);
	return 0;
}

int scan_fd(int fd, struct scan *s)
{
	struct stat st;
	Elf *elf;
	int err;

	if (fstat(fd, &st))
		return -errno;
	err = elf_file_open(fd, &elf);
	if (err)
		return err;
	err = decode_elf(elf, (uint64_t)st.st_size, s);
	elf_end(elf);
	if (!err)
		err = collect_edges(s);
	return err;
}

void scan_free(struct scan *s)
{
	free(s->v);
	free(s->edges);
	free(s->secs);
}

size_t scan_index_of(const struct scan *s, uint64_t addr)
{
	size_t lo = FIRST_AT_LEAST(s->v, s->n, addr, addr);

	return lo < s->n && s->v[lo].addr == addr ? lo : SIZE_MAX;
}

int scan_offset_of(const struct scan *s, uint64_t vaddr, uint64_t *offset)
{
	for (size_t i = 0; i < s->n_secs; i++) {
		const struct exec_section *sec = &s->secs[i];

		if (vaddr >= sec->addr && vaddr - sec->addr < sec->size) {
			*offset = sec->offset + (vaddr - sec->addr);
			return 0;
		}
	}
	return -ENOENT;
}

bool scan_entered(const struct scan *s, uint64_t addr, const uint64_t *allowed,
		  size_t n_allowed)
{
	size_t lo = FIRST_AT_LEAST(s->edges, s->n_edges, target, addr);

	for (; lo < s->n_edges && s->edges[lo].target == addr; lo++) {
		size_t k = 0;

		while (k < n_allowed && allowed[k] != s->edges[lo].source)
			k++;
		if (k == n_allowed)
			return true;
	}
	return false;
}
