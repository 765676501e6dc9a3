// SPDX-License-Identifier: MIT
/*
 * The per-run cache of pymalloc's inlined sites
 * (user/python/pymalloc_sites_cache.c): whatever the order of prefetches
 * and lookups, a lookup gives what pymalloc_sites_find_fd() gives.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "python/pymalloc_sites_cache.h"

#define DEBIAN_PYTHON "/usr/bin/python3.11"

/* The in-run cache alone: no record on disk read or written (that is
 * test_pymalloc_sites_disk.c's). */
static void no_disk(void)
{
	setenv("MEMTRACE_CACHE", "off", 1);
}

static int open_or_skip(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		cr_skip_test("%s: %s", path, strerror(errno));
	return fd;
}

static void assert_same(const struct pymalloc_sites *a, const struct pymalloc_sites *b)
{
	cr_assert_eq(a->n_sites, b->n_sites);
	cr_assert_eq(a->n_alloc, b->n_alloc);
	cr_assert_eq(a->n_free, b->n_free);
	cr_assert_eq(a->n_sized, b->n_sized);
	cr_assert_eq(a->new_pool_vaddr, b->new_pool_vaddr);
	cr_assert_eq(a->new_pool_offset, b->new_pool_offset);
	for (size_t i = 0; i < a->n_sites; i++)
		cr_assert(a->sites[i].vaddr == b->sites[i].vaddr &&
			  a->sites[i].offset == b->sites[i].offset &&
			  a->sites[i].cookie == b->sites[i].cookie, "site %zu", i);
}

/* Prefetched, then looked up twice (the second from the cache, through
 * another descriptor of the same file): each a copy of the direct scan. */
Test(sites_cache, prefetched_and_cached_are_the_scan, .init = no_disk)
{
	struct pymalloc_sites direct, first, second;
	struct sites_cache *c;
	int fd = open_or_skip(DEBIAN_PYTHON), fd2;

	cr_assert_eq(pymalloc_sites_find_fd(fd, &direct), 0);
	cr_assert_eq(sites_cache_new(&c), 0);
	sites_cache_prefetch(c, fd);
	sites_cache_prefetch(c, fd);	/* under way already: nothing more */
	cr_assert_eq(sites_cache_get(c, fd, &first), 0);
	assert_same(&direct, &first);
	fd2 = open_or_skip(DEBIAN_PYTHON);
	cr_assert_eq(sites_cache_get(c, fd2, &second), 0);
	assert_same(&direct, &second);
	cr_assert_neq(first.sites, second.sites, "each caller owns its copy");
	pymalloc_sites_free(&first);
	pymalloc_sites_free(&second);
	pymalloc_sites_free(&direct);
	sites_cache_free(c);
	close(fd);
	close(fd2);
}

/* No pymalloc in the file: the scan's -ENOENT, from the cache too. */
Test(sites_cache, file_without_sites, .init = no_disk)
{
	struct pymalloc_sites s;
	struct sites_cache *c;
	int fd = open_or_skip("/bin/ls");

	cr_assert_eq(sites_cache_new(&c), 0);
	cr_assert_eq(sites_cache_get(c, fd, &s), -ENOENT);
	cr_assert_null(s.sites);
	cr_assert_eq(sites_cache_get(c, fd, &s), -ENOENT);
	sites_cache_free(c);
	close(fd);
}

/* Freed with a prefetch still running: it waits, nothing leaks (the
 * sanitizer build checks). */
Test(sites_cache, freed_while_prefetching, .init = no_disk)
{
	struct sites_cache *c;
	int fd = open_or_skip(DEBIAN_PYTHON);

	cr_assert_eq(sites_cache_new(&c), 0);
	sites_cache_prefetch(c, fd);
	close(fd);
	sites_cache_free(c);
}
