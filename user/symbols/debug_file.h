/* SPDX-License-Identifier: MIT */
/*
 * Separate debug files: where an ELF file's stripped-out sections
 * (.debug_frame, .debug_info, .symtab) live when the file itself does not
 * carry them. Used by the unwinder (for .debug_frame) and the symbolizer.
 */
#ifndef MEMTRACE_DEBUG_FILE_H
#define MEMTRACE_DEBUG_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Where distributions install separate debug files. */
#define DEBUG_FILE_ROOT "/usr/lib/debug"

/*
 * Find the separate debug file of the ELF file at path, the way gdb does:
 *   DEBUG_ROOT/.build-id/xx/yyyy.debug     (from its build ID), then,
 * from its .gnu_debuglink name,
 *   DIR/name, DIR/.debug/name, DEBUG_ROOT/DIR/name
 * where DIR is the directory of path. A candidate is accepted when its
 * build ID equals the file's or, if the file has none, when its CRC equals
 * the one .gnu_debuglink records.
 * Candidates are opened as proc/target_file.h opens files: only regular
 * ones, never blocking, size-bounded (symlinks followed under debug_root
 * only, not next to the file itself).
 * Returns 0 with the path in buf, -ENOENT when there is none,
 * -ENAMETOOLONG when a candidate does not fit in size bytes, -ENOEXEC when
 * path is not an ELF file, or another negative errno.
 */
int debug_file_find(const char *path, const char *debug_root, char *buf, size_t size);

/*
 * The separate debug file of the file open on fd, which process pid maps
 * as m, opened (an fd the caller closes): by build ID under DEBUG_FILE_ROOT
 * in memtrace's own root (distribution packages; a build ID names the
 * contents, wherever the file lives), then in the process's root; by
 * .gnu_debuglink name next to the file, in the root from which m's path
 * leads to the mapped file (proc/target_file.h, target_file_view(): a
 * chroot's files in memtrace's root, a container's in its own), not at
 * all when no root does. Returns the fd, -ENOENT when there is none, or
 * another negative errno.
 */
struct proc_map;
int debug_file_open(pid_t pid, const struct proc_map *m, int fd);

#endif /* MEMTRACE_DEBUG_FILE_H */
