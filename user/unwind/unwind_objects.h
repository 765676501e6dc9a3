/* SPDX-License-Identifier: MIT */
/*
 * The unwind table of every object file seen, built once however many
 * processes map it. An object is found again by device, inode and mtime
 * (cheap, from fstat of the mapped file itself, the same in every mount
 * namespace); never by build ID, which any process can forge. A file whose own call frame information misses
 * code gets its separate debug file's .debug_frame.
 *
 * Objects are numbered in the order they were first seen; the numbers stay
 * valid for the cache's life. Publishing a table (copying its rows where
 * the unwinder reads them) is the loader's business: it sets rows_start
 * and may free the table.
 */
#ifndef MEMTRACE_UNWIND_OBJECTS_H
#define MEMTRACE_UNWIND_OBJECTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "unwind_table.h"

/* rows_start of an object whose rows are not published (yet). */
#define UNWIND_OBJECT_NO_ROWS UINT32_MAX

struct unwind_object {
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	char build_id[41];		/* hex, "" if none (for people) */
	struct unwind_table table;	/* freed once published */
	size_t nrows;			/* rows of the table, kept after */
	uint32_t rows_start;		/* UNWIND_OBJECT_NO_ROWS until published */
	int err;			/* no table: its build failed, or it
					   did not fit where it was published */
};

struct unwind_objects {
	struct unwind_object *v;
	size_t n, cap;
	size_t built;			/* objects with a table */
	size_t bytes;			/* their rows' size in user space */
	double build_ms;		/* time spent building tables */
};

/*
 * The object of the file open on fd, which process pid maps as m; built
 * on first sight (with its debug file, symbols/debug_file.h). Returns its number, or a negative errno when the file's
 * ELF headers cannot be read. *bias gets m's load bias (runtime address
 * minus file virtual address). A file whose table could not be built is
 * an object all the same, with err set: it is not built again.
 */
struct proc_map;
int unwind_objects_find(struct unwind_objects *c, pid_t pid, int fd,
			const struct proc_map *m, uint64_t *bias);

/* Rows the objects with a table need in all. */
size_t unwind_objects_rows_needed(const struct unwind_objects *c);

/* Release every table; *c is then empty. */
void unwind_objects_free(struct unwind_objects *c);

#endif /* MEMTRACE_UNWIND_OBJECTS_H */
