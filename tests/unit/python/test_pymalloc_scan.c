// SPDX-License-Identifier: MIT
/*
 * The decoder under pymalloc_sites (user/python/pymalloc_scan.c): decoded
 * in parts on several threads, a file's instructions must be exactly those
 * of one linear pass, whatever the number of threads.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "python/pymalloc_scan.h"

static void scan_path(const char *path, size_t threads, struct scan *s)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	cr_assert_geq(fd, 0, "cannot open %s", path);
	cr_assert_eq(scan_fd_threads(fd, s, threads), 0, "%s on %zu threads", path, threads);
	close(fd);
}

static void assert_same_insn(const struct insn *a, const struct insn *b, const char *path,
			     size_t threads, size_t i)
{
	cr_assert(a->addr == b->addr && a->target == b->target && a->disp == b->disp &&
		  a->imm == b->imm && a->id == b->id && a->writes == b->writes &&
		  a->shape == b->shape && a->flow == b->flow && a->reg == b->reg &&
		  a->reg_bytes == b->reg_bytes && a->base == b->base &&
		  a->alloc_load == b->alloc_load && a->stack_write == b->stack_write,
		  "%s, %zu threads: instruction %zu (at %#" PRIx64 ", one pass: %#" PRIx64
		  ") differs", path, threads, i, b->addr, a->addr);
}

/* path decoded on 2, 3 and 8 threads against one thread. */
static void check_file(const char *path)
{
	static const size_t threads[] = { 2, 3, 8 };
	struct scan one = { 0 };

	if (access(path, R_OK)) {
		cr_log_warn("%s is not installed: not checked", path);
		return;
	}
	scan_path(path, 1, &one);
	cr_assert_gt(one.n, 1000, "%s: %zu instructions", path, one.n);
	for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
		struct scan many = { 0 };

		scan_path(path, threads[t], &many);
		cr_assert_eq(many.n, one.n, "%s: %zu instructions on %zu threads, %zu in one pass",
			     path, many.n, threads[t], one.n);
		for (size_t i = 0; i < one.n; i++)
			assert_same_insn(&one.v[i], &many.v[i], path, threads[t], i);
		cr_assert_eq(many.n_edges, one.n_edges);
		for (size_t i = 0; i < one.n_edges; i++)
			cr_assert(many.edges[i].target == one.edges[i].target &&
				  many.edges[i].source == one.edges[i].source);
		scan_free(&many);
	}
	scan_free(&one);
}

/* 2.8 MB of code: five parts on eight threads. */
Test(pymalloc_scan, parts_are_one_pass_python311)
{
	check_file("/usr/bin/python3.11");
}

Test(pymalloc_scan, parts_are_one_pass_libc)
{
	check_file("/lib/x86_64-linux-gnu/libc.so.6");
}

/* A large shared libpython, where pyenv built one. */
Test(pymalloc_scan, parts_are_one_pass_libpython312)
{
	char path[4096];
	const char *root = getenv("PYENV_ROOT");

	snprintf(path, sizeof(path), "%s/versions/3.12.1/lib/libpython3.12.so.1.0",
		 root ? root : "/root/.pyenv");
	check_file(path);
}
