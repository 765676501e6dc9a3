// SPDX-License-Identifier: MIT
/*
 * Where on a function its uprobe costs least (see probe_site.h).
 *
 * The walk from the first byte keeps, for each argument, the set of
 * registers that still hold it: a 64-bit register-to-register mov copies
 * it, any other write to a register (in any width) removes that register.
 * Only instructions from a short list that cannot touch memory or the
 * stack pointer are walked over; the first emulated one is the site.
 */
#include <stdbool.h>
#include <string.h>
#include <capstone/capstone.h>

#include "probe_site.h"

#define NO_REG 0xff

/* enum mt_reg of a capstone general register, in any width, or NO_REG. */
static uint8_t gpr(unsigned int r)
{
	switch (r) {
	case X86_REG_RAX: case X86_REG_EAX: case X86_REG_AX: case X86_REG_AL:
	case X86_REG_AH:
		return MT_REG_RAX;
	case X86_REG_RBX: case X86_REG_EBX: case X86_REG_BX: case X86_REG_BL:
	case X86_REG_BH:
		return MT_REG_RBX;
	case X86_REG_RCX: case X86_REG_ECX: case X86_REG_CX: case X86_REG_CL:
	case X86_REG_CH:
		return MT_REG_RCX;
	case X86_REG_RDX: case X86_REG_EDX: case X86_REG_DX: case X86_REG_DL:
	case X86_REG_DH:
		return MT_REG_RDX;
	case X86_REG_RSI: case X86_REG_ESI: case X86_REG_SI: case X86_REG_SIL:
		return MT_REG_RSI;
	case X86_REG_RDI: case X86_REG_EDI: case X86_REG_DI: case X86_REG_DIL:
		return MT_REG_RDI;
	case X86_REG_RBP: case X86_REG_EBP: case X86_REG_BP: case X86_REG_BPL:
		return MT_REG_RBP;
	case X86_REG_RSP: case X86_REG_ESP: case X86_REG_SP: case X86_REG_SPL:
		return MT_REG_RSP;
	case X86_REG_R8: case X86_REG_R8D: case X86_REG_R8W: case X86_REG_R8B:
		return MT_REG_R8;
	case X86_REG_R9: case X86_REG_R9D: case X86_REG_R9W: case X86_REG_R9B:
		return MT_REG_R9;
	case X86_REG_R10: case X86_REG_R10D: case X86_REG_R10W: case X86_REG_R10B:
		return MT_REG_R10;
	case X86_REG_R11: case X86_REG_R11D: case X86_REG_R11W: case X86_REG_R11B:
		return MT_REG_R11;
	case X86_REG_R12: case X86_REG_R12D: case X86_REG_R12W: case X86_REG_R12B:
		return MT_REG_R12;
	case X86_REG_R13: case X86_REG_R13D: case X86_REG_R13W: case X86_REG_R13B:
		return MT_REG_R13;
	case X86_REG_R14: case X86_REG_R14D: case X86_REG_R14W: case X86_REG_R14B:
		return MT_REG_R14;
	case X86_REG_R15: case X86_REG_R15D: case X86_REG_R15W: case X86_REG_R15B:
		return MT_REG_R15;
	}
	return NO_REG;
}

static bool is_reg64(unsigned int r)
{
	switch (r) {
	case X86_REG_RAX: case X86_REG_RBX: case X86_REG_RCX: case X86_REG_RDX:
	case X86_REG_RSI: case X86_REG_RDI: case X86_REG_RBP: case X86_REG_RSP:
	case X86_REG_R8: case X86_REG_R9: case X86_REG_R10: case X86_REG_R11:
	case X86_REG_R12: case X86_REG_R13: case X86_REG_R14: case X86_REG_R15:
		return true;
	}
	return false;
}

int probe_site_emulated(const uint8_t *c, size_t len)
{
	if (len >= 1 && c[0] >= 0x50 && c[0] <= 0x57)
		return 1;	/* push %rax..%rdi */
	if (len >= 2 && c[0] == 0x41 && c[1] >= 0x50 && c[1] <= 0x57)
		return 1;	/* push %r8..%r15 */
	if (len >= 1 && ((c[0] >= 0x70 && c[0] <= 0x7f) || c[0] == 0xeb ||
			 c[0] == 0xe9 || c[0] == 0xe8))
		return 1;	/* jcc rel8, jmp, call */
	if (len >= 2 && c[0] == 0x0f && c[1] >= 0x80 && c[1] <= 0x8f)
		return 1;	/* jcc rel32 */
	return 0;
}

/* Instructions that compute in registers only (given no memory
 * destination, checked apart): walking over them changes nothing a probe
 * further on could see but the registers they write. */
static bool register_only(unsigned int id)
{
	switch (id) {
	case X86_INS_MOV: case X86_INS_MOVABS: case X86_INS_MOVZX:
	case X86_INS_MOVSX: case X86_INS_MOVSXD: case X86_INS_LEA:
	case X86_INS_TEST: case X86_INS_CMP: case X86_INS_AND: case X86_INS_OR:
	case X86_INS_XOR: case X86_INS_ADD: case X86_INS_SUB: case X86_INS_SHR:
	case X86_INS_SHL: case X86_INS_SAR: case X86_INS_NOT: case X86_INS_NEG:
	case X86_INS_INC: case X86_INS_DEC: case X86_INS_NOP: case X86_INS_ENDBR64:
		return true;
	}
	return false;
}

/* The general registers ins writes (any part of), or 0xffff if unknown;
 * 0x10000 is set when it may write memory. */
static uint32_t writes_of(csh cs, const cs_insn *ins)
{
	const cs_x86 *x = &ins->detail->x86;
	cs_regs rd, wr;
	uint8_t n_rd = 0, n_wr = 0;
	uint32_t mask = 0;

	for (uint8_t k = 0; k < x->op_count; k++)
		if (x->operands[k].type == X86_OP_MEM &&
		    (x->operands[k].access & CS_AC_WRITE || !x->operands[k].access) &&
		    ins->id != X86_INS_LEA && ins->id != X86_INS_NOP &&
		    ins->id != X86_INS_TEST && ins->id != X86_INS_CMP)
			mask |= 0x10000;
	if (cs_regs_access(cs, ins, rd, &n_rd, wr, &n_wr) != CS_ERR_OK)
		return 0xffff | mask;
	for (uint8_t i = 0; i < n_wr; i++) {
		uint8_t r = gpr(wr[i]);

		if (r != NO_REG)
			mask |= 1u << r;
	}
	return mask;
}

/* Does a direct jump or call anywhere in code land in (0, end]? Also true
 * when code cannot be decoded to its end (nothing can be ruled out), but
 * for a last instruction cut short. */
static bool jumps_into(csh cs, const uint8_t *code, size_t len, uint64_t end)
{
	const uint8_t *p = code;
	uint64_t addr = 0;
	size_t left = len;
	cs_insn *ins = cs_malloc(cs);
	bool found = false;

	if (!ins)
		return true;
	while (left && !found) {
		const cs_x86 *x;

		/* Undecodable bytes: nothing can be ruled out; fewer than an
		 * instruction's longest at the end: the code was cut short. */
		if (!cs_disasm_iter(cs, &p, &left, &addr, ins)) {
			found = left >= 15;
			break;
		}
		x = &ins->detail->x86;
		if ((cs_insn_group(cs, ins, CS_GRP_JUMP) || cs_insn_group(cs, ins, CS_GRP_CALL)) &&
		    x->op_count == 1 && x->operands[0].type == X86_OP_IMM) {
			uint64_t t = (uint64_t)x->operands[0].imm;

			found = t > 0 && t <= end;
		}
	}
	cs_free(ins, 1);
	return found;
}

static const uint8_t abi_reg[3] = { MT_REG_RDI, MT_REG_RSI, MT_REG_RDX };

static void at_entry(struct probe_site *out)
{
	out->offset = 0;
	memcpy(out->arg_reg, abi_reg, sizeof(abi_reg));
}

void probe_site_find(const uint8_t *code, size_t len, unsigned int need,
		     struct probe_site *out)
{
	uint32_t loc[3] = { 1u << MT_REG_RDI, 1u << MT_REG_RSI, 1u << MT_REG_RDX };
	const uint8_t *p = code;
	uint64_t addr = 0;
	size_t left = len;
	cs_insn *ins = NULL;
	bool found = false;
	csh cs;

	at_entry(out);
	if (!len || probe_site_emulated(code, len))
		return;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return;
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	ins = cs_malloc(cs);
	for (int n = 0; ins && n < PROBE_SITE_MAX_INSNS && left; n++) {
		const cs_x86 *x;
		uint32_t w;
		bool lost = false;

		if (!cs_disasm_iter(cs, &p, &left, &addr, ins))
			break;
		x = &ins->detail->x86;
		if (!register_only(ins->id))
			break;
		w = writes_of(cs, ins);
		if (w & 0x10000 || w & (1u << MT_REG_RSP))
			break;
		for (int a = 0; a < 3; a++) {
			uint32_t before = loc[a];

			loc[a] &= ~w;
			/* mov %src,%dst (64-bit): dst now holds what src held. */
			if (ins->id == X86_INS_MOV && x->op_count == 2 &&
			    x->operands[0].type == X86_OP_REG && x->operands[1].type == X86_OP_REG &&
			    is_reg64(x->operands[0].reg) && is_reg64(x->operands[1].reg) &&
			    before & (1u << gpr(x->operands[1].reg)))
				loc[a] |= 1u << gpr(x->operands[0].reg);
			if ((need & (1u << a)) && !loc[a])
				lost = true;
		}
		if (lost)
			break;
		if (probe_site_emulated(p, left)) {
			found = true;
			break;
		}
	}
	if (found && !jumps_into(cs, code, len, addr)) {
		out->offset = (uint32_t)addr;
		for (int a = 0; a < 3; a++) {
			uint8_t r = abi_reg[a];

			/* Keep the ABI register where it still holds the
			 * argument, else the lowest one that does. */
			if (!(loc[a] & (1u << r)))
				r = loc[a] ? (uint8_t)__builtin_ctz(loc[a]) : abi_reg[a];
			out->arg_reg[a] = r;
		}
	}
	if (ins)
		cs_free(ins, 1);
	cs_close(&cs);
}

size_t probe_site_skip(const uint8_t *code, size_t len, unsigned int need)
{
	struct probe_site s;

	probe_site_find(code, len, need, &s);
	for (int a = 0; a < 3; a++)
		if ((need & (1u << a)) && s.arg_reg[a] != abi_reg[a])
			return 0;
	return s.offset;
}
