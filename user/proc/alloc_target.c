// SPDX-License-Identifier: MIT
/*
 * The allocator a process really uses, and where its probes go (see
 * alloc_target.h).
 *
 * The tables below say, per allocator, which of its functions programs
 * reach and what each one is. They come from reading the allocators'
 * code (objdump -d of Debian's builds; see README "Allocators"):
 *   - a function that only jumps to another one of the table (jemalloc's
 *     operator new[] to operator new) is left out: its calls are seen
 *     where they land, at the cost of one trap instead of two;
 *   - wrappers that reach another probed function through the PLT
 *     (mimalloc's posix_memalign jumps to mi_posix_memalign, jemalloc's
 *     operator delete to free) are not in the tables, their targets are;
 *     a free that frees through another probed free would be counted
 *     twice, so only the innermost free of each path is listed;
 *   - allocation functions that call another probed one (tcmalloc's
 *     posix_memalign calls tc_memalign) are fine: the probes count a call
 *     made inside a probed call once, as the outer one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc_target.h"
#include "link_map.h"
#include "probe_site.h"
#include "proc_maps.h"
#include "target_file.h"
#include "symbols/elf_symbols.h"
#include "util/why.h"

const char *const mt_func_names[MT_FUNC_COUNT] = {
	[MT_FUNC_MALLOC] = "malloc",
	[MT_FUNC_CALLOC] = "calloc",
	[MT_FUNC_REALLOC] = "realloc",
	[MT_FUNC_REALLOCARRAY] = "reallocarray",
	[MT_FUNC_POSIX_MEMALIGN] = "posix_memalign",
	[MT_FUNC_ALIGNED_ALLOC] = "aligned_alloc",
	[MT_FUNC_MEMALIGN] = "memalign",
	[MT_FUNC_VALLOC] = "valloc",
	[MT_FUNC_PVALLOC] = "pvalloc",
	[MT_FUNC_FREE] = "free",
	[MT_FUNC_PY_MALLOC] = "PyObject_Malloc",
	[MT_FUNC_PY_CALLOC] = "PyObject_Calloc",
	[MT_FUNC_PY_REALLOC] = "PyObject_Realloc",
	[MT_FUNC_PY_FREE] = "PyObject_Free",
	[MT_FUNC_MALLOCX] = "mallocx",
	[MT_FUNC_RALLOCX] = "rallocx",
	[MT_FUNC_XALLOCX] = "xallocx",
	[MT_FUNC_NEW] = "operator new",
	[MT_FUNC_REALLOCF] = "reallocf",
	[MT_FUNC_MI_ZALLOC] = "mi_zalloc",
	[MT_FUNC_MI_MALLOC_ALIGNED] = "mi_malloc_aligned",
	[MT_FUNC_MMAP] = "mmap",
	[MT_FUNC_MREMAP] = "mremap",
	[MT_FUNC_BRK] = "brk",
};

struct table_entry {
	const char *symbol;
	uint32_t func;
};

#define END { NULL, 0 }

/* glibc and musl, and the standard names of an allocator of no known
 * kind. glibc's memalign is aligned_alloc (one function): it is reported
 * as aligned_alloc, the first name at that offset. */
static const struct table_entry standard_table[] = {
	{ "malloc", MT_FUNC_MALLOC },
	{ "calloc", MT_FUNC_CALLOC },
	{ "realloc", MT_FUNC_REALLOC },
	{ "reallocarray", MT_FUNC_REALLOCARRAY },
	{ "posix_memalign", MT_FUNC_POSIX_MEMALIGN },
	{ "aligned_alloc", MT_FUNC_ALIGNED_ALLOC },
	{ "memalign", MT_FUNC_MEMALIGN },
	{ "valloc", MT_FUNC_VALLOC },
	{ "pvalloc", MT_FUNC_PVALLOC },
	{ "free", MT_FUNC_FREE },
	END
};

/* jemalloc 5 (Debian's libjemalloc2 5.3). Its unsized operator deletes
 * jump to free through the PLT and its aligned sized ones call sdallocx:
 * not listed. Its aligned operator news call aligned_alloc: not listed
 * either (seen as aligned_alloc, with operator new as the caller). */
static const struct table_entry jemalloc_table[] = {
	{ "malloc", MT_FUNC_MALLOC },
	{ "calloc", MT_FUNC_CALLOC },
	{ "realloc", MT_FUNC_REALLOC },
	{ "posix_memalign", MT_FUNC_POSIX_MEMALIGN },
	{ "aligned_alloc", MT_FUNC_ALIGNED_ALLOC },
	{ "memalign", MT_FUNC_MEMALIGN },
	{ "valloc", MT_FUNC_VALLOC },
	{ "pvalloc", MT_FUNC_PVALLOC },
	{ "free", MT_FUNC_FREE },
	{ "mallocx", MT_FUNC_MALLOCX },
	{ "rallocx", MT_FUNC_RALLOCX },
	{ "xallocx", MT_FUNC_XALLOCX },
	{ "sdallocx", MT_FUNC_FREE },
	{ "dallocx", MT_FUNC_FREE },
	{ "_Znwm", MT_FUNC_NEW },
	{ "_Znam", MT_FUNC_NEW },
	{ "_ZnwmRKSt9nothrow_t", MT_FUNC_NEW },
	{ "_ZnamRKSt9nothrow_t", MT_FUNC_NEW },
	{ "_ZdlPvm", MT_FUNC_FREE },
	{ "_ZdaPvm", MT_FUNC_FREE },
	END
};

/* tcmalloc (gperftools 2.10, minimal and full). The tc_* names are
 * aliases of these; operator new[] and delete[] are aliases of new and
 * delete. posix_memalign, valloc and pvalloc call tc_memalign. */
static const struct table_entry tcmalloc_table[] = {
	{ "malloc", MT_FUNC_MALLOC },
	{ "calloc", MT_FUNC_CALLOC },
	{ "realloc", MT_FUNC_REALLOC },
	{ "posix_memalign", MT_FUNC_POSIX_MEMALIGN },
	{ "aligned_alloc", MT_FUNC_ALIGNED_ALLOC },
	{ "memalign", MT_FUNC_MEMALIGN },
	{ "valloc", MT_FUNC_VALLOC },
	{ "pvalloc", MT_FUNC_PVALLOC },
	{ "free", MT_FUNC_FREE },
	{ "_Znwm", MT_FUNC_NEW },
	{ "_ZnwmRKSt9nothrow_t", MT_FUNC_NEW },
	{ "_ZnwmSt11align_val_t", MT_FUNC_NEW },
	{ "_ZnwmSt11align_val_tRKSt9nothrow_t", MT_FUNC_NEW },
	{ "_ZdlPvm", MT_FUNC_FREE },
	{ "_ZdlPvRKSt9nothrow_t", MT_FUNC_FREE },
	{ "_ZdlPvSt11align_val_t", MT_FUNC_FREE },
	{ "_ZdlPvmSt11align_val_t", MT_FUNC_FREE },
	{ "_ZdlPvSt11align_val_tRKSt9nothrow_t", MT_FUNC_FREE },
	END
};

/* mimalloc 2 (Debian's libmimalloc2.0 2.0.9). malloc, calloc, realloc,
 * reallocf, free and operator new are aliases of mi_*; the other standard
 * names, the nothrow news and every other delete jump to mi_* functions
 * through the PLT: those are probed. Every delete ends in mi_free.
 * mi_valloc calls mi_memalign, mi_pvalloc and mi_aligned_alloc call
 * mi_malloc_aligned. */
static const struct table_entry mimalloc_table[] = {
	{ "malloc", MT_FUNC_MALLOC },
	{ "calloc", MT_FUNC_CALLOC },
	{ "realloc", MT_FUNC_REALLOC },
	{ "mi_reallocarray", MT_FUNC_REALLOCARRAY },
	{ "mi_posix_memalign", MT_FUNC_POSIX_MEMALIGN },
	{ "mi_aligned_alloc", MT_FUNC_ALIGNED_ALLOC },
	{ "mi_memalign", MT_FUNC_MEMALIGN },
	{ "mi_valloc", MT_FUNC_VALLOC },
	{ "mi_pvalloc", MT_FUNC_PVALLOC },
	{ "reallocf", MT_FUNC_REALLOCF },
	{ "free", MT_FUNC_FREE },
	{ "_Znwm", MT_FUNC_NEW },
	{ "mi_new_nothrow", MT_FUNC_NEW },
	{ "_ZnwmSt11align_val_t", MT_FUNC_NEW },
	{ "mi_new_aligned_nothrow", MT_FUNC_NEW },
	{ "mi_zalloc", MT_FUNC_MI_ZALLOC },
	{ "mi_malloc_aligned", MT_FUNC_MI_MALLOC_ALIGNED },
	END
};

static const struct table_entry *table_of(enum alloc_kind kind)
{
	switch (kind) {
	case ALLOC_JEMALLOC:
		return jemalloc_table;
	case ALLOC_TCMALLOC:
		return tcmalloc_table;
	case ALLOC_MIMALLOC:
		return mimalloc_table;
	default:
		return standard_table;
	}
}

const char *alloc_kind_name(enum alloc_kind kind)
{
	switch (kind) {
	case ALLOC_GLIBC:
		return "glibc";
	case ALLOC_MUSL:
		return "musl";
	case ALLOC_JEMALLOC:
		return "jemalloc";
	case ALLOC_TCMALLOC:
		return "tcmalloc";
	case ALLOC_MIMALLOC:
		return "mimalloc";
	default:
		return "unknown";
	}
}

/* tcmalloc and mimalloc define __libc_malloc too: the replacements are
 * recognised first, glibc last. */
enum alloc_kind alloc_kind_of(bool (*defines)(const char *name, void *ctx), void *ctx,
			      bool libc_file)
{
	if (defines("mallocx", ctx) && defines("mallctl", ctx))
		return ALLOC_JEMALLOC;
	if (defines("tc_malloc", ctx))
		return ALLOC_TCMALLOC;
	if (defines("mi_malloc", ctx))
		return ALLOC_MIMALLOC;
	if (defines("gnu_get_libc_version", ctx) || defines("__libc_malloc", ctx))
		return ALLOC_GLIBC;
	if (libc_file)
		return ALLOC_MUSL;
	return ALLOC_UNKNOWN;
}

static bool es_defines(const char *name, void *ctx)
{
	uint64_t v;

	return elf_symbols_find_global(ctx, name, &v, NULL) == 0;
}

static bool is_libc_name(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strcmp(base, "libc.so.6") || !strncmp(base, "libc-2.", 7) ||
	       !strncmp(base, "libc.musl", 9) || !strcmp(base, "libc.so");
}

static bool is_ldso_name(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "ld-linux", 8) || !strncmp(base, "ld-musl", 7) ||
	       !strcmp(base, "ld.so") || !strncmp(base, "ld-2.", 5);
}

/* The first executable mapping whose file name says what it is: a
 * read-only mapping of a file with the same name could be anything (a
 * process may map a decoy of its own). */
static const struct proc_map *find_mapped(const struct proc_maps *maps,
					  bool (*is_name)(const char *))
{
	const struct proc_map *any = NULL;

	for (size_t i = 0; i < maps->n; i++) {
		const struct proc_map *m = &maps->maps[i];

		if (!m->inode || !is_name(m->path))
			continue;
		if (m->perms[2] == 'x')
			return m;
		if (!any)
			any = m;
	}
	return any;
}

/* The loader's debugger hook: optional, so failures leave it unset. */
static void find_ldso_hook(pid_t pid, const struct proc_maps *maps,
			   struct alloc_target *out)
{
	const struct proc_map *m = find_mapped(maps, is_ldso_name);
	struct elf_symbols *es = NULL;
	uint64_t value, off;
	int fd;

	if (!m)
		return;
	fd = target_file_open_mapped(pid, m);
	if (fd < 0)
		return;
	if (!elf_symbols_open(fd, &es) &&
	    !elf_symbols_find(es, "_dl_debug_state", &value, NULL) &&
	    !elf_symbols_vaddr_to_offset(es, value, &off)) {
		out->dl_debug_state_offset = off;
		out->ldso_fd = fd;
		target_file_fd_path(fd, out->ldso_path, sizeof(out->ldso_path));
	} else {
		close(fd);
	}
	elf_symbols_close(es);
}

/* Runtime address of a file offset, from a mapping of the same file as
 * lib that holds it. */
static uint64_t runtime_addr(const struct proc_maps *maps, const struct proc_map *lib,
			     uint64_t file_off)
{
	for (size_t i = 0; i < maps->n; i++) {
		const struct proc_map *m = &maps->maps[i];

		if (m->inode != lib->inode || m->dev_major != lib->dev_major ||
		    m->dev_minor != lib->dev_minor || file_off < m->pgoff ||
		    file_off >= m->pgoff + (m->end - m->start))
			continue;
		return m->start + (file_off - m->pgoff);
	}
	return 0;
}

void alloc_target_release(struct alloc_target *at)
{
	if (!at->open)
		return;
	if (at->fd >= 0)
		close(at->fd);
	if (at->ldso_fd >= 0)
		close(at->ldso_fd);
	at->open = false;
	at->fd = at->ldso_fd = -1;
	at->path[0] = at->ldso_path[0] = '\0';
}

/* The mapping of pid's executable, or NULL. */
static const struct proc_map *exe_mapping(pid_t pid, const struct proc_maps *maps)
{
	char link[64], exe[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	for (size_t i = 0; i < maps->n; i++)
		if (!strcmp(maps->maps[i].path, exe))
			return &maps->maps[i];
	return NULL;
}

/*
 * The objects to look in, in lookup order: the link-map list; when it
 * cannot be read (a static executable has none, a program caught in its
 * exec has none yet), the executable then every file mapping in address
 * order (the likely order, since ld.so maps objects as it loads them).
 */
static int lookup_order(pid_t pid, const struct proc_maps *maps, struct link_map_list *l)
{
	const struct proc_map *exe = exe_mapping(pid, maps);
	int err = link_map_read(pid, maps, l);

	if (!err)
		return 0;
	l->objs = calloc(maps->n + 1, sizeof(*l->objs));
	if (!l->objs)
		return -ENOMEM;
	l->n = 0;
	if (exe)
		l->objs[l->n++] = exe;
	for (size_t i = 0; i < maps->n; i++) {
		const struct proc_map *m = &maps->maps[i];
		bool dup = false;

		if (!m->inode || m->path[0] != '/')
			continue;
		for (size_t k = 0; k < l->n; k++)
			dup |= !strcmp(l->objs[k]->path, m->path);
		if (!dup)
			l->objs[l->n++] = m;
	}
	return 0;
}

/* Read a function's bytes (up to its size, at least 64) for the site
 * finder. Returns how many, 0 if none. */
static size_t read_code(int fd, uint64_t off, uint64_t size, uint8_t *buf, size_t cap)
{
	size_t want = size > cap ? cap : size < 64 ? 64 : size;
	ssize_t n = pread(fd, buf, want, (off_t)off);

	return n > 0 ? (size_t)n : 0;
}

/* Does the function at vaddr (code: its first bytes) do nothing but
 * jump to the start of another function of the table? */
static bool forwards_to(const uint8_t *code, size_t n, uint64_t vaddr,
			const uint64_t *vaddrs, size_t nv)
{
	uint64_t target;

	if (n >= 5 && code[0] == 0xe9)
		target = vaddr + 5 + (int64_t)(int32_t)(code[1] | code[2] << 8 |
							code[3] << 16 | (uint32_t)code[4] << 24);
	else if (n >= 2 && code[0] == 0xeb)
		target = vaddr + 2 + (int64_t)(int8_t)code[1];
	else
		return false;
	for (size_t i = 0; i < nv; i++)
		if (vaddrs[i] && vaddrs[i] == target && target != vaddr)
			return true;
	return false;
}

/* Bytes of a function read for the site finder (jumps back into its
 * first instructions are looked for in all of them). */
#define CODE_MAX 65536

/* The sites of the table's functions in the object es (read from fd).
 * Returns 0 or -ENOMEM. */
static int find_sites(const struct table_entry *table, const struct elf_symbols *es,
		      int fd, const struct proc_maps *maps, const struct proc_map *lib,
		      struct alloc_target *out)
{
	uint64_t vaddrs[ALLOC_SITES_MAX] = { 0 }, sizes[ALLOC_SITES_MAX] = { 0 };
	uint8_t *code = malloc(CODE_MAX);
	size_t nt = 0;

	if (!code)
		return -ENOMEM;

	for (; table[nt].symbol && nt < ALLOC_SITES_MAX; nt++)
		if (elf_symbols_find(es, table[nt].symbol, &vaddrs[nt], &sizes[nt]))
			vaddrs[nt] = 0;

	for (size_t t = 0; t < nt && out->nsites < ALLOC_SITES_MAX; t++) {
		struct alloc_site *s = &out->sites[out->nsites];
		struct probe_site ps;
		uint32_t func = table[t].func;
		uint64_t off;
		bool alias = false;
		size_t n;

		if (!vaddrs[t] || elf_symbols_vaddr_to_offset(es, vaddrs[t], &off))
			continue;	/* an older version without it */
		for (size_t k = 0; k < out->nsites; k++)
			alias |= out->sites[k].func_offset == off;
		if (alias)
			continue;	/* one function, two names: probed once */
		n = read_code(fd, off, sizes[t], code, CODE_MAX);
		if (!n || forwards_to(code, n, vaddrs[t], vaddrs, nt))
			continue;
		probe_site_find(code, n, mt_func_args(func), &ps);
		/* For benchmarks (scripts/bench_allocators.sh): every probe on
		 * its function's first byte, as other tracers put them. */
		if (getenv("MEMTRACE_PROBE_AT_ENTRY"))
			probe_site_find(code, 0, 0, &ps);
		*s = (struct alloc_site){
			.symbol = table[t].symbol,
			.func = func,
			.func_offset = off,
			.probe_offset = off + ps.offset,
			.cookie = func,
		};
		if (ps.arg_reg[0] != MT_REG_RDI || ps.arg_reg[1] != MT_REG_RSI ||
		    ps.arg_reg[2] != MT_REG_RDX) {
			s->cookie |= MT_COOKIE_MOVED;
			for (int a = 0; a < 3; a++)
				s->cookie |= (uint64_t)ps.arg_reg[a] << MT_COOKIE_ARG_SHIFT(a);
		}
		if (!out->func_offset[func]) {
			out->func_offset[func] = off;
			out->func_addr[func] = runtime_addr(maps, lib, off);
		}
		out->nsites++;
	}
	free(code);
	return 0;
}

int alloc_target_find(pid_t pid, struct alloc_target *out, char *why, size_t why_len)
{
	struct proc_maps maps = { 0 };
	struct link_map_list order = { 0 };
	struct elf_symbols *es = NULL;
	const struct proc_map *obj = NULL, *exe;
	int fd = -1, err;

	memset(out, 0, sizeof(*out));
	out->fd = out->ldso_fd = -1;
	err = proc_maps_read(pid, &maps);
	if (err)
		return why_fail(err, why, why_len, "cannot read /proc/%d/maps: %s", pid,
			    err == -ESRCH ? "no such process" : strerror(-err));
	err = lookup_order(pid, &maps, &order);
	if (err) {
		err = why_fail(err, why, why_len, "PID %d: cannot list its objects: %s", pid,
			       strerror(-err));
		goto out;
	}
	/* The first object that defines malloc is where the calls go; each
	 * is opened as mapped, whatever its path says. */
	for (size_t i = 0; i < order.n && !obj; i++) {
		uint64_t v;

		fd = target_file_open_mapped(pid, order.objs[i]);
		if (fd >= 0 && !elf_symbols_open(fd, &es) &&
		    !elf_symbols_find_global(es, "malloc", &v, NULL)) {
			obj = order.objs[i];
			break;
		}
		elf_symbols_close(es);
		es = NULL;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	if (!obj) {
		err = why_fail(-ENOENT, why, why_len,
			       "PID %d: no object it maps defines malloc (a static program "
			       "without symbols?): memtrace has no allocator to probe", pid);
		goto out;
	}
	snprintf(out->maps_path, sizeof(out->maps_path), "%s", obj->path);
	out->open = true;
	out->fd = fd;
	fd = -1;
	target_file_fd_path(out->fd, out->path, sizeof(out->path));
	exe = exe_mapping(pid, &maps);
	out->in_executable = exe && !strcmp(exe->path, obj->path);
	out->kind = alloc_kind_of(es_defines, es, is_libc_name(obj->path));
	err = find_sites(table_of(out->kind), es, out->fd, &maps, obj, out);
	if (err) {
		err = why_fail(err, why, why_len, "cannot set up: %s", strerror(-err));
		goto out;
	}
	find_ldso_hook(pid, &maps, out);
	if (!out->func_offset[MT_FUNC_MALLOC] || !out->func_offset[MT_FUNC_FREE])
		err = why_fail(-ENOENT, why, why_len, "%s of PID %d has no malloc or free "
			       "function to probe", obj->path, pid);
out:
	elf_symbols_close(es);
	if (fd >= 0)
		close(fd);
	link_map_free(&order);
	proc_maps_free(&maps);
	if (err)
		alloc_target_release(out);
	return err;
}
