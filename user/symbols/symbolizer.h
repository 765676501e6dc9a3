/* SPDX-License-Identifier: MIT */
/*
 * The symbolizer: program counters of a traced process to
 * `function+0xoff [module]`, from the ELF symbol tables (.symtab, else
 * .dynsym) of the files the process maps.
 *
 * Files are the ones mapped (proc/target_file.h: map_files, whatever the
 * paths say in chroots and containers), and kept open (with their parsed symbol
 * tables, shared by every process that maps the same file, keyed by device
 * and inode) so that stacks still resolve after the process has exited.
 *
 * Names are demangled (C++, Rust). Where the file, or its separate debug
 * file (by build ID under /usr/lib/debug/.build-id/, or .gnu_debuglink),
 * has DWARF, a frame also gets its source file and line, and the functions
 * inlined at its address. A file with no local debug information is asked
 * for from debuginfod (DEBUGINFOD_URLS) by a worker thread; its frames get
 * lines once it has arrived. Everything is read on first use, at report
 * time, and each address is resolved once: results are kept per file.
 */
#ifndef MEMTRACE_SYMBOLIZER_H
#define MEMTRACE_SYMBOLIZER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct symbolizer;

/* A function inlined at a frame's address. */
struct sym_inline {
	const char *function;	/* demangled; NULL: unknown */
	const char *mangled;	/* as the object names it, when demangling
				   changed it; else NULL */
	const char *file;	/* NULL when unknown */
	int line;		/* 0 when unknown */
};

/* One resolved frame. Strings belong to the symbolizer and live as long as
 * it does. */
struct sym_frame {
	uint64_t address;	/* the PC as the process saw it */
	const char *function;	/* demangled; NULL if no symbol covers the
				   address */
	const char *mangled;	/* as the object names it, when demangling
				   changed it; else NULL */
	uint64_t offset;	/* address - symbol start, when function != NULL */
	const char *module;	/* basename of the mapped file, "[anon]", "[vdso]",
				   or "[unknown]" when no mapping holds it */
	const char *module_path; /* full path as /proc/PID/maps names it, or NULL */
	uint64_t module_offset;	/* file offset of the address in module */
	uint64_t map_start;	/* the mapping that holds the address, */
	uint64_t map_end;	/* [map_start, map_end) (0, 0: none) */
	uint64_t map_offset;	/* file offset mapped at map_start */
	const char *build_id;	/* the file's build ID in hex, or NULL */
	const char *file;	/* source file (of the call, for a return
				   address), NULL when unknown */
	int line;		/* 0 when unknown */
	/* The functions inlined at the address, innermost first: inlined[0]
	 * is where the code is, each next one inlined into the one after it,
	 * the last inlined into `function`. file/line of each is where the
	 * one before it was inlined (of inlined[0]: the address's). */
	size_t ninlined;
	const struct sym_inline *inlined;
};

/* What the symbolizer could and could not read, for the report. */
struct sym_stats {
	uint64_t resolved;		/* distinct addresses resolved */
	uint64_t with_line;		/* ... of which with a source line */
	uint64_t objects_no_debug;	/* objects in resolved frames without
					   DWARF, locally or from debuginfod */
	uint64_t debuginfod_pending;	/* fetches asked and not yet in */
	uint64_t debuginfod_fetched;	/* debug files received */
	double seconds;			/* spent reading objects and resolving
					   new addresses (not cache hits) */
};

/* A symbolizer; it asks debuginfod only when DEBUGINFOD_URLS is set. */
int symbolizer_new(struct symbolizer **out);
void symbolizer_free(struct symbolizer *s);

/*
 * Read /proc/PID/maps and open the mapped files. Call it when a process is
 * first traced, and again whenever its mappings may have changed (the
 * symbolizer also rescans by itself when asked about an address outside
 * every mapping it knows, as long as the process is alive). A second call
 * adds new mappings and replaces changed ones.
 * Returns 0, -ESRCH if the process is gone, or another negative errno.
 */
int symbolizer_add_pid(struct symbolizer *s, pid_t pid);

/* The same from pid's maps already read (by the caller, who shares one
 * read between the symbolizer and the unwind tables: a process that
 * exits in between would leave the second read empty). No mappings
 * means the process is gone. */
struct proc_maps;
int symbolizer_add_maps(struct symbolizer *s, pid_t pid, const struct proc_maps *maps);

/* The process exec'd: its old mappings are gone. */
int symbolizer_reset_pid(struct symbolizer *s, pid_t pid);

/*
 * Resolve one PC of process pid. `return_address` is true for frames whose
 * PC is a return address (all but a stack's first when the stack is taken
 * at a probe): the symbol is then looked up at address - 1, so that a call
 * at the very end of a function is not given to the next one.
 * Always fills *out (with "[unknown]" parts when it cannot do better) and
 * returns 0, or -ENOENT when no mapping holds the address.
 */
int symbolizer_resolve(struct symbolizer *s, pid_t pid, uint64_t pc,
		       bool return_address, struct sym_frame *out);

/* Counters so far. */
void symbolizer_stats(struct symbolizer *s, struct sym_stats *out);

#endif /* MEMTRACE_SYMBOLIZER_H */
