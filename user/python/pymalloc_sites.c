// SPDX-License-Identifier: MIT
/*
 * pymalloc's inlined fast paths in an x86-64 ELF file, found by the shapes
 * of their instructions. This is scripts/research/find_sites.py and
 * cheap_points.py, which read objdump's text, redone on the operands
 * capstone decodes.
 *
 * pymalloc (CPython's Objects/obmalloc.c) keeps the free blocks of a pool
 * on a list headed by pool->freeblock. The pool header starts with the
 * 32-bit ref.count, freeblock is at offset 8, nextpool at 0x10:
 *
 *   allocation (pymalloc_alloc)          free (pymalloc_free)
 *     ++pool->ref.count;                   pool = POOL_ADDR(p);  p & ~0x3fff
 *     bp = pool->freeblock;                (address_in_range(p, pool))
 *     pool->freeblock = *(block **)bp;     lastfree = pool->freeblock;
 *                                          *(block **)p = lastfree;
 *                                          pool->freeblock = p;
 *                                          --pool->ref.count;
 *
 * Steps:
 *  1. decode every executable section linearly into a compact array, one
 *     entry per instruction (struct insn): the few instruction forms the
 *     rules look for ("shapes"), control flow, registers written
 *     (scan_fd, in pymalloc_scan.c);
 *  2. find the pops and pushes (is_alloc_site, is_free_site);
 *  3. move each to the first conditional jump the straight line after it
 *     reaches (cheap_point): x86 uprobes emulate a jcc, while most other
 *     instructions are single-stepped out of line, which costs more;
 *  4. find allocate_from_new_pool, the function the other branch of the
 *     allocations' pool != pool->nextpool test calls (find_new_pool).
 *  5. read the requested size of each allocation off the fallback to
 *     malloc on that other branch (find_sizes, with the abstract machine
 *     of pymalloc_fallback.c).
 *
 * Where this differs from the scripts (none of it changes the research
 * list for Debian's python3.11, which the unit test checks):
 *  - the `and $~0x3fff` of a free is looked for within POOL_MASK_WINDOW
 *    instructions, not within objdump's function label (see there);
 *  - the decoder's (pymalloc_scan.c): registers written come from
 *    capstone, where the scripts read the last operand's text; (%P) and
 *    0x0(%P) are the same operand, which the free rule's text match told
 *    apart; a probe point is a jcc the kernel emulates;
 *  - a duplicated free tail (store; jmp X) is folded into each free whose
 *    path X enters, all such tails, not only the last one per X.
 *
 * The decoded array is only ever indexed within its bounds.
 */
#include <capstone/capstone.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memtrace_python.h"
#include "pymalloc_fallback.h"
#include "pymalloc_scan.h"
#include "pymalloc_sites.h"
#include "proc/target_file.h"
#include "util/search.h"
#include "util/vec.h"

/* How far a site may be from its jcc, in instructions counting the site
 * itself (cheap_points.py). */
#define JCC_SEARCH 10

/*
 * How far, in instructions either way, a free's `and $~0x3fff,%P`
 * (pool = POOL_ADDR(p)) may be from its store. find_sites.py required it anywhere in the same function as
 * objdump labels it, from one .dynsym symbol to the next. That label is
 * rarely the real function: most inlined frees are in static functions,
 * which have no symbol in a stripped file, so the span runs on through
 * them; and with symbol sizes (where functions really end) 42 of the 49
 * frees of Debian's python3.11 lie outside every symbol. A window
 * reproduces the research list without symbols: on that binary the mask
 * is at most 200 instructions from a real free (a duplicated tail), and
 * more than 3000 from every look-alike that the rule must reject.
 */
#define POOL_MASK_WINDOW 512

/* A pop or push, before it moves to its jcc. */
struct raw_site {
	size_t at;		/* index of the site's instruction */
	uint8_t kind;		/* enum mt_pysite_kind */
	uint8_t block;		/* register holding the block */
	uint8_t pool;		/* register holding the pool header (frees) */
};

/*
 * Is one of the instructions i+lo .. i+hi (i itself excluded, the range
 * clipped to the code) of this shape, on this base and displacement?
 */
static bool near(const struct scan *s, size_t i, long lo, long hi,
		 enum shape shape, uint8_t base, int32_t disp)
{
	long from = (long)i + lo, to = (long)i + hi;

	if (from < 0)
		from = 0;
	if (to >= (long)s->n)
		to = (long)s->n - 1;
	for (long k = from; k <= to; k++) {
		const struct insn *in = &s->v[k];

		if ((size_t)k != i && in->shape == shape && in->base == base &&
		    in->disp == disp)
			return true;
	}
	return false;
}

/*
 * An allocation: `mov 0x8(%P),%B` (bp = pool->freeblock) with, nearby,
 * `mov (%B),%N` (next = *bp), `mov %N,0x8(%P)` (pool->freeblock = next)
 * and `addl $1,(%P)` (++pool->ref.count). The site is the instruction
 * after the load, the first that sees the block in %B.
 */
static bool is_alloc_site(const struct scan *s, size_t i, struct raw_site *out)
{
	const struct insn *in = &s->v[i];

	if (in->shape != SH_LOAD || in->disp != 8 || in->reg_bytes != 8 ||
	    i + 1 >= s->n)
		return false;
	if (!near(s, i, 1, 6, SH_LOAD, in->reg, 0) ||
	    !near(s, i, -4, 6, SH_STORE, in->base, 8) ||
	    !near(s, i, -4, 6, SH_INC32, in->base, 0))
		return false;
	*out = (struct raw_site){ i + 1, MT_PYSITE_ALLOC, in->reg, in->base };
	return true;
}

static bool pool_mask_near(const struct scan *s, size_t i, uint8_t pool)
{
	size_t from = i > POOL_MASK_WINDOW ? i - POOL_MASK_WINDOW : 0;
	size_t to = s->n - i > POOL_MASK_WINDOW ? i + POOL_MASK_WINDOW : s->n - 1;

	for (size_t k = from; k <= to; k++)
		if (s->v[k].shape == SH_POOL_MASK && s->v[k].reg == pool)
			return true;
	return false;
}

/*
 * A free: `mov %B,0x8(%P)` (pool->freeblock = p) with, just before,
 * `mov 0x8(%P),%X` (lastfree = pool->freeblock); near it, a read or
 * decrement of (%P) (--pool->ref.count) or, just before, a store to (%B)
 * (*(block **)p = lastfree); and `and $~0x3fff,%P` (pool = POOL_ADDR(p))
 * not far. The site is the store.
 */
static bool is_free_site(const struct scan *s, size_t i, struct raw_site *out)
{
	const struct insn *in = &s->v[i];
	uint8_t block = in->reg, pool = in->base;

	if (in->shape != SH_STORE || in->disp != 8 || in->reg_bytes != 8)
		return false;
	if (!near(s, i, -6, -1, SH_LOAD, pool, 8))
		return false;
	if (!near(s, i, -6, 4, SH_LOAD, pool, 0) &&
	    !near(s, i, -6, 4, SH_DEC32, pool, 0) &&
	    !near(s, i, -6, -1, SH_STORE, block, 0))
		return false;
	if (!pool_mask_near(s, i, pool))
		return false;
	*out = (struct raw_site){ i, MT_PYSITE_FREE, block, pool };
	return true;
}

/*
 * A free whose store is followed by `jmp X` is a copy of the end of
 * another free, which the compiler duplicated: X lies just after the other
 * free's store, with the pool in the same register. Both reach the jcc
 * after X. Fills the addresses of the jmps of the copies landing in the
 * JCC_SEARCH instructions after site r, returns how many (at most max).
 */
static size_t tails_into(const struct scan *s, const struct raw_site *sites,
			 size_t n_sites, const struct raw_site *r,
			 uint64_t *jmps, size_t max)
{
	size_t n = 0;

	for (size_t t = 0; t < n_sites && n < max; t++) {
		const struct insn *jmp;
		size_t x;

		if (sites[t].kind != MT_PYSITE_FREE || sites[t].pool != r->pool ||
		    sites[t].at + 1 >= s->n)
			continue;
		jmp = &s->v[sites[t].at + 1];
		if (jmp->flow != FL_JMP || !jmp->target)
			continue;
		x = scan_index_of(s, jmp->target);
		if (x != SIZE_MAX && x > r->at && x < r->at + JCC_SEARCH)
			jmps[n++] = jmp->addr;
	}
	return n;
}

/*
 * The first jcc from instruction at on, reached by straight-line code that
 * nothing else enters (but the allowed sources) and along which the block
 * stays readable: in register block, else (block == NO_REG or written
 * over) as pool->freeblock, *(pool + 8), as long as register pool holds.
 * Returns its index and sets *via_pool, or SIZE_MAX.
 */
static size_t cheap_point(const struct scan *s, size_t at, uint8_t block,
			  uint8_t pool, const uint64_t *allowed, size_t n_allowed,
			  bool *via_pool)
{
	for (size_t k = at; k < at + JCC_SEARCH && k < s->n; k++) {
		const struct insn *in = &s->v[k];

		if (k > at && scan_entered(s, in->addr, allowed, n_allowed))
			return SIZE_MAX;
		if (in->flow == FL_JCC) {
			*via_pool = block == NO_REG;
			return k;
		}
		if (in->flow != FL_NEXT)
			return SIZE_MAX;
		if (block != NO_REG && (in->writes & (1u << block)))
			block = NO_REG;
		if (pool != NO_REG && (in->writes & (1u << pool)))
			pool = NO_REG;
		if (block == NO_REG && pool == NO_REG)
			return SIZE_MAX;
	}
	return SIZE_MAX;
}

/* Up to this many jumps into one site's path are followed. */
#define MAX_TAILS 8

static int push_raw(struct raw_site **v, size_t *n, size_t *cap,
		    const struct raw_site *r)
{
	if (vec_reserve(v, cap, *n + 1, sizeof(**v)))
		return -ENOMEM;
	(*v)[(*n)++] = *r;
	return 0;
}

/* Every site found, as a probe point, in out->sites (unsorted). */
static int find_sites(struct scan *s, struct pymalloc_sites *out)
{
	struct raw_site *raw = NULL;
	size_t n_raw = 0, cap = 0;
	int err = 0;

	for (size_t i = 0; i < s->n && !err; i++) {
		struct raw_site r;

		if (is_alloc_site(s, i, &r))
			s->v[i].alloc_load = true;	/* for find_new_pool */
		else if (!is_free_site(s, i, &r))
			continue;
		err = push_raw(&raw, &n_raw, &cap, &r);
	}
	if (err)
		goto out;
	out->sites = calloc(n_raw ? n_raw : 1, sizeof(*out->sites));
	if (!out->sites) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_raw; i++) {
		const struct raw_site *r = &raw[i];
		uint8_t pool = r->kind == MT_PYSITE_FREE ? r->pool : NO_REG;
		uint8_t block = r->block, reg;
		uint64_t allowed[MAX_TAILS];
		size_t n_allowed = 0, k;
		bool via_pool = false;

		/* After an allocation, pool->freeblock is the next block:
		 * only the register says which was taken. */
		if (r->kind == MT_PYSITE_FREE)
			n_allowed = tails_into(s, raw, n_raw, r, allowed, MAX_TAILS);
		/* On the path from a copied tail the block is in whatever
		 * register that copy used: only pool->freeblock is common. */
		if (n_allowed)
			block = NO_REG;
		/* A tail itself ends at its jmp: no point of its own. */
		k = cheap_point(s, r->at, block, pool, allowed, n_allowed, &via_pool);
		if (k == SIZE_MAX)
			continue;
		reg = via_pool ? r->pool : r->block;
		out->sites[out->n_sites++] = (struct pymalloc_site){
			.vaddr = s->v[k].addr,
			.cookie = r->kind | (uint32_t)reg << 8 |
				  (via_pool ? MT_PYSITE_VIA_POOL : 0),
		};
	}
out:
	free(raw);
	return err;
}

static int by_site(const void *a, const void *b)
{
	const struct pymalloc_site *x = a, *y = b;

	if (x->vaddr != y->vaddr)
		return x->vaddr < y->vaddr ? -1 : 1;
	return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}

/* Sort, drop repeats (two sites sharing a jcc with the same register),
 * fill in file offsets and counts. */
static void finish_sites(const struct scan *s, struct pymalloc_sites *out)
{
	size_t kept = 0;

	if (out->n_sites)
		qsort(out->sites, out->n_sites, sizeof(*out->sites), by_site);
	for (size_t i = 0; i < out->n_sites; i++) {
		struct pymalloc_site *site = &out->sites[i];

		if (kept && !by_site(site, &out->sites[kept - 1]))
			continue;
		/* Sites are decoded instructions: in a section, always. */
		scan_offset_of(s, site->vaddr, &site->offset);
		if ((site->cookie & 0xff) == MT_PYSITE_ALLOC)
			out->n_alloc++;
		else
			out->n_free++;
		out->sites[kept++] = *site;
	}
	out->n_sites = kept;
}

/* The first direct call on the straight-line path from instruction i,
 * following unconditional jumps; 0 if there is none within a few steps. */
static uint64_t first_call(const struct scan *s, size_t i)
{
	for (int steps = 0; steps < 8 && i < s->n; steps++) {
		const struct insn *in = &s->v[i];

		switch (in->flow) {
		case FL_CALL:
			return in->target;
		case FL_JMP:
			i = in->target ? scan_index_of(s, in->target) : SIZE_MAX;
			break;
		case FL_NEXT:
			i++;
			break;
		default:
			return 0;
		}
	}
	return 0;
}

/* Is there a `cmp` of register P with pool->nextpool, 0x10(%P), right
 * before the jump at i? Either `cmp 0x10(%P),%P` or `mov 0x10(%P),%X ;
 * cmp %X,%P`. */
static bool is_nextpool_test(const struct scan *s, size_t i, uint8_t *pool)
{
	const struct insn *cmp, *load;

	if (i < 1)
		return false;
	cmp = &s->v[i - 1];
	if (cmp->shape == SH_CMP_RM && cmp->disp == 0x10 && cmp->reg == cmp->base) {
		*pool = cmp->base;
		return true;
	}
	if (cmp->shape != SH_CMP_RR || i < 2)
		return false;
	load = &s->v[i - 2];
	if (load->shape != SH_LOAD || load->disp != 0x10 || load->reg_bytes != 8)
		return false;
	if ((load->reg == cmp->reg && load->base == cmp->base) ||
	    (load->reg == cmp->base && load->base == cmp->reg)) {
		*pool = load->base;
		return true;
	}
	return false;
}

static int by_value(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

/* The two branches of a pool != pool->nextpool test. */
struct nextpool_test {
	size_t jcc;		/* index of the je or jne */
	size_t nonempty;	/* first instruction of the branch that pops */
	size_t empty;		/* first instruction of the other one */
	uint8_t pool;		/* register holding the pool */
};

/*
 * Is the instruction at i the je or jne of an inlined pymalloc_alloc's
 *     if (pool != pool->nextpool) { ++pool->ref.count; bp = pool->freeblock; ...
 *     } else { bp = allocate_from_new_pool(size); }
 * that is, a jump after a nextpool test whose one branch starts with an
 * allocation site's bp = pool->freeblock (within 4 instructions)?
 */
static bool is_pool_branch(const struct scan *s, size_t i, struct nextpool_test *t)
{
	const struct insn *j = &s->v[i];
	size_t taken, other;
	uint8_t pool;

	if (j->flow != FL_JCC || (j->id != X86_INS_JE && j->id != X86_INS_JNE) ||
	    !is_nextpool_test(s, i, &pool))
		return false;
	taken = scan_index_of(s, j->target);
	other = i + 1;
	if (taken == SIZE_MAX || other >= s->n)
		return false;
	/* je: taken when pool == pool->nextpool, the list is empty */
	*t = (struct nextpool_test){
		.jcc = i,
		.nonempty = j->id == X86_INS_JE ? other : taken,
		.empty = j->id == X86_INS_JE ? taken : other,
		.pool = pool,
	};
	for (size_t k = t->nonempty; k < t->nonempty + 4 && k < s->n; k++)
		if (s->v[k].alloc_load && s->v[k].base == pool)
			return true;
	return false;
}

/*
 * The value most often found in v (sorted in place), if it is more than
 * half of out_of and at least two of them; else 0.
 */
static uint64_t majority(uint64_t *v, size_t n, size_t out_of)
{
	size_t best = 0, run = 0;
	uint64_t found = 0;

	if (n)
		qsort(v, n, sizeof(*v), by_value);
	for (size_t i = 0; i < n; i++) {
		run = i && v[i] == v[i - 1] ? run + 1 : 1;
		if (run > best) {
			best = run;
			found = v[i];
		}
	}
	return best >= 2 && best * 2 > out_of ? found : 0;
}

static int push_u64(uint64_t **v, size_t *n, size_t *cap, uint64_t x)
{
	if (vec_reserve(v, cap, *n + 1, sizeof(**v)))
		return -ENOMEM;
	(*v)[(*n)++] = x;
	return 0;
}

/*
 * allocate_from_new_pool: the function the empty branch of every inlined
 * pool != pool->nextpool test calls (is_pool_branch). It is the call
 * target most of these tests lead to: more than half of them, and at
 * least two. Sets *found, 0 if none is.
 */
static int find_new_pool(const struct scan *s, uint64_t *found)
{
	size_t n_tests = 0, n_calls = 0, cap = 0;
	uint64_t *calls = NULL;
	int err = 0;

	*found = 0;
	for (size_t i = 0; i < s->n && !err; i++) {
		struct nextpool_test t;
		uint64_t call;

		if (!is_pool_branch(s, i, &t))
			continue;
		n_tests++;
		call = first_call(s, t.empty);
		if (call)
			err = push_u64(&calls, &n_calls, &cap, call);
	}
	if (!err)
		*found = majority(calls, n_calls, n_tests);
	free(calls);
	return err;
}

/* ---- The requested size ------------------------------------------------
 *
 * At an allocation site the block is known, not the size asked for. But
 * the empty branch of the same nextpool test, when allocate_from_new_pool
 * returns NULL, falls back to the raw allocator with that size:
 *
 *     bp = allocate_from_new_pool(size_class);
 *     if (bp == NULL) return PyMem_RawMalloc(nbytes);   (inlined: malloc)
 *
 * So whatever the fallback passes to malloc in %rdi, a constant or a
 * register the fallback did not change since the test, is the request at
 * the site too, if the pop path from the test to the site's jcc leaves
 * that register alone. find_sizes walks the fallback with a tiny symbolic
 * interpreter (fallback_walk): what each register holds, in terms of the
 * registers at the test (struct value).
 */

/*
 * The allocation site test t leads to: the first jcc on the straight line
 * from the nonempty branch, which nothing else enters (by a direct jump or
 * by running on into it), an allocation
 * site's (sites sorted by vaddr). Sets *regs to the registers written on
 * the way. NULL if there is none.
 */
static struct pymalloc_site *site_of(const struct scan *s,
				     const struct nextpool_test *t,
				     struct pymalloc_sites *out, uint16_t *regs)
{
	uint64_t from = s->v[t->jcc].addr;
	const struct insn *before = t->nonempty ? &s->v[t->nonempty - 1] : NULL;

	*regs = 0;
	/* A nonempty branch that is the test's jump target may also be
	 * where the code before it runs on into (another copy's fall
	 * through, with another size): only when that code cannot. */
	if (t->nonempty != t->jcc + 1 && before && before->flow != FL_JMP &&
	    before->id != X86_INS_RET && before->id != X86_INS_UD2 &&
	    before->id != X86_INS_HLT && before->id != X86_INS_INT3)
		return NULL;
	for (size_t k = t->nonempty; k < t->nonempty + 4 + JCC_SEARCH && k < s->n;
	     k++) {
		const struct insn *in = &s->v[k];
		size_t lo;

		/* The nonempty branch may be the test's own jump target. */
		if (scan_entered(s, in->addr, &from, k == t->nonempty ? 1 : 0))
			return NULL;
		if (in->flow == FL_JCC) {
			lo = FIRST_AT_LEAST(out->sites, out->n_sites, vaddr, in->addr);
			if (lo < out->n_sites && out->sites[lo].vaddr == in->addr &&
			    (out->sites[lo].cookie & 0xff) == MT_PYSITE_ALLOC)
				return &out->sites[lo];
			return NULL;
		}
		if (in->flow != FL_NEXT)
			return NULL;
		*regs |= in->writes;
	}
	return NULL;
}

/* The size bits of a site's cookie for what the fallback passes, 0 when
 * unsure. */
static uint32_t size_bits(struct value arg, uint16_t written)
{
	if (arg.kind == VAL_CONST && arg.c >= 1 && arg.c <= 512)
		return MT_PYSITE_SIZE_CONST | (uint32_t)arg.c << MT_PYSITE_SIZE_SHIFT;
	if (arg.kind == VAL_REG && arg.reg != MT_REG_RSP &&
	    !(written & (1u << arg.reg)))
		return MT_PYSITE_SIZE_REG | (uint32_t)arg.reg << MT_PYSITE_SIZE_SHIFT;
	return 0;
}

/* A cookie bit no probe sees: find_sizes marks sites with it while it
 * works. */
#define SIZE_CONFLICT (1u << 31)

/* What one nextpool test says of its site. */
struct fallback {
	struct pymalloc_site *site;
	uint64_t raw_call;
	uint32_t bits;
};

/*
 * The requested size at every allocation site that a fallback tells
 * (see above), in the sites' cookies. The raw allocator is the call most
 * fallbacks make (PyObject_Malloc's copies outnumber PyObject_Calloc's,
 * whose calloc(nelem, elsize) is not a size): fallbacks calling anything
 * else tell nothing. Neither does a site that two tests disagree on.
 */
static int find_sizes(const struct scan *s, uint64_t new_pool,
		      struct pymalloc_sites *out)
{
	struct fallback *fb = NULL;
	uint64_t *calls = NULL, raw = 0;
	size_t n_fb = 0, cap_fb = 0, n_calls = 0, cap_calls = 0;
	int err = 0;

	for (size_t i = 0; i < s->n && !err; i++) {
		struct nextpool_test t;
		struct value arg;
		uint16_t written;
		uint64_t call;

		if (!is_pool_branch(s, i, &t) ||
		    !fallback_walk(s, t.empty, new_pool, &call, &arg))
			continue;
		err = push_u64(&calls, &n_calls, &cap_calls, call);
		if (err)
			break;
		err = vec_reserve(&fb, &cap_fb, n_fb + 1, sizeof(*fb));
		if (err)
			break;
		fb[n_fb].site = site_of(s, &t, out, &written);
		fb[n_fb].raw_call = call;
		fb[n_fb].bits = size_bits(arg, written);
		n_fb += fb[n_fb].site != NULL;
	}
	if (!err)
		raw = majority(calls, n_calls, n_calls);
	for (size_t k = 0; k < n_fb; k++)
		if (fb[k].raw_call != raw)
			fb[k].bits = 0;
	/* Two tests leading to one site with different answers: none. */
	for (size_t k = 0; k < n_fb && !err; k++)
		for (size_t j = 0; j < k; j++)
			if (fb[j].site == fb[k].site && fb[j].bits != fb[k].bits)
				fb[j].site->cookie |= SIZE_CONFLICT;
	for (size_t k = 0; k < n_fb && !err; k++)
		if (!(fb[k].site->cookie & SIZE_CONFLICT))
			fb[k].site->cookie |= fb[k].bits;
	for (size_t k = 0; k < n_fb; k++)
		fb[k].site->cookie &= ~SIZE_CONFLICT;
	free(fb);
	free(calls);
	return err;
}

int pymalloc_sites_find(const char *path, struct pymalloc_sites *out)
{
	int fd = target_file_open_at(TARGET_FILE_OWN_ROOT, path, TARGET_FILE_FOLLOW);
	int err;

	if (fd < 0) {
		memset(out, 0, sizeof(*out));
		return fd;
	}
	err = pymalloc_sites_find_fd(fd, out);
	close(fd);
	return err;
}

int pymalloc_sites_find_fd(int fd, struct pymalloc_sites *out)
{
	struct scan s = { 0 };
	uint64_t new_pool;
	int err;

	memset(out, 0, sizeof(*out));
	err = scan_fd(fd, &s);
	if (!err)
		err = find_sites(&s, out);
	if (err)
		goto out;
	finish_sites(&s, out);
	if (!out->n_sites) {
		err = -ENOENT;
		goto out;
	}
	err = find_new_pool(&s, &new_pool);
	if (!err && new_pool && !scan_offset_of(&s, new_pool, &out->new_pool_offset))
		out->new_pool_vaddr = new_pool;
	if (!err && new_pool)
		err = find_sizes(&s, new_pool, out);
	for (size_t i = 0; !err && i < out->n_sites; i++)
		if (out->sites[i].cookie & (MT_PYSITE_SIZE_REG | MT_PYSITE_SIZE_CONST))
			out->n_sized++;
out:
	scan_free(&s);
	if (err)
		pymalloc_sites_free(out);
	return err;
}

void pymalloc_sites_free(struct pymalloc_sites *s)
{
	if (!s)
		return;
	free(s->sites);
	memset(s, 0, sizeof(*s));
}
