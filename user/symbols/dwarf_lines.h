/* SPDX-License-Identifier: MIT */
/*
 * Source lines and inlined functions at a code address, from an ELF file's
 * DWARF (.debug_info, .debug_line, ...): what `addr2line -f -i` prints.
 *
 * Built for files a traced program chooses, so for hostile ones: the DIE
 * tree is walked without recursion and to a bounded depth (libdw's
 * dwarf_getscopes() recurses once per nesting level), no file that the
 * DWARF names is ever opened by libdw (split-DWARF skeleton units are
 * skipped; a dwz file is looked up by build ID only, and opened as a
 * regular file), and every libdw error is an unknown, never a crash.
 * Addresses are the file's own virtual addresses.
 */
#ifndef MEMTRACE_DWARF_LINES_H
#define MEMTRACE_DWARF_LINES_H

#include <stddef.h>
#include <stdint.h>

struct dwarf_lines;

/* One function at an address. Strings live as long as the dwarf_lines. */
struct dwarf_frame {
	const char *name;	/* linkage (mangled) name if DWARF has one,
				   else the plain name; NULL: unknown */
	const char *dir;	/* the compilation directory when file is a
				   relative path, else NULL */
	const char *file;	/* NULL: no line information */
	int line;		/* 0 when unknown */
};

/* The deepest inline chain reported; deeper ones are cut at the inside. */
#define DWARF_LINES_MAX_FRAMES 64

/*
 * Read the DWARF of the ELF file on fd. On success the dwarf_lines owns
 * fd (libelf reads from it) and closes it in dwarf_lines_close().
 * debug_root is where a dwz file (.gnu_debugaltlink) is looked for by
 * build ID (DEBUG_FILE_ROOT, or the same seen through a process's root).
 * Returns 0, -ENODATA (no DWARF), -ENOEXEC (not a readable ELF file),
 * -ENOENT (its dwz file is missing: its DWARF cannot be read), or another
 * negative errno; fd is then still the caller's.
 */
int dwarf_lines_open(int fd, const char *debug_root, struct dwarf_lines **out);

/* NULL is fine. */
void dwarf_lines_close(struct dwarf_lines *dl);

/*
 * The functions at vaddr, innermost first: frames[0] is where the
 * address is (its file and line from the line table), each next one the
 * function the previous one is inlined into (its file and line: the call
 * site of the previous one), the last the function the code belongs to.
 * Writes at most max frames; returns how many (0: no DWARF covers vaddr).
 * A line table row without a function gives one frame with name NULL.
 */
size_t dwarf_lines_lookup(struct dwarf_lines *dl, uint64_t vaddr,
			  struct dwarf_frame *frames, size_t max);

#endif /* MEMTRACE_DWARF_LINES_H */
