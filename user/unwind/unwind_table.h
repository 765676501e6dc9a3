/* SPDX-License-Identifier: MIT */
/*
 * Unwind tables for the BPF unwinder (rows as include/memtrace_unwind.h
 * defines them), built from an x86-64 ELF file's call frame information:
 * its .eh_frame, its .debug_frame if it has one, or, when it has no
 * .eh_frame, the .debug_frame of its separate debug file.
 *
 * Every row of every FDE becomes one row, in the file's own virtual
 * addresses; identical neighbours are merged. A rule the row format cannot
 * express becomes MT_CFA_UNSUPPORTED (or MT_RBP_UNSUPPORTED), never an
 * approximation.
 */
#ifndef MEMTRACE_UNWIND_TABLE_H
#define MEMTRACE_UNWIND_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "memtrace_unwind.h"

#include "symbols/debug_file.h"

#define UNWIND_TABLE_DEBUG_ROOT DEBUG_FILE_ROOT

/*
 * What a build found. The *_rows counts are of the final (merged) rows:
 * what the BPF unwinder will meet. The why_* counts say why rows were
 * unsupported, counted before merging (merging may join rows unsupported
 * for different reasons).
 */
struct unwind_table_stats {
	size_t fdes;			/* FDEs turned into rows */
	size_t debug_frame_fdes;	/* of which from a .debug_frame */
	size_t skipped_fdes;		/* empty, outside code, overlapping
					   another, or undecodable */
	size_t rows_before_merge;
	size_t rows;
	size_t unsupported_cfa;		/* rows with MT_CFA_UNSUPPORTED */
	size_t unsupported_rbp;		/* rows with MT_RBP_UNSUPPORTED */
	size_t plt_rows;
	size_t signal_rows;
	size_t end_rows;
	size_t none_rows;		/* gaps between FDEs */

	size_t why_cfa_register;	/* CFA based on neither rsp nor rbp */
	size_t why_cfa_expression;	/* CFA an expression (not the PLT's) */
	size_t why_cfa_offset;		/* CFA offset beyond 32 bits */
	size_t why_ra;			/* return address not at CFA - 8 */
	size_t why_rsp;			/* caller's rsp not the CFA */
	size_t why_libdw;		/* libdw could not evaluate the FDE */
	size_t why_refused;		/* not given to libdw: its instructions
					   do not decode, or ask too much of it
					   (unwind_table.c, CFI_MAX_REG) */
};

struct unwind_table {
	struct mt_unwind_row *rows;	/* sorted by pc, strictly increasing */
	size_t n;
	uint8_t build_id[64];		/* NT_GNU_BUILD_ID of the file the
					   table is for (not of its debug
					   file) */
	size_t build_id_len;		/* 0: the file has none */
	struct unwind_table_stats stats;
};

/*
 * Build the table of the ELF file open on fd from its own .eh_frame and
 * .debug_frame. The fd is only read from and stays the caller's.
 * Returns 0, -ENOEXEC when the file is not a readable x86-64 ELF file
 * (truncated ones included), -ENODATA when it has no call frame
 * information describing any code, or another negative errno. On error,
 * *out is left empty (unwind_table_free() on it is harmless).
 */
int unwind_table_build(int fd, struct unwind_table *out);

/*
 * The same, with the .debug_frame of debug_fd (the file's separate debug
 * file) used for code the file's own sections do not describe.
 * Returns -EINVAL when the two files' build IDs differ.
 */
int unwind_table_build_debug(int fd, int debug_fd, struct unwind_table *out);

/*
 * Open path and build its table; when the file has no call frame
 * information of its own, look for its separate debug file under
 * UNWIND_TABLE_DEBUG_ROOT with debug_file_find() (symbols/debug_file.h).
 * Returns as unwind_table_build(), or -ENOENT etc. from open().
 */
int unwind_table_build_path(const char *path, struct unwind_table *out);

/* Release the rows; *t is then empty. NULL is fine. */
void unwind_table_free(struct unwind_table *t);

/*
 * The row covering pc: the last row at or below pc. That may be an
 * MT_CFA_NONE row (pc lies between or after the functions described).
 * NULL when pc is below the first row.
 */
const struct mt_unwind_row *unwind_table_lookup(const struct unwind_table *t,
						uint64_t pc);

#endif /* MEMTRACE_UNWIND_TABLE_H */
