/* SPDX-License-Identifier: MIT */
/*
 * Finding the CPython interpreter in a process: which mapped object holds
 * its runtime state (_PyRuntime), which version it is, and the layout of
 * the structures the BPF frame walker and python_symbols read.
 *
 * Supported: CPython 3.11, 3.12 and 3.13 with the GIL (x86_64). 3.11 and
 * 3.12 use built-in offset tables; 3.13 describes itself in the
 * _Py_DebugOffsets at the start of _PyRuntime, which is read instead.
 */
#ifndef MEMTRACE_PYTHON_DETECT_H
#define MEMTRACE_PYTHON_DETECT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "memtrace_python.h"

/* What resolving a code object needs: where the type objects are, and
 * where fields sit in code, type, str and bytes objects (bytes from the
 * start of each object). */
struct py_layout {
	uint64_t code_type;		/* &PyCode_Type in the process */
	uint64_t unicode_type;		/* &PyUnicode_Type in the process */
	uint32_t ob_type;		/* PyObject.ob_type */
	uint32_t type_flags;		/* PyTypeObject.tp_flags */
	uint32_t code_filename;
	uint32_t code_name;
	uint32_t code_qualname;
	uint32_t code_linetable;
	uint32_t code_header;		/* bytes to read to cover every code
					   field above and in mt_py_offsets */
	uint32_t unicode_length;	/* in code points */
	uint32_t unicode_state;		/* kind, compact and ascii bits */
	uint32_t unicode_ascii_data;	/* compact ASCII: characters start here
					   (sizeof(PyASCIIObject)) */
	uint32_t unicode_compact_data;	/* other compact strings: characters
					   start here; other strings: a pointer
					   to them is here
					   (sizeof(PyCompactUnicodeObject)) */
	uint32_t bytes_size;		/* PyBytesObject ob_size */
	uint32_t bytes_data;		/* PyBytesObject ob_sval */
};

struct py_target {
	int major, minor, micro;
	uint32_t version_hex;		/* Py_Version, as PY_VERSION_HEX */
	char lib_path[PATH_MAX];	/* the object defining _PyRuntime, as
					   /proc/PID/maps names it */
	uint64_t lib_bias;		/* load bias of that object */
	struct mt_py_offsets off;	/* for the BPF walker */
	struct py_layout layout;	/* for python_symbols */
	/* The code objects' deallocator (PyCode_Type.tp_dealloc), as an
	 * offset in the file lib_path names; 0: not found in it. */
	uint64_t code_dealloc_offset;
};

/*
 * Find the interpreter of process pid and fill *out.
 * Returns 0 for a supported interpreter; -ENOENT when no mapped object
 * defines _PyRuntime (not a Python process, or not yet: a process stopped
 * before its libraries are loaded); -ENOTSUP for a Python this code cannot
 * read (too old or too new a version, a pre-release, a free-threaded
 * build, an unexpected layout), with why set to a one-line reason;
 * -ESRCH when the process is gone; another negative errno otherwise.
 * why (may be NULL when why_len is 0) is set to "" on success.
 */
int python_detect(pid_t pid, struct py_target *out, char *why, size_t why_len);

/* An fd of the file pid maps at lib_path (the interpreter's object), opened
 * as it is mapped (user/proc/target_file.h): its executable mapping's if it
 * has one. Returns the fd, -ENOENT, -ESRCH or another negative errno. */
int python_open_lib(pid_t pid, const char *lib_path);

#endif /* MEMTRACE_PYTHON_DETECT_H */
