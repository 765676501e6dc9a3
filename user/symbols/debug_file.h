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

#endif /* MEMTRACE_DEBUG_FILE_H */
