// SPDX-License-Identifier: MIT
/*
 * The on-disk records of pymalloc's sites (see pymalloc_sites_disk.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <libelf.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pymalloc_sites_disk.h"
#include "memtrace_python.h"
#include "symbols/elf_file.h"

#define DEFAULT_DIR "/var/cache/memtrace"
#define MAGIC "mtsites\n"
/* More than any interpreter has (Debian's python3.11: 219). */
#define MAX_SITES 65536

struct build_id {
	uint8_t id[ELF_FILE_BUILD_ID_MAX];
	uint32_t len;
};

/* A record: the head, then n_sites entries. */
struct head {
	char magic[8];
	struct build_id writer;		/* the memtrace binary that wrote it */
	struct build_id file;		/* the interpreter file */
	uint64_t file_size;
	uint64_t n_sites, n_alloc, n_free, n_sized;
	uint64_t new_pool_vaddr, new_pool_offset;
};

struct entry {
	uint64_t vaddr, offset;
	uint32_t cookie, zero;
};

static int build_id_of(int fd, struct build_id *out)
{
	size_t len;
	Elf *elf;

	memset(out, 0, sizeof(*out));
	if (elf_file_open(fd, &elf))
		return -ENOENT;
	elf_file_build_id(elf, out->id, &len);
	elf_end(elf);
	out->len = (uint32_t)len;
	return len ? 0 : -ENOENT;
}

static int own_build_id(struct build_id *out)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	err = build_id_of(fd, out);
	close(fd);
	return err;
}

/* The cache directory, made if missing; false when there is none to use. */
static bool cache_dir(char *dir, size_t len)
{
	const char *d = getenv("MEMTRACE_CACHE");
	struct stat st;

	if (d && !strcmp(d, "off"))
		return false;
	if (!d || !*d)
		d = DEFAULT_DIR;
	if ((size_t)snprintf(dir, len, "%s", d) >= len)
		return false;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return false;
	/* Another user's directory, or one others may write into, could
	 * hold records memtrace did not write. */
	return !lstat(dir, &st) && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
	       !(st.st_mode & (S_IWGRP | S_IWOTH));
}

/* The record's path for file, and the head fields that identify it. */
static int locate(int fd, char *path, size_t len, struct head *h)
{
	char dir[PATH_MAX], hex[2 * ELF_FILE_BUILD_ID_MAX + 1];
	struct stat st;

	memset(h, 0, sizeof(*h));
	memcpy(h->magic, MAGIC, sizeof(h->magic));
	if (!cache_dir(dir, sizeof(dir)) || fstat(fd, &st) || build_id_of(fd, &h->file) ||
	    own_build_id(&h->writer))
		return -ENOENT;
	h->file_size = (uint64_t)st.st_size;
	for (uint32_t i = 0; i < h->file.len; i++)
		snprintf(hex + 2 * i, 3, "%02x", h->file.id[i]);
	if ((size_t)snprintf(path, len, "%s/pymalloc-sites-%s", dir, hex) >= len)
		return -ENOENT;
	return 0;
}

/* Is the instruction at offset of the file on fd a jcc the kernel
 * emulates (where pymalloc_sites puts every site)? */
static bool is_jcc_at(int fd, uint64_t offset)
{
	uint8_t b[2];

	if (pread(fd, b, sizeof(b), (off_t)offset) != (ssize_t)sizeof(b))
		return false;
	return (b[0] >= 0x70 && b[0] <= 0x7f) || (b[0] == 0x0f && b[1] >= 0x80 && b[1] <= 0x8f);
}

/* The stored sites, checked against the file they are said to be of. */
static bool believable(int fd, const struct head *h, const struct entry *e)
{
	if (!h->n_sites || h->n_alloc + h->n_free != h->n_sites || h->n_sized > h->n_alloc ||
	    h->new_pool_offset >= h->file_size)
		return false;
	for (uint64_t i = 0; i < h->n_sites; i++) {
		uint32_t kind = e[i].cookie & 0xff;

		if ((kind != MT_PYSITE_ALLOC && kind != MT_PYSITE_FREE) ||
		    e[i].offset + 2 > h->file_size || !is_jcc_at(fd, e[i].offset))
			return false;
		if (i && (e[i].vaddr < e[i - 1].vaddr ||
			  (e[i].vaddr == e[i - 1].vaddr && e[i].cookie <= e[i - 1].cookie)))
			return false;
	}
	return true;
}

int sites_disk_load(int fd, struct pymalloc_sites *out)
{
	struct head want, h;
	struct entry *e = NULL;
	char path[PATH_MAX];
	struct stat st;
	int rec, err = -ENOENT;

	memset(out, 0, sizeof(*out));
	if (locate(fd, path, sizeof(path), &want))
		return -ENOENT;
	rec = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (rec < 0)
		return -ENOENT;
	if (fstat(rec, &st) || !S_ISREG(st.st_mode) ||
	    pread(rec, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h.magic, want.magic, sizeof(h.magic)) ||
	    memcmp(&h.writer, &want.writer, sizeof(h.writer)) ||
	    memcmp(&h.file, &want.file, sizeof(h.file)) || h.file_size != want.file_size ||
	    h.n_sites > MAX_SITES ||
	    (uint64_t)st.st_size != sizeof(h) + h.n_sites * sizeof(*e))
		goto out;
	e = malloc((h.n_sites ? h.n_sites : 1) * sizeof(*e));
	out->sites = malloc((h.n_sites ? h.n_sites : 1) * sizeof(*out->sites));
	if (!e || !out->sites ||
	    pread(rec, e, h.n_sites * sizeof(*e), sizeof(h)) != (ssize_t)(h.n_sites * sizeof(*e)) ||
	    !believable(fd, &h, e))
		goto out;
	for (uint64_t i = 0; i < h.n_sites; i++)
		out->sites[i] = (struct pymalloc_site){ e[i].vaddr, e[i].offset, e[i].cookie };
	out->n_sites = h.n_sites;
	out->n_alloc = h.n_alloc;
	out->n_free = h.n_free;
	out->n_sized = h.n_sized;
	out->new_pool_vaddr = h.new_pool_vaddr;
	out->new_pool_offset = h.new_pool_offset;
	err = 0;
out:
	if (err)
		pymalloc_sites_free(out);
	free(e);
	close(rec);
	return err;
}

void sites_disk_save(int fd, const struct pymalloc_sites *s)
{
	char path[PATH_MAX], tmp[PATH_MAX + 16];
	struct entry *e;
	struct head h;
	bool ok;
	int rec;

	if (!s->n_sites || s->n_sites > MAX_SITES || locate(fd, path, sizeof(path), &h))
		return;
	h.n_sites = s->n_sites;
	h.n_alloc = s->n_alloc;
	h.n_free = s->n_free;
	h.n_sized = s->n_sized;
	h.new_pool_vaddr = s->new_pool_vaddr;
	h.new_pool_offset = s->new_pool_offset;
	e = calloc(s->n_sites, sizeof(*e));
	if (!e)
		return;
	for (size_t i = 0; i < s->n_sites; i++)
		e[i] = (struct entry){ s->sites[i].vaddr, s->sites[i].offset, s->sites[i].cookie, 0 };
	/* Written aside and renamed over: a reader sees a whole record or
	 * the one before. */
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	rec = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (rec >= 0) {
		ok = write(rec, &h, sizeof(h)) == (ssize_t)sizeof(h) &&
		     write(rec, e, s->n_sites * sizeof(*e)) == (ssize_t)(s->n_sites * sizeof(*e));
		ok = !close(rec) && ok;
		if (!ok || rename(tmp, path))
			unlink(tmp);
	}
	free(e);
}
