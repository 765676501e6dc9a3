// SPDX-License-Identifier: MIT
/*
 * The symbolizer (see symbolizer.h). It holds:
 *  - per process, its mappings: a snapshot of /proc/PID/maps, sorted, to
 *    which later snapshots add and in which they replace what changed;
 *  - per mapped file, keyed by device and inode, a module shared by every
 *    process mapping it: the file, opened when an executable mapping of it
 *    is first seen (so that it can still be read after the process exits),
 *    then, once a PC in it is first resolved, its symbol table, after
 *    which the file is closed;
 *  - the strings frames point to (paths, module names), interned and kept
 *    until symbolizer_free() so that a frame never dangles, whatever later
 *    happens to the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "elf_symbols.h"
#include "memtrace_mix.h"
#include "proc/proc_maps.h"
#include "proc/target_file.h"
#include "symbolizer.h"
#include "util/search.h"
#include "util/strpool.h"

#define PROC_BUCKETS 256
#define MODULE_BUCKETS 256

/* An address outside every known mapping is usually a garbage return
 * address from a frame-pointer walk, not a new mapping: rereading the
 * maps for each would cost more than it finds. */
#define RESCAN_INTERVAL_NS (100 * 1000 * 1000ULL)

#define DELETED_SUFFIX " (deleted)"

struct sym_module {
	struct sym_module *next;	/* hash chain */
	uint32_t dev_major;
	uint32_t dev_minor;
	uint64_t inode;
	int fd;			/* open until the symbols are read, else -1 */
	bool read;		/* symbols read, or tried: elf may be NULL */
	struct elf_symbols *elf;
	char build_id[129];	/* hex, "" when none (or not read yet) */
};

struct sym_mapping {
	uint64_t start;
	uint64_t end;
	uint64_t pgoff;
	const char *path;	/* file path as the process names it, or NULL */
	const char *name;	/* what frames call the module */
	struct sym_module *module;	/* NULL unless file-backed */
};

struct sym_proc {
	struct sym_proc *next;	/* hash chain */
	pid_t pid;
	struct sym_mapping *maps;	/* sorted by start, non-overlapping */
	size_t n;
	bool gone;		/* seen exited: its pid may be someone else's now */
	bool rescanned;		/* last_rescan_ns is set */
	uint64_t last_rescan_ns;
};

struct symbolizer {
	struct sym_proc *procs[PROC_BUCKETS];
	struct sym_module *modules[MODULE_BUCKETS];
	struct strpool strings;
};

/* The symbolizer's copy of str[0..len), made once per distinct string. */
static const char *intern(struct symbolizer *s, const char *str, size_t len)
{
	return strpool_intern(&s->strings, str, len);
}

static struct sym_proc *find_proc(struct symbolizer *s, pid_t pid)
{
	struct sym_proc *p;

	for (p = s->procs[(uint32_t)pid % PROC_BUCKETS]; p; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

static struct sym_proc *get_proc(struct symbolizer *s, pid_t pid)
{
	struct sym_proc **bucket = &s->procs[(uint32_t)pid % PROC_BUCKETS];
	struct sym_proc *p = find_proc(s, pid);

	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	p->next = *bucket;
	*bucket = p;
	return p;
}

static struct sym_module *get_module(struct symbolizer *s, const struct proc_map *pm)
{
	uint64_t dev = (uint64_t)pm->dev_major << 32 | pm->dev_minor;
	struct sym_module **bucket =
		&s->modules[mt_mix64(mt_mix64(pm->inode) ^ dev) % MODULE_BUCKETS];
	struct sym_module *m;

	for (m = *bucket; m; m = m->next)
		if (m->inode == pm->inode && m->dev_major == pm->dev_major &&
		    m->dev_minor == pm->dev_minor)
			return m;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->dev_major = pm->dev_major;
	m->dev_minor = pm->dev_minor;
	m->inode = pm->inode;
	m->fd = -1;
	m->next = *bucket;
	*bucket = m;
	return m;
}



static const char *base_name(const char *path, size_t *len)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t n = strlen(base), k = strlen(DELETED_SUFFIX);

	if (n > k && !strcmp(base + n - k, DELETED_SUFFIX))
		n -= k;
	*len = n;
	return base;
}

/* Turn one line of the maps into a mapping: intern its strings, find its
 * module and, for code, open the module's file. */
static int make_mapping(struct symbolizer *s, pid_t pid, const struct proc_map *pm,
			struct sym_mapping *out)
{
	bool file = pm->inode && pm->path[0] == '/';
	const char *base;
	size_t len;

	out->start = pm->start;
	out->end = pm->end;
	out->pgoff = pm->pgoff;
	out->path = NULL;
	out->module = NULL;
	if (!file) {
		/* "[vdso]", "[heap]", "[anon:name]"...: the kernel's name is
		 * the best one. */
		out->name = pm->path[0] ? intern(s, pm->path, strlen(pm->path)) : "[anon]";
		return out->name ? 0 : -ENOMEM;
	}
	out->path = intern(s, pm->path, strlen(pm->path));
	base = base_name(pm->path, &len);
	out->name = intern(s, base, len);
	out->module = get_module(s, pm);
	if (!out->path || !out->name || !out->module)
		return -ENOMEM;
	/* PCs are only ever in code: data files (locale archives, fonts)
	 * need no fd. A failed open is retried at the next scan. */
	if (pm->perms[2] == 'x' && !out->module->read && out->module->fd < 0) {
		int fd = target_file_open_mapped(pid, pm);

		if (fd >= 0)
			out->module->fd = fd;
	}
	return 0;
}

/* Does any of the n sorted mappings in maps overlap m? */
static bool overlaps(const struct sym_mapping *maps, size_t n,
		     const struct sym_mapping *m)
{
	/* The first mapping ending after m starts. */
	size_t lo = FIRST_ABOVE(maps, n, end, m->start);

	return lo < n && maps[lo].start < m->end;
}

static int by_start(const void *a, const void *b)
{
	const struct sym_mapping *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * Take in the process's maps as read again. Old file mappings that no new
 * one overlaps are kept: they may be a library unloaded since, whose PCs
 * are still in stacks recorded before. Old anonymous ones are not: large
 * allocations come and go as mappings, and would pile up.
 */
static int add_maps(struct symbolizer *s, struct sym_proc *p, const struct proc_maps *pm)
{
	struct sym_mapping *maps;
	size_t n = 0;
	int err;

	/* No mappings: an exited process not yet reaped. */
	if (!pm->n) {
		p->gone = true;
		return -ESRCH;
	}
	maps = calloc(pm->n + p->n, sizeof(*maps));
	if (!maps)
		return -ENOMEM;
	for (size_t i = 0; i < pm->n; i++) {
		err = make_mapping(s, p->pid, &pm->maps[i], &maps[n]);
		if (err) {
			free(maps);
			return err;
		}
		n++;
	}
	for (size_t i = 0; i < p->n; i++)
		if (p->maps[i].module && !overlaps(maps, pm->n, &p->maps[i]))
			maps[n++] = p->maps[i];
	if (n > pm->n)
		qsort(maps, n, sizeof(*maps), by_start);
	free(p->maps);
	p->maps = maps;
	p->n = n;
	p->gone = false;
	return 0;
}

/* Read the process's maps again. */
static int scan(struct symbolizer *s, struct sym_proc *p)
{
	struct proc_maps pm;
	int err;

	err = proc_maps_read(p->pid, &pm);
	if (err == -ESRCH)
		p->gone = true;
	if (!err)
		err = add_maps(s, p, &pm);
	proc_maps_free(&pm);
	return err;
}

static const struct sym_mapping *find_mapping(const struct sym_proc *p, uint64_t addr)
{
	/* The first mapping starting after addr. */
	size_t lo = FIRST_ABOVE(p->maps, p->n, start, addr);

	if (lo == 0 || addr >= p->maps[lo - 1].end)
		return NULL;
	return &p->maps[lo - 1];
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* May resolve() reread the maps of p now? Counts the attempt if so. */
static bool may_rescan(struct sym_proc *p)
{
	uint64_t now = now_ns();

	if (p->gone || (p->rescanned && now - p->last_rescan_ns < RESCAN_INTERVAL_NS))
		return false;
	p->rescanned = true;
	p->last_rescan_ns = now;
	return true;
}

/* The module's symbols, read on first use; NULL if it has none. */
static void read_build_id(struct sym_module *m)
{
	const uint8_t *id;
	size_t len;

	if (!m->elf || elf_symbols_build_id(m->elf, &id, &len))
		return;
	for (size_t i = 0; i < len && 2 * i + 2 < sizeof(m->build_id); i++)
		snprintf(m->build_id + 2 * i, 3, "%02x", id[i]);
}

static const struct elf_symbols *module_symbols(struct sym_module *m)
{
	if (!m->read && m->fd >= 0) {
		if (elf_symbols_open(m->fd, &m->elf))
			m->elf = NULL;
		read_build_id(m);
		m->read = true;
		close(m->fd);
		m->fd = -1;
	}
	return m->elf;
}

int symbolizer_new(struct symbolizer **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void symbolizer_free(struct symbolizer *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < PROC_BUCKETS; i++) {
		for (struct sym_proc *p = s->procs[i], *next; p; p = next) {
			next = p->next;
			free(p->maps);
			free(p);
		}
	}
	for (size_t i = 0; i < MODULE_BUCKETS; i++) {
		for (struct sym_module *m = s->modules[i], *next; m; m = next) {
			next = m->next;
			if (m->fd >= 0)
				close(m->fd);
			elf_symbols_close(m->elf);
			free(m);
		}
	}
	strpool_free(&s->strings);
	free(s);
}

int symbolizer_add_pid(struct symbolizer *s, pid_t pid)
{
	struct sym_proc *p = get_proc(s, pid);

	return p ? scan(s, p) : -ENOMEM;
}

int symbolizer_add_maps(struct symbolizer *s, pid_t pid, const struct proc_maps *maps)
{
	struct sym_proc *p = get_proc(s, pid);

	return p ? add_maps(s, p, maps) : -ENOMEM;
}

int symbolizer_reset_pid(struct symbolizer *s, pid_t pid)
{
	struct sym_proc *p = find_proc(s, pid);

	if (!p)
		return 0;
	free(p->maps);
	p->maps = NULL;
	p->n = 0;
	p->gone = false;
	p->rescanned = false;
	return 0;
}

int symbolizer_resolve(struct symbolizer *s, pid_t pid, uint64_t pc,
		       bool return_address, struct sym_frame *out)
{
	/* A call's return address may be the first byte of the next
	 * function, or past the end of the mapping: look at the call. */
	uint64_t at = return_address && pc ? pc - 1 : pc;
	const struct elf_symbol *sym;
	const struct sym_mapping *m = NULL;
	const struct elf_symbols *elf;
	struct sym_proc *p;
	uint64_t vaddr;

	memset(out, 0, sizeof(*out));
	out->address = pc;
	out->module = "[unknown]";

	p = find_proc(s, pid);
	if (p)
		m = find_mapping(p, at);
	if (!m && (p || (p = get_proc(s, pid))) && may_rescan(p)) {
		/* On failure the old mappings stand: nothing more to say. */
		scan(s, p);
		m = find_mapping(p, at);
	}
	if (!m)
		return -ENOENT;

	out->module = m->name;
	out->module_path = m->path;
	out->map_start = m->start;
	out->map_end = m->end;
	out->map_offset = m->module ? m->pgoff : 0;
	if (!m->module) {
		/* No file: the offset in the mapping is all there is. */
		out->module_offset = pc - m->start;
		return 0;
	}
	out->module_offset = pc - m->start + m->pgoff;
	elf = module_symbols(m->module);
	if (m->module->build_id[0])
		out->build_id = m->module->build_id;
	if (!elf || elf_symbols_offset_to_vaddr(elf, at - m->start + m->pgoff, &vaddr))
		return 0;
	sym = elf_symbols_lookup(elf, vaddr);
	if (!sym)
		return 0;
	out->function = sym->name;
	out->offset = vaddr + (pc - at) - sym->value;
	return 0;
}
