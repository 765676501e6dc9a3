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
#include "proc/proc_maps.h"
#include "proc/target_file.h"


/* What identifies the file whose debug file is looked for. */
struct debug_want {
	uint8_t build_id[ELF_FILE_BUILD_ID_MAX];
	size_t build_id_len;
	char link[256];		/* .gnu_debuglink name, "" if none */
	uint32_t crc;
	struct stat st;		/* the file itself is no candidate */
};

/* Read what identifies the ELF file open on fd. */
static int want_of(int fd, struct debug_want *w)
{
	const char *name;
	GElf_Word crc;
	Elf *elf;
	int err;

	memset(w, 0, sizeof(*w));
	err = fstat(fd, &w->st) ? -errno : elf_file_open(fd, &elf);
	if (err)
		return err;
	elf_file_build_id(elf, w->build_id, &w->build_id_len);
	name = dwelf_elf_gnu_debuglink(elf, &crc);
	/* A name with a slash could point anywhere. */
	if (name && !strchr(name, '/') && strlen(name) < sizeof(w->link)) {
		strcpy(w->link, name);
		w->crc = crc;
	}
	elf_end(elf);
	return 0;
}

/* The fd of the candidate at path inside root if it is the debug file. */
static int candidate(int root, unsigned int flags, const struct debug_want *w,
		     const char *path)
{
	uint8_t id[ELF_FILE_BUILD_ID_MAX];
	struct stat st;
	size_t len;
	uint32_t crc;
	bool ok = false;
	Elf *elf;
	int fd;

	fd = target_file_open_at(root, path, flags);
	if (fd < 0)
		return -ENOENT;
	if (fstat(fd, &st) ||
	    (st.st_dev == w->st.st_dev && st.st_ino == w->st.st_ino))
		goto out;
	if (w->build_id_len) {
		if (elf_file_open(fd, &elf))
			goto out;
		elf_file_build_id(elf, id, &len);
		elf_end(elf);
		ok = len == w->build_id_len && !memcmp(id, w->build_id, len);
	} else {
		ok = !target_file_crc32(fd, &crc) && crc == w->crc;
	}
out:
	if (ok)
		return fd;
	close(fd);
	return -ENOENT;
}

/* Format a candidate into buf and try it: its fd, or a negative errno. */
static int try_debug_file(int root, unsigned int flags, char *buf, size_t size,
			  const struct debug_want *w, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static int try_debug_file(int root, unsigned int flags, char *buf, size_t size,
			  const struct debug_want *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return candidate(root, flags, w, buf);
}

/* DEBUG_ROOT/.build-id/xx/yyyy.debug in root: an fd or -ENOENT. */
static int by_build_id(int root, const char *debug_root, const struct debug_want *w,
		       char *buf, size_t size)
{
	char hex[2 * ELF_FILE_BUILD_ID_MAX + 1];

	if (w->build_id_len < 2)
		return -ENOENT;
	for (size_t i = 0; i < w->build_id_len; i++)
		sprintf(hex + 2 * i, "%02x", w->build_id[i]);
	/* Distributions' build-id entries are often symlinks. */
	return try_debug_file(root, TARGET_FILE_FOLLOW, buf, size, w,
			      "%s/.build-id/%.2s/%s.debug", debug_root, hex, hex + 2);
}

/* The .gnu_debuglink name in root, next to path (the file as root names
 * it): DIR/name, DIR/.debug/name, DEBUG_ROOT/DIR/name. Symlinks are not
 * followed next to the file, where anyone who may write the directory
 * may put one; they are under DEBUG_ROOT, as for build IDs. */
static int by_link(int root, const char *path, const char *debug_root,
		   const struct debug_want *w, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path) : 1, err;

	if (!w->link[0])
		return -ENOENT;
	if (!slash)
		path = ".";
	err = try_debug_file(root, 0, buf, size, w, "%.*s/%s", dirlen, path, w->link);
	if (err == -ENOENT)
		err = try_debug_file(root, 0, buf, size, w, "%.*s/.debug/%s", dirlen,
				     path, w->link);
	if (err == -ENOENT)
		err = try_debug_file(root, TARGET_FILE_FOLLOW, buf, size, w, "%s%s%.*s/%s",
				     debug_root, path[0] == '/' ? "" : "/", dirlen, path,
				     w->link);
	return err;
}

int debug_file_find(const char *path, const char *debug_root,
		    char *buf, size_t size)
{
	struct debug_want w;
	int fd, err;

	fd = target_file_open_at(TARGET_FILE_OWN_ROOT, path, TARGET_FILE_FOLLOW);
	if (fd < 0)
		return fd;
	err = want_of(fd, &w);
	close(fd);
	if (err)
		return err;
	fd = by_build_id(TARGET_FILE_OWN_ROOT, debug_root, &w, buf, size);
	if (fd == -ENOENT)
		fd = by_link(TARGET_FILE_OWN_ROOT, path, debug_root, &w, buf, size);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/* Does pid see the same files as memtrace: the same root directory, in
 * the same mount namespace? */
static bool same_view(pid_t pid, int root)
{
	struct stat a, b;
	char ns[64];

	if (fstat(root, &a) || stat("/", &b) || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		return false;
	snprintf(ns, sizeof(ns), "/proc/%d/ns/mnt", (int)pid);
	return !stat(ns, &a) && !stat("/proc/self/ns/mnt", &b) && a.st_ino == b.st_ino &&
	       a.st_dev == b.st_dev;
}

int debug_file_open(pid_t pid, const struct proc_map *m, int fd)
{
	struct debug_want w;
	char buf[4200];
	int root, dfd, err;

	err = want_of(fd, &w);
	if (err)
		return err;
	dfd = by_build_id(TARGET_FILE_OWN_ROOT, DEBUG_FILE_ROOT, &w, buf, sizeof(buf));
	if (dfd != -ENOENT)
		return dfd;
	root = target_file_root(pid);
	if (root >= 0) {
		if (!same_view(pid, root))
			dfd = by_build_id(root, DEBUG_FILE_ROOT, &w, buf, sizeof(buf));
		close(root);
		if (dfd != -ENOENT)
			return dfd;
	}
	if (!w.link[0] || target_file_view(pid, m, &root))
		return -ENOENT;
	dfd = by_link(root, m->path, DEBUG_FILE_ROOT, &w, buf, sizeof(buf));
	if (root != TARGET_FILE_OWN_ROOT)
		close(root);
	return dfd;
}
