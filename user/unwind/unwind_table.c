// SPDX-License-Identifier: MIT
/*
 * Unwind tables from call frame information (CFI).
 *
 * libdw evaluates the CFI: for a PC, dwarf_cfi_addrframe() gives the rules
 * in force there and the range [start, end) they hold for, so an FDE is
 * walked by asking at its first PC, then at the end of each range. libdw
 * cannot list the FDEs, though, so they are listed here from the raw
 * sections: dwarf_next_cfi() splits a section into CIEs and FDEs, and the
 * FDEs' address ranges are decoded below.
 *
 * A build:
 *  1. opens the file (and its debug file, if given) and notes its code
 *     sections, for FDEs must describe code, and its PLT sections;
 *  2. lists the FDE ranges of .eh_frame, then those of .debug_frame that
 *     cover code .eh_frame does not describe;
 *  3. gives the parts of PLT sections no FDE covers a range of their own;
 *  4. walks the ranges in address order, turning each libdw row into a
 *     table row, with an MT_CFA_NONE row wherever ranges leave a gap, and
 *     merging identical neighbours as rows are added.
 *
 * Files are anything a process maps: every length and pointer read from
 * them is checked, and garbage gives an error, never a crash.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unwind_table.h"
#include "proc/target_file.h"
#include "symbols/elf_file.h"
#include "util/search.h"
#include "util/vec.h"

/* x86-64 DWARF register numbers. */
#define REG_RBP 6
#define REG_RSP 7
#define REG_RA 16	/* the return address column */

/* The PLT sections the linker makes, and what their stubs do. */
static const struct {
	const char *name;
	enum mt_cfa_type type;	/* for the parts no FDE describes */
} plt_sections[] = {
	/* The lazy-binding stubs push, and their layout varies (PLT0, IBT
	 * stubs): only an FDE can say where the CFA is. */
	{ ".plt", MT_CFA_UNSUPPORTED },
	/* One jmp per entry: CFA = rsp + 8, which MT_CFA_PLT gives at every
	 * instruction start of these entries. */
	{ ".plt.sec", MT_CFA_PLT },
	{ ".plt.got", MT_CFA_PLT },
};

#define NPLT (sizeof(plt_sections) / sizeof(plt_sections[0]))

/*
 * The CFA rule ld writes for .plt: rsp + 8, plus 8 once an entry's push
 * has run, i.e. from byte 11 of each 16-byte entry. MT_CFA_PLT means
 * exactly this; any other threshold (IBT PLTs) is unsupported.
 */
static const struct {
	uint8_t atom;
	uint64_t number;
} plt_cfa_expr[] = {
	{ DW_OP_breg7, 8 }, { DW_OP_breg16, 0 }, { DW_OP_lit15, 0 },
	{ DW_OP_and, 0 }, { DW_OP_lit11, 0 }, { DW_OP_ge, 0 },
	{ DW_OP_lit3, 0 }, { DW_OP_shl, 0 }, { DW_OP_plus, 0 },
};

#define PLT_EXPR_LEN (sizeof(plt_cfa_expr) / sizeof(plt_cfa_expr[0]))

struct addr_range {
	uint64_t start, end;
};

/* A range of code to turn into rows: one FDE's, or a PLT part no FDE
 * describes. */
struct range {
	uint64_t start, end;
	Dwarf_CFI *cfi;		/* NULL for a PLT part */
	enum mt_cfa_type fixed;	/* the PLT part's rows */
	bool debug_frame;
	bool refused;		/* not given to libdw: see CFI_MAX_REG */
};

/* One opened ELF file and the CFI handles taken from it. */
struct cfi_file {
	Elf *elf;
	Dwarf *dwarf;		/* only opened when there is a .debug_frame */
	Dwarf_CFI *eh_cfi;	/* from dwarf_getcfi_elf(), to be ended */
};

struct builder {
	struct addr_range *code;	/* allocated executable sections */
	size_t ncode;
	struct addr_range plt[NPLT];	/* empty when absent */
	struct range *ranges;
	size_t nranges, ranges_cap;
	struct mt_unwind_row *rows;
	size_t nrows, rows_cap;
	size_t cfi_work;		/* libdw's, of the FDEs taken so far
					   (CFI_WORK_BUDGET) */
	struct unwind_table_stats stats;
};

/* How a CIE's FDEs encode their addresses. */
struct cie_info {
	uint64_t offset;	/* in the section */
	uint8_t fde_encoding;	/* DW_EH_PE_* */
	bool usable;		/* false: an augmentation we cannot skip */
	bool fde_aug_data;	/* 'z': each FDE has augmentation data */
	bool instructions_ok;	/* cfi_instructions_ok() of its instructions */
};

/* ---- Reading encoded values ---- */

static int read_leb128(const uint8_t **pp, const uint8_t *end, bool sign,
		       uint64_t *out)
{
	const uint8_t *p = *pp;
	uint64_t v = 0;
	unsigned int shift = 0;
	uint8_t byte;

	do {
		if (p >= end || shift >= 64)
			return -EINVAL;
		byte = *p++;
		v |= (uint64_t)(byte & 0x7f) << shift;
		shift += 7;
	} while (byte & 0x80);
	if (sign && shift < 64 && (byte & 0x40))
		v |= ~(uint64_t)0 << shift;
	*pp = p;
	*out = v;
	return 0;
}

/*
 * Read a DW_EH_PE_* encoded value at *pp. field_addr is the address the
 * value is stored at, for DW_EH_PE_pcrel; the other relative forms are not
 * used for code addresses on x86-64 and are refused.
 */
static int read_encoded(const uint8_t **pp, const uint8_t *end,
			uint8_t encoding, uint64_t field_addr, uint64_t *out)
{
	const uint8_t *p = *pp;
	unsigned int size, i;
	uint64_t v = 0;
	int err;

	switch (encoding & 0x0f) {
	case DW_EH_PE_absptr:
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
		size = 8;
		break;
	case DW_EH_PE_udata4:
	case DW_EH_PE_sdata4:
		size = 4;
		break;
	case DW_EH_PE_udata2:
	case DW_EH_PE_sdata2:
		size = 2;
		break;
	case DW_EH_PE_uleb128:
	case DW_EH_PE_sleb128:
		err = read_leb128(&p, end, encoding & DW_EH_PE_signed, &v);
		if (err)
			return err;
		size = 0;
		break;
	default:
		return -EINVAL;
	}
	if (size) {
		if (end - p < size)
			return -EINVAL;
		for (i = 0; i < size; i++)
			v |= (uint64_t)p[i] << (8 * i);
		p += size;
		if ((encoding & DW_EH_PE_signed) && size < 8 &&
		    (v >> (8 * size - 1)) & 1)
			v |= ~(uint64_t)0 << (8 * size);
	}

	if (encoding & DW_EH_PE_indirect)
		return -EINVAL;
	switch (encoding & 0x70) {
	case DW_EH_PE_absptr:
		break;
	case DW_EH_PE_pcrel:
		v += field_addr;
		break;
	default:
		return -EINVAL;
	}
	*pp = p;
	*out = v;
	return 0;
}

/* ---- Listing FDEs ---- */

/*
 * Bounds on what an FDE may ask of libdw, checked before it is given one:
 * files are anything a traced process maps, and libdw trusts them.
 *  - The highest DWARF register number an instruction may name: x86-64's
 *    are below 150 (APX's r16-r31 are 130-145). libdw grows a frame's
 *    state to the highest register named, and clears it: one
 *    DW_CFA_same_value of register 98,566,073, in a file the fuzzer made,
 *    had it allocate and clear 2 GiB in 16 s.
 *  - Remembered states nested at once: libdw copies the state at each.
 *  - Rows per FDE, and the work of a file's FDEs: libdw runs an FDE's
 *    instructions from its start again for each row (dwarf_cfi_addrframe),
 *    so its work is rows x instruction bytes. One FDE of 20,000 rows took
 *    1.8 s. The most in an FDE of libc, libstdc++ or python3.11 is 174
 *    rows, 130,025 of work, and 3.0 million for all of python3.11's.
 */
#define CFI_MAX_REG 255
#define CFI_MAX_NESTING 64
#define CFI_MAX_ROWS 4096
#define CFI_WORK_BUDGET ((size_t)1 << 28)

static bool cfi_skip(const uint8_t **pp, const uint8_t *end, size_t n)
{
	if ((size_t)(end - *pp) < n)
		return false;
	*pp += n;
	return true;
}

static bool cfi_leb(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	return read_leb128(pp, end, false, v) == 0;
}

static bool cfi_reg(const uint8_t **pp, const uint8_t *end)
{
	uint64_t reg;

	return cfi_leb(pp, end, &reg) && reg <= CFI_MAX_REG;
}

/* A LEB128 length and that many bytes (an expression). */
static bool cfi_block(const uint8_t **pp, const uint8_t *end)
{
	uint64_t len;

	return cfi_leb(pp, end, &len) && cfi_skip(pp, end, len);
}

/*
 * Whether the call frame instructions [p, end) decode, name no register
 * above CFI_MAX_REG and nest remembered states at most CFI_MAX_NESTING
 * deep (libdw copies the whole state at each); checked before libdw runs
 * them. loc_encoding: how DW_CFA_set_loc's operand is encoded (the FDEs'
 * DW_EH_PE_* encoding). *rows: how many instructions start a new row. An
 * unknown or truncated instruction fails: libdw would refuse it too.
 */
static bool cfi_instructions_ok(const uint8_t *p, const uint8_t *end, uint8_t loc_encoding,
			     size_t *rows)
{
	unsigned int nesting = 0;
	uint64_t v;

	*rows = 0;
	while (p < end) {
		uint8_t op = *p++;
		bool ok;

		/* The three with an operand in their low six bits. */
		if ((op & 0xc0) == DW_CFA_offset) {
			if (!cfi_leb(&p, end, &v))
				return false;
			continue;
		}
		if ((op & 0xc0) == DW_CFA_advance_loc)
			++*rows;
		if (op & 0xc0)		/* advance_loc, restore */
			continue;
		switch (op) {
		case DW_CFA_nop:
			ok = true;
			break;
		case DW_CFA_remember_state:
			ok = ++nesting <= CFI_MAX_NESTING;
			break;
		case DW_CFA_restore_state:
			ok = nesting-- > 0;
			break;
		case DW_CFA_set_loc:
			++*rows;
			ok = read_encoded(&p, end, loc_encoding & 0x0f, 0, &v) == 0;
			break;
		case DW_CFA_advance_loc1:
			++*rows;
			ok = cfi_skip(&p, end, 1);
			break;
		case DW_CFA_advance_loc2:
			++*rows;
			ok = cfi_skip(&p, end, 2);
			break;
		case DW_CFA_advance_loc4:
			++*rows;
			ok = cfi_skip(&p, end, 4);
			break;
		case DW_CFA_def_cfa_offset:
		case DW_CFA_def_cfa_offset_sf:
		case DW_CFA_GNU_args_size:
			ok = cfi_leb(&p, end, &v);
			break;
		case DW_CFA_def_cfa_expression:
			ok = cfi_block(&p, end);
			break;
		case DW_CFA_restore_extended:
		case DW_CFA_undefined:
		case DW_CFA_same_value:
		case DW_CFA_def_cfa_register:
			ok = cfi_reg(&p, end);
			break;
		case DW_CFA_offset_extended:
		case DW_CFA_offset_extended_sf:
		case DW_CFA_def_cfa:
		case DW_CFA_def_cfa_sf:
		case DW_CFA_val_offset:
		case DW_CFA_val_offset_sf:
		case DW_CFA_GNU_negative_offset_extended:
			ok = cfi_reg(&p, end) && cfi_leb(&p, end, &v);
			break;
		case DW_CFA_register:
			ok = cfi_reg(&p, end) && cfi_reg(&p, end);
			break;
		case DW_CFA_expression:
		case DW_CFA_val_expression:
			ok = cfi_reg(&p, end) && cfi_block(&p, end);
			break;
		default:
			ok = false;
			break;
		}
		if (!ok)
			return false;
	}
	return true;
}

/*
 * Find the FDE address encoding in a CIE's augmentation ("zR", "zPLR",
 * "zRS"...). Without 'z' the augmentation data cannot be skipped safely,
 * so only the empty augmentation of .debug_frame is accepted then.
 */
static void read_cie(const Dwarf_CIE *cie, uint64_t offset,
		     struct cie_info *info)
{
	const char *aug = cie->augmentation;
	const uint8_t *p = cie->augmentation_data;
	const uint8_t *end = p + cie->augmentation_data_size;
	uint64_t ignored;
	uint8_t encoding;

	info->offset = offset;
	info->fde_encoding = DW_EH_PE_absptr;
	info->usable = aug[0] == '\0';
	info->fde_aug_data = aug[0] == 'z';
	if (aug[0] != 'z')
		return;
	for (aug++; *aug; aug++) {
		switch (*aug) {
		case 'R':
			if (p >= end)
				return;
			info->fde_encoding = *p++;
			info->usable = true;
			return;
		case 'L':
			if (p >= end)
				return;
			p++;
			break;
		case 'P':
			if (p >= end)
				return;
			encoding = *p++;
			/* Only the format bits matter for skipping it. */
			if (read_encoded(&p, end, encoding & 0x0f, 0, &ignored))
				return;
			break;
		case 'S':
		case 'B':
			break;
		default:
			/* Cannot tell where an unknown letter's data ends: 'R'
			 * may come after it. */
			return;
		}
	}
	/* No 'R': addresses are absolute. */
	info->usable = true;
}

static const struct cie_info *find_cie(const struct cie_info *cies,
				       size_t n, uint64_t offset)
{
	size_t i = FIRST_AT_LEAST(cies, n, offset, offset);

	return i < n && cies[i].offset == offset ? &cies[i] : NULL;
}

static bool in_code(const struct builder *b, uint64_t start, uint64_t end)
{
	size_t i;

	for (i = 0; i < b->ncode; i++)
		if (b->code[i].start <= start && end <= b->code[i].end)
			return true;
	return false;
}

/* Whether [start, end) overlaps one of the first n ranges, which are
 * sorted and disjoint. */
static bool overlaps(const struct range *r, size_t n, uint64_t start,
		     uint64_t end)
{
	/* The last range starting below end is the only candidate: sorted
	 * disjoint ranges also end in increasing order. */
	size_t lo = FIRST_AT_LEAST(r, n, start, end);

	return lo > 0 && r[lo - 1].end > start;
}

static int add_range(struct builder *b, const struct range *r)
{
	if (vec_reserve(&b->ranges, &b->ranges_cap, b->nranges + 1,
			sizeof(*b->ranges)))
		return -ENOMEM;
	b->ranges[b->nranges++] = *r;
	return 0;
}

/* Calls fn(entry, offset, arg) for every entry of a CFI section. */
static int each_cfi_entry(Elf_Data *data, const unsigned char *e_ident,
			  bool eh_frame,
			  int (*fn)(const Dwarf_CFI_Entry *, uint64_t, void *),
			  void *arg)
{
	Dwarf_Off off = 0;

	for (;;) {
		Dwarf_Off next = (Dwarf_Off)-1;
		Dwarf_CFI_Entry entry;
		int ret, err;

		ret = dwarf_next_cfi(e_ident, data, eh_frame, off, &next,
				     &entry);
		if (ret > 0)
			return 0;
		if (ret == 0) {
			err = fn(&entry, off, arg);
			if (err)
				return err;
		}
		/* A bad entry whose length is known can be skipped; without
		 * a length (or .eh_frame's zero terminator) nothing after it
		 * can be found. */
		if (next == (Dwarf_Off)-1 || next <= off)
			return 0;
		off = next;
	}
}

struct cie_list {
	struct cie_info *v;
	size_t n, cap;
};

static int collect_cie(const Dwarf_CFI_Entry *entry, uint64_t offset,
		       void *arg)
{
	struct cie_list *l = arg;
	struct cie_info *cie;
	size_t rows;

	if (!dwarf_cfi_cie_p(entry))
		return 0;
	if (vec_reserve(&l->v, &l->cap, l->n + 1, sizeof(*l->v)))
		return -ENOMEM;
	/* Offsets only grow along the section: the list stays sorted. */
	cie = &l->v[l->n++];
	read_cie(&entry->cie, offset, cie);
	cie->instructions_ok = entry->cie.return_address_register <= CFI_MAX_REG &&
			       cfi_instructions_ok(entry->cie.initial_instructions,
						   entry->cie.initial_instructions_end,
						   cie->fde_encoding, &rows);
	return 0;
}

struct fde_walk {
	struct builder *b;
	struct cie_list cies;
	Elf_Data *data;
	uint64_t sh_addr;	/* for pc-relative addresses */
	Dwarf_CFI *cfi;
	bool debug_frame;
	size_t neh;		/* ranges from .eh_frame, which take
				   precedence */
};

/*
 * Whether the FDE whose fields after its address range are [p, end) may
 * be given to libdw (the bounds above CFI_MAX_REG); if so, its work is
 * added to b's.
 */
static bool fde_for_libdw(struct builder *b, const struct cie_info *cie, const uint8_t *p,
			  const uint8_t *end)
{
	size_t rows, work;

	if (!cie->instructions_ok)
		return false;
	/* The instructions follow the augmentation data, if any. */
	if (cie->fde_aug_data && !cfi_block(&p, end))
		return false;
	if (!cfi_instructions_ok(p, end, cie->fde_encoding, &rows) || rows > CFI_MAX_ROWS)
		return false;
	work = (rows + 1) * (size_t)(end - p);
	if (work > CFI_WORK_BUDGET - b->cfi_work)
		return false;
	b->cfi_work += work;
	return true;
}

static int collect_fde(const Dwarf_CFI_Entry *entry, uint64_t offset,
		       void *arg)
{
	struct fde_walk *w = arg;
	const struct cie_info *cie;
	const uint8_t *p = entry->fde.start;
	uint64_t start, len, field_addr;
	struct range r;

	if (dwarf_cfi_cie_p(entry))
		return 0;
	cie = find_cie(w->cies.v, w->cies.n, entry->fde.CIE_pointer);
	field_addr = w->sh_addr + (uint64_t)(p - (const uint8_t *)w->data->d_buf);
	/* .debug_frame is not loaded: pc-relative addresses mean nothing. */
	if (!cie || !cie->usable ||
	    (w->debug_frame && (cie->fde_encoding & 0x70)) ||
	    read_encoded(&p, entry->fde.end, cie->fde_encoding, field_addr,
			 &start) ||
	    read_encoded(&p, entry->fde.end, cie->fde_encoding & 0x0f, 0,
			 &len)) {
		w->b->stats.skipped_fdes++;
		return 0;
	}
	/* Empty ones, ones the linker discarded (left at address 0 in
	 * .debug_frame), and garbage. */
	if (len == 0 || start + len < start ||
	    !in_code(w->b, start, start + len) ||
	    (w->debug_frame && overlaps(w->b->ranges, w->neh, start,
					start + len))) {
		w->b->stats.skipped_fdes++;
		return 0;
	}
	r = (struct range){
		.start = start,
		.end = start + len,
		.cfi = w->cfi,
		.debug_frame = w->debug_frame,
		.refused = !fde_for_libdw(w->b, cie, p, entry->fde.end),
	};
	return add_range(w->b, &r);
}

/*
 * Add the FDE ranges of one CFI section. A .debug_frame's FDEs are only
 * taken for code none of the first neh ranges (from .eh_frame) covers.
 */
static int list_fdes(struct builder *b, Elf *elf, Elf_Scn *scn,
		     Dwarf_CFI *cfi, bool debug_frame, size_t neh)
{
	struct fde_walk w = {
		.b = b,
		.cfi = cfi,
		.debug_frame = debug_frame,
		.neh = neh,
	};
	const unsigned char *e_ident;
	GElf_Shdr shdr;
	int err;

	e_ident = (const unsigned char *)elf_getident(elf, NULL);
	if (!e_ident || !gelf_getshdr(scn, &shdr))
		return -ENOEXEC;
	w.data = elf_getdata(scn, NULL);
	if (!w.data || !w.data->d_buf)
		return -ENOEXEC;
	w.sh_addr = shdr.sh_addr;

	/* FDEs may name a CIE further on: list the CIEs first. */
	err = each_cfi_entry(w.data, e_ident, !debug_frame, collect_cie,
			     &w.cies);
	if (!err)
		err = each_cfi_entry(w.data, e_ident, !debug_frame,
				     collect_fde, &w);
	free(w.cies.v);
	return err;
}

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	/* Of two FDEs starting together, keep the longer. */
	if (x->end != y->end)
		return x->end > y->end ? -1 : 1;
	return 0;
}

/* Sort the ranges and drop any overlapping an earlier one: well-formed CFI
 * never describes a PC twice, and one table row cannot either. */
static void keep_disjoint(struct builder *b)
{
	size_t i, k = 0;

	if (!b->nranges)
		return;
	qsort(b->ranges, b->nranges, sizeof(*b->ranges), cmp_range);
	for (i = 0; i < b->nranges; i++) {
		if (k && b->ranges[i].start < b->ranges[k - 1].end) {
			b->stats.skipped_fdes++;
			continue;
		}
		b->ranges[k++] = b->ranges[i];
	}
	b->nranges = k;
}

/* The parts of each PLT section no FDE covers get a range of their own. */
static int add_plt_ranges(struct builder *b)
{
	size_t nfde = b->nranges, i, j;
	int err;

	for (i = 0; i < NPLT; i++) {
		uint64_t pos = b->plt[i].start, end = b->plt[i].end;
		struct range r = { .fixed = plt_sections[i].type };

		for (j = 0; j < nfde && pos < end; j++) {
			/* A copy: add_range() may move the array (found by
			 * tests/fuzz/fuzz_unwind_table.c, a use after free). */
			const struct range f = b->ranges[j];

			if (f.end <= pos)
				continue;
			if (f.start >= end)
				break;
			if (f.start > pos) {
				r.start = pos;
				r.end = f.start;
				err = add_range(b, &r);
				if (err)
					return err;
			}
			pos = f.end;
		}
		if (pos < end) {
			r.start = pos;
			r.end = end;
			err = add_range(b, &r);
			if (err)
				return err;
		}
	}
	keep_disjoint(b);
	return 0;
}

/* ---- Turning libdw's rules into rows ---- */

/*
 * Whether ops compute the address CFA + offset. libdw gives an offset(N)
 * rule as DW_OP_call_frame_cfa; DW_OP_plus_uconst N (N negative as a
 * wrapped 64-bit number), and DW_CFA_expression rules start with
 * DW_OP_call_frame_cfa too; constants added or subtracted are followed.
 * A value (DW_OP_stack_value) rather than an address does not match.
 */
static bool cfa_plus(const Dwarf_Op *ops, size_t nops, int64_t *offset)
{
	struct {
		bool cfa;	/* CFA + v, else the constant v */
		uint64_t v;	/* unsigned: wraps instead of overflowing */
	} st[4];
	size_t sp = 0, i;

	for (i = 0; i < nops; i++) {
		const Dwarf_Op *op = &ops[i];

		switch (op->atom) {
		case DW_OP_call_frame_cfa:
		case DW_OP_lit0 ... DW_OP_lit31:
		case DW_OP_const1u:
		case DW_OP_const1s:
		case DW_OP_const2u:
		case DW_OP_const2s:
		case DW_OP_const4u:
		case DW_OP_const4s:
		case DW_OP_const8u:
		case DW_OP_const8s:
		case DW_OP_constu:
		case DW_OP_consts:
			if (sp == 4)
				return false;
			st[sp].cfa = op->atom == DW_OP_call_frame_cfa;
			if (st[sp].cfa)
				st[sp].v = 0;
			else if (op->atom >= DW_OP_lit0 &&
				 op->atom <= DW_OP_lit31)
				st[sp].v = op->atom - DW_OP_lit0;
			else
				st[sp].v = op->number;
			sp++;
			break;
		case DW_OP_plus_uconst:
			if (sp < 1)
				return false;
			st[sp - 1].v += op->number;
			break;
		case DW_OP_plus:
			if (sp < 2 || (st[sp - 2].cfa && st[sp - 1].cfa))
				return false;
			st[sp - 2].cfa |= st[sp - 1].cfa;
			st[sp - 2].v += st[sp - 1].v;
			sp--;
			break;
		case DW_OP_minus:
			if (sp < 2 || st[sp - 1].cfa)
				return false;
			st[sp - 2].v -= st[sp - 1].v;
			sp--;
			break;
		default:
			return false;
		}
	}
	if (sp != 1 || !st[0].cfa)
		return false;
	*offset = (int64_t)st[0].v;
	return true;
}

/* Whether ops are "register + offset": a DW_CFA_def_cfa rule, which libdw
 * gives as DW_OP_bregx, or an expression of a single DW_OP_bregN. */
static bool reg_plus(const Dwarf_Op *ops, size_t nops, unsigned int *reg,
		     int64_t *offset)
{
	if (nops != 1)
		return false;
	if (ops[0].atom == DW_OP_bregx) {
		if (ops[0].number > 0xffff)
			return false;
		*reg = ops[0].number;
		*offset = (int64_t)ops[0].number2;
		return true;
	}
	if (ops[0].atom >= DW_OP_breg0 && ops[0].atom <= DW_OP_breg31) {
		*reg = ops[0].atom - DW_OP_breg0;
		*offset = (int64_t)ops[0].number;
		return true;
	}
	return false;
}

static bool is_plt_expr(const Dwarf_Op *ops, size_t nops)
{
	size_t i;

	if (nops != PLT_EXPR_LEN)
		return false;
	for (i = 0; i < nops; i++)
		if (ops[i].atom != plt_cfa_expr[i].atom ||
		    ops[i].number != plt_cfa_expr[i].number)
			return false;
	return true;
}

/*
 * Fill row (zeroed by the caller) from the rules of one libdw row. When
 * the format cannot express them, returns the counter of the reason, and
 * the caller makes the row MT_CFA_UNSUPPORTED; else returns NULL.
 */
static size_t *classify(Dwarf_Frame *frame, bool signalp,
			struct mt_unwind_row *row,
			struct unwind_table_stats *st)
{
	Dwarf_Op mem[3], *ops;
	unsigned int reg;
	bool ra_elsewhere = false;
	int64_t cfa_off, off;
	size_t nops;

	/* Its rules describe the ucontext, which the unwinder reads
	 * itself. */
	if (signalp) {
		row->cfa_type = MT_CFA_SIGNAL;
		return NULL;
	}

	if (dwarf_frame_register(frame, REG_RA, mem, &ops, &nops))
		return &st->why_libdw;
	/* Undefined: no ops, but not same-value's NULL ops. */
	if (nops == 0 && ops) {
		row->cfa_type = MT_CFA_END;
		return NULL;
	}
	if (!cfa_plus(ops, nops, &off) || off != -8)
		ra_elsewhere = true;

	if (dwarf_frame_cfa(frame, &ops, &nops))
		return &st->why_libdw;
	/* Its return address is at CFA - 8 too. */
	if (is_plt_expr(ops, nops) && !ra_elsewhere) {
		row->cfa_type = MT_CFA_PLT;
		return NULL;
	}
	/* The CFA is the more telling reason when both are odd (longjmp,
	 * setcontext: CFA and return address in argument registers). */
	if (!reg_plus(ops, nops, &reg, &cfa_off))
		return &st->why_cfa_expression;
	if (reg != REG_RSP && reg != REG_RBP)
		return &st->why_cfa_register;
	if (cfa_off < INT32_MIN || cfa_off > INT32_MAX)
		return &st->why_cfa_offset;
	if (ra_elsewhere)
		return &st->why_ra;

	/* The format takes the caller's rsp to be the CFA: the usual rule
	 * (val_offset(0), which libdw gives as a value) or none at all. */
	if (dwarf_frame_register(frame, REG_RSP, mem, &ops, &nops))
		return &st->why_libdw;
	if (nops != 0 && !(nops == 2 && ops[0].atom == DW_OP_call_frame_cfa &&
			   ops[1].atom == DW_OP_stack_value))
		return &st->why_rsp;

	row->cfa_type = reg == REG_RSP ? MT_CFA_RSP : MT_CFA_RBP;
	row->cfa_offset = cfa_off;

	/* No ops: same value or undefined, both meaning the unwinder leaves
	 * rbp as it is. */
	row->rbp_type = MT_RBP_UNSUPPORTED;
	if (dwarf_frame_register(frame, REG_RBP, mem, &ops, &nops))
		return NULL;
	if (nops == 0) {
		row->rbp_type = MT_RBP_UNCHANGED;
	} else if (cfa_plus(ops, nops, &off) && off >= INT16_MIN &&
		   off <= INT16_MAX) {
		row->rbp_type = MT_RBP_OFFSET;
		row->rbp_offset = off;
	}
	return NULL;
}

static bool same_rule(const struct mt_unwind_row *a,
		      const struct mt_unwind_row *b)
{
	return a->cfa_type == b->cfa_type && a->cfa_offset == b->cfa_offset &&
	       a->rbp_type == b->rbp_type && a->rbp_offset == b->rbp_offset;
}

static int add_row(struct builder *b, const struct mt_unwind_row *row)
{
	b->stats.rows_before_merge++;
	if (b->nrows && same_rule(&b->rows[b->nrows - 1], row))
		return 0;
	if (vec_reserve(&b->rows, &b->rows_cap, b->nrows + 1, sizeof(*b->rows)))
		return -ENOMEM;
	b->rows[b->nrows++] = *row;
	return 0;
}

static int add_simple_row(struct builder *b, uint64_t pc,
			  enum mt_cfa_type type)
{
	struct mt_unwind_row row = { .pc = pc, .cfa_type = type };

	return add_row(b, &row);
}

/* One row per libdw row of an FDE: libdw says how far each one holds. */
static int walk_fde(struct builder *b, const struct range *r)
{
	uint64_t pc = r->start;
	int err;

	if (r->refused) {
		b->stats.why_refused++;
		return add_simple_row(b, pc, MT_CFA_UNSUPPORTED);
	}
	while (pc < r->end) {
		struct mt_unwind_row row = { .pc = pc };
		Dwarf_Addr start, end;
		Dwarf_Frame *frame;
		size_t *why;
		bool signalp;

		/* libdw finds the FDE again by address; with overlapping
		 * garbage it may not find ours, nor a row covering pc. */
		if (dwarf_cfi_addrframe(r->cfi, pc, &frame))
			goto bad;
		if (dwarf_frame_info(frame, &start, &end, &signalp) < 0 ||
		    start > pc || end <= pc) {
			free(frame);
			goto bad;
		}
		why = classify(frame, signalp, &row, &b->stats);
		free(frame);
		if (why) {
			(*why)++;
			row = (struct mt_unwind_row){
				.pc = pc,
				.cfa_type = MT_CFA_UNSUPPORTED,
			};
		}
		err = add_row(b, &row);
		if (err)
			return err;
		pc = end < r->end ? end : r->end;
	}
	return 0;

bad:
	/* The rules here are not known, which is not the same as there
	 * being none. */
	b->stats.why_libdw++;
	return add_simple_row(b, pc, MT_CFA_UNSUPPORTED);
}

static int walk_ranges(struct builder *b)
{
	uint64_t prev_end = 0;
	size_t i;
	int err;

	for (i = 0; i < b->nranges; i++) {
		const struct range *r = &b->ranges[i];

		if (i > 0 && r->start > prev_end) {
			err = add_simple_row(b, prev_end, MT_CFA_NONE);
			if (err)
				return err;
		}
		if (r->cfi) {
			b->stats.fdes++;
			if (r->debug_frame)
				b->stats.debug_frame_fdes++;
			err = walk_fde(b, r);
		} else {
			err = add_simple_row(b, r->start, r->fixed);
		}
		if (err)
			return err;
		prev_end = r->end;
	}
	return b->nranges ? add_simple_row(b, prev_end, MT_CFA_NONE) : 0;
}

/* ---- Files and sections ---- */

static void close_cfi_file(struct cfi_file *f)
{
	if (f->eh_cfi)
		dwarf_cfi_end(f->eh_cfi);
	if (f->dwarf)
		dwarf_end(f->dwarf);
	if (f->elf)
		elf_end(f->elf);
}

/* The section called name, if it has contents in this file. */
static Elf_Scn *find_section(Elf *elf, const char *name)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	GElf_Shdr shdr;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *s;

		if (!gelf_getshdr(scn, &shdr))
			return NULL;
		s = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (!s || strcmp(s, name))
			continue;
		/* Any type but these: .eh_frame can be SHT_X86_64_UNWIND, and
		 * debug files keep SHT_NOBITS headers of what they lack. */
		if (shdr.sh_type == SHT_NOBITS || shdr.sh_type == SHT_NULL ||
		    !shdr.sh_size)
			return NULL;
		return scn;
	}
	return NULL;
}

/* Note the executable sections, where FDEs must lie, and the PLTs. */
static int read_sections(struct builder *b, Elf *elf)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx, i, n = 0;
	GElf_Shdr shdr;

	if (elf_getshdrstrndx(elf, &shstrndx) || elf_getshdrnum(elf, &n))
		return -ENOEXEC;
	b->code = calloc(n ? n : 1, sizeof(*b->code));
	if (!b->code)
		return -ENOMEM;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;

		if (!gelf_getshdr(scn, &shdr))
			return -ENOEXEC;
		if (!(shdr.sh_flags & SHF_ALLOC) ||
		    !(shdr.sh_flags & SHF_EXECINSTR) || !shdr.sh_size ||
		    shdr.sh_addr + shdr.sh_size < shdr.sh_addr ||
		    b->ncode == n)
			continue;
		b->code[b->ncode++] = (struct addr_range){
			shdr.sh_addr, shdr.sh_addr + shdr.sh_size
		};
		name = elf_strptr(elf, shstrndx, shdr.sh_name);
		for (i = 0; name && i < NPLT; i++)
			if (!strcmp(name, plt_sections[i].name))
				b->plt[i] = b->code[b->ncode - 1];
	}
	return 0;
}

static int list_eh_frame(struct builder *b, struct cfi_file *f)
{
	Elf_Scn *scn = find_section(f->elf, ".eh_frame");

	if (!scn)
		return 0;
	f->eh_cfi = dwarf_getcfi_elf(f->elf);
	if (!f->eh_cfi)
		return 0;
	return list_fdes(b, f->elf, scn, f->eh_cfi, false, 0);
}

/*
 * libdw evaluates .debug_frame only through a Dwarf handle, which reads
 * (and decompresses) every debug section: only done when there is a
 * .debug_frame to read.
 */
static int list_debug_frame(struct builder *b, struct cfi_file *f,
			    size_t neh)
{
	Elf_Scn *scn = find_section(f->elf, ".debug_frame");
	Dwarf_CFI *cfi;
	GElf_Shdr shdr;

	if (!scn)
		return 0;
	f->dwarf = dwarf_begin_elf(f->elf, DWARF_C_READ, NULL);
	if (!f->dwarf)
		return 0;
	cfi = dwarf_getcfi(f->dwarf);
	if (!cfi)
		return 0;
	/* dwarf_begin_elf() decompresses debug sections in place; should
	 * it not have, ours still needs to be. */
	if (!gelf_getshdr(scn, &shdr))
		return -ENOEXEC;
	if ((shdr.sh_flags & SHF_COMPRESSED) && elf_compress(scn, 0, 0) < 0)
		return 0;
	return list_fdes(b, f->elf, scn, cfi, true, neh);
}

static void count_rows(struct unwind_table_stats *st,
		       const struct mt_unwind_row *rows, size_t n)
{
	size_t i;

	st->rows = n;
	for (i = 0; i < n; i++) {
		switch (rows[i].cfa_type) {
		case MT_CFA_NONE:
			st->none_rows++;
			break;
		case MT_CFA_PLT:
			st->plt_rows++;
			break;
		case MT_CFA_SIGNAL:
			st->signal_rows++;
			break;
		case MT_CFA_END:
			st->end_rows++;
			break;
		case MT_CFA_UNSUPPORTED:
			st->unsupported_cfa++;
			break;
		}
		if (rows[i].rbp_type == MT_RBP_UNSUPPORTED)
			st->unsupported_rbp++;
	}
}

static int build(int fd, int debug_fd, struct unwind_table *out)
{
	struct cfi_file file = { 0 }, debug = { 0 };
	struct builder b = { 0 };
	uint8_t debug_id[ELF_FILE_BUILD_ID_MAX];
	size_t debug_id_len, neh;
	int err;

	memset(out, 0, sizeof(*out));
	err = elf_file_open(fd, &file.elf);
	if (err)
		goto out;
	elf_file_build_id(file.elf, out->build_id, &out->build_id_len);
	if (debug_fd >= 0) {
		err = elf_file_open(debug_fd, &debug.elf);
		if (err)
			goto out;
		elf_file_build_id(debug.elf, debug_id, &debug_id_len);
		if (out->build_id_len && debug_id_len &&
		    (debug_id_len != out->build_id_len ||
		     memcmp(debug_id, out->build_id, debug_id_len))) {
			err = -EINVAL;
			goto out;
		}
	}

	err = read_sections(&b, file.elf);
	if (err)
		goto out;
	err = list_eh_frame(&b, &file);
	if (err)
		goto out;
	keep_disjoint(&b);
	neh = b.nranges;
	err = list_debug_frame(&b, &file, neh);
	if (!err && debug.elf)
		err = list_debug_frame(&b, &debug, neh);
	if (err)
		goto out;
	keep_disjoint(&b);
	if (!b.nranges) {
		err = -ENODATA;
		goto out;
	}
	err = add_plt_ranges(&b);
	if (!err)
		err = walk_ranges(&b);
	if (err)
		goto out;

	out->rows = realloc(b.rows, b.nrows * sizeof(*b.rows));
	if (!out->rows)
		out->rows = b.rows;
	b.rows = NULL;
	out->n = b.nrows;
	out->stats = b.stats;
	count_rows(&out->stats, out->rows, out->n);
out:
	if (err)
		memset(out, 0, sizeof(*out));
	free(b.rows);
	free(b.ranges);
	free(b.code);
	close_cfi_file(&debug);
	close_cfi_file(&file);
	return err;
}

int unwind_table_build(int fd, struct unwind_table *out)
{
	return build(fd, -1, out);
}

int unwind_table_build_debug(int fd, int debug_fd,
			     struct unwind_table *out)
{
	return build(fd, debug_fd, out);
}

int unwind_table_build_path(const char *path, struct unwind_table *out)
{
	char debug_path[PATH_MAX];
	int fd, debug_fd, err;

	memset(out, 0, sizeof(*out));
	fd = target_file_open_at(TARGET_FILE_OWN_ROOT, path, TARGET_FILE_FOLLOW);
	if (fd < 0)
		return fd;
	err = build(fd, -1, out);
	if (err == -ENODATA &&
	    !debug_file_find(path, UNWIND_TABLE_DEBUG_ROOT,
					  debug_path, sizeof(debug_path))) {
		debug_fd = target_file_open_at(TARGET_FILE_OWN_ROOT, debug_path,
					       TARGET_FILE_FOLLOW);
		if (debug_fd >= 0) {
			err = build(fd, debug_fd, out);
			close(debug_fd);
		}
	}
	close(fd);
	return err;
}

/* ---- Using a table ---- */

void unwind_table_free(struct unwind_table *t)
{
	if (!t)
		return;
	free(t->rows);
	memset(t, 0, sizeof(*t));
}

const struct mt_unwind_row *unwind_table_lookup(const struct unwind_table *t,
						uint64_t pc)
{
	/* The first row above pc; the one before it covers pc. */
	size_t lo = FIRST_ABOVE(t->rows, t->n, pc, pc);

	return lo ? &t->rows[lo - 1] : NULL;
}
