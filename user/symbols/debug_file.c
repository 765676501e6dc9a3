// SPDX-License-Identifier: MIT
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "debug_file.h"
#include "elf_file.h"

/* Larger than any debug file a distribution ships (libLLVM's: ~1.5 GiB). */
#define DEBUG_FILE_CRC_MAX (4ULL << 30)

int debug_file_open_regular(const char *path)
{
	char self[64];
	struct stat st;
	int pfd, fd;

	/* O_PATH opens nothing: no FIFO to block on, no device driver to
	 * wake. Symlinks are followed (-dbgsym packages' build-id entries
	 * are symlinks). */
	pfd = open(path, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	if (fstat(pfd, &st) || !S_ISREG(st.st_mode)) {
		close(pfd);
		return -ENOEXEC;
	}
	/* The very inode checked, opened for reading. */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	fd = open(self, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	fd = fd < 0 ? -errno : fd;
	close(pfd);
	return fd;
}

/* The CRC .gnu_debuglink records: zlib's crc32 of the whole file. */
static int file_crc32(int fd, uint32_t *out)
{
	uint32_t table[256], crc = 0xffffffff;
	unsigned char buf[16384];
	off_t off = 0;
	ssize_t n, i;
	int k;

	for (i = 0; i < 256; i++) {
		uint32_t c = i;

		for (k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320 ^ (c >> 1) : c >> 1;
		table[i] = c;
	}
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		for (i = 0; i < n; i++)
			crc = table[(crc ^ buf[i]) & 0xff] ^ (crc >> 8);
		off += n;
	}
	if (n < 0)
		return -errno;
	*out = crc ^ 0xffffffff;
	return 0;
}

/* What identifies the file whose debug file is looked for. */
struct debug_want {
	uint8_t build_id[ELF_FILE_BUILD_ID_MAX];
	size_t build_id_len;
	uint32_t crc;
	struct stat st;		/* the file itself is no candidate */
};

static bool debug_file_matches(const char *path, const struct debug_want *w)
{
	uint8_t id[ELF_FILE_BUILD_ID_MAX];
	struct stat st;
	size_t len;
	uint32_t crc;
	bool ok = false;
	Elf *elf;
	int fd;

	fd = debug_file_open_regular(path);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) ||
	    (st.st_dev == w->st.st_dev && st.st_ino == w->st.st_ino))
		goto out;
	if (w->build_id_len) {
		if (elf_file_open(fd, &elf))
			goto out;
		elf_file_build_id(elf, id, &len);
		elf_end(elf);
		ok = len == w->build_id_len && !memcmp(id, w->build_id, len);
	} else if ((uint64_t)st.st_size <= DEBUG_FILE_CRC_MAX) {
		/* Read whole for its CRC: a candidate any larger (a sparse
		 * file a target planted) would take too long. */
		ok = !file_crc32(fd, &crc) && crc == w->crc;
	}
out:
	close(fd);
	return ok;
}

/* Format a candidate into buf; 0 when it is the debug file. */
static int try_debug_file(char *buf, size_t size,
			  const struct debug_want *w, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int try_debug_file(char *buf, size_t size,
			  const struct debug_want *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return debug_file_matches(buf, w) ? 0 : -ENOENT;
}

/* root: where the process's files are seen from ("" for memtrace's own
 * view); path: the file as the process names it. */
static int find(const char *root, const char *path, const char *debug_root,
		char *buf, size_t size)
{
	struct debug_want w = { 0 };
	char hex[2 * ELF_FILE_BUILD_ID_MAX + 1], link[256] = "", full[4200];
	const char *name, *slash;
	GElf_Word crc;
	int fd, err, dirlen;
	Elf *elf;
	size_t i;

	if (snprintf(full, sizeof(full), "%s%s", root, path) >= (int)sizeof(full))
		return -ENAMETOOLONG;
	fd = debug_file_open_regular(full);
	if (fd < 0)
		return fd;
	err = fstat(fd, &w.st) ? -errno : elf_file_open(fd, &elf);
	if (err) {
		close(fd);
		return err;
	}
	elf_file_build_id(elf, w.build_id, &w.build_id_len);
	name = dwelf_elf_gnu_debuglink(elf, &crc);
	/* A name with a slash could point anywhere. */
	if (name && !strchr(name, '/') && strlen(name) < sizeof(link)) {
		strcpy(link, name);
		w.crc = crc;
	}
	elf_end(elf);
	close(fd);

	err = -ENOENT;
	if (w.build_id_len >= 2) {
		for (i = 0; i < w.build_id_len; i++)
			sprintf(hex + 2 * i, "%02x", w.build_id[i]);
		err = try_debug_file(buf, size, &w, "%s/.build-id/%.2s/%s.debug",
				     debug_root, hex, hex + 2);
		if (err != -ENOENT)
			return err;
	}
	if (!link[0])
		return err;

	slash = strrchr(path, '/');
	dirlen = slash ? (int)(slash - path) : 1;
	if (!slash)
		path = ".";
	err = try_debug_file(buf, size, &w, "%s%.*s/%s", root, dirlen, path, link);
	if (err == -ENOENT)
		err = try_debug_file(buf, size, &w, "%s%.*s/.debug/%s", root, dirlen,
				     path, link);
	if (err == -ENOENT)
		err = try_debug_file(buf, size, &w, "%s%s%.*s/%s", debug_root,
				     path[0] == '/' ? "" : "/", dirlen, path,
				     link);
	return err;
}

int debug_file_find(const char *path, const char *debug_root, char *buf, size_t size)
{
	return find("", path, debug_root, buf, size);
}

int debug_file_find_in(const char *root, const char *path, char *buf, size_t size)
{
	char debug_root[4200];

	if (snprintf(debug_root, sizeof(debug_root), "%s%s", root, DEBUG_FILE_ROOT) >=
	    (int)sizeof(debug_root))
		return -ENAMETOOLONG;
	return find(root, path, debug_root, buf, size);
}
