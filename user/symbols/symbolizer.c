// SPDX-License-Identifier: MIT
/*
 * The symbolizer (see symbolizer.h). It holds:
 *  - per process, its mappings: a snapshot of /proc/PID/maps, sorted, to
 *    which later snapshots add and in which they replace what changed;
 *  - per mapped file, keyed by device and inode, a module shared by every
 *    process mapping it: the file, opened when an executable mapping of it
 *    is first seen (so that it can still be read after the process exits),
 *    with its separate debug file, if it has one, looked for and opened at
 *    the same time, in the process's own filesystem (a container's files
 *    are gone when it exits); then, once a PC in it is first resolved, its
 *    symbol table and DWARF (its own, or its debug file's, or
 *    debuginfod's), after which the file is closed; and every address
 *    resolved in it, so that each is resolved once;
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

#include "debug_file.h"
#include "debuginfod_fetch.h"
#include "demangle.h"
#include "dwarf_lines.h"
#include "elf_symbols.h"
#include "memtrace_mix.h"
#include "proc/proc_maps.h"
#include "proc/target_file.h"
#include "symbolizer.h"
#include "util/search.h"
#include "util/strpool.h"
#include "util/vec.h"

#define PROC_BUCKETS 256
#define MODULE_BUCKETS 256
#define FRAME_BUCKETS_MIN 64

/* An address outside every known mapping is usually a garbage return
 * address from a frame-pointer walk, not a new mapping: rereading the
 * maps for each would cost more than it finds. */
#define RESCAN_INTERVAL_NS (100 * 1000 * 1000ULL)

#define DELETED_SUFFIX " (deleted)"

/* One address of a module, resolved. */
struct sym_cached {
	struct sym_cached *next;	/* hash chain */
	uint64_t vaddr;		/* looked up at (return addresses: minus 1) */
	const char *function;
	const char *mangled;
	uint64_t sym_value;	/* the symbol's address, when function is
				   the ELF symbol's */
	bool from_symbol;
	const char *file;
	int line;
	size_t ninlined;
	struct sym_inline *inlined;
};

struct sym_module {
	struct sym_module *next;	/* hash chain */
	uint32_t dev_major;
	uint32_t dev_minor;
	uint64_t inode;
	int fd;			/* open until the symbols are read, else -1 */
	int debug_fd;		/* its separate debug file, until read, or -1 */
	pid_t pid;		/* the first process seen mapping it */
	bool read;		/* symbols read, or tried: elf may be NULL */
	struct elf_symbols *elf;
	char build_id[129];	/* hex, "" when none (or not read yet) */
	/* The debug file's .symtab, when the file itself has only .dynsym
	 * (a stripped file: its local functions would take the name of the
	 * exported one before them). */
	struct elf_symbols *debug_syms;
	struct dwarf_lines *lines;	/* NULL: no DWARF (yet) */
	bool debuginfod_asked;
	bool no_debug_counted;
	/* Addresses resolved, hashed by vaddr; buckets grow with n. */
	struct sym_cached **frames;
	size_t nbuckets, nframes;
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
	struct debuginfod_fetch *fetch;	/* NULL: DEBUGINFOD_URLS unset */
	struct sym_stats stats;
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
	m->debug_fd = -1;
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

/*
 * Open the module's separate debug file, as the process would find it in
 * its own filesystem: now, while the process lives (after it exits, a
 * container's files cannot be reached any more). What is in it is read
 * once a frame of the module is resolved. The search reads the file's
 * build ID and stats a few paths (a debuglink without a build ID reads
 * each candidate whole for its CRC: rare).
 */
static void open_debug_file(pid_t pid, const struct proc_map *pm, struct sym_module *m)
{
	if (m->debug_fd >= 0 || m->fd < 0 || pm->path[0] != '/')
		return;
	m->debug_fd = debug_file_open(pid, pm, m->fd);
	if (m->debug_fd < 0)
		m->debug_fd = -1;
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

		if (fd >= 0) {
			out->module->fd = fd;
			out->module->pid = pid;
			open_debug_file(pid, pm, out->module);
		}
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

/* The module's build ID in hex, for outputs that name mappings (pprof). */
static void read_build_id(struct sym_module *m)
{
	const uint8_t *id;
	size_t len;

	if (!m->elf || elf_symbols_build_id(m->elf, &id, &len))
		return;
	for (size_t i = 0; i < len && 2 * i + 2 < sizeof(m->build_id); i++)
		snprintf(m->build_id + 2 * i, 3, "%02x", id[i]);
}

/* Where a dwz file of the module is looked for: in the process's root
 * while it lives, else in memtrace's. */
static void debug_root_of(const struct sym_module *m, char *buf, size_t size)
{
	char root[64];

	snprintf(root, sizeof(root), "/proc/%d/root", (int)m->pid);
	if (m->pid > 0 && !access(root, X_OK))
		snprintf(buf, size, "%s%s", root, DEBUG_FILE_ROOT);
	else
		snprintf(buf, size, "%s", DEBUG_FILE_ROOT);
}

/* Take in a debug file (open on fd, which this takes): its symbols if the
 * module has no .symtab of its own, and its DWARF. */
static void use_debug_file(struct sym_module *m, int fd, const char *debug_root)
{
	struct elf_symbols *es;

	if (!m->debug_syms && !elf_symbols_open(fd, &es)) {
		if (m->elf && elf_symbols_count(es) > elf_symbols_count(m->elf))
			m->debug_syms = es;
		else
			elf_symbols_close(es);
	}
	if (!m->lines && !dwarf_lines_open(fd, debug_root, &m->lines))
		return;		/* the dwarf_lines owns fd now */
	close(fd);
}

/* Ask debuginfod for a module that has no DWARF, if it may. */
static void ask_debuginfod(struct symbolizer *s, struct sym_module *m)
{
	const uint8_t *id;
	size_t len;

	if (m->lines || m->debuginfod_asked || !s->fetch || !m->elf ||
	    elf_symbols_build_id(m->elf, &id, &len))
		return;
	m->debuginfod_asked = true;
	if (!debuginfod_fetch_request(s->fetch, id, len))
		s->stats.debuginfod_pending++;
}

/* Read the module's symbols and DWARF on first use. */
static void module_load(struct symbolizer *s, struct sym_module *m)
{
	char debug_root[128];
	int fd;

	if (m->read || m->fd < 0)
		return;
	m->read = true;
	if (elf_symbols_open(m->fd, &m->elf))
		m->elf = NULL;
	read_build_id(m);
	debug_root_of(m, debug_root, sizeof(debug_root));
	/* DWARF in the file itself, else in its debug file. */
	fd = dup(m->fd);
	if (fd >= 0 && dwarf_lines_open(fd, debug_root, &m->lines))
		close(fd);
	if (m->debug_fd >= 0) {
		use_debug_file(m, m->debug_fd, debug_root);
		m->debug_fd = -1;
	}
	close(m->fd);
	m->fd = -1;
	ask_debuginfod(s, m);
}

static void drop_frames(struct sym_module *m)
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		for (struct sym_cached *c = m->frames[i], *next; c; c = next) {
			next = c->next;
			free(c->inlined);
			free(c);
		}
	}
	free(m->frames);
	m->frames = NULL;
	m->nbuckets = m->nframes = 0;
}

static bool same_id(const struct sym_module *m, const uint8_t *id, size_t len)
{
	const uint8_t *mid;
	size_t mlen;

	return m->elf && !elf_symbols_build_id(m->elf, &mid, &mlen) && mlen == len &&
	       !memcmp(mid, id, len);
}

/* Take in what debuginfod has sent since the last call. A module whose
 * debug file arrived forgets its resolved frames: they resolve again,
 * with lines. */
static void take_fetched(struct symbolizer *s)
{
	uint8_t id[64];
	size_t len;
	int fd;

	if (!s->fetch || !s->stats.debuginfod_pending)
		return;
	while (debuginfod_fetch_poll(s->fetch, id, &len, &fd) == 1) {
		s->stats.debuginfod_pending--;
		if (fd < 0)
			continue;
		s->stats.debuginfod_fetched++;
		for (size_t i = 0; i < MODULE_BUCKETS; i++) {
			for (struct sym_module *m = s->modules[i]; m; m = m->next) {
				int mfd;

				if (m->lines || !same_id(m, id, len) || (mfd = dup(fd)) < 0)
					continue;
				/* Fetched files are in debuginfod's cache, not
				 * in a process's root: dwz files by build ID
				 * from memtrace's own /usr/lib/debug. */
				use_debug_file(m, mfd, DEBUG_FILE_ROOT);
				if (m->lines && m->no_debug_counted) {
					m->no_debug_counted = false;
					s->stats.objects_no_debug--;
				}
				drop_frames(m);
			}
		}
		close(fd);
	}
}

static struct sym_cached *find_cached(const struct sym_module *m, uint64_t vaddr)
{
	if (!m->nbuckets)
		return NULL;
	for (struct sym_cached *c = m->frames[vaddr % m->nbuckets]; c; c = c->next)
		if (c->vaddr == vaddr)
			return c;
	return NULL;
}

static int add_cached(struct sym_module *m, struct sym_cached *c)
{
	if (m->nframes >= m->nbuckets) {
		size_t nb = m->nbuckets ? m->nbuckets * 4 : FRAME_BUCKETS_MIN;
		struct sym_cached **b = calloc(nb, sizeof(*b));

		if (!b)
			return -ENOMEM;
		for (size_t i = 0; i < m->nbuckets; i++) {
			for (struct sym_cached *e = m->frames[i], *next; e; e = next) {
				next = e->next;
				e->next = b[e->vaddr % nb];
				b[e->vaddr % nb] = e;
			}
		}
		free(m->frames);
		m->frames = b;
		m->nbuckets = nb;
	}
	c->next = m->frames[c->vaddr % m->nbuckets];
	m->frames[c->vaddr % m->nbuckets] = c;
	m->nframes++;
	return 0;
}

/* name demangled (interned) in *function, and in *mangled the name when
 * demangling changed it. */
static void set_name(struct symbolizer *s, const char *name, const char **function,
		     const char **mangled)
{
	char *d = name ? demangle(name) : NULL;

	*mangled = NULL;
	*function = name ? intern(s, name, strlen(name)) : NULL;
	if (d) {
		const char *i = intern(s, d, strlen(d));

		if (i) {
			*mangled = *function;
			*function = i;
		}
		free(d);
	}
}

/* The same for an ELF symbol: without the version a .symtab adds
 * ("memcpy@@GLIBC_2.14"), which the functions of .dynsym do not show. */
static void set_symbol_name(struct symbolizer *s, const char *name, const char **function,
			    const char **mangled)
{
	const char *at = strchr(name, '@');
	char buf[512];

	if (at && at > name && (size_t)(at - name) < sizeof(buf)) {
		memcpy(buf, name, at - name);
		buf[at - name] = '\0';
		name = buf;
	}
	set_name(s, name, function, mangled);
}

static const char *source_path(struct symbolizer *s, const struct dwarf_frame *f)
{
	char buf[4200];

	if (!f->file)
		return NULL;
	if (f->dir && snprintf(buf, sizeof(buf), "%s/%s", f->dir, f->file) < (int)sizeof(buf))
		return intern(s, buf, strlen(buf));
	return intern(s, f->file, strlen(f->file));
}

/* Resolve vaddr of m, for the cache. */
static struct sym_cached *resolve_new(struct symbolizer *s, struct sym_module *m,
				      uint64_t vaddr)
{
	struct dwarf_frame df[DWARF_LINES_MAX_FRAMES];
	const struct elf_symbols *es = m->debug_syms ? m->debug_syms : m->elf;
	const struct elf_symbol *sym = es ? elf_symbols_lookup(es, vaddr) : NULL;
	struct sym_cached *c = calloc(1, sizeof(*c));
	size_t n = m->lines ? dwarf_lines_lookup(m->lines, vaddr, df, DWARF_LINES_MAX_FRAMES) : 0;

	if (!c)
		return NULL;
	c->vaddr = vaddr;
	if (sym) {
		set_symbol_name(s, sym->name, &c->function, &c->mangled);
		c->sym_value = sym->value;
		c->from_symbol = true;
	} else if (n && df[n - 1].name) {
		/* No symbol (a stripped file without its debug file's
		 * .symtab): DWARF still names the function. */
		set_name(s, df[n - 1].name, &c->function, &c->mangled);
	}
	if (n) {
		c->file = source_path(s, &df[n - 1]);
		c->line = c->file ? df[n - 1].line : 0;
	}
	if (n > 1) {
		c->inlined = calloc(n - 1, sizeof(*c->inlined));
		if (c->inlined) {
			c->ninlined = n - 1;
			for (size_t i = 0; i + 1 < n; i++) {
				struct sym_inline *in = &c->inlined[i];

				set_name(s, df[i].name, &in->function, &in->mangled);
				in->file = source_path(s, &df[i]);
				in->line = in->file ? df[i].line : 0;
			}
		}
	}
	s->stats.resolved++;
	if (c->file)
		s->stats.with_line++;
	if (!m->lines && !m->no_debug_counted) {
		m->no_debug_counted = true;
		s->stats.objects_no_debug++;
	}
	if (add_cached(m, c)) {
		free(c->inlined);
		free(c);
		return NULL;
	}
	return c;
}

int symbolizer_new(struct symbolizer **out)
{
	int err;

	*out = calloc(1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	err = debuginfod_fetch_new(&(*out)->fetch);
	if (err) {
		free(*out);
		*out = NULL;
	}
	return err;
}

void symbolizer_stats(struct symbolizer *s, struct sym_stats *out)
{
	*out = s->stats;
}

void symbolizer_free(struct symbolizer *s)
{
	if (!s)
		return;
	/* First: the worker may still be fetching. */
	debuginfod_fetch_free(s->fetch);
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
			if (m->debug_fd >= 0)
				close(m->debug_fd);
			elf_symbols_close(m->elf);
			elf_symbols_close(m->debug_syms);
			dwarf_lines_close(m->lines);
			drop_frames(m);
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
	const struct sym_mapping *m = NULL;
	const struct elf_symbols *elf;
	const struct sym_cached *c;
	struct sym_proc *p;
	uint64_t t0;
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
	take_fetched(s);
	if (!m->module->read) {
		t0 = now_ns();
		module_load(s, m->module);
		s->stats.seconds += (now_ns() - t0) / 1e9;
	}
	elf = m->module->elf;
	if (m->module->build_id[0])
		out->build_id = m->module->build_id;
	if (!elf || elf_symbols_offset_to_vaddr(elf, at - m->start + m->pgoff, &vaddr))
		return 0;
	c = find_cached(m->module, vaddr);
	if (!c) {
		t0 = now_ns();
		c = resolve_new(s, m->module, vaddr);
		s->stats.seconds += (now_ns() - t0) / 1e9;
	}
	if (!c)
		return 0;
	out->function = c->function;
	out->mangled = c->mangled;
	if (c->from_symbol)
		out->offset = vaddr + (pc - at) - c->sym_value;
	out->file = c->file;
	out->line = c->line;
	out->ninlined = c->ninlined;
	out->inlined = c->inlined;
	return 0;
}
