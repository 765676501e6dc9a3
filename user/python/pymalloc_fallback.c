// SPDX-License-Identifier: MIT
/*
 * The requested size's abstract machine (see pymalloc_fallback.h): each
 * register's value, and up to MAX_SLOTS 64-bit spills to the stack.
 */
#include <capstone/capstone.h>
#include <stdbool.h>
#include <stdint.h>

#include "memtrace_python.h"
#include "pymalloc_fallback.h"

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
bool fallback_walk(const struct scan *s, size_t from, uint64_t new_pool,
		   uint64_t *raw_call, struct value *arg)
{
	struct machine m = { .n_slots = 0 };
	bool called = false, null_tested = false;
	uint8_t tested = NO_REG;
	size_t i = from;
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
			i = in->target ? scan_index_of(s, in->target) : SIZE_MAX;
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
