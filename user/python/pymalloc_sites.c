// SPDX-License-Identifier: MIT
/*
 * pymalloc's inlined fast paths in an x86-64 ELF file, found by the shapes
 * of their instructions. This is scripts/research/find_sites.py and
 * cheap_points.py, which read objdump's text, redone on the operands
 * capstone decodes.
 *
 * pymalloc (CPython's Objects/obmalloc.c) keeps the free blocks of a pool
 * on a list headed by pool->freeblock. The pool header starts with the
 * 32-bit ref.count, freeblock is at offset 8, nextpool at 0x10:
 *
 *   allocation (pymalloc_alloc)          free (pymalloc_free)
 *     ++pool->ref.count;                   pool = POOL_ADDR(p);  p & ~0x3fff
 *     bp = pool->freeblock;                (address_in_range(p, pool))
 *     pool->freeblock = *(block **)bp;     lastfree = pool->freeblock;
 *                                          *(block **)p = lastfree;
 *                                          pool->freeblock = p;
 *                                          --pool->ref.count;
 *
 * Steps:
 *  1. decode every executable section linearly into a compact array, one
 *     entry per instruction (struct insn): the few instruction forms the
 *     rules look for ("shapes"), control flow, registers written;
 *  2. find the pops and pushes (is_alloc_site, is_free_site);
 *  3. move each to the first conditional jump the straight line after it
 *     reaches (cheap_point): x86 uprobes emulate a jcc, while most other
 *     instructions are single-stepped out of line, which costs more;
 *  4. find allocate_from_new_pool, the function the other branch of the
 *     allocations' pool != pool->nextpool test calls (find_new_pool).
 *  5. read the requested size of each allocation off the fallback to
 *     malloc on that other branch (find_sizes).
 *
 * Where this differs from the scripts (none of it changes the research
 * list for Debian's python3.11, which the unit test checks):
 *  - the `and $~0x3fff` of a free is looked for within POOL_MASK_WINDOW
 *    instructions, not within objdump's function label (see there);
 *  - registers written come from capstone, explicit and implicit, any
 *    part of the register; the scripts read the last operand's text;
 *  - (%P) and 0x0(%P) are the same operand (the free rule's text match
 *    told them apart); blocks and pools are 64-bit registers only;
 *  - a probe point is a jcc the kernel emulates: not jrcxz or loop;
 *  - a duplicated free tail (store; jmp X) is folded into each free whose
 *    path X enters, all such tails, not only the last one per X.
 *
 * The file may be anything: every libelf call is checked, and the
 * decoded array is only ever indexed within its bounds.
 */
#include <capstone/capstone.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memtrace_python.h"
#include "pymalloc_sites.h"

/* No register (struct insn fields hold enum mt_reg values). */
#define NO_REG 0xff

/* How far a site may be from its jcc, in instructions counting the site
 * itself (cheap_points.py). */
#define JCC_SEARCH 10

/*
 * How far, in instructions either way, a free's `and $~0x3fff,%P`
 * (pool = POOL_ADDR(p)) may be from its store. find_sites.py required it anywhere in the same function as
 * objdump labels it, from one .dynsym symbol to the next. That label is
 * rarely the real function: most inlined frees are in static functions,
 * which have no symbol in a stripped file, so the span runs on through
 * them; and with symbol sizes (where functions really end) 42 of the 49
 * frees of Debian's python3.11 lie outside every symbol. A window
 * reproduces the research list without symbols: on that binary the mask
 * is at most 200 instructions from a real free (a duplicated tail), and
 * more than 3000 from every look-alike that the rule must reject.
 */
#define POOL_MASK_WINDOW 512

/* The pool address mask, ~(16 KiB - 1), as an and's immediate. */
#define POOL_MASK_IMM (-0x4000LL)

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

/* A pop or push, before it moves to its jcc. */
struct raw_site {
	size_t at;		/* index of the site's instruction */
	uint8_t kind;		/* enum mt_pysite_kind */
	uint8_t block;		/* register holding the block */
	uint8_t pool;		/* register holding the pool header (frees) */
};

/* libelf wants its version declared once before any other call. */
static pthread_once_t libelf_once = PTHREAD_ONCE_INIT;

static void libelf_init(void)
{
	elf_version(EV_CURRENT);
}

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
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		struct insn *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
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
	GElf_Ehdr eh;
	size_t nscn;
	csh cs = 0;
	int err = 0;

	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
	    elf_getshdrnum(elf, &nscn))
		return -ENOEXEC;
	/* libelf shows no sections when their table is not all in the file:
	 * a truncated file, not one without code. */
	if (!nscn && eh.e_shoff)
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

static int read_file(const char *path, struct scan *s)
{
	struct stat st;
	Elf *elf;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		close(fd);
		return err;
	}
	pthread_once(&libelf_once, libelf_init);
	/* ELF_C_READ, not ELF_C_READ_MMAP: reading a mapping of a file that
	 * shrinks meanwhile would be a SIGBUS, reading the file an error. */
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf) {
		close(fd);
		return -ENOEXEC;
	}
	err = decode_elf(elf, (uint64_t)st.st_size, s);
	elf_end(elf);
	close(fd);
	if (!err)
		err = collect_edges(s);
	return err;
}

static void scan_free(struct scan *s)
{
	free(s->v);
	free(s->edges);
	free(s->secs);
}

/* Index of the instruction at addr, or SIZE_MAX. */
static size_t index_of(const struct scan *s, uint64_t addr)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->v[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n && s->v[lo].addr == addr ? lo : SIZE_MAX;
}

static int offset_of(const struct scan *s, uint64_t vaddr, uint64_t *offset)
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

/*
 * Is one of the instructions i+lo .. i+hi (i itself excluded, the range
 * clipped to the code) of this shape, on this base and displacement?
 */
static bool near(const struct scan *s, size_t i, long lo, long hi,
		 enum shape shape, uint8_t base, int32_t disp)
{
	long from = (long)i + lo, to = (long)i + hi;

	if (from < 0)
		from = 0;
	if (to >= (long)s->n)
		to = (long)s->n - 1;
	for (long k = from; k <= to; k++) {
		const struct insn *in = &s->v[k];

		if ((size_t)k != i && in->shape == shape && in->base == base &&
		    in->disp == disp)
			return true;
	}
	return false;
}

/*
 * An allocation: `mov 0x8(%P),%B` (bp = pool->freeblock) with, nearby,
 * `mov (%B),%N` (next = *bp), `mov %N,0x8(%P)` (pool->freeblock = next)
 * and `addl $1,(%P)` (++pool->ref.count). The site is the instruction
 * after the load, the first that sees the block in %B.
 */
static bool is_alloc_site(const struct scan *s, size_t i, struct raw_site *out)
{
	const struct insn *in = &s->v[i];

	if (in->shape != SH_LOAD || in->disp != 8 || in->reg_bytes != 8 ||
	    i + 1 >= s->n)
		return false;
	if (!near(s, i, 1, 6, SH_LOAD, in->reg, 0) ||
	    !near(s, i, -4, 6, SH_STORE, in->base, 8) ||
	    !near(s, i, -4, 6, SH_INC32, in->base, 0))
		return false;
	*out = (struct raw_site){ i + 1, MT_PYSITE_ALLOC, in->reg, in->base };
	return true;
}

static bool pool_mask_near(const struct scan *s, size_t i, uint8_t pool)
{
	size_t from = i > POOL_MASK_WINDOW ? i - POOL_MASK_WINDOW : 0;
	size_t to = s->n - i > POOL_MASK_WINDOW ? i + POOL_MASK_WINDOW : s->n - 1;

	for (size_t k = from; k <= to; k++)
		if (s->v[k].shape == SH_POOL_MASK && s->v[k].reg == pool)
			return true;
	return false;
}

/*
 * A free: `mov %B,0x8(%P)` (pool->freeblock = p) with, just before,
 * `mov 0x8(%P),%X` (lastfree = pool->freeblock); near it, a read or
 * decrement of (%P) (--pool->ref.count) or, just before, a store to (%B)
 * (*(block **)p = lastfree); and `and $~0x3fff,%P` (pool = POOL_ADDR(p))
 * not far. The site is the store.
 */
static bool is_free_site(const struct scan *s, size_t i, struct raw_site *out)
{
	const struct insn *in = &s->v[i];
	uint8_t block = in->reg, pool = in->base;

	if (in->shape != SH_STORE || in->disp != 8 || in->reg_bytes != 8)
		return false;
	if (!near(s, i, -6, -1, SH_LOAD, pool, 8))
		return false;
	if (!near(s, i, -6, 4, SH_LOAD, pool, 0) &&
	    !near(s, i, -6, 4, SH_DEC32, pool, 0) &&
	    !near(s, i, -6, -1, SH_STORE, block, 0))
		return false;
	if (!pool_mask_near(s, i, pool))
		return false;
	*out = (struct raw_site){ i, MT_PYSITE_FREE, block, pool };
	return true;
}

/* Is the code at addr entered by a direct jump or call from anywhere but
 * the allowed sources? */
static bool entered(const struct scan *s, uint64_t addr, const uint64_t *allowed,
		    size_t n_allowed)
{
	size_t lo = 0, hi = s->n_edges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->edges[mid].target < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < s->n_edges && s->edges[lo].target == addr; lo++) {
		size_t k = 0;

		while (k < n_allowed && allowed[k] != s->edges[lo].source)
			k++;
		if (k == n_allowed)
			return true;
	}
	return false;
}

/*
 * A free whose store is followed by `jmp X` is a copy of the end of
 * another free, which the compiler duplicated: X lies just after the other
 * free's store, with the pool in the same register. Both reach the jcc
 * after X. Fills the addresses of the jmps of the copies landing in the
 * JCC_SEARCH instructions after site r, returns how many (at most max).
 */
static size_t tails_into(const struct scan *s, const struct raw_site *sites,
			 size_t n_sites, const struct raw_site *r,
			 uint64_t *jmps, size_t max)
{
	size_t n = 0;

	for (size_t t = 0; t < n_sites && n < max; t++) {
		const struct insn *jmp;
		size_t x;

		if (sites[t].kind != MT_PYSITE_FREE || sites[t].pool != r->pool ||
		    sites[t].at + 1 >= s->n)
			continue;
		jmp = &s->v[sites[t].at + 1];
		if (jmp->flow != FL_JMP || !jmp->target)
			continue;
		x = index_of(s, jmp->target);
		if (x != SIZE_MAX && x > r->at && x < r->at + JCC_SEARCH)
			jmps[n++] = jmp->addr;
	}
	return n;
}

/*
 * The first jcc from instruction at on, reached by straight-line code that
 * nothing else enters (but the allowed sources) and along which the block
 * stays readable: in register block, else (block == NO_REG or written
 * over) as pool->freeblock, *(pool + 8), as long as register pool holds.
 * Returns its index and sets *via_pool, or SIZE_MAX.
 */
static size_t cheap_point(const struct scan *s, size_t at, uint8_t block,
			  uint8_t pool, const uint64_t *allowed, size_t n_allowed,
			  bool *via_pool)
{
	for (size_t k = at; k < at + JCC_SEARCH && k < s->n; k++) {
		const struct insn *in = &s->v[k];

		if (k > at && entered(s, in->addr, allowed, n_allowed))
			return SIZE_MAX;
		if (in->flow == FL_JCC) {
			*via_pool = block == NO_REG;
			return k;
		}
		if (in->flow != FL_NEXT)
			return SIZE_MAX;
		if (block != NO_REG && (in->writes & (1u << block)))
			block = NO_REG;
		if (pool != NO_REG && (in->writes & (1u << pool)))
			pool = NO_REG;
		if (block == NO_REG && pool == NO_REG)
			return SIZE_MAX;
	}
	return SIZE_MAX;
}

/* Up to this many jumps into one site's path are followed. */
#define MAX_TAILS 8

static int push_raw(struct raw_site **v, size_t *n, size_t *cap,
		    const struct raw_site *r)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		struct raw_site *p = realloc(*v, c * sizeof(*p));

		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = c;
	}
	(*v)[(*n)++] = *r;
	return 0;
}

/* Every site found, as a probe point, in out->sites (unsorted). */
static int find_sites(struct scan *s, struct pymalloc_sites *out)
{
	struct raw_site *raw = NULL;
	size_t n_raw = 0, cap = 0;
	int err = 0;

	for (size_t i = 0; i < s->n && !err; i++) {
		struct raw_site r;

		if (is_alloc_site(s, i, &r))
			s->v[i].alloc_load = true;	/* for find_new_pool */
		else if (!is_free_site(s, i, &r))
			continue;
		err = push_raw(&raw, &n_raw, &cap, &r);
	}
	if (err)
		goto out;
	out->sites = calloc(n_raw ? n_raw : 1, sizeof(*out->sites));
	if (!out->sites) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_raw; i++) {
		const struct raw_site *r = &raw[i];
		uint8_t pool = r->kind == MT_PYSITE_FREE ? r->pool : NO_REG;
		uint8_t block = r->block, reg;
		uint64_t allowed[MAX_TAILS];
		size_t n_allowed = 0, k;
		bool via_pool = false;

		/* After an allocation, pool->freeblock is the next block:
		 * only the register says which was taken. */
		if (r->kind == MT_PYSITE_FREE)
			n_allowed = tails_into(s, raw, n_raw, r, allowed, MAX_TAILS);
		/* On the path from a copied tail the block is in whatever
		 * register that copy used: only pool->freeblock is common. */
		if (n_allowed)
			block = NO_REG;
		/* A tail itself ends at its jmp: no point of its own. */
		k = cheap_point(s, r->at, block, pool, allowed, n_allowed, &via_pool);
		if (k == SIZE_MAX)
			continue;
		reg = via_pool ? r->pool : r->block;
		out->sites[out->n_sites++] = (struct pymalloc_site){
			.vaddr = s->v[k].addr,
			.cookie = r->kind | (uint32_t)reg << 8 |
				  (via_pool ? MT_PYSITE_VIA_POOL : 0),
		};
	}
out:
	free(raw);
	return err;
}

static int by_site(const void *a, const void *b)
{
	const struct pymalloc_site *x = a, *y = b;

	if (x->vaddr != y->vaddr)
		return x->vaddr < y->vaddr ? -1 : 1;
	return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}

/* Sort, drop repeats (two sites sharing a jcc with the same register),
 * fill in file offsets and counts. */
static void finish_sites(const struct scan *s, struct pymalloc_sites *out)
{
	size_t kept = 0;

	if (out->n_sites)
		qsort(out->sites, out->n_sites, sizeof(*out->sites), by_site);
	for (size_t i = 0; i < out->n_sites; i++) {
		struct pymalloc_site *site = &out->sites[i];

		if (kept && !by_site(site, &out->sites[kept - 1]))
			continue;
		/* Sites are decoded instructions: in a section, always. */
		offset_of(s, site->vaddr, &site->offset);
		if ((site->cookie & 0xff) == MT_PYSITE_ALLOC)
			out->n_alloc++;
		else
			out->n_free++;
		out->sites[kept++] = *site;
	}
	out->n_sites = kept;
}

/* The first direct call on the straight-line path from instruction i,
 * following unconditional jumps; 0 if there is none within a few steps. */
static uint64_t first_call(const struct scan *s, size_t i)
{
	for (int steps = 0; steps < 8 && i < s->n; steps++) {
		const struct insn *in = &s->v[i];

		switch (in->flow) {
		case FL_CALL:
			return in->target;
		case FL_JMP:
			i = in->target ? index_of(s, in->target) : SIZE_MAX;
			break;
		case FL_NEXT:
			i++;
			break;
		default:
			return 0;
		}
	}
	return 0;
}

/* Is there a `cmp` of register P with pool->nextpool, 0x10(%P), right
 * before the jump at i? Either `cmp 0x10(%P),%P` or `mov 0x10(%P),%X ;
 * cmp %X,%P`. */
static bool is_nextpool_test(const struct scan *s, size_t i, uint8_t *pool)
{
	const struct insn *cmp, *load;

	if (i < 1)
		return false;
	cmp = &s->v[i - 1];
	if (cmp->shape == SH_CMP_RM && cmp->disp == 0x10 && cmp->reg == cmp->base) {
		*pool = cmp->base;
		return true;
	}
	if (cmp->shape != SH_CMP_RR || i < 2)
		return false;
	load = &s->v[i - 2];
	if (load->shape != SH_LOAD || load->disp != 0x10 || load->reg_bytes != 8)
		return false;
	if ((load->reg == cmp->reg && load->base == cmp->base) ||
	    (load->reg == cmp->base && load->base == cmp->reg)) {
		*pool = load->base;
		return true;
	}
	return false;
}

static int by_value(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

/* The two branches of a pool != pool->nextpool test. */
struct nextpool_test {
	size_t jcc;		/* index of the je or jne */
	size_t nonempty;	/* first instruction of the branch that pops */
	size_t empty;		/* first instruction of the other one */
	uint8_t pool;		/* register holding the pool */
};

/*
 * Is the instruction at i the je or jne of an inlined pymalloc_alloc's
 *     if (pool != pool->nextpool) { ++pool->ref.count; bp = pool->freeblock; ...
 *     } else { bp = allocate_from_new_pool(size); }
 * that is, a jump after a nextpool test whose one branch starts with an
 * allocation site's bp = pool->freeblock (within 4 instructions)?
 */
static bool is_pool_branch(const struct scan *s, size_t i, struct nextpool_test *t)
{
	const struct insn *j = &s->v[i];
	size_t taken, other;
	uint8_t pool;

	if (j->flow != FL_JCC || (j->id != X86_INS_JE && j->id != X86_INS_JNE) ||
	    !is_nextpool_test(s, i, &pool))
		return false;
	taken = index_of(s, j->target);
	other = i + 1;
	if (taken == SIZE_MAX || other >= s->n)
		return false;
	/* je: taken when pool == pool->nextpool, the list is empty */
	*t = (struct nextpool_test){
		.jcc = i,
		.nonempty = j->id == X86_INS_JE ? other : taken,
		.empty = j->id == X86_INS_JE ? taken : other,
		.pool = pool,
	};
	for (size_t k = t->nonempty; k < t->nonempty + 4 && k < s->n; k++)
		if (s->v[k].alloc_load && s->v[k].base == pool)
			return true;
	return false;
}

/*
 * The value most often found in v (sorted in place), if it is more than
 * half of out_of and at least two of them; else 0.
 */
static uint64_t majority(uint64_t *v, size_t n, size_t out_of)
{
	size_t best = 0, run = 0;
	uint64_t found = 0;

	if (n)
		qsort(v, n, sizeof(*v), by_value);
	for (size_t i = 0; i < n; i++) {
		run = i && v[i] == v[i - 1] ? run + 1 : 1;
		if (run > best) {
			best = run;
			found = v[i];
		}
	}
	return best >= 2 && best * 2 > out_of ? found : 0;
}

static int push_u64(uint64_t **v, size_t *n, size_t *cap, uint64_t x)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		uint64_t *p = realloc(*v, c * sizeof(*p));

		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = c;
	}
	(*v)[(*n)++] = x;
	return 0;
}

/*
 * allocate_from_new_pool: the function the empty branch of every inlined
 * pool != pool->nextpool test calls (is_pool_branch). It is the call
 * target most of these tests lead to: more than half of them, and at
 * least two. Sets *found, 0 if none is.
 */
static int find_new_pool(const struct scan *s, uint64_t *found)
{
	size_t n_tests = 0, n_calls = 0, cap = 0;
	uint64_t *calls = NULL;
	int err = 0;

	*found = 0;
	for (size_t i = 0; i < s->n && !err; i++) {
		struct nextpool_test t;
		uint64_t call;

		if (!is_pool_branch(s, i, &t))
			continue;
		n_tests++;
		call = first_call(s, t.empty);
		if (call)
			err = push_u64(&calls, &n_calls, &cap, call);
	}
	if (!err)
		*found = majority(calls, n_calls, n_tests);
	free(calls);
	return err;
}

/* ---- The requested size ------------------------------------------------
 *
 * At an allocation site the block is known, not the size asked for. But
 * the empty branch of the same nextpool test, when allocate_from_new_pool
 * returns NULL, falls back to the raw allocator with that size:
 *
 *     bp = allocate_from_new_pool(size_class);
 *     if (bp == NULL) return PyMem_RawMalloc(nbytes);   (inlined: malloc)
 *
 * So whatever the fallback passes to malloc in %rdi, a constant or a
 * register the fallback did not change since the test, is the request at
 * the site too, if the pop path from the test to the site's jcc leaves
 * that register alone. find_sizes walks the fallback with a tiny symbolic
 * interpreter: what each register holds, in terms of the registers at the
 * test (struct value).
 */

enum value_kind {
	VAL_UNKNOWN,
	VAL_CONST,	/* the constant c */
	VAL_REG,	/* what register r held at the nextpool test */
};

struct value {
	uint8_t kind;	/* enum value_kind */
	uint8_t reg;
	int32_t c;
};

/* Spill slots, [%rsp + disp], the walk remembers. */
#define MAX_SLOTS 8

/* A 64-bit register stored at [%rsp + disp]. */
struct spill {
	int32_t disp;
	struct value v;
};

struct machine {
	struct value regs[MT_REG_COUNT];
	struct spill slots[MAX_SLOTS];
	size_t n_slots;
};

/* How far the fallback is followed, in instructions, and through how
 * many conditional jumps after the NULL test. */
#define FALLBACK_STEPS 40
#define FALLBACK_JCCS 4

/* The System V caller-saved registers: what a call leaves unknown. */
#define CALLER_SAVED ((1u << MT_REG_RAX) | (1u << MT_REG_RCX) | \
		      (1u << MT_REG_RDX) | (1u << MT_REG_RSI) | \
		      (1u << MT_REG_RDI) | (1u << MT_REG_R8) | \
		      (1u << MT_REG_R9) | (1u << MT_REG_R10) | (1u << MT_REG_R11))

static void forget(struct machine *m, uint16_t regs)
{
	for (uint8_t r = 0; r < MT_REG_COUNT; r++)
		if (regs & (1u << r))
			m->regs[r] = (struct value){ VAL_UNKNOWN, 0, 0 };
}

/* Forget the slots that bytes [disp, disp + len) of the stack overlap. */
static void clobber(struct machine *m, int32_t disp, int32_t len)
{
	size_t kept = 0;

	for (size_t k = 0; k < m->n_slots; k++)
		if ((int64_t)m->slots[k].disp + 8 <= disp ||
		    (int64_t)disp + len <= m->slots[k].disp)
			m->slots[kept++] = m->slots[k];
	m->n_slots = kept;
}

/* Instructions that leave the flags alone (moves, of any kind). */
static bool keeps_flags(uint16_t id)
{
	switch (id) {
	case X86_INS_MOV: case X86_INS_MOVABS: case X86_INS_MOVZX:
	case X86_INS_MOVSX: case X86_INS_MOVSXD: case X86_INS_LEA:
	case X86_INS_MOVAPS: case X86_INS_MOVUPS: case X86_INS_MOVDQA:
	case X86_INS_MOVDQU: case X86_INS_MOVQ: case X86_INS_MOVD:
		return true;
	}
	return false;
}

static struct value *slot(struct machine *m, int32_t disp)
{
	for (size_t k = 0; k < m->n_slots; k++)
		if (m->slots[k].disp == disp)
			return &m->slots[k].v;
	return NULL;
}

/*
 * One instruction that neither jumps nor calls. Only what is certain is
 * kept: full 64-bit copies and spills, constants; anything else an
 * instruction writes becomes unknown. tested is the register the last
 * `test %R,%R` looked at, while the flags are still its (NO_REG else).
 */
static void step(struct machine *m, const struct insn *in, uint8_t *tested)
{
	struct value v = { VAL_UNKNOWN, 0, 0 }, *sv;

	switch (in->shape) {
	case SH_MOV_RR:
		v = m->regs[in->base];
		break;
	case SH_MOV_IMM:
		/* mov $imm,%r32 zero-extends: the same value for imm >= 0 */
		if (in->imm >= 0 && (in->reg_bytes == 4 || in->reg_bytes == 8))
			v = (struct value){ VAL_CONST, 0, in->imm };
		break;
	case SH_CMOVNE_RR:
		/* test %R,%R; mov $1,%X; cmovne %R,%X: X = R ? R : 1, the
		 * raw allocator's malloc(0) -> malloc(1). pymalloc only
		 * serves requests of 1 byte or more, so at a site R != 0
		 * and the request is R. */
		if (*tested == in->base && m->regs[in->reg].kind == VAL_CONST &&
		    m->regs[in->reg].c == 1)
			v = m->regs[in->base];
		break;
	case SH_LOAD:
		sv = in->base == MT_REG_RSP && in->reg_bytes == 8 ?
			     slot(m, in->disp) : NULL;
		if (sv)
			v = *sv;
		break;
	case SH_STORE:
		if (in->base != MT_REG_RSP)
			break;
		/* Whatever it overwrites, in whole or in part, is gone; a
		 * full 64-bit spill is remembered. */
		clobber(m, in->disp, in->reg_bytes);
		if (in->reg_bytes == 8 && m->n_slots < MAX_SLOTS)
			m->slots[m->n_slots++] = (struct spill){
				in->disp, m->regs[in->reg] };
		break;
	default:
		/* Any other write to the stack may write a slot; a new %rsp
		 * moves them all. */
		if (in->stack_write || (in->writes & (1u << MT_REG_RSP)))
			m->n_slots = 0;
		break;
	}
	forget(m, in->writes);
	if (in->shape == SH_MOV_RR || in->shape == SH_MOV_IMM ||
	    in->shape == SH_CMOVNE_RR || in->shape == SH_LOAD)
		m->regs[in->reg] = in->reg_bytes == 8 || in->shape == SH_MOV_IMM ?
					   v : (struct value){ VAL_UNKNOWN, 0, 0 };
	/* Moves leave the flags as they were; anything else may not. And
	 * the flags say nothing of a register written since. */
	if (in->shape == SH_TEST_RR)
		*tested = in->reg;
	else if (!keeps_flags(in->id) ||
		 (*tested != NO_REG && (in->writes & (1u << *tested))))
		*tested = NO_REG;
}

/*
 * Walk the empty branch of test t: the call to allocate_from_new_pool,
 * `test %rax,%rax; jne` (a block: back to the pop path), then, on the
 * NULL path, conditional jumps not taken, up to the next direct call,
 * the raw allocator. Sets *raw_call to its target and *arg to what %rdi
 * then holds. false if the branch has not this shape.
 */
static bool walk_fallback(const struct scan *s, const struct nextpool_test *t,
			  uint64_t new_pool, uint64_t *raw_call, struct value *arg)
{
	struct machine m = { .n_slots = 0 };
	bool called = false, null_tested = false;
	uint8_t tested = NO_REG;
	size_t i = t->empty;
	int jccs = 0;

	for (uint8_t r = 0; r < MT_REG_COUNT; r++)
		m.regs[r] = (struct value){ VAL_REG, r, 0 };
	for (int steps = 0; steps < FALLBACK_STEPS && i < s->n; steps++) {
		const struct insn *in = &s->v[i];

		switch (in->flow) {
		case FL_NEXT:
			step(&m, in, &tested);
			i++;
			break;
		case FL_JMP:
			i = in->target ? index_of(s, in->target) : SIZE_MAX;
			break;
		case FL_CALL:
			if (!called) {
				/* Nothing but allocate_from_new_pool first. */
				if (in->target != new_pool)
					return false;
				called = true;
				forget(&m, CALLER_SAVED);
				tested = NO_REG;
				i++;
				break;
			}
			if (!null_tested || !in->target)
				return false;
			*raw_call = in->target;
			*arg = m.regs[MT_REG_RDI];
			return true;
		case FL_JCC:
			/* Before the call: not the shape; after it, first
			 * the NULL test, which must fall through on NULL. */
			if (!called)
				return false;
			if (!null_tested) {
				if (in->id != X86_INS_JNE || tested != MT_REG_RAX)
					return false;
				null_tested = true;
			} else if (++jccs > FALLBACK_JCCS) {
				return false;
			}
			tested = NO_REG;
			i++;
			break;
		default:
			return false;
		}
	}
	return false;
}

/*
 * The allocation site test t leads to: the first jcc on the straight line
 * from the nonempty branch, which nothing else enters (by a direct jump or
 * by running on into it), an allocation
 * site's (sites sorted by vaddr). Sets *regs to the registers written on
 * the way. NULL if there is none.
 */
static struct pymalloc_site *site_of(const struct scan *s,
				     const struct nextpool_test *t,
				     struct pymalloc_sites *out, uint16_t *regs)
{
	uint64_t from = s->v[t->jcc].addr;
	const struct insn *before = t->nonempty ? &s->v[t->nonempty - 1] : NULL;

	*regs = 0;
	/* A nonempty branch that is the test's jump target may also be
	 * where the code before it runs on into (another copy's fall
	 * through, with another size): only when that code cannot. */
	if (t->nonempty != t->jcc + 1 && before && before->flow != FL_JMP &&
	    before->id != X86_INS_RET && before->id != X86_INS_UD2 &&
	    before->id != X86_INS_HLT && before->id != X86_INS_INT3)
		return NULL;
	for (size_t k = t->nonempty; k < t->nonempty + 4 + JCC_SEARCH && k < s->n;
	     k++) {
		const struct insn *in = &s->v[k];
		size_t lo = 0, hi = out->n_sites;

		/* The nonempty branch may be the test's own jump target. */
		if (entered(s, in->addr, &from, k == t->nonempty ? 1 : 0))
			return NULL;
		if (in->flow == FL_JCC) {
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;

				if (out->sites[mid].vaddr < in->addr)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (lo < out->n_sites && out->sites[lo].vaddr == in->addr &&
			    (out->sites[lo].cookie & 0xff) == MT_PYSITE_ALLOC)
				return &out->sites[lo];
			return NULL;
		}
		if (in->flow != FL_NEXT)
			return NULL;
		*regs |= in->writes;
	}
	return NULL;
}

/* The size bits of a site's cookie for what the fallback passes, 0 when
 * unsure. */
static uint32_t size_bits(struct value arg, uint16_t written)
{
	if (arg.kind == VAL_CONST && arg.c >= 1 && arg.c <= 512)
		return MT_PYSITE_SIZE_CONST | (uint32_t)arg.c << MT_PYSITE_SIZE_SHIFT;
	if (arg.kind == VAL_REG && arg.reg != MT_REG_RSP &&
	    !(written & (1u << arg.reg)))
		return MT_PYSITE_SIZE_REG | (uint32_t)arg.reg << MT_PYSITE_SIZE_SHIFT;
	return 0;
}

/* A cookie bit no probe sees: find_sizes marks sites with it while it
 * works. */
#define SIZE_CONFLICT (1u << 31)

/* What one nextpool test says of its site. */
struct fallback {
	struct pymalloc_site *site;
	uint64_t raw_call;
	uint32_t bits;
};

/*
 * The requested size at every allocation site that a fallback tells
 * (see above), in the sites' cookies. The raw allocator is the call most
 * fallbacks make (PyObject_Malloc's copies outnumber PyObject_Calloc's,
 * whose calloc(nelem, elsize) is not a size): fallbacks calling anything
 * else tell nothing. Neither does a site that two tests disagree on.
 */
static int find_sizes(const struct scan *s, uint64_t new_pool,
		      struct pymalloc_sites *out)
{
	struct fallback *fb = NULL;
	uint64_t *calls = NULL, raw = 0;
	size_t n_fb = 0, cap_fb = 0, n_calls = 0, cap_calls = 0;
	int err = 0;

	for (size_t i = 0; i < s->n && !err; i++) {
		struct nextpool_test t;
		struct value arg;
		uint16_t written;
		uint64_t call;

		if (!is_pool_branch(s, i, &t) ||
		    !walk_fallback(s, &t, new_pool, &call, &arg))
			continue;
		err = push_u64(&calls, &n_calls, &cap_calls, call);
		if (err)
			break;
		if (n_fb == cap_fb) {
			size_t c = cap_fb ? cap_fb * 2 : 256;
			struct fallback *p = realloc(fb, c * sizeof(*p));

			if (!p) {
				err = -ENOMEM;
				break;
			}
			fb = p;
			cap_fb = c;
		}
		fb[n_fb].site = site_of(s, &t, out, &written);
		fb[n_fb].raw_call = call;
		fb[n_fb].bits = size_bits(arg, written);
		n_fb += fb[n_fb].site != NULL;
	}
	if (!err)
		raw = majority(calls, n_calls, n_calls);
	for (size_t k = 0; k < n_fb; k++)
		if (fb[k].raw_call != raw)
			fb[k].bits = 0;
	/* Two tests leading to one site with different answers: none. */
	for (size_t k = 0; k < n_fb && !err; k++)
		for (size_t j = 0; j < k; j++)
			if (fb[j].site == fb[k].site && fb[j].bits != fb[k].bits)
				fb[j].site->cookie |= SIZE_CONFLICT;
	for (size_t k = 0; k < n_fb && !err; k++)
		if (!(fb[k].site->cookie & SIZE_CONFLICT))
			fb[k].site->cookie |= fb[k].bits;
	for (size_t k = 0; k < n_fb; k++)
		fb[k].site->cookie &= ~SIZE_CONFLICT;
	free(fb);
	free(calls);
	return err;
}

int pymalloc_sites_find(const char *path, struct pymalloc_sites *out)
{
	struct scan s = { 0 };
	uint64_t new_pool;
	int err;

	memset(out, 0, sizeof(*out));
	err = read_file(path, &s);
	if (!err)
		err = find_sites(&s, out);
	if (err)
		goto out;
	finish_sites(&s, out);
	if (!out->n_sites) {
		err = -ENOENT;
		goto out;
	}
	err = find_new_pool(&s, &new_pool);
	if (!err && new_pool && !offset_of(&s, new_pool, &out->new_pool_offset))
		out->new_pool_vaddr = new_pool;
	if (!err && new_pool)
		err = find_sizes(&s, new_pool, out);
	for (size_t i = 0; !err && i < out->n_sites; i++)
		if (out->sites[i].cookie & (MT_PYSITE_SIZE_REG | MT_PYSITE_SIZE_CONST))
			out->n_sized++;
out:
	scan_free(&s);
	if (err)
		pymalloc_sites_free(out);
	return err;
}

void pymalloc_sites_free(struct pymalloc_sites *s)
{
	if (!s)
		return;
	free(s->sites);
	memset(s, 0, sizeof(*s));
}
