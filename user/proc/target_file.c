// SPDX-License-Identifier: MIT
/*
 * Opening the files a traced process names (see target_file.h for the
 * rules). Each way in ends in reopen(): an O_PATH fd, checked with fstat,
 * becomes a readable fd on the same inode.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <linux/openat2.h>
#include <zlib.h>

#include "target_file.h"

char *target_file_fd_path(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
	return buf;
}

static bool is_mapping_file(const struct stat *st, const struct proc_map *m)
{
	return st->st_ino == m->inode && major(st->st_dev) == m->dev_major &&
	       minor(st->st_dev) == m->dev_minor;
}

/*
 * Turn pfd (O_PATH, always closed here) into a readable fd, if it is a
 * regular file within the size bound and, when m is given, m's file.
 */
static int reopen(int pfd, const struct proc_map *m)
{
	struct stat st, again;
	char self[32];
	int fd;

	if (pfd < 0)
		return pfd;
	if (fstat(pfd, &st)) {
		fd = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		fd = -ENOEXEC;
		goto out;
	}
	if ((uint64_t)st.st_size > TARGET_FILE_MAX_BYTES) {
		fd = -EFBIG;
		goto out;
	}
	if (m && !is_mapping_file(&st, m)) {
		fd = -ENOENT;
		goto out;
	}
	/* O_NONBLOCK: a process holding a lease on its own file cannot
	 * make this open wait for the lease break (45 s by default). */
	fd = open(target_file_fd_path(pfd, self, sizeof(self)),
		  O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		fd = -errno;
		goto out;
	}
	/* The same inode, as /proc/self/fd guarantees; checked all the
	 * same, as it costs nothing. */
	if (fstat(fd, &again) || again.st_ino != st.st_ino || again.st_dev != st.st_dev) {
		close(fd);
		fd = -ENOENT;
	}
out:
	close(pfd);
	return fd;
}

static int openat2_path(int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
	struct open_how how = { .flags = flags, .resolve = resolve };
	long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

int target_file_root(pid_t pid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	return fd;
}

/* An O_PATH fd of path inside root, or a negative errno. */
static int path_in_root(int root, const char *path, unsigned int flags)
{
	uint64_t oflags = O_PATH | O_CLOEXEC | (flags & TARGET_FILE_FOLLOW ? 0 : O_NOFOLLOW);

	/* Inside a process's root, a path is from that root. */
	if (root != TARGET_FILE_OWN_ROOT && path[0] != '/')
		return -EINVAL;
	/* No magic links: /proc/self/... inside a root would lead out of it. */
	if (root == TARGET_FILE_OWN_ROOT)
		return openat2_path(AT_FDCWD, path, oflags, RESOLVE_NO_MAGICLINKS);
	return openat2_path(root, path, oflags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

int target_file_open_at(int root, const char *path, unsigned int flags)
{
	int pfd = path_in_root(root, path, flags);

	/* O_PATH | O_NOFOLLOW on a symlink gives the link itself, which
	 * reopen() refuses as not regular. */
	return reopen(pfd, NULL);
}

/* m's path, in the view of root, if it leads to m's file: an O_PATH fd. */
static int mapped_at_path(int root, const struct proc_map *m)
{
	struct stat st;
	int pfd;

	/* A deleted file's path names nothing, or something else. Maps
	 * paths are the kernel's own (no symlinks in them), so a symlink
	 * at the end is someone's plant. */
	if (m->deleted || m->path[0] != '/')
		return -ENOENT;
	pfd = path_in_root(root, m->path, 0);
	if (pfd < 0)
		return pfd;
	if (fstat(pfd, &st) || !is_mapping_file(&st, m)) {
		close(pfd);
		return -ENOENT;
	}
	return pfd;
}

int target_file_open_mapped(pid_t pid, const struct proc_map *m)
{
	char path[96];
	int pfd, root, fd;

	if (!m->inode)
		return -ENOENT;	/* anonymous memory, [vdso], [heap]... */
	snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64,
		 (int)pid, m->start, m->end);
	/* O_PATH follows the magic link to the mapped file without opening
	 * it. Its identity is checked all the same: the range may have
	 * been unmapped and something else mapped there since m was read. */
	pfd = open(path, O_PATH | O_CLOEXEC);
	if (pfd >= 0) {
		fd = reopen(pfd, m);
		if (fd != -ENOENT)
			return fd;
	}
	/* No CAP_SYS_ADMIN, or the process is gone (events are handled
	 * after the fact): the paths, checked by device and inode. */
	fd = reopen(mapped_at_path(TARGET_FILE_OWN_ROOT, m), m);
	if (fd != -ENOENT)
		return fd;
	root = target_file_root(pid);
	if (root < 0)
		return -ENOENT;
	fd = reopen(mapped_at_path(root, m), m);
	close(root);
	return fd;
}

int target_file_view(pid_t pid, const struct proc_map *m, int *root)
{
	int pfd, r;

	*root = TARGET_FILE_OWN_ROOT;
	pfd = mapped_at_path(TARGET_FILE_OWN_ROOT, m);
	if (pfd >= 0) {
		close(pfd);
		return 0;
	}
	r = target_file_root(pid);
	if (r < 0)
		return -ENOENT;
	pfd = mapped_at_path(r, m);
	if (pfd < 0) {
		close(r);
		return -ENOENT;
	}
	close(pfd);
	*root = r;
	return 0;
}

int target_file_crc32(int fd, uint32_t *out)
{
	unsigned char buf[65536];
	uLong crc = crc32(0, Z_NULL, 0);
	uint64_t off = 0, size;
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	size = st.st_size;
	if (size > TARGET_FILE_MAX_BYTES)
		return -EFBIG;
	/* Up to the size seen now: a file its owner keeps appending to
	 * would otherwise never end. */
	while (off < size) {
		size_t want = size - off < sizeof(buf) ? size - off : sizeof(buf);
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		crc = crc32(crc, buf, (uInt)n);
		off += n;
	}
	*out = (uint32_t)crc;
	return 0;
}
