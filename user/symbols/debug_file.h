/* SPDX-License-Identifier: MIT */
/*
 * Separate debug files: where an ELF file's stripped-out sections
 * (.debug_frame, .debug_info, .symtab) live when the file itself does not
 * carry them. Used by the unwinder (for .debug_frame) and the symbolizer.
 */
#ifndef MEMTRACE_DEBUG_FILE_H
#define MEMTRACE_DEBUG_FILE_H

#include <stddef.h>

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
 * Returns 0 with the path in buf, -ENOENT when there is none,
 * -ENAMETOOLONG when a candidate does not fit in size bytes, -ENOEXEC when
 * path is not an ELF file, or another negative errno.
 */
int debug_file_find(const char *path, const char *debug_root, char *buf, size_t size);

/*
 * The same for a file as a process names it (path), seen through root:
 * "/proc/PID/root", a "/proc/self/fd/N" of that root kept open, or "" for
 * memtrace's own filesystem. Candidates are looked for under root, and
 * DEBUG_ROOT is root + DEBUG_FILE_ROOT; the path in buf includes root.
 */
int debug_file_find_in(const char *root, const char *path, char *buf, size_t size);

/*
 * Open path for reading only if it is a regular file (symlinks followed),
 * without ever opening anything else: a FIFO would block, a device may act
 * on being opened. Returns the fd (O_CLOEXEC) or a negative errno,
 * -ENOEXEC for a file that is not regular.
 */
int debug_file_open_regular(const char *path);

#endif /* MEMTRACE_DEBUG_FILE_H */
