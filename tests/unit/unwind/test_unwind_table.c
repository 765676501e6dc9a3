// SPDX-License-Identifier: MIT
/*
 * Unwind tables, checked against what binutils' readelf says the call frame
 * information means (readelf --debug-dump=frames-interp), for libc, libstdc++,
 * python3.11 and this test program, whose own assembly below holds one FDE
 * for each rule form the table must recognise or refuse.
 *
 * The separate debug file tests make a small program with gcc and objcopy,
 * the way distributions split debug information off.
 */
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <link.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unwind/unwind_table.h"

#define LIBC "/usr/lib/x86_64-linux-gnu/libc.so.6"
#define LIBSTDCXX "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"
#define PYTHON "/usr/bin/python3.11"

/*
 * One FDE per rule form. Each function has a label (..._at) where the rule
 * under test holds. No .globl: the labels stay local to this object.
 */
__asm__(
	".pushsection .text\n"
	".p2align 4\n"

	/* A frame-pointer function, as gcc -fno-omit-frame-pointer makes. */
	"uwt_frame:\n"
	".cfi_startproc\n"
	"push %rbp\n"
	"uwt_frame_pushed:\n"
	".cfi_def_cfa_offset 16\n"
	".cfi_offset rbp, -16\n"
	"mov %rsp, %rbp\n"
	"uwt_frame_set:\n"
	".cfi_def_cfa_register rbp\n"
	"nop\n"
	"pop %rbp\n"
	"uwt_frame_popped:\n"
	".cfi_def_cfa rsp, 8\n"
	"ret\n"
	".cfi_endproc\n"

	/* A large frame: the CFA offset needs more than 16 bits, and rbp is
	 * saved too far from the CFA for the 16-bit rbp offset. */
	"uwt_big:\n"
	".cfi_startproc\n"
	"nop\n"
	"uwt_big_at:\n"
	".cfi_def_cfa_offset 40008\n"
	".cfi_offset rbp, -40000\n"
	"nop\n"
	"ret\n"
	".cfi_endproc\n"

	/* rbp saved at the extremes of the 16-bit offset. */
	"uwt_rbp_min:\n"
	".cfi_startproc\n"
	"nop\n"
	"uwt_rbp_min_at:\n"
	".cfi_def_cfa_offset 32776\n"
	".cfi_offset rbp, -32768\n"
	"nop\n"
	"uwt_rbp_below_min_at:\n"
	".cfi_def_cfa_offset 32784\n"
	".cfi_offset rbp, -32776\n"
	"nop\n"
	"ret\n"
	".cfi_endproc\n"

	/* CFA offset beyond 32 bits. */
	"uwt_huge:\n"
	".cfi_startproc\n"
	"nop\n"
	"uwt_huge_at:\n"
	".cfi_def_cfa_offset 0x100000008\n"
	"nop\n"
	"ret\n"
	".cfi_endproc\n"

	/* CFA from another register. */
	"uwt_cfa_r12:\n"
	".cfi_startproc\n"
	"nop\n"
	"uwt_cfa_r12_at:\n"
	".cfi_def_cfa r12, 8\n"
	"nop\n"
	"ret\n"
	".cfi_endproc\n"

	/* CFA an expression: *(rsp + 8). */
	"uwt_cfa_deref:\n"
	".cfi_startproc\n"
	"nop\n"
	"uwt_cfa_deref_at:\n"
	".cfi_escape 0x0f, 0x03, 0x77, 0x08, 0x06\n"
	"nop\n"
	"ret\n"
	".cfi_endproc\n"

	/* The PLT expression ld writes (DW_CFA_def_cfa_expression: breg7 8;
	 * breg16 0; lit15; and; lit11; ge; lit3; shl; plus), and the same
	 * with lit9, which MT_CFA_PLT does not mean. */
	"uwt_plt_expr:\n"
	".cfi_startproc\n"
	"nop\n"
	"uwt_plt_expr_at:\n"
	".cfi_escape 0x0f, 0x0b, 0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x3b, 0x2a, 0x33, 0x24, 0x22\n"
	"nop\n"
	"uwt_plt_expr9_at:\n"
	".cfi_escape 0x0f, 0x0b, 0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x39, 0x2a, 0x33, 0x24, 0x22\n"
	"nop\n"
	"ret\n"
	".cfi_endproc\n"

	/* rbp rules as expressions: CFA + (-24); CFA - 16; *CFA. */
	"uwt_rbp_expr:\n"
	".cfi_startproc\n"
	"nop\n"
	"uwt_rbp_expr_plus_at:\n"
	".cfi_escape 0x10, 0x06, 0x03, 0x11, 0x68, 0x22\n"
	"nop\n"
	"uwt_rbp_expr_minus_at:\n"
	".cfi_escape 0x10, 0x06, 0x03, 0x08, 0x10, 0x1c\n"
	"nop\n"
	"uwt_rbp_expr_deref_at:\n"
	".cfi_escape 0x10, 0x06, 0x01, 0x06\n"
	"nop\n"
	"ret\n"
	".cfi_endproc\n"

	/* rbp as a value, and in another register. */
	"uwt_rbp_other:\n"
	".cfi_startproc\n"
	"nop\n"
	"uwt_rbp_val_at:\n"
	".cfi_val_offset rbp, -16\n"
	"nop\n"
	"uwt_rbp_reg_at:\n"
	".cfi_register rbp, rbx\n"
	"nop\n"
	"uwt_rbp_same_at:\n"
	".cfi_same_value rbp\n"
	"nop\n"
	"ret\n"
	".cfi_endproc\n"

	/* Return address in a register; then saved away from CFA - 8. */
	"uwt_ra:\n"
	".cfi_startproc\n"
	"nop\n"
	"uwt_ra_reg_at:\n"
	".cfi_register rip, rax\n"
	"nop\n"
	"uwt_ra_off_at:\n"
	".cfi_offset rip, -16\n"
	"nop\n"
	"ret\n"
	".cfi_endproc\n"

	/* The caller's rsp saved on the stack rather than being the CFA. */
	"uwt_rsp:\n"
	".cfi_startproc\n"
	"nop\n"
	"uwt_rsp_at:\n"
	".cfi_offset rsp, -16\n"
	"nop\n"
	"ret\n"
	".cfi_endproc\n"

	/* Outermost frame. */
	"uwt_outermost:\n"
	".cfi_startproc\n"
	".cfi_undefined rip\n"
	"nop\n"
	"ret\n"
	".cfi_endproc\n"

	/* A signal trampoline: its CIE says 'S'. */
	"uwt_signal:\n"
	".cfi_startproc\n"
	".cfi_signal_frame\n"
	"nop\n"
	"ret\n"
	".cfi_endproc\n"

	/* Code no FDE describes, between two that are. */
	"uwt_gap_before:\n"
	".cfi_startproc\n"
	"nop\n"
	"uwt_merge_at:\n"
	".cfi_def_cfa_offset 8\n"	/* a row identical to the first */
	"ret\n"
	".cfi_endproc\n"
	"uwt_gap:\n"
	".fill 16, 1, 0x90\n"
	"uwt_gap_after:\n"
	".cfi_startproc\n"
	"ret\n"
	".cfi_endproc\n"
	"uwt_asm_end:\n"
	".popsection\n");

#define ASM_LABEL(name) extern char name[] __attribute__((visibility("hidden")))
ASM_LABEL(uwt_frame);
ASM_LABEL(uwt_frame_pushed);
ASM_LABEL(uwt_frame_set);
ASM_LABEL(uwt_frame_popped);
ASM_LABEL(uwt_big_at);
ASM_LABEL(uwt_rbp_min_at);
ASM_LABEL(uwt_rbp_below_min_at);
ASM_LABEL(uwt_huge);
ASM_LABEL(uwt_huge_at);
ASM_LABEL(uwt_cfa_r12_at);
ASM_LABEL(uwt_cfa_deref_at);
ASM_LABEL(uwt_plt_expr);
ASM_LABEL(uwt_plt_expr_at);
ASM_LABEL(uwt_plt_expr9_at);
ASM_LABEL(uwt_rbp_expr_plus_at);
ASM_LABEL(uwt_rbp_expr_minus_at);
ASM_LABEL(uwt_rbp_expr_deref_at);
ASM_LABEL(uwt_rbp_val_at);
ASM_LABEL(uwt_rbp_reg_at);
ASM_LABEL(uwt_rbp_same_at);
ASM_LABEL(uwt_ra_reg_at);
ASM_LABEL(uwt_ra_off_at);
ASM_LABEL(uwt_rsp_at);
ASM_LABEL(uwt_outermost);
ASM_LABEL(uwt_signal);
ASM_LABEL(uwt_gap_before);
ASM_LABEL(uwt_merge_at);
ASM_LABEL(uwt_gap);
ASM_LABEL(uwt_gap_after);
ASM_LABEL(uwt_asm_end);

/* ---- Helpers ---- */

static char *self_path(void)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	cr_assert(n > 0);
	path[n] = '\0';
	return path;
}

static int bias_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	*(uint64_t *)arg = info->dlpi_addr;
	return 1;	/* the first object is the program */
}

/* The file virtual address of code in this program. */
static uint64_t self_vaddr(const void *p)
{
	uint64_t bias = 0;

	dl_iterate_phdr(bias_cb, &bias);
	return (uint64_t)(uintptr_t)p - bias;
}

static void build_ok(const char *path, struct unwind_table *t)
{
	int err = unwind_table_build_path(path, t);

	cr_assert_eq(err, 0, "%s: %s", path, strerror(-err));
	cr_assert_gt(t->n, 0);
}

/* Sorted, and merged: no row repeats the rule before it. */
static void assert_increasing(const struct unwind_table *t)
{
	size_t i;

	for (i = 1; i < t->n; i++) {
		const struct mt_unwind_row *a = &t->rows[i - 1], *b = &t->rows[i];

		cr_assert_lt(a->pc, b->pc, "row %zu", i);
		cr_assert(a->cfa_type != b->cfa_type ||
				  a->cfa_offset != b->cfa_offset ||
				  a->rbp_type != b->rbp_type ||
				  a->rbp_offset != b->rbp_offset,
			  "row %zu not merged", i);
	}
}

/* Address, size and file offset of a section, from readelf -S; false
 * when absent. */
static bool section_at(const char *path, const char *name, uint64_t *addr,
		       uint64_t *size, uint64_t *offset)
{
	char cmd[PATH_MAX + 64], *line = NULL;
	bool found = false;
	size_t cap = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "readelf -SW '%s' 2>/dev/null", path);
	p = popen(cmd, "r");
	cr_assert(p);
	while (getline(&line, &cap, p) > 0) {
		char sname[64], type[64];
		const char *s = strchr(line, ']');
		uint64_t a, off, sz;

		if (!s || found)
			continue;
		if (sscanf(s + 1, "%63s %63s %" SCNx64 " %" SCNx64 " %" SCNx64,
			   sname, type, &a, &off, &sz) == 5 &&
		    !strcmp(sname, name)) {
			*addr = a;
			*size = sz;
			*offset = off;
			found = true;
		}
	}
	free(line);
	pclose(p);
	return found;
}

static bool section_of(const char *path, const char *name, uint64_t *addr,
		       uint64_t *size)
{
	uint64_t offset;

	return section_at(path, name, addr, size, &offset);
}

/* ---- readelf --debug-dump=frames-interp ---- */

#define COLW 40

/* One row as readelf prints it: "" for a column it does not print. */
struct rf_row {
	uint64_t loc;
	char cfa[COLW], rbp[COLW], rsp[COLW], ra[COLW];
};

struct rf_entry {
	bool cie;
	int section;		/* readelf prints .eh_frame, then .debug_frame */
	uint64_t off;		/* in its section */
	uint64_t cie_off;	/* FDE: its CIE */
	bool signal;		/* CIE: augmentation has 'S' */
	uint64_t start, end;	/* FDE: its code */
	struct rf_row *rows;
	size_t n, cap;
};

struct rf {
	struct rf_entry *e;
	size_t n, cap;
};

static void rf_free(struct rf *rf)
{
	size_t i;

	for (i = 0; i < rf->n; i++)
		free(rf->e[i].rows);
	free(rf->e);
}

/* Split a table line into cells; "r3 (rbx)" is one cell. */
static int split_cells(char *line, char cells[][COLW], int max)
{
	char *tok, *save;
	int n = 0;

	for (tok = strtok_r(line, " \t\n", &save); tok;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		if (tok[0] == '(' && n > 0) {
			size_t len = strlen(cells[n - 1]);

			snprintf(cells[n - 1] + len, COLW - len, " %s", tok);
			continue;
		}
		if (n == max)
			break;
		snprintf(cells[n++], COLW, "%s", tok);
	}
	return n;
}

#define MAXCOLS 24

/* Add the row in line to e, whose table has columns cols after LOC. */
static void rf_add_row(struct rf_entry *e, char cols[][COLW], int ncols,
		       char *line)
{
	char cells[MAXCOLS + 1][COLW];
	struct rf_row row = { 0 };
	int n, i;

	n = split_cells(line, cells, MAXCOLS + 1);
	cr_assert_gt(n, 1, "readelf row: %s", line);
	row.loc = strtoull(cells[0], NULL, 16);
	for (i = 1; i < n && i - 1 < ncols; i++) {
		const char *col = cols[i - 1];

		if (!strcmp(col, "CFA"))
			strcpy(row.cfa, cells[i]);
		else if (!strcmp(col, "rbp"))
			strcpy(row.rbp, cells[i]);
		else if (!strcmp(col, "rsp"))
			strcpy(row.rsp, cells[i]);
		else if (!strcmp(col, "ra"))
			strcpy(row.ra, cells[i]);
	}
	if (e->n == e->cap) {
		e->cap = e->cap ? 2 * e->cap : 8;
		e->rows = realloc(e->rows, e->cap * sizeof(*e->rows));
		cr_assert(e->rows);
	}
	e->rows[e->n++] = row;
}

static void rf_read(const char *path, struct rf *rf)
{
	char cmd[PATH_MAX + 64], *line = NULL;
	char cols[MAXCOLS][COLW];
	struct rf_entry *cur = NULL;
	int section = -1, ncols = 0;
	size_t cap = 0;
	FILE *p;

	memset(rf, 0, sizeof(*rf));
	snprintf(cmd, sizeof(cmd), "readelf -wF '%s' 2>/dev/null", path);
	p = popen(cmd, "r");
	cr_assert(p);
	while (getline(&line, &cap, p) > 0) {
		uint64_t off, len, id, start, end, cie;
		struct rf_entry e = { 0 };
		const char *q;

		if (!strncmp(line, "Contents of the ", 16)) {
			section++;
			cur = NULL;
			continue;
		}
		if (!strncmp(line, "   LOC", 6) && cur) {
			ncols = split_cells(line + 6, cols, MAXCOLS);
			continue;
		}
		if (cur && ncols && strlen(line) > 17 && line[16] == ' ' &&
		    strspn(line, "0123456789abcdef") == 16) {
			rf_add_row(cur, cols, ncols, line);
			continue;
		}
		if (sscanf(line, "%" SCNx64 " %" SCNx64 " %" SCNx64, &off, &len,
			   &id) != 3)
			continue;
		e.section = section;
		e.off = off;
		if ((q = strstr(line, " CIE \""))) {
			const char *aug = q + 6;

			e.cie = true;
			e.signal = memchr(aug, 'S', strcspn(aug, "\"")) != NULL;
		} else if ((q = strstr(line, " FDE cie=")) &&
			   sscanf(q, " FDE cie=%" SCNx64 " pc=%" SCNx64
				  "..%" SCNx64, &cie, &start, &end) == 3) {
			e.cie_off = cie;
			e.start = start;
			e.end = end;
		} else {
			continue;
		}
		if (rf->n == rf->cap) {
			rf->cap = rf->cap ? 2 * rf->cap : 256;
			rf->e = realloc(rf->e, rf->cap * sizeof(*rf->e));
			cr_assert(rf->e);
		}
		rf->e[rf->n] = e;
		cur = &rf->e[rf->n++];
		ncols = 0;
	}
	free(line);
	pclose(p);
	cr_assert_gt(rf->n, 0, "no frames from readelf -wF %s", path);
}

static const struct rf_entry *rf_cie(struct rf_entry *const *cies,
				     size_t ncies, const struct rf_entry *fde)
{
	size_t i;

	for (i = 0; i < ncies; i++)
		if (cies[i]->section == fde->section &&
		    cies[i]->off == fde->cie_off)
			return cies[i];
	return NULL;
}

struct ranges {
	uint64_t start[4], end[4];
	int n;
};

/* What readelf cannot tell about a file. */
struct readelf_gaps {
	struct ranges plt;	/* where a CFA it prints as "exp" is the PLT
				   expression */
	struct ranges no_gap;	/* where the table may have rows no FDE
				   gave (.plt.got, .plt.sec) */
	struct ranges wrong;	/* FDEs whose rules it prints wrongly */
};

static void add_range(struct ranges *r, uint64_t start, uint64_t end)
{
	cr_assert_lt(r->n, 4);
	r->start[r->n] = start;
	r->end[r->n++] = end;
}

static bool in_ranges(const struct ranges *r, uint64_t pc)
{
	int i;

	for (i = 0; i < r->n; i++)
		if (pc >= r->start[i] && pc < r->end[i])
			return true;
	return false;
}

static bool parse_reg_off(const char *s, char *reg, long long *off)
{
	size_t n = strcspn(s, "+-");

	if (n == 0 || n >= 8 || !s[n])
		return false;
	memcpy(reg, s, n);
	reg[n] = '\0';
	*off = strtoll(s + n, NULL, 10);
	return true;
}

/*
 * The row the table should have where readelf prints r, by the rules of
 * include/memtrace_unwind.h. *rbp_known is false when readelf cannot say
 * (an rbp expression: checked by the assembly tests instead).
 */
static void expected_row(const struct rf_row *r, bool signal, bool plt,
			 struct mt_unwind_row *e, bool *rbp_known)
{
	long long off;
	char reg[8];

	memset(e, 0, sizeof(*e));
	*rbp_known = true;
	if (signal) {
		e->cfa_type = MT_CFA_SIGNAL;
		return;
	}
	if (!strcmp(r->ra, "u")) {
		e->cfa_type = MT_CFA_END;
		return;
	}
	e->cfa_type = MT_CFA_UNSUPPORTED;
	if (strcmp(r->ra, "c-8"))
		return;
	if (!strcmp(r->cfa, "exp")) {
		if (plt)
			e->cfa_type = MT_CFA_PLT;
		return;
	}
	if (!parse_reg_off(r->cfa, reg, &off) || off < INT32_MIN ||
	    off > INT32_MAX || (strcmp(reg, "rsp") && strcmp(reg, "rbp")))
		return;
	if (r->rsp[0] && strcmp(r->rsp, "u") && strcmp(r->rsp, "s") &&
	    strcmp(r->rsp, "v+0"))
		return;
	e->cfa_type = strcmp(reg, "rsp") ? MT_CFA_RBP : MT_CFA_RSP;
	e->cfa_offset = off;

	if (!r->rbp[0] || !strcmp(r->rbp, "u") || !strcmp(r->rbp, "s")) {
		e->rbp_type = MT_RBP_UNCHANGED;
	} else if (!strcmp(r->rbp, "exp")) {
		*rbp_known = false;
	} else if (r->rbp[0] == 'c' && (r->rbp[1] == '+' || r->rbp[1] == '-') &&
		   (off = strtoll(r->rbp + 1, NULL, 10)) >= INT16_MIN &&
		   off <= INT16_MAX) {
		e->rbp_type = MT_RBP_OFFSET;
		e->rbp_offset = off;
	} else {
		e->rbp_type = MT_RBP_UNSUPPORTED;
	}
}

static int cmp_fde(const void *a, const void *b)
{
	const struct rf_entry *x = *(const struct rf_entry *const *)a;
	const struct rf_entry *y = *(const struct rf_entry *const *)b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * Check every row readelf prints for path against the table, and the gaps
 * between FDEs. Returns how many rows and gaps were checked.
 */
static size_t check_against_readelf(const char *path,
				    const struct unwind_table *t,
				    const struct readelf_gaps *o)
{
	size_t i, j, nfdes = 0, ncies = 0, nwrong = 0, checked = 0, bad = 0;
	struct rf_entry **fdes, **cies;
	struct rf rf;

	rf_read(path, &rf);
	fdes = calloc(rf.n, sizeof(*fdes));
	cies = calloc(rf.n, sizeof(*cies));
	cr_assert(fdes && cies);
	for (i = 0; i < rf.n; i++) {
		if (rf.e[i].cie)
			cies[ncies++] = &rf.e[i];
		else if (rf.e[i].end > rf.e[i].start &&
			 in_ranges(&o->wrong, rf.e[i].start))
			nwrong++;
		else if (rf.e[i].end > rf.e[i].start)
			fdes[nfdes++] = &rf.e[i];
	}
	qsort(fdes, nfdes, sizeof(*fdes), cmp_fde);
	cr_expect_eq(nfdes + nwrong, t->stats.fdes, "%s: readelf has %zu FDEs",
		     path, nfdes + nwrong);

	for (i = 0; i < nfdes; i++) {
		const struct rf_entry *f = fdes[i];
		const struct rf_entry *cie = rf_cie(cies, ncies, f);
		const struct rf_row *rows = f->rows;
		const struct mt_unwind_row *gap;
		size_t n = f->n;
		struct rf_row cie_row;

		cr_assert(cie, "%s: FDE %" PRIx64 " has no CIE", path, f->off);
		/* readelf prints no table for an FDE without instructions:
		 * the CIE's rules hold throughout. */
		if (n == 0) {
			cr_assert_eq(cie->n, 1);
			cie_row = cie->rows[0];
			cie_row.loc = f->start;
			rows = &cie_row;
			n = 1;
		}
		for (j = 0; j < n; j++) {
			const struct mt_unwind_row *got;
			struct mt_unwind_row want;
			bool rbp_known;

			/* readelf prints some rows twice (an advance by 0):
			 * the last holds. */
			if (j + 1 < n && rows[j + 1].loc == rows[j].loc)
				continue;
			expected_row(&rows[j], cie->signal,
				     in_ranges(&o->plt, rows[j].loc), &want,
				     &rbp_known);
			got = unwind_table_lookup(t, rows[j].loc);
			checked++;
			if (got && got->cfa_type == want.cfa_type &&
			    got->cfa_offset == want.cfa_offset &&
			    (!rbp_known || (got->rbp_type == want.rbp_type &&
					    got->rbp_offset == want.rbp_offset)))
				continue;
			if (bad++ < 10)
				cr_log_error("%s: at %" PRIx64 " readelf says CFA %s rbp %s rsp %s ra %s: want %d/%d/%d/%d, got %d/%d/%d/%d",
					     path, rows[j].loc, rows[j].cfa,
					     rows[j].rbp, rows[j].rsp,
					     rows[j].ra, want.cfa_type,
					     want.cfa_offset, want.rbp_type,
					     want.rbp_offset,
					     got ? got->cfa_type : -1,
					     got ? got->cfa_offset : 0,
					     got ? got->rbp_type : -1,
					     got ? got->rbp_offset : 0);
		}

		/* Where no FDE follows directly, there is no information. */
		if (i + 1 < nfdes && fdes[i + 1]->start <= f->end)
			continue;
		if (in_ranges(&o->no_gap, f->end) ||
		    in_ranges(&o->wrong, f->end))
			continue;
		checked++;
		gap = unwind_table_lookup(t, f->end);
		if ((!gap || gap->cfa_type != MT_CFA_NONE) && bad++ < 10)
			cr_log_error("%s: gap at %" PRIx64 " is type %d", path,
				     f->end, gap ? gap->cfa_type : -1);
		if (i + 1 < nfdes) {
			gap = unwind_table_lookup(t, fdes[i + 1]->start - 1);
			cr_expect(gap && gap->cfa_type == MT_CFA_NONE);
		}
	}
	if (nfdes && unwind_table_lookup(t, fdes[0]->start - 1) &&
	    !in_ranges(&o->no_gap, fdes[0]->start - 1))
		cr_expect_eq(unwind_table_lookup(t, fdes[0]->start - 1)->cfa_type,
			     MT_CFA_NONE);
	cr_expect_eq(bad, 0, "%s: %zu of %zu rows differ from readelf", path,
		     bad, checked);
	free(fdes);
	free(cies);
	rf_free(&rf);
	return checked;
}

/* From the PLT sections of path. */
static void plt_sections(const char *path, struct readelf_gaps *o)
{
	static const char *const names[] = { ".plt", ".plt.got", ".plt.sec" };
	uint64_t addr[3], size;
	bool has[3];
	size_t i;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < 3; i++) {
		has[i] = section_of(path, names[i], &addr[i], &size);
		if (has[i])
			add_range(&o->no_gap, addr[i], addr[i] + size);
	}
	/* With IBT (a .plt.sec), .plt's expression has another threshold,
	 * which MT_CFA_PLT does not mean. */
	if (has[0] && !has[2]) {
		section_of(path, ".plt", &addr[0], &size);
		add_range(&o->plt, addr[0], addr[0] + size);
	}
}

static void check_library(const char *path)
{
	struct readelf_gaps o;
	struct unwind_table t;
	size_t checked;

	if (access(path, R_OK))
		cr_skip_test("%s is not installed", path);
	build_ok(path, &t);
	assert_increasing(&t);
	cr_expect_eq(t.stats.skipped_fdes, 0);
	cr_expect_eq(t.stats.why_refused, 0);
	cr_expect_eq(t.stats.rows, t.n);
	cr_expect_geq(t.stats.rows_before_merge, t.n);
	cr_expect_eq(t.rows[t.n - 1].cfa_type, MT_CFA_NONE);
	cr_expect_gt(t.build_id_len, 0);
	plt_sections(path, &o);
	checked = check_against_readelf(path, &t, &o);
	cr_expect_gt(checked, t.n / 2);
	unwind_table_free(&t);
}

/* ---- Against readelf ---- */

Test(unwind_table, libc_matches_readelf)
{
	check_library(LIBC);
}

Test(unwind_table, libstdcxx_matches_readelf)
{
	check_library(LIBSTDCXX);
}

Test(unwind_table, python_matches_readelf)
{
	check_library(PYTHON);
}

Test(unwind_table, self_matches_readelf)
{
	const char *path = self_path();
	struct unwind_table t;
	struct readelf_gaps o;

	build_ok(path, &t);
	assert_increasing(&t);
	plt_sections(path, &o);
	/* The assembly above uses the PLT expression outside .plt, and
	 * readelf prints a 64-bit CFA offset's low 32 bits. */
	add_range(&o.plt, self_vaddr(uwt_plt_expr_at),
		  self_vaddr(uwt_plt_expr9_at));
	add_range(&o.wrong, self_vaddr(uwt_huge), self_vaddr(uwt_huge) + 1);
	check_against_readelf(path, &t, &o);
	unwind_table_free(&t);
}

/* ---- Each rule form, from the assembly above ---- */

static const struct mt_unwind_row *self_row(const struct unwind_table *t,
					    const void *code)
{
	const struct mt_unwind_row *r = unwind_table_lookup(t, self_vaddr(code));

	cr_assert(r);
	return r;
}

#define expect_row(t, code, type, off, rtype, roff)                          \
	do {                                                                 \
		const struct mt_unwind_row *r_ = self_row(t, code);          \
		cr_expect_eq(r_->cfa_type, type, #code ": cfa_type %d",      \
			     r_->cfa_type);                                  \
		cr_expect_eq(r_->cfa_offset, off, #code ": cfa_offset %d",   \
			     r_->cfa_offset);                                \
		cr_expect_eq(r_->rbp_type, rtype, #code ": rbp_type %d",     \
			     r_->rbp_type);                                  \
		cr_expect_eq(r_->rbp_offset, roff, #code ": rbp_offset %d",  \
			     r_->rbp_offset);                                \
	} while (0)

Test(unwind_table, rule_forms)
{
	struct unwind_table t;

	build_ok(self_path(), &t);

	expect_row(&t, uwt_frame, MT_CFA_RSP, 8, MT_RBP_UNCHANGED, 0);
	expect_row(&t, uwt_frame_pushed, MT_CFA_RSP, 16, MT_RBP_OFFSET, -16);
	expect_row(&t, uwt_frame_set, MT_CFA_RBP, 16, MT_RBP_OFFSET, -16);
	expect_row(&t, uwt_frame_popped, MT_CFA_RSP, 8, MT_RBP_OFFSET, -16);

	expect_row(&t, uwt_big_at, MT_CFA_RSP, 40008, MT_RBP_UNSUPPORTED, 0);
	expect_row(&t, uwt_rbp_min_at, MT_CFA_RSP, 32776, MT_RBP_OFFSET,
		   -32768);
	expect_row(&t, uwt_rbp_below_min_at, MT_CFA_RSP, 32784,
		   MT_RBP_UNSUPPORTED, 0);
	expect_row(&t, uwt_huge_at, MT_CFA_UNSUPPORTED, 0, 0, 0);
	expect_row(&t, uwt_cfa_r12_at, MT_CFA_UNSUPPORTED, 0, 0, 0);
	expect_row(&t, uwt_cfa_deref_at, MT_CFA_UNSUPPORTED, 0, 0, 0);

	expect_row(&t, uwt_plt_expr_at, MT_CFA_PLT, 0, 0, 0);
	expect_row(&t, uwt_plt_expr9_at, MT_CFA_UNSUPPORTED, 0, 0, 0);

	expect_row(&t, uwt_rbp_expr_plus_at, MT_CFA_RSP, 8, MT_RBP_OFFSET, -24);
	expect_row(&t, uwt_rbp_expr_minus_at, MT_CFA_RSP, 8, MT_RBP_OFFSET,
		   -16);
	expect_row(&t, uwt_rbp_expr_deref_at, MT_CFA_RSP, 8,
		   MT_RBP_UNSUPPORTED, 0);
	expect_row(&t, uwt_rbp_val_at, MT_CFA_RSP, 8, MT_RBP_UNSUPPORTED, 0);
	expect_row(&t, uwt_rbp_reg_at, MT_CFA_RSP, 8, MT_RBP_UNSUPPORTED, 0);
	expect_row(&t, uwt_rbp_same_at, MT_CFA_RSP, 8, MT_RBP_UNCHANGED, 0);

	expect_row(&t, uwt_ra_reg_at, MT_CFA_UNSUPPORTED, 0, 0, 0);
	expect_row(&t, uwt_ra_off_at, MT_CFA_UNSUPPORTED, 0, 0, 0);
	expect_row(&t, uwt_rsp_at, MT_CFA_UNSUPPORTED, 0, 0, 0);

	expect_row(&t, uwt_outermost, MT_CFA_END, 0, 0, 0);
	expect_row(&t, uwt_signal, MT_CFA_SIGNAL, 0, 0, 0);

	/* The second row is the first again: merged into it. */
	cr_expect_eq(self_row(&t, uwt_merge_at), self_row(&t, uwt_gap_before));
	expect_row(&t, uwt_gap, MT_CFA_NONE, 0, 0, 0);
	expect_row(&t, uwt_gap + 15, MT_CFA_NONE, 0, 0, 0);
	expect_row(&t, uwt_gap_after, MT_CFA_RSP, 8, MT_RBP_UNCHANGED, 0);

	/* Every reason is counted. */
	cr_expect_geq(t.stats.why_cfa_offset, 1);
	cr_expect_geq(t.stats.why_cfa_register, 1);
	cr_expect_geq(t.stats.why_cfa_expression, 2);
	cr_expect_geq(t.stats.why_ra, 2);
	cr_expect_geq(t.stats.why_rsp, 1);
	cr_expect_geq(t.stats.unsupported_rbp, 4);
	cr_expect_geq(t.stats.signal_rows, 1);
	cr_expect_geq(t.stats.end_rows, 2);	/* with _start */
	unwind_table_free(&t);
}

Test(unwind_table, start_is_outermost)
{
	const char *path = self_path();
	struct unwind_table t;
	Elf64_Ehdr ehdr;
	int fd;

	fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &ehdr, sizeof(ehdr), 0), sizeof(ehdr));
	cr_assert_eq(unwind_table_build(fd, &t), 0);
	close(fd);
	/* glibc's _start says its return address is undefined. */
	cr_expect_eq(unwind_table_lookup(&t, ehdr.e_entry)->cfa_type,
		     MT_CFA_END);
	unwind_table_free(&t);
}

/* ---- libc's special places ---- */

Test(unwind_table, libc_plt)
{
	struct unwind_table t;
	uint64_t plt, size;

	cr_assert(section_of(LIBC, ".plt", &plt, &size));
	build_ok(LIBC, &t);
	/* After PLT0, every entry has the PLT rule. */
	cr_expect_eq(unwind_table_lookup(&t, plt + 16)->cfa_type, MT_CFA_PLT);
	cr_expect_eq(unwind_table_lookup(&t, plt + 16 + 11)->cfa_type,
		     MT_CFA_PLT);
	cr_expect_eq(unwind_table_lookup(&t, plt + size - 1)->cfa_type,
		     MT_CFA_PLT);
	/* PLT0 pushes, then jumps: plain rsp rules. */
	cr_expect_eq(unwind_table_lookup(&t, plt)->cfa_type, MT_CFA_RSP);
	cr_expect_eq(unwind_table_lookup(&t, plt)->cfa_offset, 16);
	cr_expect_eq(t.stats.plt_rows, 1);
	unwind_table_free(&t);
}

/* The address of symbol in a file's .symtab, from readelf -s. */
static bool symbol_of(const char *path, const char *symbol, uint64_t *addr)
{
	char cmd[PATH_MAX + 64], *line = NULL;
	bool found = false;
	size_t cap = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "readelf -sW '%s' 2>/dev/null", path);
	p = popen(cmd, "r");
	cr_assert(p);
	while (getline(&line, &cap, p) > 0) {
		char name[256];
		uint64_t value;
		unsigned int num;

		if (!found &&
		    sscanf(line, " %u: %" SCNx64 " %*s %*s %*s %*s %*s %255s",
			   &num, &value, name) == 3 &&
		    !strcmp(name, symbol)) {
			*addr = value;
			found = true;
		}
	}
	free(line);
	pclose(p);
	return found;
}

/* libc's debug file from libc6-dbg, or NULL. */
static const char *libc_debug_file(const struct unwind_table *libc)
{
	static char path[PATH_MAX];
	size_t i, len;

	if (libc->build_id_len < 2)
		return NULL;
	len = snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%02x/",
		       libc->build_id[0]);
	for (i = 1; i < libc->build_id_len; i++)
		len += snprintf(path + len, sizeof(path) - len, "%02x",
				libc->build_id[i]);
	snprintf(path + len, sizeof(path) - len, ".debug");
	return access(path, R_OK) ? NULL : path;
}

Test(unwind_table, libc_restore_rt_is_signal_frame)
{
	struct unwind_table t;
	const char *debug;
	uint64_t addr;

	build_ok(LIBC, &t);
	/* Found by its 'S' CIE in libc_matches_readelf; by name here. */
	cr_expect_eq(t.stats.signal_rows, 1);
	debug = libc_debug_file(&t);
	if (!debug) {
		unwind_table_free(&t);
		cr_skip_test("libc6-dbg is not installed: no __restore_rt symbol");
	}
	cr_assert(symbol_of(debug, "__restore_rt", &addr));
	cr_expect_eq(unwind_table_lookup(&t, addr)->cfa_type, MT_CFA_SIGNAL);
	/* glibc starts the FDE one byte early, for unwinders that look up
	 * return address - 1. */
	cr_expect_eq(unwind_table_lookup(&t, addr - 1)->cfa_type,
		     MT_CFA_SIGNAL);
	unwind_table_free(&t);
}

Test(unwind_table, libc_debug_file_by_build_id)
{
	struct unwind_table t, with_debug;
	char found[PATH_MAX];
	const char *debug;
	int fd, dfd;

	build_ok(LIBC, &t);
	debug = libc_debug_file(&t);
	if (!debug) {
		unwind_table_free(&t);
		cr_skip_test("libc6-dbg is not installed");
	}
	cr_assert_eq(debug_file_find(LIBC, UNWIND_TABLE_DEBUG_ROOT,
						  found, sizeof(found)),
		     0);
	cr_expect_str_eq(found, debug);

	/* Debian's debug file has no .debug_frame: nothing changes. */
	fd = open(LIBC, O_RDONLY);
	dfd = open(debug, O_RDONLY);
	cr_assert(fd >= 0 && dfd >= 0);
	cr_assert_eq(unwind_table_build_debug(fd, dfd, &with_debug), 0);
	cr_expect_eq(with_debug.n, t.n);
	cr_expect_eq(memcmp(with_debug.rows, t.rows, t.n * sizeof(*t.rows)),
		     0);
	unwind_table_free(&with_debug);
	/* Its .eh_frame is a SHT_NOBITS header only. */
	cr_expect_eq(unwind_table_build(dfd, &with_debug), -ENODATA);
	/* Too short a buffer. */
	cr_expect_eq(debug_file_find(LIBC, UNWIND_TABLE_DEBUG_ROOT,
						  found, 10),
		     -ENAMETOOLONG);
	close(fd);
	close(dfd);
	unwind_table_free(&t);
}

/* ---- .debug_frame in a separate debug file ---- */

struct scratch {
	char dir[64];
};

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static const char prog_src[] =
	"#include <stdio.h>\n"
	"__attribute__((noinline)) int f(int x)\n"
	"{ char b[64]; snprintf(b, sizeof(b), \"%d\", x); return puts(b); }\n"
	"int main(int argc, char **argv) { return f(argc) + VARIANT; }\n";

/*
 * In a new directory: prog, built with .debug_frame instead of .eh_frame
 * (gcc -fno-asynchronous-unwind-tables), split into prog.debug (only the
 * debug information, compressed as Debian does) and prog.stripped (no
 * debug information, no .eh_frame at all, a .gnu_debuglink to
 * prog.debug).
 */
/* A new scratch directory holding one file, name, of text. */
static void scratch_with_file(struct scratch *s, const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	strcpy(s->dir, "/tmp/uwt-XXXXXX");
	cr_assert(mkdtemp(s->dir));
	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	f = fopen(path, "w");
	cr_assert(f);
	fputs(text, f);
	fclose(f);
}

static void make_prog(struct scratch *s, const char *ldflags, int variant)
{
	if (system("gcc --version >/dev/null 2>&1 && objcopy --version >/dev/null 2>&1"))
		cr_skip_test("gcc or objcopy missing");
	scratch_with_file(s, "prog.c", prog_src);
	run("cd %s && gcc -g -O1 -fno-asynchronous-unwind-tables -DVARIANT=%d %s prog.c -o prog"
	    " && objcopy --only-keep-debug --compress-debug-sections=zlib prog prog.debug"
	    " && objcopy --strip-debug --remove-section=.eh_frame"
	    " --remove-section=.eh_frame_hdr --add-gnu-debuglink=prog.debug"
	    " prog prog.stripped 2>/dev/null",
	    s->dir, variant, ldflags);
}

static void remove_scratch(struct scratch *s)
{
	run("rm -rf %s", s->dir);
}

static void scratch_path(char *buf, const struct scratch *s, const char *name)
{
	snprintf(buf, PATH_MAX, "%s/%s", s->dir, name);
}

Test(unwind_table, debug_frame_in_debug_file)
{
	struct readelf_gaps o;
	char stripped[PATH_MAX], debug[PATH_MAX], found[PATH_MAX];
	char root[PATH_MAX], moved[2 * PATH_MAX], prog[PATH_MAX];
	char expected[2 * PATH_MAX];
	struct unwind_table t, direct;
	struct scratch s;
	uint64_t addr, size;
	size_t i;
	int fd;

	make_prog(&s, "", 0);
	scratch_path(stripped, &s, "prog.stripped");
	scratch_path(debug, &s, "prog.debug");
	scratch_path(prog, &s, "prog");
	scratch_path(root, &s, "root");

	/* Nothing of its own. */
	fd = open(stripped, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_expect_eq(unwind_table_build(fd, &t), -ENODATA);
	close(fd);

	/* Found next to it through .gnu_debuglink. */
	cr_assert_eq(debug_file_find(stripped, root, found,
						  sizeof(found)),
		     0);
	cr_expect_str_eq(found, debug);
	build_ok(stripped, &t);
	assert_increasing(&t);
	cr_expect_gt(t.stats.debug_frame_fdes, 0);
	cr_expect_eq(t.stats.debug_frame_fdes, t.stats.fdes);

	/* The rows readelf reads from the debug file's .debug_frame. */
	plt_sections(prog, &o);
	check_against_readelf(debug, &t, &o);

	/* The unstripped program: its own .debug_frame beside the crt
	 * files' .eh_frame. */
	cr_assert_eq(unwind_table_build_path(prog, &direct), 0);
	cr_expect_eq(direct.stats.debug_frame_fdes, t.stats.fdes);
	cr_expect_gt(direct.stats.fdes, direct.stats.debug_frame_fdes);
	for (i = 0; i < t.n; i++) {
		const struct mt_unwind_row *r = &t.rows[i];

		if (r->cfa_type == MT_CFA_RSP || r->cfa_type == MT_CFA_RBP)
			cr_expect_eq(memcmp(unwind_table_lookup(&direct, r->pc),
					    r, sizeof(*r)),
				     0);
	}
	unwind_table_free(&direct);

	/* No FDE in the stripped file's .plt.got: jmp stubs all the same. */
	if (section_of(stripped, ".plt.got", &addr, &size))
		cr_expect_eq(unwind_table_lookup(&t, addr)->cfa_type,
			     MT_CFA_PLT);
	/* Its .plt, without FDE: the lazy stubs push, no rule is known. */
	if (section_of(stripped, ".plt", &addr, &size))
		cr_expect_eq(unwind_table_lookup(&t, addr + 16)->cfa_type,
			     MT_CFA_UNSUPPORTED);

	/* Found by build ID in a debug root. */
	snprintf(moved, sizeof(moved), "%s/.build-id/%02x", root,
		 t.build_id[0]);
	run("mkdir -p %s", moved);
	for (i = 1; i < t.build_id_len; i++)
		snprintf(moved + strlen(moved), sizeof(moved) - strlen(moved),
			 "%s%02x", i == 1 ? "/" : "", t.build_id[i]);
	strcat(moved, ".debug");
	run("mv %s %s", debug, moved);
	cr_assert_eq(debug_file_find(stripped, root, found,
						  sizeof(found)),
		     0);
	cr_expect_str_eq(found, moved);

	/* In .debug/ beside it, and under the root by directory. */
	run("mkdir -p %s/.debug && cp %s %s/.debug/prog.debug", s.dir, moved,
	    s.dir);
	cr_assert_eq(debug_file_find(stripped, "/nonexistent",
						  found, sizeof(found)),
		     0);
	snprintf(expected, sizeof(expected), "%s/.debug/prog.debug", s.dir);
	cr_expect_str_eq(found, expected);
	run("rm -rf %s/.build-id && mkdir -p %s%s && mv %s/.debug/prog.debug %s%s/",
	    root, root, s.dir, s.dir, root, s.dir);
	cr_assert_eq(debug_file_find(stripped, root, found,
						  sizeof(found)),
		     0);
	snprintf(expected, sizeof(expected), "%s%s/prog.debug", root, s.dir);
	cr_expect_str_eq(found, expected);
	run("rm -rf %s", root);
	cr_expect_eq(debug_file_find(stripped, root, found,
						  sizeof(found)),
		     -ENOENT);
	unwind_table_free(&t);
	remove_scratch(&s);
}

Test(unwind_table, debug_file_must_match)
{
	char stripped[PATH_MAX], found[PATH_MAX], other_debug[PATH_MAX];
	struct scratch s, other;
	struct unwind_table t;
	int fd, dfd;

	make_prog(&s, "", 0);
	make_prog(&other, "", 1);
	scratch_path(stripped, &s, "prog.stripped");
	scratch_path(other_debug, &other, "prog.debug");

	/* Another program's debug file under the linked name. */
	run("cp %s %s/prog.debug", other_debug, s.dir);
	cr_expect_eq(debug_file_find(stripped, "/nonexistent",
						  found, sizeof(found)),
		     -ENOENT);
	fd = open(stripped, O_RDONLY);
	dfd = open(other_debug, O_RDONLY);
	cr_assert(fd >= 0 && dfd >= 0);
	cr_expect_eq(unwind_table_build_debug(fd, dfd, &t), -EINVAL);
	cr_expect_eq(t.n, 0);
	close(fd);
	close(dfd);
	remove_scratch(&s);
	remove_scratch(&other);
}

Test(unwind_table, debug_file_by_crc)
{
	char stripped[PATH_MAX], found[PATH_MAX], debug[PATH_MAX];
	struct unwind_table t;
	struct scratch s;

	/* Without a build ID only the CRC tells the right file. */
	make_prog(&s, "-Wl,--build-id=none", 0);
	scratch_path(stripped, &s, "prog.stripped");
	scratch_path(debug, &s, "prog.debug");
	cr_assert_eq(debug_file_find(stripped, "/nonexistent",
						  found, sizeof(found)),
		     0);
	cr_expect_str_eq(found, debug);
	build_ok(stripped, &t);
	cr_expect_eq(t.build_id_len, 0);
	cr_expect_gt(t.stats.debug_frame_fdes, 0);
	unwind_table_free(&t);

	run("printf x >> %s", debug);
	cr_expect_eq(debug_file_find(stripped, "/nonexistent",
						  found, sizeof(found)),
		     -ENOENT);
	cr_expect_eq(unwind_table_build_path(stripped, &t), -ENODATA);
	remove_scratch(&s);
}

/* ---- Lookups ---- */

Test(unwind_table, lookup_edges)
{
	struct mt_unwind_row rows[] = {
		{ .pc = 0x1000, .cfa_type = MT_CFA_RSP, .cfa_offset = 8 },
		{ .pc = 0x1004, .cfa_type = MT_CFA_RSP, .cfa_offset = 16 },
		{ .pc = 0x1010, .cfa_type = MT_CFA_NONE },
	};
	struct unwind_table t = { .rows = rows, .n = 3 };
	struct unwind_table empty = { 0 };

	cr_expect_null(unwind_table_lookup(&t, 0));
	cr_expect_null(unwind_table_lookup(&t, 0xfff));
	cr_expect_eq(unwind_table_lookup(&t, 0x1000), &rows[0]);
	cr_expect_eq(unwind_table_lookup(&t, 0x1003), &rows[0]);
	cr_expect_eq(unwind_table_lookup(&t, 0x1004), &rows[1]);
	cr_expect_eq(unwind_table_lookup(&t, 0x100f), &rows[1]);
	cr_expect_eq(unwind_table_lookup(&t, 0x1010), &rows[2]);
	cr_expect_eq(unwind_table_lookup(&t, UINT64_MAX), &rows[2]);
	cr_expect_null(unwind_table_lookup(&empty, 0x1000));
	unwind_table_free(NULL);
	unwind_table_free(&empty);
}

/* ---- Garbage ---- */

static int build_bytes(const void *buf, size_t len, struct unwind_table *t)
{
	char path[] = "/tmp/uwt-garbage-XXXXXX";
	int fd = mkstemp(path), err;

	cr_assert_geq(fd, 0);
	unlink(path);
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	err = unwind_table_build(fd, t);
	close(fd);
	return err;
}

static void *read_whole(const char *path, size_t *len)
{
	struct stat st;
	void *buf;
	int fd;

	fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &st), 0);
	buf = malloc(st.st_size);
	cr_assert(buf);
	cr_assert_eq(read(fd, buf, st.st_size), st.st_size);
	close(fd);
	*len = st.st_size;
	return buf;
}

Test(unwind_table, garbage_is_an_error)
{
	static const char text[] = "#!/bin/sh\necho not an ELF file\n";
	unsigned char noise[65536];
	struct unwind_table t;
	uint32_t seed = 1;
	size_t i, len;
	uint8_t *libc;

	for (i = 0; i < sizeof(noise); i++) {
		seed = seed * 1103515245 + 12345;
		noise[i] = seed >> 16;
	}
	cr_expect_eq(build_bytes("", 0, &t), -ENOEXEC);
	cr_expect_eq(build_bytes(text, sizeof(text), &t), -ENOEXEC);
	cr_expect_eq(build_bytes(noise, sizeof(noise), &t), -ENOEXEC);
	cr_expect_eq(build_bytes("\x7f" "ELF", 4, &t), -ENOEXEC);
	cr_expect_eq(unwind_table_build(-1, &t), -EBADF);
	cr_expect_eq(unwind_table_build_path("/nonexistent", &t), -ENOENT);
	cr_expect_eq(unwind_table_build_path("/", &t), -ENOEXEC);

	libc = read_whole(LIBC, &len);
	/* Truncated: headers only, half, all but the section headers. */
	cr_expect_eq(build_bytes(libc, 64, &t), -ENOEXEC);
	cr_expect_lt(build_bytes(libc, 4096, &t), 0);
	cr_expect_lt(build_bytes(libc, len / 2, &t), 0);
	cr_expect_lt(build_bytes(libc, len - 4096, &t), 0);
	/* Another machine's. */
	((Elf64_Ehdr *)libc)->e_machine = EM_AARCH64;
	cr_expect_eq(build_bytes(libc, len, &t), -ENOEXEC);
	free(libc);
}

Test(unwind_table, no_unwind_sections)
{
	struct scratch s;
	char path[PATH_MAX];
	struct unwind_table t;
	int fd;

	make_prog(&s, "", 0);
	run("cd %s && objcopy --remove-section=.eh_frame --remove-section=.eh_frame_hdr"
	    " --remove-section=.debug_frame prog bare 2>/dev/null", s.dir);
	scratch_path(path, &s, "bare");
	fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_expect_eq(unwind_table_build(fd, &t), -ENODATA);
	close(fd);
	remove_scratch(&s);
}

/* Corrupted CFI gives rows or an error, never a crash (ASan watches). */
Test(unwind_table, corrupt_cfi, .timeout = 120)
{
	uint64_t eh, eh_size, eh_off, hdr, hdr_size, hdr_off, start, end;
	struct unwind_table t;
	uint32_t seed = 42;
	uint8_t *libc, *copy;
	size_t len, round;
	int err;

	cr_assert(section_at(LIBC, ".eh_frame", &eh, &eh_size, &eh_off));
	cr_assert(section_at(LIBC, ".eh_frame_hdr", &hdr, &hdr_size, &hdr_off));
	/* Both, and what lies between them. */
	start = hdr_off < eh_off ? hdr_off : eh_off;
	end = hdr_off < eh_off ? eh_off + eh_size : hdr_off + hdr_size;
	libc = read_whole(LIBC, &len);
	cr_assert_leq(end, len);
	copy = malloc(len);
	cr_assert(copy);
	for (round = 0; round < 40; round++) {
		size_t i, n;

		memcpy(copy, libc, len);
		seed = seed * 1103515245 + 12345;
		n = 1 + (seed >> 16) % (round < 20 ? 8 : 400);
		for (i = 0; i < n; i++) {
			seed = seed * 1103515245 + 12345;
			copy[start + (seed >> 4) % (end - start)] = seed >> 24;
		}
		err = build_bytes(copy, len, &t);
		if (!err) {
			assert_increasing(&t);
			unwind_table_free(&t);
		} else {
			cr_expect_lt(err, 0);
		}
	}
	/* The whole of .eh_frame zeroed: a terminator and nothing else. */
	memcpy(copy, libc, len);
	memset(copy + eh_off, 0, eh_size);
	cr_expect_eq(build_bytes(copy, len, &t), -ENODATA);
	free(copy);
	free(libc);
}

/* Assemble src into a shared object in a new scratch directory; its path
 * goes to so. */
static void make_asm_lib(struct scratch *s, const char *src, char *so)
{
	if (system("gcc --version >/dev/null 2>&1"))
		cr_skip_test("gcc missing");
	scratch_with_file(s, "lib.s", src);
	run("cd %s && gcc -shared -nostdlib -o lib.so lib.s", s->dir);
	scratch_path(so, s, "lib.so");
}

/*
 * An FDE whose instructions name register 98,566,073 (DW_CFA_same_value,
 * as in a file the fuzzer made) is refused before libdw runs it: libdw
 * would grow the frame state to that register, 2 GiB cleared in 16 s.
 * Its function gets an unsupported row; its neighbour, naming rbx (3),
 * is read as usual.
 */
Test(unwind_table, register_beyond_x86_64_not_given_to_libdw)
{
	static const char src[] =
		".text\n"
		"huge_reg:\n"
		".cfi_startproc\n"
		".cfi_escape 0x08, 0xb9, 0xff, 0xff, 0x2e\n"
		"nop\n"
		"ret\n"
		".cfi_endproc\n"
		"rbx_reg:\n"
		".cfi_startproc\n"
		".cfi_escape 0x08, 0x03\n"
		"nop\n"
		"ret\n"
		".cfi_endproc\n";
	char path[PATH_MAX];
	struct unwind_table t;
	struct scratch s;
	size_t unsupported = 0;

	make_asm_lib(&s, src, path);
	build_ok(path, &t);
	assert_increasing(&t);
	cr_expect_eq(t.stats.fdes, 2);
	cr_expect_eq(t.stats.why_refused, 1);
	cr_expect_eq(t.stats.why_libdw, 0);
	for (size_t i = 0; i < t.n; i++)
		unsupported += t.rows[i].cfa_type == MT_CFA_UNSUPPORTED;
	cr_expect_eq(unsupported, 1);
	cr_expect_eq(t.rows[0].cfa_type, MT_CFA_UNSUPPORTED);
	cr_expect_eq(t.rows[1].cfa_type, MT_CFA_RSP);
	unwind_table_free(&t);
	remove_scratch(&s);
}

/* An FDE of 5,000 rows is refused too: libdw would run its instructions
 * again from the start for each row. */
Test(unwind_table, rows_beyond_bound_not_given_to_libdw)
{
	static const char row[] = "nop\n.cfi_def_cfa_offset 16\nnop\n.cfi_def_cfa_offset 24\n";
	size_t len = 64 + 2500 * strlen(row);
	char path[PATH_MAX], *src = malloc(len);
	struct unwind_table t;
	struct scratch s;
	char *end;

	cr_assert(src);
	end = stpcpy(src, ".text\nrows:\n.cfi_startproc\n");
	for (int i = 0; i < 2500; i++)
		end = stpcpy(end, row);
	stpcpy(end, "ret\n.cfi_endproc\n");
	make_asm_lib(&s, src, path);
	free(src);
	build_ok(path, &t);
	cr_expect_eq(t.stats.fdes, 1);
	cr_expect_eq(t.stats.why_refused, 1);
	cr_expect_eq(t.rows[0].cfa_type, MT_CFA_UNSUPPORTED);
	unwind_table_free(&t);
	remove_scratch(&s);
}
