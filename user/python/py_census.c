// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "py_census.h"
#include "proc/proc_mem.h"
#include "util/vec.h"

/* PyTypeObject fields, the same in every GIL build of 3.11-3.13. */
#define TYPE_OB_TYPE 8
#define TYPE_NAME 24
#define TYPE_BASICSIZE 32
#define TYPE_FLAGS 168
#define TYPE_READ 176			/* bytes read: up to tp_flags */
#define TYPE_NAME_MAX 128

#define TPFLAGS_MANAGED_WEAKREF (1ul << 3)	/* 3.12+ */
#define TPFLAGS_MANAGED_DICT (1ul << 4)
#define TPFLAGS_READY (1ul << 12)
#define TPFLAGS_HAVE_GC (1ul << 14)
#define TPFLAGS_TYPE_SUBCLASS (1ul << 31)

/* Metatypes between a type and PyType_Type (a metaclass of a metaclass...). */
#define META_DEPTH 4
/* The offsets an object can start at in its block (see the header). */
static const uint32_t object_offsets[] = { 0, 16, 32 };

/* A type object, as the census judged it once. */
struct type_entry {
	uint64_t addr;			/* 0: empty slot */
	bool valid;
	uint32_t pre;			/* where its objects start in a block */
	uint64_t basicsize;
	size_t index;			/* in census types[] */
};

/* (type, stack) of --python-objects. */
struct site_entry {
	uint64_t stack_id;		/* with type: the key */
	size_t type;
	size_t index;			/* in census sites[]; SIZE_MAX: empty */
};

struct census_run {
	pid_t pid;
	int memfd;
	const struct py_target *t;
	const struct py_arenas_ref *ref;
	const struct py_census_source *src;
	struct strpool *names;
	struct py_census *out;

	struct type_entry *types;	/* open addressing, power of two */
	size_t types_mask, types_used;
	struct site_entry *sites;
	size_t sites_mask, sites_used;

	uint64_t *arena_starts;		/* the arenas read, for the large pass */
	size_t narenas, arenas_cap;
	uint8_t *buf;			/* one arena */
	int err;			/* -ENOMEM or -ESRCH: stop */
};

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Bulk reads: one system call for a whole arena. */
static int read_remote(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	if (n == (ssize_t)len)
		return 0;
	if (n < 0 && errno == ESRCH)
		return -ESRCH;
	return -EFAULT;
}

static int grow_types(struct census_run *r)
{
	size_t n = r->types_mask ? 2 * (r->types_mask + 1) : 1024;
	struct type_entry *t = calloc(n, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; r->types && i <= r->types_mask; i++) {
		size_t k;

		if (!r->types[i].addr)
			continue;
		for (k = mix(r->types[i].addr) & (n - 1); t[k].addr; k = (k + 1) & (n - 1))
			;
		t[k] = r->types[i];
	}
	free(r->types);
	r->types = t;
	r->types_mask = n - 1;
	return 0;
}

/* Is t a type: its ob_type chain reaches PyType_Type through metatypes? */
static bool is_type(struct census_run *r, uint64_t t, uint8_t *hdr, int depth)
{
	uint64_t meta, flags;

	if (t == r->ref->type_type)
		return true;
	if (depth >= META_DEPTH || !t || t % 8)
		return false;
	if (proc_mem_read(r->memfd, t, hdr, TYPE_READ)) {
		r->out->types_unreadable++;
		return false;
	}
	flags = get_u64(hdr + TYPE_FLAGS);
	meta = get_u64(hdr + TYPE_OB_TYPE);
	if (!(flags & TPFLAGS_READY))
		return false;
	if (meta == r->ref->type_type)
		return true;
	{
		uint8_t mh[TYPE_READ];

		if (proc_mem_read(r->memfd, meta, mh, TYPE_READ) ||
		    !(get_u64(mh + TYPE_FLAGS) & TPFLAGS_TYPE_SUBCLASS))
			return false;
		return is_type(r, meta, mh, depth + 1);
	}
}

/* Judge the type at addr once: a new entry. */
static struct type_entry *judge_type(struct census_run *r, uint64_t addr, size_t slot)
{
	struct type_entry *e = &r->types[slot];
	uint8_t hdr[TYPE_READ];
	char name[TYPE_NAME_MAX];
	uint64_t flags, name_at;
	const char *interned;

	e->addr = addr;
	r->types_used++;
	if (!is_type(r, addr, hdr, 0))
		return e;
	if (addr == r->ref->type_type &&
	    proc_mem_read(r->memfd, addr, hdr, TYPE_READ))
		return e;
	flags = get_u64(hdr + TYPE_FLAGS);
	e->basicsize = get_u64(hdr + TYPE_BASICSIZE);
	e->pre = (flags & TPFLAGS_HAVE_GC ? 16 : 0) +
		 (flags & (TPFLAGS_MANAGED_DICT | (r->t->minor >= 12 ? TPFLAGS_MANAGED_WEAKREF : 0)) ?
		  16 : 0);
	name_at = get_u64(hdr + TYPE_NAME);
	/* The name ends at its NUL, or at the end of its page. */
	memset(name, 0, sizeof(name));
	if (proc_mem_read(r->memfd, name_at, name, sizeof(name) - 1)) {
		size_t room = 4096 - (name_at & 4095);

		if (room >= sizeof(name) || proc_mem_read(r->memfd, name_at, name, room)) {
			r->out->types_unreadable++;
			return e;
		}
	}
	name[sizeof(name) - 1] = '\0';
	if (!name[0] || e->basicsize == 0 || e->basicsize > (1u << 20))
		return e;
	interned = strpool_intern(r->names, name, strlen(name));
	if (!interned ||
	    vec_reserve(&r->out->types, &r->out->types_cap, r->out->ntypes + 1,
			sizeof(*r->out->types))) {
		r->err = -ENOMEM;
		return e;
	}
	e->index = r->out->ntypes;
	r->out->types[r->out->ntypes++] = (struct py_type_count){ .type = addr,
								  .name = interned };
	e->valid = true;
	return e;
}

/* The entry of the type at addr (judged on first sight), or NULL. */
static const struct type_entry *type_at(struct census_run *r, uint64_t addr)
{
	size_t k;

	if (!addr || addr % 8)
		return NULL;
	if ((r->types_used + 1) * 4 > (r->types_mask + 1) * 3 && grow_types(r)) {
		r->err = -ENOMEM;
		return NULL;
	}
	for (k = mix(addr) & r->types_mask; r->types[k].addr; k = (k + 1) & r->types_mask)
		if (r->types[k].addr == addr)
			return r->types[k].valid ? &r->types[k] : NULL;
	return judge_type(r, addr, k)->valid ? &r->types[k] : NULL;
}

/* Not 0 (a dead object on a free list), not negative, not a pointer's
 * worth: immortal objects (3.12+) have 2^32 - 1, nothing real has 2^40. */
static bool plausible_refcnt(uint64_t refcnt)
{
	return refcnt && refcnt < (1ull << 40);
}

/* A GC header right before an object: links to other headers (or none,
 * untracked), which are pointers; the low bits of each are flags. */
static bool plausible_gc_head(const uint8_t *h)
{
	uint64_t next = get_u64(h) & ~3ull, prev = get_u64(h + 8) & ~3ull;

	return (!next || next >= 4096) && (!prev || prev >= 4096);
}

/* The type of the object in a block of size bytes (b: its first avail
 * bytes), or NULL. */
static const struct type_entry *object_in(struct census_run *r, const uint8_t *b,
					  uint64_t avail, uint64_t size)
{
	for (size_t i = 0; i < sizeof(object_offsets) / sizeof(object_offsets[0]); i++) {
		uint32_t off = object_offsets[i];
		const struct type_entry *e;

		if (off + 16 > avail || off + 16 > size)
			break;
		if (!plausible_refcnt(get_u64(b + off)))
			continue;
		e = type_at(r, get_u64(b + off + 8));
		if (e && e->pre == off && off + e->basicsize <= size &&
		    (!off || plausible_gc_head(b + off - 16)))
			return e;
	}
	return NULL;
}

static int grow_sites(struct census_run *r)
{
	size_t n = r->sites_mask ? 2 * (r->sites_mask + 1) : 1024;
	struct site_entry *s = malloc(n * sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		s[i].index = SIZE_MAX;
	for (size_t i = 0; r->sites && i <= r->sites_mask; i++) {
		size_t k;

		if (r->sites[i].index == SIZE_MAX)
			continue;
		k = mix(r->sites[i].stack_id ^ (r->sites[i].type * 0x9e3779b97f4a7c15ULL));
		for (k &= n - 1; s[k].index != SIZE_MAX; k = (k + 1) & (n - 1))
			;
		s[k] = r->sites[i];
	}
	free(r->sites);
	r->sites = s;
	r->sites_mask = n - 1;
	return 0;
}

/* One more object of type e, of size bytes, allocated by stack_id. */
static void count_object(struct census_run *r, const struct type_entry *e, uint64_t size,
			 uint64_t stack_id)
{
	struct py_type_site *site;
	size_t k;

	r->out->types[e->index].count++;
	r->out->types[e->index].bytes += size;
	if (!stack_id)
		return;
	if ((r->sites_used + 1) * 4 > (r->sites_mask + 1) * 3 && grow_sites(r)) {
		r->err = -ENOMEM;
		return;
	}
	k = mix(stack_id ^ (e->index * 0x9e3779b97f4a7c15ULL)) & r->sites_mask;
	for (; r->sites[k].index != SIZE_MAX; k = (k + 1) & r->sites_mask)
		if (r->sites[k].stack_id == stack_id && r->sites[k].type == e->index)
			break;
	if (r->sites[k].index == SIZE_MAX) {
		if (vec_reserve(&r->out->sites, &r->out->sites_cap, r->out->nsites + 1,
				sizeof(*r->out->sites))) {
			r->err = -ENOMEM;
			return;
		}
		r->sites[k] = (struct site_entry){ stack_id, e->index, r->out->nsites };
		r->out->sites[r->out->nsites++] = (struct py_type_site){
			.type = e->index, .stack_id = stack_id };
		r->sites_used++;
	}
	site = &r->out->sites[r->sites[k].index];
	site->count++;
	site->bytes += size;
}

/*
 * The live blocks of the pool whose 16 KiB are at p (at address pool) in
 * arena index ai. Returns false when the header and the free list do not
 * agree (the pool changed while it was read, or is not a pool).
 */
static bool count_pool(struct census_run *r, const uint8_t *p, uint64_t pool, uint32_t ai)
{
	uint8_t free_mark[PY_POOL_SIZE / 16] = { 0 };
	uint32_t count = get_u32(p), szidx = get_u32(p + 36), next = get_u32(p + 40);
	uint32_t maxnext = get_u32(p + 44), size, carved, nfree = 0;
	uint64_t fb = get_u64(p + 8);

	if (!count)
		return true;		/* empty: on its arena's free list */
	if (szidx >= PY_SIZE_CLASSES || get_u32(p + 32) != ai)
		return false;
	size = (szidx + 1) * 16;
	if (maxnext != PY_POOL_SIZE - size || next < PY_POOL_OVERHEAD ||
	    next > PY_POOL_SIZE || (next - PY_POOL_OVERHEAD) % size)
		return false;
	carved = (next - PY_POOL_OVERHEAD) / size;
	/* The free list, within the carved blocks, each once. */
	while (fb) {
		uint64_t off = fb - pool;

		if (fb < pool || off < PY_POOL_OVERHEAD || off >= next ||
		    (off - PY_POOL_OVERHEAD) % size || free_mark[off / 16] || ++nfree > carved)
			return false;
		free_mark[off / 16] = 1;
		fb = get_u64(p + off);
	}
	if (carved - nfree != count)
		return false;
	for (uint32_t off = PY_POOL_OVERHEAD; off < next && !r->err; off += size) {
		const struct type_entry *e;

		if (free_mark[off / 16])
			continue;
		r->out->blocks++;
		e = object_in(r, p + off, size, size);
		if (!e)
			continue;
		r->out->objects++;
		count_object(r, e, size, r->src && r->src->stack_of ?
			     r->src->stack_of(r->src->ctx, (uint32_t)r->pid, pool + off) : 0);
	}
	return true;
}

/* Arena ai, whose carved pools are [base, limit). */
static void count_arena(struct census_run *r, uint64_t base, uint64_t limit, uint32_t ai)
{
	size_t len = limit - base;
	int err = read_remote(r->pid, base, r->buf, len);

	if (err == -ESRCH) {
		r->err = err;
		return;
	}
	r->out->arenas++;
	r->out->arena_bytes += len;
	for (size_t off = 0; off + PY_POOL_SIZE <= len && !r->err; off += PY_POOL_SIZE) {
		uint8_t *p = r->buf + off;

		/* A failed bulk read: pool by pool. */
		if (err && read_remote(r->pid, base + off, p, PY_POOL_SIZE)) {
			r->out->pools_unreadable++;
			continue;
		}
		if (!get_u32(p))
			continue;
		r->out->pools++;
		if (count_pool(r, p, base + off, ai))
			continue;
		/* Once more, alone: a pool in the middle of a change may be
		 * settled now. */
		if (read_remote(r->pid, base + off, p, PY_POOL_SIZE) ||
		    !count_pool(r, p, base + off, ai))
			r->out->pools_changed++;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Is addr inside one of the arenas read (sorted starts, 1 MiB each)? */
static bool in_arena(const struct census_run *r, uint64_t addr)
{
	size_t lo = 0, hi = r->narenas;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->arena_starts[mid] <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && addr - r->arena_starts[lo - 1] < PY_ARENA_SIZE;
}

/* A tracked allocation: an object over 512 B? */
static void count_large(void *arg, uint64_t addr, uint64_t size, uint64_t stack_id)
{
	struct census_run *r = arg;
	const struct type_entry *e;
	uint8_t head[48];

	if (r->err || size <= 512 || in_arena(r, addr))
		return;
	r->out->large++;
	if (read_remote(r->pid, addr, head, sizeof(head)))
		return;
	e = object_in(r, head, sizeof(head), size);
	if (!e)
		return;
	r->out->large_objects++;
	count_object(r, e, size, stack_id);
}

int py_census_take(pid_t pid, const struct py_target *t, const struct py_arenas_ref *ref,
		   const struct py_census_source *src, double budget_s,
		   struct strpool *names, struct py_census *out)
{
	struct census_run r = { .pid = pid, .t = t, .ref = ref, .src = src, .names = names,
				.out = out };
	uint64_t table = 0;
	uint32_t max = 0;
	uint8_t *entries = NULL;
	double start = now_s();
	int err;

	memset(out, 0, sizeof(*out));
	r.memfd = proc_mem_open(pid);
	if (r.memfd < 0)
		return r.memfd;
	err = proc_mem_read(r.memfd, ref->maxarenas_var, &max, sizeof(max));
	if (!err)
		err = proc_mem_read(r.memfd, ref->arenas_var, &table, sizeof(table));
	if (!err && (max > (1u << 24) || !table))
		err = -EFAULT;
	if (!err) {
		entries = malloc((size_t)max * PY_ARENA_OBJECT_SIZE + 1);
		r.buf = malloc(PY_ARENA_SIZE);
		if (!entries || !r.buf || grow_types(&r) || grow_sites(&r))
			err = -ENOMEM;
	}
	if (!err)
		err = read_remote(pid, table, entries, (size_t)max * PY_ARENA_OBJECT_SIZE);
	for (uint32_t i = 0; !err && i < max && !r.err; i++) {
		const uint8_t *e = entries + (size_t)i * PY_ARENA_OBJECT_SIZE;
		uint64_t address = get_u64(e), pool_address = get_u64(e + 8), base;

		if (!address)
			continue;
		out->arenas_total++;
		if (out->cut_short)
			continue;
		if (now_s() - start > budget_s) {
			out->cut_short = true;
			continue;
		}
		base = (address + PY_POOL_SIZE - 1) & ~(uint64_t)(PY_POOL_SIZE - 1);
		if (pool_address < base || pool_address - base > PY_ARENA_SIZE)
			continue;
		if (vec_reserve(&r.arena_starts, &r.arenas_cap, r.narenas + 1,
				sizeof(*r.arena_starts))) {
			r.err = -ENOMEM;
			break;
		}
		r.arena_starts[r.narenas++] = address;
		count_arena(&r, base, pool_address, i);
	}
	if (!err && !r.err && src && src->each_live && !out->cut_short) {
		qsort(r.arena_starts, r.narenas, sizeof(*r.arena_starts), cmp_u64);
		src->each_live(src->ctx, (uint32_t)pid, count_large, &r);
	}
	if (!err)
		err = r.err;
	out->seconds = now_s() - start;
	free(entries);
	free(r.buf);
	free(r.types);
	free(r.sites);
	free(r.arena_starts);
	close(r.memfd);
	if (err && err != -ESRCH && err != -ENOMEM)
		err = -EFAULT;
	if (err)
		py_census_free(out);
	return err;
}

void py_census_free(struct py_census *c)
{
	free(c->types);
	free(c->sites);
	memset(c, 0, sizeof(*c));
}
