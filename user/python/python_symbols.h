/* SPDX-License-Identifier: MIT */
/*
 * Python frames as the BPF walker records them, (code object address,
 * instruction index), to qualified name, file name and line, read from the
 * memory of the traced process.
 *
 * Each code object is decoded once per process and cached; every
 * resolution still reads the object's header again, so that an address
 * whose code object was freed and reused is noticed and decoded anew.
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

int py_symbols_new(struct py_symbols **out);

/* NULL is fine. */
void py_symbols_free(struct py_symbols *s);

/*
 * Resolve one frame of process pid, whose interpreter is t: code is the
 * PyCodeObject address, instr the instruction index in code units (a
 * negative one, or one beyond the code, gives co_firstlineno).
 * Returns 0; -EINVAL when code is not (or no longer) a code object;
 * -EFAULT when the memory cannot be read; -ESRCH when the process is gone
 * (or has just exec'd: the next call reads the new program); or another
 * negative errno.
 */
int py_symbols_resolve(struct py_symbols *s, pid_t pid,
		       const struct py_target *t, uint64_t code, int32_t instr,
		       struct py_location *out);

/* Drop what is cached for pid (it exited, or exec'd). */
void py_symbols_forget(struct py_symbols *s, pid_t pid);

#endif /* MEMTRACE_PYTHON_SYMBOLS_H */
