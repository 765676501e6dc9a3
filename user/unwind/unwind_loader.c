// SPDX-License-Identifier: MIT
/*
 * Unwind tables into the BPF maps.
 *
 * An object file's table is built once, however many processes map it:
 * objects are found again by device, inode and mtime (cheap, from fstat)
 * and, for the same file seen through another mount namespace, by build
 * ID. Tables live in one BPF array that user space mmaps; each process gets
 * its sorted list of executable mappings with their load biases and their
 * table's place in that array.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "symbols/elf_symbols.h"
#include "memtrace_events.h"
#include "memtrace_unwind.h"
#include "proc/proc_maps.h"
#include "unwind_loader.h"
#include "unwind_table.h"

#define NO_ROWS UINT32_MAX

struct object {
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	char build_id[41];		/* hex, "" if none */
	struct unwind_table table;	/* freed once copied into the map */
	size_t nrows;
	uint32_t rows_start;		/* NO_ROWS until loaded */
	int err;			/* the build failed: no table */
};

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
	struct mt_proc_mappings m;
	struct mapping_src src[MT_MAX_MAPPINGS];	/* one per m.m[] */
};

struct unwind_loader {
	struct object *objs;
	size_t nobjs;
	struct proc_state *procs;
	size_t nprocs;

	int rows_fd, maps_fd;		/* -1 until attached */
	struct mt_unwind_row *rows;	/* the mmapped BPF array */
	size_t rows_cap, rows_used, rows_map_bytes;

	struct unwind_loader_stats stats;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

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
	for (size_t i = 0; i < ul->nobjs; i++)
		unwind_table_free(&ul->objs[i].table);
	free(ul->objs);
	free(ul->procs);
	if (ul->rows)
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


static void hex(char *out, const uint8_t *id, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	if (len > 20)
		len = 20;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 15];
	}
	out[2 * len] = '\0';
}

/*
 * A file whose own call frame information misses code (built without
 * .eh_frame, or stripped of it): its separate debug file's .debug_frame
 * fills in, looked up in the process's own filesystem, as gdb would find
 * it. -ENOENT when there is no debug file.
 */
static int build_from_debug_file(pid_t pid, int fd, const struct proc_map *m,
				 struct unwind_table *t)
{
	char path[4200], root[4200], debug[4200];
	int dfd, err;

	snprintf(path, sizeof(path), "/proc/%d/root%s", pid, m->path);
	snprintf(root, sizeof(root), "/proc/%d/root%s", pid, UNWIND_TABLE_DEBUG_ROOT);
	err = debug_file_find(path, root, debug, sizeof(debug));
	if (err)
		return err;
	dfd = open(debug, O_RDONLY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	err = unwind_table_build_debug(fd, dfd, t);
	close(dfd);
	return err;
}

/* The object for an open file, built on first sight. Returns its index,
 * or a negative errno. The bias of the mapping comes back in *bias. */
static int object_for(struct unwind_loader *ul, pid_t pid, int fd,
		      const struct proc_map *m, uint64_t *bias)
{
	struct elf_symbols *es = NULL;
	const uint8_t *id;
	struct object *o, *grown;
	struct stat st;
	uint64_t vaddr;
	size_t id_len;
	char build_id[41] = "";
	double t0;
	int err;

	if (fstat(fd, &st))
		return -errno;
	/* The bias needs the program headers in any case. */
	err = elf_symbols_open(fd, &es);
	if (err)
		return err;
	err = elf_symbols_offset_to_vaddr(es, m->pgoff, &vaddr);
	if (!elf_symbols_build_id(es, &id, &id_len))
		hex(build_id, id, id_len);
	elf_symbols_close(es);
	if (err)
		return err;
	*bias = m->start - vaddr;

	for (size_t i = 0; i < ul->nobjs; i++) {
		o = &ul->objs[i];
		if ((o->dev == st.st_dev && o->ino == st.st_ino &&
		     o->mtime.tv_sec == st.st_mtim.tv_sec &&
		     o->mtime.tv_nsec == st.st_mtim.tv_nsec) ||
		    (build_id[0] && !strcmp(o->build_id, build_id)))
			return (int)i;
	}

	grown = realloc(ul->objs, (ul->nobjs + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	ul->objs = grown;
	o = &ul->objs[ul->nobjs];
	memset(o, 0, sizeof(*o));
	o->dev = st.st_dev;
	o->ino = st.st_ino;
	o->mtime = st.st_mtim;
	memcpy(o->build_id, build_id, sizeof(build_id));
	o->rows_start = NO_ROWS;

	t0 = now_ms();
	o->err = m->deleted ? -ENOENT : build_from_debug_file(pid, fd, m, &o->table);
	if (o->err)
		o->err = unwind_table_build(fd, &o->table);
	ul->stats.build_ms += now_ms() - t0;
	if (!o->err) {
		o->nrows = o->table.n;
		ul->stats.objects++;
		ul->stats.bytes += o->nrows * sizeof(struct mt_unwind_row);
	}
	return (int)ul->nobjs++;
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
	uint32_t lo = 0, hi = ps->m.n;

	/* The list is sorted by start and its ranges do not overlap. */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (ps->m.m[mid].start < m->start)
			lo = mid + 1;
		else
			hi = mid;
	}
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
			ul->stats.too_many_mappings++;
			continue;
		}
		known = known_mapping(ps, m);
		if (known >= 0) {
			obj = ps->src[known].obj;
			bias = ps->m.m[known].bias;
		} else if (m->path[0] == '/') {
			fd = proc_maps_open_file(ps->pid, m);
			if (fd >= 0) {
				obj = object_for(ul, ps->pid, fd, m, &bias);
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
	ps->m.generation++;
	memcpy(ps->m.m, next->m.m, n * sizeof(ps->m.m[0]));
	memcpy(ps->src, next->src, n * sizeof(ps->src[0]));
	ps->maps_hash = missing ? 0 : h;
	free(next);
	return 1;
}

/* Copy an object's rows into the BPF array, once. */
static void load_object(struct unwind_loader *ul, struct object *o)
{
	if (o->rows_start != NO_ROWS || o->err || !ul->rows)
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
		struct object *o = ps->src[i].obj >= 0 ? &ul->objs[ps->src[i].obj] : NULL;

		if (o)
			load_object(ul, o);
		if (o && o->rows_start != NO_ROWS) {
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
	if (bpf_map_update_elem(ul->maps_fd, &key, &ps->m, BPF_ANY))
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
	size_t n = 0;

	for (size_t i = 0; i < ul->nobjs; i++)
		if (!ul->objs[i].err)
			n += ul->objs[i].nrows;
	return n;
}

int unwind_loader_attach(struct unwind_loader *ul, int rows_map_fd, size_t rows_cap,
			 int mappings_map_fd)
{
	size_t page = sysconf(_SC_PAGESIZE);
	void *mem;
	int err;

	ul->rows_map_bytes = (rows_cap * sizeof(struct mt_unwind_row) + page - 1) &
			     ~(page - 1);
	mem = mmap(NULL, ul->rows_map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
		   rows_map_fd, 0);
	if (mem == MAP_FAILED)
		return -errno;
	ul->rows = mem;
	ul->rows_fd = rows_map_fd;
	ul->rows_cap = rows_cap;
	ul->stats.rows_cap = rows_cap;
	ul->maps_fd = mappings_map_fd;
	for (size_t i = 0; i < ul->nprocs; i++) {
		err = publish(ul, &ul->procs[i]);
		if (err)
			return err;
	}
	return 0;
}

int unwind_loader_sync(struct unwind_loader *ul, pid_t pid, const struct proc_maps *maps)
{
	struct proc_state *ps = find_proc(ul, pid, true);
	int changed;

	if (!ps)
		return -ENOMEM;
	changed = scan(ul, ps, maps);
	if (changed <= 0 || ul->maps_fd < 0)
		return changed < 0 ? changed : 0;
	return publish(ul, ps);
}

/* A word of the copied stack; false when outside the copy. */
static bool snap_read(const struct mt_snapshot *snap, uint64_t addr, uint64_t *out)
{
	if (addr < snap->regs.sp || addr - snap->regs.sp + 8 > snap->len)
		return false;
	memcpy(out, snap->data + (addr - snap->regs.sp), 8);
	return true;
}

static const struct mt_mapping *mapping_of(const struct mt_proc_mappings *m, uint64_t pc)
{
	for (uint32_t i = 0; i < m->n; i++)
		if (pc >= m->m[i].start && pc < m->m[i].end)
			return &m->m[i];
	return NULL;
}

static const struct mt_unwind_row *row_of(const struct unwind_loader *ul,
					  const struct mt_mapping *m, uint64_t pc)
{
	size_t lo = m->rows_start, hi = (size_t)m->rows_start + m->rows_len;

	if (hi > ul->rows_used)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ul->rows[mid].pc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > m->rows_start ? &ul->rows[lo - 1] : NULL;
}

/*
 * One frame up, by the same rules as the BPF unwinder
 * (bpf/unwind_dwarf.bpf.h): returns MT_END_COMPLETE to go on (regs
 * updated), or the reason to stop.
 */
static int step(const struct unwind_loader *ul, const struct mt_proc_mappings *maps,
		const struct mt_snapshot *snap, struct mt_frame_regs *r,
		uint32_t *fp_frames)
{
	const struct mt_mapping *m = mapping_of(maps, r->pc);
	const struct mt_unwind_row *row;
	uint64_t cfa, ra, saved_bp;

	if (!m)
		return MT_END_NO_MAPPING;
	if (m->rows_len == 0) {
		if (!r->bp_valid || r->bp < r->sp || r->bp - r->sp > (8ULL << 20) ||
		    (r->bp & 7))
			return MT_END_FP;
		if (!snap_read(snap, r->bp, &saved_bp) || !snap_read(snap, r->bp + 8, &ra))
			return MT_END_BAD_READ;
		if (!mapping_of(maps, ra))
			return MT_END_FP;	/* not a return address */
		(*fp_frames)++;
		r->sp = r->bp + 16;
		r->bp = saved_bp;
		r->pc = ra;
		r->pc_is_return = 1;
		return MT_END_COMPLETE;
	}
	row = row_of(ul, m, r->pc - m->bias - (r->pc_is_return ? 1 : 0));
	if (!row)
		return MT_END_NO_TABLE;
	switch (row->cfa_type) {
	case MT_CFA_RSP:
		cfa = r->sp + row->cfa_offset;
		break;
	case MT_CFA_RBP:
		if (!r->bp_valid)
			return MT_END_UNSUPPORTED;
		cfa = r->bp + row->cfa_offset;
		break;
	case MT_CFA_PLT:
		cfa = r->sp + 8 + ((r->pc & 15) >= 11 ? 8 : 0);
		break;
	case MT_CFA_END:
		return MT_END_COMPLETE + MT_END_COUNT;	/* outermost frame */
	case MT_CFA_NONE:
		return MT_END_NO_TABLE;
	default:	/* signal frames: rare enough to stop here */
		return MT_END_UNSUPPORTED;
	}
	if (!snap_read(snap, cfa - 8, &ra))
		return MT_END_BAD_READ;
	if (row->rbp_type == MT_RBP_OFFSET) {
		if (!snap_read(snap, cfa + row->rbp_offset, &saved_bp))
			return MT_END_BAD_READ;
		r->bp = saved_bp;
		r->bp_valid = 1;
	} else if (row->rbp_type == MT_RBP_UNSUPPORTED) {
		r->bp_valid = 0;
	}
	if (cfa <= r->sp)
		return MT_END_BAD_READ;
	r->sp = cfa;
	r->pc = ra;
	r->pc_is_return = 1;
	return MT_END_COMPLETE;
}

int unwind_loader_finish(struct unwind_loader *ul, pid_t pid,
			 const struct mt_snapshot *snap, struct mt_stack *stack)
{
	struct proc_state *ps = find_proc(ul, pid, false);
	struct mt_frame_regs r = snap->regs;
	int why;

	if (!ps || !ul->rows || stack->len == 0)
		return -ENOENT;
	/* The last frame is the PC that stopped BPF: walk on from it. */
	stack->len--;
	for (;;) {
		if (!r.pc) {
			why = MT_END_COMPLETE;
			break;
		}
		if (stack->len >= MT_MAX_FRAMES) {
			why = MT_END_DEPTH;
			break;
		}
		stack->pcs[stack->len++] = r.pc;
		why = step(ul, &ps->m, snap, &r, &stack->fp_frames);
		if (why == MT_END_COMPLETE + MT_END_COUNT) {
			why = MT_END_COMPLETE;
			break;
		}
		if (why != MT_END_COMPLETE)
			break;
	}
	stack->end = why;
	return 0;
}

void unwind_loader_forget(struct unwind_loader *ul, pid_t pid)
{
	struct proc_state *ps = find_proc(ul, pid, false);
	__u32 key = pid;

	if (!ps)
		return;
	if (ul->maps_fd >= 0)
		bpf_map_delete_elem(ul->maps_fd, &key);
	*ps = ul->procs[--ul->nprocs];
}

void unwind_loader_stats(const struct unwind_loader *ul, struct unwind_loader_stats *out)
{
	*out = ul->stats;
}
