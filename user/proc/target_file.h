/* SPDX-License-Identifier: MIT */
/*
 * Opening the files a traced process names, safely. memtrace runs as root
 * and the process it traces chooses its file names, its mount namespace,
 * its root directory and what lies at each path, so every such file is
 * opened here and nowhere else:
 *
 *  - only regular files are ever opened: each candidate is first opened
 *    O_PATH (which opens nothing: a FIFO cannot block, a device driver is
 *    not woken), checked with fstat, then reopened through /proc/self/fd
 *    (the very inode checked) with O_RDONLY | O_NONBLOCK | O_CLOEXEC;
 *  - a file bigger than TARGET_FILE_MAX_BYTES is refused, and reads are
 *    bounded by the size fstat gave (target_file_crc32());
 *  - a mapped file is the one mapped, found through
 *    /proc/PID/map_files/START-END whatever the paths say, or else at a
 *    path only if it has the mapping's device and inode;
 *  - a file that is not mapped (a separate debug file) is looked up inside
 *    one root, memtrace's own or the process's, with symlinks resolved
 *    inside that root (openat2 RESOLVE_IN_ROOT) and no magic links.
 *
 * Every function returns an fd (O_RDONLY | O_CLOEXEC, the caller's to
 * close) or 0, or a negative errno: -ENOEXEC when the file is not a
 * regular file, -EFBIG when it is too big, -ENOENT when no file of the
 * wanted identity is there.
 */
#ifndef MEMTRACE_TARGET_FILE_H
#define MEMTRACE_TARGET_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc_maps.h"

/* The largest file memtrace reads on a traced process's word: bigger than
 * any shared object or debug file of a distribution (libLLVM-14.so is
 * 100 MiB), far below what would take minutes to read. */
#define TARGET_FILE_MAX_BYTES (4ULL << 30)

/* For target_file_open_at(): memtrace's own root directory. */
#define TARGET_FILE_OWN_ROOT (-1)

/* target_file_open_at() flags. */
#define TARGET_FILE_FOLLOW 1u	/* follow a symlink at the last component
				   (inside the root); without it, a symlink
				   there is refused (-ENOEXEC) */

/*
 * The regular file behind the file mapping m of process pid: through
 * /proc/PID/map_files/ (the exact file mapped: chroots, mount namespaces,
 * bind mounts, renames and deletions make no difference; needs
 * CAP_SYS_ADMIN), else at m's path in memtrace's own view, then in the
 * process's root, taken only with m's device and inode. The last lets a
 * process that has just exited still be read. Returns the fd or a
 * negative errno (-ENOENT: m is anonymous memory, or no path leads to its
 * file any more).
 */
int target_file_open_mapped(pid_t pid, const struct proc_map *m);

/*
 * An O_PATH fd of the root directory of process pid (/proc/PID/root), for
 * target_file_open_at(). Returns the fd or a negative errno (-ESRCH: no
 * such process).
 */
int target_file_root(pid_t pid);

/*
 * Which root m's path names the mapped file from: /proc/PID/maps prints
 * paths from the reader's root when they are reachable from it (a
 * chrooted process, or one sharing memtrace's mount namespace) and from
 * the process's own root when not (a container that pivoted its root).
 * Sets *root to TARGET_FILE_OWN_ROOT or to a target_file_root() fd (the
 * caller closes it) and returns 0, or -ENOENT when the path leads to
 * another file in both (the file was replaced, deleted or is shadowed by
 * a mount), in which case no file next to it can be trusted to belong
 * with it.
 */
int target_file_view(pid_t pid, const struct proc_map *m, int *root);

/*
 * The regular file at path inside root (TARGET_FILE_OWN_ROOT, where a
 * relative path starts at the working directory, or a target_file_root()
 * fd, where path must be absolute). Symlinks in the directories are followed
 * inside root; one at the last component only with TARGET_FILE_FOLLOW.
 * Returns the fd or a negative errno.
 */
int target_file_open_at(int root, const char *path, unsigned int flags);

/*
 * zlib's CRC-32 of the whole of fd (what .gnu_debuglink records), reading
 * no more than the size fstat gives now. Returns 0, -EFBIG past
 * TARGET_FILE_MAX_BYTES, -EIO when the file shrank while being read, or
 * another negative errno.
 */
int target_file_crc32(int fd, uint32_t *crc);

/*
 * "/proc/self/fd/N" for fd into buf (at least 32 bytes): the path of the
 * very file fd is open on, for interfaces that take a path (uprobes).
 * Returns buf.
 */
char *target_file_fd_path(int fd, char *buf, size_t len);

#endif /* MEMTRACE_TARGET_FILE_H */
