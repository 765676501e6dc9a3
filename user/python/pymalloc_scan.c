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
#include "util/side_task.h"
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

/*
 * Linearly, as objdump -d does, from addr (code holds the size bytes from
 * there to the section's end) until an instruction starts at or after
 * stop. Bytes capstone cannot decode (data, padding, instructions it does
 * not know) are skipped one at a time until decoding falls back in step,
 * which x86 code does within a few bytes.
 */
static int decode(csh cs, cs_insn *ci, const uint8_t *code, size_t size,
		  uint64_t addr, uint64_t stop, struct scan *s)
{
	while (size && addr < stop) {
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

/*
 * Decoding is most of the time --python-objects takes to attach (0.35 s of
 * Debian's python3.11), so a large section is decoded in parts, side by
 * side, one per CPU. A part starts at an arbitrary byte, maybe inside an
 * instruction; the part before it decodes on past that byte until one of
 * its instructions starts where one of the later part's does. From that
 * address on both decode the same bytes the same way, so the later part
 * is taken from there: the instructions are exactly those of one linear
 * pass. Parts that never meet (nothing seen on real code) leave the
 * section to one pass.
 */
#define PART_MIN_BYTES (512u << 10)
#define PARTS_MAX 8
/* How far past its end a part decodes to meet the next. */
#define PART_OVERRUN 4096

struct part {
	const struct exec_section *sec;
	uint64_t from, to;	/* the part's own bytes, by address */
	struct scan out;	/* only out.v, out.n, out.cap */
	int err;
};

struct parts {
	struct part *v;
	size_t n;
	size_t next;		/* the next part to decode (atomic) */
};

static int decode_part(struct part *p)
{
	const struct exec_section *sec = p->sec;
	uint64_t skip = p->from - sec->addr, end = sec->addr + sec->size;
	uint64_t stop = p->to == end ? end : p->to + PART_OVERRUN;
	cs_insn *ci;
	csh cs;
	int err;

	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return -ENOSYS;	/* a capstone built without x86 */
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	ci = cs_malloc(cs);
	/* About 4 bytes an instruction: one allocation for most parts. */
	p->out.cap = (stop - p->from) / 4 + 1;
	p->out.v = malloc(p->out.cap * sizeof(*p->out.v));
	err = ci && p->out.v ? decode(cs, ci, sec->bytes + skip, sec->size - skip, p->from,
				      stop, &p->out)
			     : -ENOMEM;
	if (ci)
		cs_free(ci, 1);
	cs_close(&cs);
	return err;
}

/* Decode parts until none is left: run by each of the threads at once. */
static void decode_parts(void *arg)
{
	struct parts *ps = arg;
	size_t i;

	while ((i = __atomic_fetch_add(&ps->next, 1, __ATOMIC_RELAXED)) < ps->n)
		ps->v[i].err = decode_part(&ps->v[i]);
}

/* Append the instructions of v[from, to) to s. */
static int append(struct scan *s, const struct insn *v, size_t from, size_t to)
{
	if (vec_reserve(&s->v, &s->cap, s->n + (to - from), sizeof(*s->v)))
		return -ENOMEM;
	memcpy(s->v + s->n, v + from, (to - from) * sizeof(*v));
	s->n += to - from;
	return 0;
}

/*
 * The parts of one section, in order, joined into s: each from where the
 * part before met it. -EAGAIN when two parts do not meet.
 */
static int join_parts(struct part *v, size_t n, struct scan *s)
{
	size_t start = 0;	/* in v[k].out: the first instruction taken */

	for (size_t k = 0; k < n; k++) {
		const struct scan *cur = &v[k].out;
		size_t end = cur->n;

		if (k + 1 < n) {
			const struct scan *next = &v[k + 1].out;
			size_t i = FIRST_AT_LEAST(cur->v, cur->n, addr, v[k + 1].from);
			size_t j = SIZE_MAX;

			for (; i < cur->n && (j = scan_index_of(next, cur->v[i].addr)) == SIZE_MAX;
			     i++)
				;
			/* Met, and early enough that the next part is in
			 * step before its own end. */
			if (i == cur->n || next->v[j].addr >= v[k + 1].to)
				return -EAGAIN;
			end = i;
			if (append(s, cur->v, start, end))
				return -ENOMEM;
			start = j;
			continue;
		}
		if (append(s, cur->v, start, end))
			return -ENOMEM;
	}
	return 0;
}

static int by_addr(const void *a, const void *b)
{
	const struct exec_section *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* CPUs to decode on: those this process may run on, at most PARTS_MAX. */
static size_t scan_parallelism(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > PARTS_MAX ? PARTS_MAX : (size_t)n;
}

/* Cut each of s's sections into parts of at least PART_MIN_BYTES, at most
 * `threads` of them; the parts of one section are adjacent in v. */
static size_t plan_parts(const struct scan *s, size_t threads, struct part *v)
{
	uint64_t end = 0;
	size_t n = 0;

	for (size_t i = 0; i < s->n_secs; i++) {
		const struct exec_section *sec = &s->secs[i];
		uint64_t k = sec->size / PART_MIN_BYTES, step;

		/* Overlapping sections (a corrupt file) would break the
		 * ordering: the first one wins. */
		if (sec->addr < end)
			continue;
		end = sec->addr + sec->size;
		k = k < 1 ? 1 : k > threads ? threads : k;
		step = sec->size / k;
		for (uint64_t j = 0; j < k; j++)
			v[n++] = (struct part){
				.sec = sec,
				.from = sec->addr + j * step,
				.to = j + 1 == k ? end : sec->addr + (j + 1) * step,
			};
	}
	return n;
}

/*
 * Decode s's sections (sorted by address, total bytes in all) on `threads`
 * threads, into s->v. 0 or a negative errno.
 */
static int decode_sections(struct scan *s, uint64_t total, size_t threads)
{
	struct parts ps = { .v = calloc(s->n_secs * threads + 1, sizeof(*ps.v)) };
	struct side_task helpers[PARTS_MAX];
	size_t started = 0;
	int err = 0;

	if (!ps.v)
		return -ENOMEM;
	ps.n = plan_parts(s, threads, ps.v);
	/* A helper that gets no thread decodes at once, here: the parts
	 * still all get done. */
	for (; started + 1 < threads && started + 1 < ps.n; started++)
		side_task_start(&helpers[started], decode_parts, &ps);
	decode_parts(&ps);
	for (size_t i = 0; i < started; i++)
		side_task_finish(&helpers[i]);

	s->cap = total / 4 + 1;
	s->v = malloc(s->cap * sizeof(*s->v));
	if (!s->v)
		err = -ENOMEM;
	for (size_t i = 0; i < ps.n && !err; i++)
		err = ps.v[i].err;
	for (size_t i = 0, k; i < ps.n && !err; i = k) {
		size_t before = s->n;

		for (k = i + 1; k < ps.n && ps.v[k].sec == ps.v[i].sec; k++)
			;
		err = join_parts(ps.v + i, k - i, s);
		if (err == -EAGAIN) {
			/* The parts never met: the section in one pass. */
			struct part whole = { .sec = ps.v[i].sec, .from = ps.v[i].sec->addr,
					      .to = ps.v[i].sec->addr + ps.v[i].sec->size };

			s->n = before;
			err = decode_part(&whole);
			if (!err)
				err = append(s, whole.out.v, 0, whole.out.n);
			free(whole.out.v);
		}
	}
	for (size_t i = 0; i < ps.n; i++)
		free(ps.v[i].out.v);
	free(ps.v);
	return err;
}

/* The executable sections of an x86-64 ELF file of file_size bytes,
 * decoded. */
static int decode_elf(Elf *elf, uint64_t file_size, size_t threads, struct scan *s)
{
	Elf_Scn *scn = NULL;
	uint64_t total = 0;
	size_t nscn;

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

	return decode_sections(s, total, threads);
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

int scan_fd_threads(int fd, struct scan *s, size_t threads)
{
	struct stat st;
	Elf *elf;
	int err;

	if (fstat(fd, &st))
		return -errno;
	err = elf_file_open(fd, &elf);
	if (err)
		return err;
	err = decode_elf(elf, (uint64_t)st.st_size, threads ? threads : 1, s);
	elf_end(elf);
	if (!err)
		err = collect_edges(s);
	return err;
}

int scan_fd(int fd, struct scan *s)
{
	return scan_fd_threads(fd, s, scan_parallelism());
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
