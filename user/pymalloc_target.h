/* SPDX-License-Identifier: MIT */
/*
 * Where Python's object allocator (pymalloc) can be probed in a process:
 * _PyObject_Malloc, _PyObject_Calloc, _PyObject_Realloc and
 * _PyObject_Free, the functions behind PyObject_Malloc and friends, found
 * in the symbol table of the object that holds the interpreter.
 */
#ifndef MEMTRACE_PYMALLOC_TARGET_H
#define MEMTRACE_PYMALLOC_TARGET_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "memtrace_events.h"
#include "python_detect.h"

struct pymalloc_target {
	char path[PATH_MAX + 32];		/* openable: /proc/PID/root/... */
	uint64_t offset[MT_FUNC_COUNT];		/* per MT_FUNC_PY_*, 0: absent */
	uint64_t free_probe_offset;		/* PyObject_Free's entry probe */
};

/*
 * -ENOENT when the interpreter has no such symbols: a build whose
 * allocator was inlined at its call sites (Debian's LTO+PGO python3.11).
 */
int pymalloc_target_find(pid_t pid, const struct py_target *py,
			 struct pymalloc_target *out, char *why, size_t why_len);

#endif /* MEMTRACE_PYMALLOC_TARGET_H */
