// SPDX-License-Identifier: MIT
/*
 * One-off measurement of unwind table builds: time (median of several
 * builds), memory the table holds, rows before and after merging, and
 * the rows the BPF unwinder cannot use, with why. Prints the figures;
 * asserts nothing.
 *
 *   gcc -std=gnu11 -O2 -D_GNU_SOURCE -Iinclude -Iuser \
 *       scripts/bench_unwind_table.c user/unwind/unwind_table.c \
 *       user/symbols/debug_file.c user/symbols/elf_file.c user/util/vec.c \
 *       -ldw -lelf -lz -o /tmp/bench_unwind_table
 *   /tmp/bench_unwind_table [file...]
 *
 * Without arguments: libc, libstdc++, python3.11 and libLLVM-14, those of
 * them that are installed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "unwind/unwind_table.h"

#define RUNS 11

static const char *const default_files[] = {
	"/usr/lib/x86_64-linux-gnu/libc.so.6",
	"/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
	"/usr/bin/python3.11",
	"/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1",
};

static double bench_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void bench_file(const char *path)
{
	const struct unwind_table_stats *s;
	struct unwind_table t;
	double ms[RUNS];
	int i, err;

	/* The first build also warms the page cache. */
	for (i = 0; i < RUNS; i++) {
		double start = bench_now_ms();

		err = unwind_table_build_path(path, &t);
		ms[i] = bench_now_ms() - start;
		if (err) {
			printf("%s: error %s\n", path, strerror(-err));
			return;
		}
		if (i < RUNS - 1)
			unwind_table_free(&t);
	}
	qsort(ms, RUNS, sizeof(ms[0]), cmp_double);
	s = &t.stats;

	printf("%s\n", path);
	printf("  build: median %.1f ms (min %.1f, max %.1f, %d runs)\n",
	       ms[RUNS / 2], ms[0], ms[RUNS - 1], RUNS);
	printf("  memory held: %zu rows x %zu B + %zu B = %.1f KiB\n", t.n,
	       sizeof(*t.rows), sizeof(t), (t.n * sizeof(*t.rows) + sizeof(t)) / 1024.0);
	printf("  FDEs: %zu (from .debug_frame %zu, skipped %zu)\n", s->fdes,
	       s->debug_frame_fdes, s->skipped_fdes);
	printf("  rows: %zu before merging, %zu after (%zu of them gaps)\n",
	       s->rows_before_merge, s->rows, s->none_rows);
	printf("  special rows: PLT %zu, signal %zu, end %zu\n", s->plt_rows,
	       s->signal_rows, s->end_rows);
	printf("  unsupported rows: CFA %zu, rbp %zu\n", s->unsupported_cfa,
	       s->unsupported_rbp);
	printf("  why (rows before merging): CFA register %zu, CFA expression %zu, CFA offset %zu, return address %zu, rsp %zu, libdw %zu\n",
	       s->why_cfa_register, s->why_cfa_expression, s->why_cfa_offset,
	       s->why_ra, s->why_rsp, s->why_libdw);
	unwind_table_free(&t);
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc > 1) {
		for (i = 1; i < (size_t)argc; i++)
			bench_file(argv[i]);
		return 0;
	}
	for (i = 0; i < sizeof(default_files) / sizeof(default_files[0]); i++)
		if (!access(default_files[i], R_OK))
			bench_file(default_files[i]);
	return 0;
}
