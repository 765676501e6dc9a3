// SPDX-License-Identifier: MIT
/*
 * Finding pymalloc's functions. They are static, so only a symbol table
 * (.symtab) names them: pyenv's and most self-built interpreters keep one.
 * Distribution builds are stripped, and Debian's LTO+PGO build has inlined
 * the allocator into its callers besides: there the inlined fast paths are
 * found by their shape instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "symbols/elf_symbols.h"
#include "proc/probe_site.h"
#include "pymalloc_sites_cache.h"
#include "pymalloc_target.h"
#include "proc/target_file.h"
#include "util/why.h"

static const struct {
	int func;
	const char *symbol;
} pymalloc_symbols[] = {
	{ MT_FUNC_PY_MALLOC, "_PyObject_Malloc" },
	{ MT_FUNC_PY_CALLOC, "_PyObject_Calloc" },
	{ MT_FUNC_PY_REALLOC, "_PyObject_Realloc" },
	{ MT_FUNC_PY_FREE, "_PyObject_Free" },
};

/* No symbol for the allocator: look for its inlined fast paths. */
static int find_sites(const struct py_target *py, struct sites_cache *cache,
		      struct pymalloc_target *out, const char *missing, char *why,
		      size_t why_len)
{
	int err = cache ? sites_cache_get(cache, out->fd, &out->sites)
			: pymalloc_sites_find_fd(out->fd, &out->sites);

	if (err == -ENOENT)
		return why_fail(err, why, why_len,
				"%s has no %s symbol and no recognisable inlined copy of "
				"it: objects of up to 512 B are not traced", py->lib_path,
				missing);
	if (err)
		return why_fail(err, why, why_len, "cannot read the code of %s: %s",
				py->lib_path, strerror(-err));
	return 0;
}

int pymalloc_target_find(pid_t pid, const struct py_target *py, struct sites_cache *cache,
			 struct pymalloc_target *out, char *why, size_t why_len)
{
	struct elf_symbols *es = NULL;
	uint8_t code[16];
	ssize_t n;
	int err;

	memset(out, 0, sizeof(*out));
	out->fd = python_open_lib(pid, py->lib_path);
	if (out->fd < 0)
		return why_fail(out->fd, why, why_len, "cannot open %s: %s", py->lib_path,
				strerror(-out->fd));
	target_file_fd_path(out->fd, out->path, sizeof(out->path));
	err = elf_symbols_open(out->fd, &es);
	if (err)
		return why_fail(err, why, why_len, "cannot read the symbols of %s: %s",
				py->lib_path, strerror(-err));
	for (size_t i = 0; i < sizeof(pymalloc_symbols) / sizeof(pymalloc_symbols[0]); i++) {
		uint64_t value, off;

		if (elf_symbols_find(es, pymalloc_symbols[i].symbol, &value, NULL) ||
		    elf_symbols_vaddr_to_offset(es, value, &off)) {
			elf_symbols_close(es);
			memset(out->offset, 0, sizeof(out->offset));
			return find_sites(py, cache, out, pymalloc_symbols[i].symbol, why,
					  why_len);
		}
		out->offset[pymalloc_symbols[i].func] = off;
	}
	elf_symbols_close(es);

	/* PyObject_Free needs no return probe: its entry probe can sit past
	 * a first instruction the kernel would single-step. */
	out->free_probe_offset = out->offset[MT_FUNC_PY_FREE];
	n = pread(out->fd, code, sizeof(code), out->free_probe_offset);
	if (n > 0)
		out->free_probe_offset += probe_site_skip(code, n, mt_func_args(MT_FUNC_PY_FREE));
	return 0;
}

void pymalloc_target_free(struct pymalloc_target *pm)
{
	pymalloc_sites_free(&pm->sites);
	if (pm->fd >= 0)
		close(pm->fd);
	pm->fd = -1;
}
