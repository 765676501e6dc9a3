/* SPDX-License-Identifier: MIT */
/*
 * Where CPython 3.11 to 3.13 keep the fields memtrace reads, per version:
 * built-in tables for 3.11 and 3.12 (checked with offsetof against each
 * version's headers), and for 3.13 the _Py_DebugOffsets it publishes as
 * the first member of _PyRuntime, read from the process and checked for
 * plausibility.
 */
#ifndef MEMTRACE_PYTHON_OFFSETS_H
#define MEMTRACE_PYTHON_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

#include "python_detect.h"

/*
 * Fill t->off and t->layout for t's version (major, minor, micro and
 * version_hex set, minor 11 to 13), but for the addresses in the
 * process, which are the caller's to fill. runtime is &_PyRuntime in the
 * process whose memory fd is memfd (read for 3.13 only). Returns 0;
 * -ENOTSUP with why set to a one-line reason when 3.13's table is
 * missing, for another build or implausible, or the version is none of
 * these; or an error of proc_mem_read().
 */
int python_offsets(int memfd, uint64_t runtime, struct py_target *t,
		   char *why, size_t why_len);

#endif /* MEMTRACE_PYTHON_OFFSETS_H */
