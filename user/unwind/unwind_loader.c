// SPDX-License-Identifier: MIT
/*
 * Unwind tables into the BPF maps: publication. The tables come from the
 * cache of objects (unwind_objects.c, one per file however many processes
 * map it); they live in one BPF array that user space mmaps, and each
 * process gets its sorted list of executable mappings with their load
 * biases and their table's place in that array. Stacks finished in user
 * space are walked by unwind_walk.c over the same array and lists.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "memtrace_events.h"
#include "memtrace_unwind.h"
#include "proc/proc_maps.h"
#include "proc/target_file.h"
#include "unwind_loader.h"
#include "unwind_objects.h"
#include "unwind_walk.h"
#include "util/search.h"

/* What the mapping list does not say about an entry: enough to know the
 * same mapping again at the next scan without opening its file. */
struct mapping_src {
	uint64_t pgoff;
	uint64_t inode;
	uint32_t dev_major, dev_minor;
	int obj;			/* its object, -1: none (anonymous memory,
					   or its file could not be opened) */
};

struct proc_state {
	pid_t pid;
	uint64_t maps_hash;		/* of /proc/PID/maps, to skip rescans */
	size_t ignored;			/* executable mappings past
					   MT_MAX_MAPPINGS at the last scan */
	struct mt_proc_mappings m;
	struct mapping_src src[MT_MAX_MAPPINGS];	/* one per m.m[] */
};

struct unwind_loader {
	struct unwind_objects objs;
	struct proc_state *procs;
	size_t nprocs;

	int rows_fd, maps_fd;		/* -1 until attached */
	struct mt_unwind_row *rows;	/* the mmapped BPF array */
	size_t rows_cap, rows_used, rows_map_bytes;

	struct unwind_loader_stats stats;
};

int unwind_loader_new(struct unwind_loader **out)
{
	struct unwind_loader *ul = calloc(1, sizeof(*ul));

	if (!ul)
		return -ENOMEM;
	ul->rows_fd = ul->maps_fd = -1;
	*out = ul;
	return 0;
}

void unwind_loader_free(struct unwind_loader *ul)
{
	if (!ul)
		return;
	unwind_objects_free(&ul->objs);
	free(ul->procs);
	if (ul->rows && ul->rows_map_bytes)	/* not the caller's memory */
		munmap(ul->rows, ul->rows_map_bytes);
	free(ul);
}

static struct proc_state *find_proc(struct unwind_loader *ul, pid_t pid, bool add)
{
	struct proc_state *grown;

	for (size_t i = 0; i < ul->nprocs; i++)
		if (ul->procs[i].pid == pid)
			return &ul->procs[i];
	if (!add)
		return NULL;
	grown = realloc(ul->procs, (ul->nprocs + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	ul->procs = grown;
	memset(&grown[ul->nprocs], 0, sizeof(*grown));
	grown[ul->nprocs].pid = pid;
	return &ul->procs[ul->nprocs++];
}

static uint64_t hash_text(const struct proc_maps *maps)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < maps->n; i++) {
		const struct proc_map *m = &maps->maps[i];

		h = (h ^ m->start) * 1099511628211ULL;
		h = (h ^ m->end) * 1099511628211ULL;
		h = (h ^ m->inode) * 1099511628211ULL;
	}
	return h;
}

/*
 * The entry of ps's current list for the same mapping as m (same range,
 * file, device and offset) whose file was opened, or -1. Such an entry
 * is still right: its object and bias depend on nothing else.
 */
static int known_mapping(const struct proc_state *ps, const struct proc_map *m)
{
	/* The list is sorted by start and its ranges do not overlap. */
	size_t lo = FIRST_AT_LEAST(ps->m.m, ps->m.n, start, m->start);

	if (lo == ps->m.n || ps->m.m[lo].start != m->start ||
	    ps->m.m[lo].end != m->end || ps->src[lo].obj < 0 ||
	    ps->src[lo].pgoff != m->pgoff || ps->src[lo].inode != m->inode ||
	    ps->src[lo].dev_major != m->dev_major || ps->src[lo].dev_minor != m->dev_minor)
		return -1;
	return (int)lo;
}

/*
 * Rebuild pid's mapping list from maps (its /proc/PID/maps). Returns 1 if
 * it changed, 0 if not, or a negative errno.
 *
 * Only mappings not in the current list have their file opened. The
 * others keep their object: a rescan can come long after the mapping was
 * made (events are handled after the fact), when the process may be
 * exiting and its files no longer reachable through /proc, and must not
 * then lose the tables it had.
 */
static int scan(struct unwind_loader *ul, struct proc_state *ps,
		const struct proc_maps *maps)
{
	struct proc_state *next;
	bool missing = false;
	size_t ignored = 0;
	uint64_t h;
	uint32_t n = 0;

	if (maps->n == 0)
		return -ESRCH;	/* exited, not yet reaped */
	h = hash_text(maps);
	if (h == ps->maps_hash)
		return 0;
	/* Built aside: known_mapping() reads the current list meanwhile. */
	next = malloc(sizeof(*next));
	if (!next)
		return -ENOMEM;

	for (size_t i = 0; i < maps->n; i++) {
		const struct proc_map *m = &maps->maps[i];
		struct mt_mapping *mm;
		uint64_t bias = 0;
		int obj = -1, fd, known;

		if (m->perms[2] != 'x')
			continue;
		if (n == MT_MAX_MAPPINGS) {
			ignored++;
			continue;
		}
		known = known_mapping(ps, m);
		if (known >= 0) {
			obj = ps->src[known].obj;
			bias = ps->m.m[known].bias;
		} else if (m->path[0] == '/') {
			fd = target_file_open_mapped(ps->pid, m);
			if (fd >= 0) {
				obj = unwind_objects_find(&ul->objs, ps->pid, fd, m, &bias);
				close(fd);
			}
			/* Not readable now: look again next time, whatever
			 * the hash says. */
			if (obj < 0)
				missing = true;
		}
		mm = &next->m.m[n];
		memset(mm, 0, sizeof(*mm));
		mm->start = m->start;
		mm->end = m->end;
		mm->bias = obj >= 0 ? bias : 0;
		next->src[n] = (struct mapping_src){
			.pgoff = m->pgoff,
			.inode = m->inode,
			.dev_major = m->dev_major,
			.dev_minor = m->dev_minor,
			.obj = obj < 0 ? -1 : obj,
		};
		n++;
	}
	ps->m.n = n;
	ps->ignored = ignored;
	ps->m.generation++;
	memcpy(ps->m.m, next->m.m, n * sizeof(ps->m.m[0]));
	memcpy(ps->src, next->src, n * sizeof(ps->src[0]));
	ps->maps_hash = missing ? 0 : h;
	free(next);
	return 1;
}

/* Copy an object's rows into the BPF array, once. */
static void load_object(struct unwind_loader *ul, struct unwind_object *o)
{
	if (o->rows_start != UNWIND_OBJECT_NO_ROWS || o->err || !ul->rows)
		return;
	if (o->nrows > ul->rows_cap - ul->rows_used) {
		ul->stats.full++;
		o->err = -ENOSPC;
		return;
	}
	memcpy(&ul->rows[ul->rows_used], o->table.rows, o->nrows * sizeof(*ul->rows));
	o->rows_start = ul->rows_used;
	ul->rows_used += o->nrows;
	ul->stats.rows = ul->rows_used;
	/* The map holds the rows now. */
	unwind_table_free(&o->table);
}

/* Fill in table places and publish pid's mapping list. */
static int publish(struct unwind_loader *ul, struct proc_state *ps)
{
	__u32 key = ps->pid;
	size_t no_table = 0;

	for (uint32_t i = 0; i < ps->m.n; i++) {
		struct mt_mapping *mm = &ps->m.m[i];
		/* An object whose table could not be built has none. */
		struct unwind_object *o = ps->src[i].obj >= 0 ? &ul->objs.v[ps->src[i].obj] : NULL;

		if (o)
			load_object(ul, o);
		if (o && o->rows_start != UNWIND_OBJECT_NO_ROWS) {
			mm->rows_start = o->rows_start;
			mm->rows_len = o->nrows;
		} else {
			mm->rows_start = 0;
			mm->rows_len = 0;
			no_table++;
		}
	}
	ul->stats.no_table = no_table;
	/* The rows are in place before the list that points at them. */
	__sync_synchronize();
	if (ul->maps_fd >= 0 && bpf_map_update_elem(ul->maps_fd, &key, &ps->m, BPF_ANY))
		return -errno;
	return 0;
}

int unwind_loader_prepare(struct unwind_loader *ul, pid_t pid)
{
	struct proc_state *ps = find_proc(ul, pid, true);
	struct proc_maps maps;
	int err;

	if (!ps)
		return -ENOMEM;
	err = proc_maps_read(pid, &maps);
	if (err)
		return err;
	err = scan(ul, ps, &maps);
	proc_maps_free(&maps);
	return err < 0 ? err : 0;
}

size_t unwind_loader_rows_needed(const struct unwind_loader *ul)
{
	return unwind_objects_rows_needed(&ul->objs);
}

/* Take rows[0..rows_cap) as where tables go, and publish what is prepared. */
static int attach_rows(struct unwind_loader *ul, struct mt_unwind_row *rows, size_t rows_cap)
{
	int err;

	ul->rows = rows;
	ul->rows_cap = rows_cap;
	ul->stats.rows_cap = rows_cap;
	for (size_t i = 0; i < ul->nprocs; i++) {
		err = publish(ul, &ul->procs[i]);
		if (err)
			return err;
	}
	return 0;
}

int unwind_loader_attach(struct unwind_loader *ul, int rows_map_fd, size_t rows_cap,
			 int mappings_map_fd)
{
	size_t page = sysconf(_SC_PAGESIZE);
	void *mem;

	ul->rows_map_bytes = (rows_cap * sizeof(struct mt_unwind_row) + page - 1) &
			     ~(page - 1);
	mem = mmap(NULL, ul->rows_map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
		   rows_map_fd, 0);
	if (mem == MAP_FAILED)
		return -errno;
	ul->rows_fd = rows_map_fd;
	ul->maps_fd = mappings_map_fd;
	return attach_rows(ul, mem, rows_cap);
}

int unwind_loader_attach_memory(struct unwind_loader *ul, struct mt_unwind_row *rows,
				size_t rows_cap)
{
	return attach_rows(ul, rows, rows_cap);
}

int unwind_loader_sync(struct unwind_loader *ul, pid_t pid, const struct proc_maps *maps)
{
	struct proc_state *ps = find_proc(ul, pid, true);
	int changed;

	if (!ps)
		return -ENOMEM;
	changed = scan(ul, ps, maps);
	if (changed <= 0 || !ul->rows)
		return changed < 0 ? changed : 0;
	return publish(ul, ps);
}

int unwind_loader_walk(struct unwind_loader *ul, pid_t pid, const struct mt_snapshot *snap,
		       struct mt_stack *stack)
{
	struct proc_state *ps = find_proc(ul, pid, false);

	if (!ps || !ul->rows)
		return -ENOENT;
	return unwind_walk(ul->rows, ul->rows_used, &ps->m, snap, stack);
}

int unwind_loader_finish(struct unwind_loader *ul, pid_t pid,
			 const struct mt_snapshot *snap, struct mt_stack *stack)
{
	int err;

	if (stack->len == 0)
		return -ENOENT;
	/* The last frame is the PC that stopped BPF: walk on from it. */
	stack->len--;
	err = unwind_loader_walk(ul, pid, snap, stack);
	if (err)
		stack->len++;
	return err;
}

void unwind_loader_forget(struct unwind_loader *ul, pid_t pid)
{
	struct proc_state *ps = find_proc(ul, pid, false);
	__u32 key = pid;

	if (!ps)
		return;
	if (ul->maps_fd >= 0)
		bpf_map_delete_elem(ul->maps_fd, &key);
	ul->stats.too_many_mappings += ps->ignored;	/* still counted */
	*ps = ul->procs[--ul->nprocs];
}

void unwind_loader_stats(const struct unwind_loader *ul, struct unwind_loader_stats *out)
{
	*out = ul->stats;
	for (size_t i = 0; i < ul->nprocs; i++)
		out->too_many_mappings += ul->procs[i].ignored;
	out->objects = ul->objs.built;
	out->bytes = ul->objs.bytes;
	out->build_ms = ul->objs.build_ms;
}
