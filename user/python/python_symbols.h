/* SPDX-License-Identifier: MIT */
/*
 * Python frames as the BPF walker records them (code object address,
 * instruction index, generation) to qualified name, file name and line,
 * read from the memory of the traced process, or from the copy the probes
 * sent of a code object as it was freed.
 *
 * With the probes' death counts (py_symbols_watch_deaths), a frame is
 * named only after the code object that ran it, or not at all: each
 * (process, address, generation) is decoded once and then served from the
 * cache, also after the process has exited. Without them (the deallocator
 * could not be probed), the entry of an address is checked against the
 * object's header at each resolution and decoded again when it changed: a
 * code object freed and replaced by one that looks the same is then not
 * noticed.
 */
#ifndef MEMTRACE_PYTHON_SYMBOLS_H
#define MEMTRACE_PYTHON_SYMBOLS_H

#include <stdint.h>
#include <sys/types.h>

#include "python_detect.h"

struct py_symbols;

/* Strings belong to the py_symbols and live until py_symbols_free(), even
 * after py_symbols_forget(). */
struct py_location {
	const char *qualname;	/* co_qualname, UTF-8 */
	const char *filename;	/* co_filename, UTF-8 (file names Python
				   holds as surrogate escapes get their
				   original bytes back) */
	int line;		/* 0 when Python has no line for the
				   instruction (co_lines() gives None) */
};

/* Counters for the report. */
struct py_symbols_stats {
	uint64_t named;			/* code objects decoded from memory */
	uint64_t named_from_copy;	/* ... from the copy made as they died */
	uint64_t tables_cut;		/* ... whose location table was cut */
	uint64_t freed;			/* code objects seen dying */
	uint64_t unnamed;		/* code objects stacks ran that have no
					   name (yet): freed before they could
					   be read, or unreadable */
};

int py_symbols_new(struct py_symbols **out);

/* The probes' death counts per slot (MT_PY_GEN_SLOTS u64s, see
 * include/memtrace_python.h), read for every frame of a process whose
 * target has off.watch_deaths set; NULL: none. */
void py_symbols_watch_deaths(struct py_symbols *s, const volatile uint64_t *gens);

/* NULL is fine. */
void py_symbols_free(struct py_symbols *s);

/*
 * A frame of a stack just seen, in event order: if its code object dies
 * before it is resolved, the copy sent then (py_symbols_code_freed) names
 * it. Returns 0 or -ENOMEM.
 */
int py_symbols_want(struct py_symbols *s, pid_t pid, const struct py_target *t,
		    const struct mt_py_frame *f);

/*
 * Resolve one frame of process pid, whose interpreter is t: f->code is the
 * PyCodeObject address, f->instr the instruction index in code units (a
 * negative one, or one beyond the code, gives co_firstlineno; beyond a
 * location table that was cut, line 0), f->gen its generation.
 * Returns 0; -ESTALE when the code object died before it could be read
 * (and no copy has named it); -EINVAL when f->code is not a code object;
 * -EFAULT when the memory cannot be read; -ESRCH when the process is gone
 * and nothing was cached; or another negative errno.
 */
int py_symbols_resolve(struct py_symbols *s, pid_t pid, const struct py_target *t,
		       const struct mt_py_frame *f, struct py_location *out);

/*
 * A code object of a process whose interpreter is t died: rec is the
 * probe's struct mt_py_code_freed, len the bytes received. Names the
 * frames that wanted it (py_symbols_want); malformed records are ignored.
 */
void py_symbols_code_freed(struct py_symbols *s, const struct py_target *t,
			   const void *rec, size_t len);

void py_symbols_get_stats(const struct py_symbols *s, struct py_symbols_stats *out);

/* Drop what is cached for pid (it exec'd: the new program's code objects
 * start again at generation counts the old one's had). */
void py_symbols_forget(struct py_symbols *s, pid_t pid);

#endif /* MEMTRACE_PYTHON_SYMBOLS_H */
