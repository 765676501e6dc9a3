// SPDX-License-Identifier: MIT
/*
 * Which libc a process uses, and where on its allocation functions the
 * probes go.
 *
 * Where a uprobe sits decides what it costs. The kernel emulates a few x86
 * instructions (push, jmp, jcc, call) at the breakpoint; every other one is
 * single-stepped out of line, one more trap, about ten times the cost on
 * this platform. glibc's free starts with `test %rdi,%rdi`, which would be
 * single-stepped, then `je`, which is emulated: the probe goes on the `je`.
 * That is safe because every call passes through it (no branch before it)
 * and nothing before it changes %rdi, the one register the probe reads.
 * Functions that also need a return probe must keep their entry probe at
 * offset 0, where the return address is at the top of the stack.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "symbols/elf_symbols.h"
#include "libc_target.h"
#include "util/why.h"
#include "proc_maps.h"
#include "target_file.h"

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
};

/* Length of an instruction that may be skipped before the probe (it
 * neither branches nor writes an argument register), or 0. Only forms
 * seen at the start of allocator functions are known; anything else
 * keeps the probe at the function's first byte. */
static size_t skippable_len(const uint8_t *c, size_t len)
{
	if (len >= 3 && c[0] == 0x48 && c[1] == 0x85 && (c[2] == 0xff || c[2] == 0xf6))
		return 3;	/* test %rdi,%rdi or test %rsi,%rsi */
	if (len >= 4 && c[0] == 0xf3 && c[1] == 0x0f && c[2] == 0x1e && c[3] == 0xfa)
		return 4;	/* endbr64 */
	return 0;
}

/* Is this an instruction the kernel's uprobes emulate on x86-64? */
static bool emulated(const uint8_t *c, size_t len)
{
	if (len >= 1 && c[0] >= 0x50 && c[0] <= 0x57)
		return true;	/* push %rax..%rdi */
	if (len >= 2 && c[0] == 0x41 && c[1] >= 0x50 && c[1] <= 0x57)
		return true;	/* push %r8..%r15 */
	if (len >= 1 && ((c[0] >= 0x70 && c[0] <= 0x7f) || c[0] == 0xeb ||
			 c[0] == 0xe9 || c[0] == 0xe8))
		return true;	/* jcc rel8, jmp, call */
	if (len >= 2 && c[0] == 0x0f && c[1] >= 0x80 && c[1] <= 0x8f)
		return true;	/* jcc rel32 */
	return false;
}

size_t libc_target_probe_skip(const uint8_t *code, size_t len)
{
	size_t off = 0, n;

	if (emulated(code, len))
		return 0;
	while (off < len && (n = skippable_len(code + off, len - off)) > 0) {
		off += n;
		if (emulated(code + off, len - off))
			return off;
	}
	return 0;
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
			   struct libc_target *out)
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

void libc_target_release(struct libc_target *lt)
{
	if (!lt->open)
		return;
	if (lt->fd >= 0)
		close(lt->fd);
	if (lt->ldso_fd >= 0)
		close(lt->ldso_fd);
	lt->open = false;
	lt->fd = lt->ldso_fd = -1;
	lt->path[0] = lt->ldso_path[0] = '\0';
}

int libc_target_find(pid_t pid, struct libc_target *out, char *why, size_t why_len)
{
	struct proc_maps maps = { 0 };
	struct elf_symbols *es = NULL;
	const struct proc_map *libc;
	int err;

	memset(out, 0, sizeof(*out));
	out->fd = out->ldso_fd = -1;
	err = proc_maps_read(pid, &maps);
	if (err)
		return why_fail(err, why, why_len, "cannot read /proc/%d/maps: %s", pid,
			    err == -ESRCH ? "no such process" : strerror(-err));
	libc = find_mapped(&maps, is_libc_name);
	if (!libc) {
		err = why_fail(-ENOENT, why, why_len,
			   "PID %d maps no shared libc: it is statically linked (or not a "
			   "glibc/musl program); memtrace probes the allocator of a shared "
			   "libc", pid);
		goto out;
	}
	snprintf(out->maps_path, sizeof(out->maps_path), "%s", libc->path);
	out->open = true;
	out->fd = target_file_open_mapped(pid, libc);
	if (out->fd < 0) {
		err = why_fail(out->fd, why, why_len, "cannot open %s of PID %d: %s",
			       libc->path, pid, strerror(-out->fd));
		goto out;
	}
	target_file_fd_path(out->fd, out->path, sizeof(out->path));
	err = elf_symbols_open(out->fd, &es);
	if (err) {
		err = why_fail(err, why, why_len, "cannot read the symbols of %s: %s",
			       libc->path, strerror(-err));
		goto out;
	}

	for (int f = 0; f < MT_FUNC_LIBC_COUNT; f++) {
		uint64_t value, size, off;
		uint8_t code[16];
		ssize_t n;

		if (elf_symbols_find(es, mt_func_names[f], &value, &size) ||
		    elf_symbols_vaddr_to_offset(es, value, &off))
			continue;	/* an older libc without reallocarray */
		out->func_offset[f] = off;
		out->probe_offset[f] = off;
		out->func_addr[f] = runtime_addr(&maps, libc, off);
		for (int g = 0; g < f; g++)
			if (out->func_offset[g] == off)
				out->alias_of_earlier[f] = 1;
		if (f != MT_FUNC_FREE)
			continue;
		n = pread(out->fd, code, sizeof(code), off);
		if (n > 0)
			out->probe_offset[f] += libc_target_probe_skip(code, n);
	}
	find_ldso_hook(pid, &maps, out);
	if (!out->func_offset[MT_FUNC_MALLOC] || !out->func_offset[MT_FUNC_FREE])
		err = why_fail(-ENOENT, why, why_len, "%s of PID %d has no malloc or free "
			   "symbol", libc->path, pid);
out:
	elf_symbols_close(es);
	proc_maps_free(&maps);
	if (err)
		libc_target_release(out);
	return err;
}
