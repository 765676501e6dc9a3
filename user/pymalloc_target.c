// SPDX-License-Identifier: MIT
/*
 * Finding pymalloc's functions. They are static, so only a symbol table
 * (.symtab) names them: pyenv's and most self-built interpreters keep one;
 * distribution builds are stripped, and Debian's LTO+PGO build has inlined
 * the allocator into its callers besides. Those get a clear message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "elf_symbols.h"
#include "libc_target.h"
#include "pymalloc_target.h"
#include "why.h"

static const struct {
	int func;
	const char *symbol;
} pymalloc_symbols[] = {
	{ MT_FUNC_PY_MALLOC, "_PyObject_Malloc" },
	{ MT_FUNC_PY_CALLOC, "_PyObject_Calloc" },
	{ MT_FUNC_PY_REALLOC, "_PyObject_Realloc" },
	{ MT_FUNC_PY_FREE, "_PyObject_Free" },
};

int pymalloc_target_find(pid_t pid, const struct py_target *py,
			 struct pymalloc_target *out, char *why, size_t why_len)
{
	struct elf_symbols *es = NULL;
	uint8_t code[16];
	int fd, err;

	memset(out, 0, sizeof(*out));
	snprintf(out->path, sizeof(out->path), "/proc/%d/root%s", pid, py->lib_path);
	err = elf_symbols_open_path(out->path, &es);
	if (err)
		return why_fail(err, why, why_len, "cannot read the symbols of %s: %s",
				py->lib_path, strerror(-err));
	for (size_t i = 0; i < sizeof(pymalloc_symbols) / sizeof(pymalloc_symbols[0]); i++) {
		uint64_t value, off;

		if (elf_symbols_find(es, pymalloc_symbols[i].symbol, &value, NULL) ||
		    elf_symbols_vaddr_to_offset(es, value, &off)) {
			elf_symbols_close(es);
			return why_fail(-ENOENT, why, why_len,
					"%s has no %s symbol (a stripped build, or one whose "
					"object allocator is inlined, like Debian's LTO build): "
					"objects of up to 512 B are not traced", py->lib_path,
					pymalloc_symbols[i].symbol);
		}
		out->offset[pymalloc_symbols[i].func] = off;
	}
	elf_symbols_close(es);

	/* PyObject_Free needs no return probe: its entry probe can sit past
	 * a first instruction the kernel would single-step. */
	out->free_probe_offset = out->offset[MT_FUNC_PY_FREE];
	fd = open(out->path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = pread(fd, code, sizeof(code), out->free_probe_offset);

		if (n > 0)
			out->free_probe_offset += libc_target_probe_skip(code, n);
		close(fd);
	}
	return 0;
}
