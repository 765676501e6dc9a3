// SPDX-License-Identifier: MIT
/*
 * pymalloc's sites on disk (user/python/pymalloc_sites_disk.c): a record
 * reads back as the scan that wrote it, and any record that was changed,
 * cut short, or lies in a directory others may write is not believed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "python/pymalloc_sites_disk.h"

#define DEBIAN_PYTHON "/usr/bin/python3.11"

/* A fresh cache directory for this test, in MEMTRACE_CACHE. */
static void fresh_dir(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/test_sites_disk.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	setenv("MEMTRACE_CACHE", dir, 1);
}

/* The one record in dir. */
static void record_path(const char *dir, char *path, size_t len)
{
	char pattern[4096];
	glob_t g;

	snprintf(pattern, sizeof(pattern), "%s/pymalloc-sites-*", dir);
	cr_assert_eq(glob(pattern, 0, NULL, &g), 0, "no record in %s", dir);
	cr_assert_eq(g.gl_pathc, 1);
	snprintf(path, len, "%s", g.gl_pathv[0]);
	globfree(&g);
}

static void remove_dir(const char *dir)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* The interpreter open, its sites scanned, and a record of them saved. */
static int saved(char *dir, size_t len, struct pymalloc_sites *scanned)
{
	int fd = open(DEBIAN_PYTHON, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		cr_skip_test("%s is not installed", DEBIAN_PYTHON);
	fresh_dir(dir, len);
	cr_assert_eq(pymalloc_sites_find_fd(fd, scanned), 0);
	sites_disk_save(fd, scanned);
	return fd;
}

Test(sites_disk, reads_back_what_it_saved)
{
	struct pymalloc_sites scanned, loaded;
	char dir[64];
	int fd = saved(dir, sizeof(dir), &scanned);

	cr_assert_eq(sites_disk_load(fd, &loaded), 0);
	cr_assert_eq(loaded.n_sites, scanned.n_sites);
	cr_assert_eq(loaded.n_alloc, scanned.n_alloc);
	cr_assert_eq(loaded.n_free, scanned.n_free);
	cr_assert_eq(loaded.n_sized, scanned.n_sized);
	cr_assert_eq(loaded.new_pool_vaddr, scanned.new_pool_vaddr);
	cr_assert_eq(loaded.new_pool_offset, scanned.new_pool_offset);
	for (size_t i = 0; i < scanned.n_sites; i++)
		cr_assert(loaded.sites[i].vaddr == scanned.sites[i].vaddr &&
			  loaded.sites[i].offset == scanned.sites[i].offset &&
			  loaded.sites[i].cookie == scanned.sites[i].cookie, "site %zu", i);
	pymalloc_sites_free(&loaded);
	pymalloc_sites_free(&scanned);
	close(fd);
	remove_dir(dir);
}

/* Write len bytes at off into the record (from its end when off is
 * negative), or, with len 0, cut it to `off` bytes: then it must not be
 * believed. */
static void check_spoiled(long off, const void *bytes, size_t len)
{
	struct pymalloc_sites scanned, loaded;
	char dir[64], path[4096];
	int fd = saved(dir, sizeof(dir), &scanned), rec;
	struct stat st;

	record_path(dir, path, sizeof(path));
	rec = open(path, O_RDWR);
	cr_assert_geq(rec, 0);
	cr_assert_eq(fstat(rec, &st), 0);
	if (!len)
		cr_assert_eq(ftruncate(rec, off), 0);
	else
		cr_assert_eq(pwrite(rec, bytes, len, off < 0 ? st.st_size + off : off),
			     (ssize_t)len);
	close(rec);
	cr_assert_eq(sites_disk_load(fd, &loaded), -ENOENT);
	cr_assert_null(loaded.sites);
	pymalloc_sites_free(&scanned);
	close(fd);
	remove_dir(dir);
}

/* The last site's file offset (its entry's second field) at byte 4 of
 * the file, ELF's class byte: not a jcc. */
Test(sites_disk, a_site_moved_is_not_believed)
{
	uint64_t offset = 4;

	check_spoiled(-16, &offset, sizeof(offset));
}

/* The writer's build ID (after the 8-byte magic) changed: another
 * memtrace's record. */
Test(sites_disk, another_writer_is_not_believed)
{
	uint8_t b = 0xee;

	check_spoiled(8, &b, 1);
}

Test(sites_disk, a_short_record_is_not_believed)
{
	check_spoiled(1000, NULL, 0);
}

/* A directory others may write into is not used, to read or to write. */
Test(sites_disk, an_open_directory_is_not_used)
{
	struct pymalloc_sites scanned, loaded;
	char dir[64], pattern[128];
	int fd = saved(dir, sizeof(dir), &scanned);
	glob_t g;

	cr_assert_eq(chmod(dir, 0777), 0);
	cr_assert_eq(sites_disk_load(fd, &loaded), -ENOENT);
	remove_dir(dir);
	cr_assert_eq(mkdir(dir, 0777), 0);
	cr_assert_eq(chmod(dir, 0777), 0);
	sites_disk_save(fd, &scanned);
	snprintf(pattern, sizeof(pattern), "%s/*", dir);
	cr_assert_eq(glob(pattern, 0, NULL, &g), GLOB_NOMATCH);
	pymalloc_sites_free(&scanned);
	close(fd);
	remove_dir(dir);
}

Test(sites_disk, off_keeps_nothing)
{
	struct pymalloc_sites scanned, loaded;
	char dir[64];
	int fd = saved(dir, sizeof(dir), &scanned);

	remove_dir(dir);
	setenv("MEMTRACE_CACHE", "off", 1);
	sites_disk_save(fd, &scanned);
	cr_assert_eq(sites_disk_load(fd, &loaded), -ENOENT);
	cr_assert_eq(access(dir, F_OK), -1, "%s made", dir);
	pymalloc_sites_free(&scanned);
	close(fd);
}
