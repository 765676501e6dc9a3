// SPDX-License-Identifier: MIT
/*
 * DWARF lines and inline chains (see dwarf_lines.h), with libdw.
 *
 * Everything is built lazily:
 *  - at open, the compile units' address ranges (from each CU DIE's
 *    DW_AT_low_pc/high_pc/ranges, so that files without .debug_aranges,
 *    as clang writes them, work too), sorted;
 *  - at the first lookup in a CU, that CU's functions: every
 *    DW_TAG_subprogram with code, sorted by address. They are found by one
 *    walk of the CU's DIE tree that descends into namespaces, types,
 *    functions and blocks: GCC puts a lambda's out-of-line operator()
 *    inside a structure type inside the enclosing function's DIE;
 *  - at a lookup, the inlined_subroutine (and lexical block) DIEs under
 *    the function whose ranges hold the address, innermost last.
 * Measured on libc6-dbg's libc (13,305 call sites): 10 us a lookup; on
 * libstdc++'s debug build (33,184): 4 us (scripts/research notes).
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "debug_file.h"
#include "proc/target_file.h"
#include "dwarf_lines.h"
#include "elf_file.h"
#include "util/vec.h"

/* Deeper DIE nesting than any compiler writes (C++ templates reach a few
 * dozen levels); a hostile file nesting deeper is cut here. */
#define MAX_DEPTH 256

struct cu_range {
	uint64_t lo, hi;
	size_t cu;		/* index in cus[] */
};

struct func {
	uint64_t lo, hi;
	uint64_t max_hi;	/* the largest hi of this and every earlier one */
	Dwarf_Off die;
};

struct cu {
	Dwarf_Off die;		/* the CU DIE */
	bool indexed;
	struct func *funcs;	/* sorted by lo */
	size_t nfuncs;
};

struct dwarf_lines {
	int fd;
	Elf *elf;
	Dwarf *dwarf;
	int alt_fd;
	Elf *alt_elf;
	Dwarf *alt;
	struct cu *cus;
	size_t ncus, cus_cap;
	struct cu_range *ranges;	/* sorted by lo */
	size_t nranges;
};

static int by_lo_range(const void *a, const void *b)
{
	const struct cu_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int by_lo_func(const void *a, const void *b)
{
	const struct func *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Compile units only: skeleton units would make libdw open the .dwo file
 * they name; type and partial units hold no code of their own. */
static int index_cus(struct dwarf_lines *dl)
{
	size_t ranges_cap = 0;
	Dwarf_CU *cu = NULL;
	Dwarf_Die cudie;
	Dwarf_Half version;
	uint8_t type;
	int err;

	while (dwarf_get_units(dl->dwarf, cu, &cu, &version, &type, &cudie, NULL) == 0) {
		Dwarf_Addr base, lo, hi;
		ptrdiff_t off = 0;

		if (type != DW_UT_compile)
			continue;
		err = vec_reserve(&dl->cus, &dl->cus_cap, dl->ncus + 1, sizeof(*dl->cus));
		if (err)
			return err;
		dl->cus[dl->ncus] = (struct cu){ .die = dwarf_dieoffset(&cudie) };
		while ((off = dwarf_ranges(&cudie, off, &base, &lo, &hi)) > 0) {
			if (hi <= lo)
				continue;
			err = vec_reserve(&dl->ranges, &ranges_cap, dl->nranges + 1,
					  sizeof(*dl->ranges));
			if (err)
				return err;
			dl->ranges[dl->nranges++] = (struct cu_range){ lo, hi, dl->ncus };
		}
		dl->ncus++;
	}
	if (dl->nranges)
		qsort(dl->ranges, dl->nranges, sizeof(*dl->ranges), by_lo_range);
	return 0;
}

/* Which DIEs may hold a function with code somewhere below them. */
static bool may_hold_functions(int tag)
{
	switch (tag) {
	case DW_TAG_namespace:
	case DW_TAG_module:
	case DW_TAG_class_type:
	case DW_TAG_structure_type:
	case DW_TAG_union_type:
	case DW_TAG_interface_type:
	case DW_TAG_subprogram:
	case DW_TAG_lexical_block:
		return true;
	default:
		return false;
	}
}

static int add_function(struct cu *c, size_t *cap, Dwarf_Die *die)
{
	Dwarf_Addr base, lo, hi;
	ptrdiff_t off = 0;
	int err;

	while ((off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0) {
		if (hi <= lo)
			continue;
		err = vec_reserve(&c->funcs, cap, c->nfuncs + 1, sizeof(*c->funcs));
		if (err)
			return err;
		c->funcs[c->nfuncs++] = (struct func){ lo, hi, 0, dwarf_dieoffset(die) };
	}
	return 0;
}

/* Walk the CU's DIE tree once, without recursion, for its functions. */
static int index_functions(struct dwarf_lines *dl, struct cu *c)
{
	Dwarf_Die *stack, cudie, cur, next;
	size_t depth = 0, cap = 0;
	uint64_t max_hi = 0;
	int err = 0;

	c->indexed = true;
	if (!dwarf_offdie(dl->dwarf, c->die, &cudie) || dwarf_child(&cudie, &cur) != 0)
		return 0;
	stack = malloc(MAX_DEPTH * sizeof(*stack));
	if (!stack)
		return -ENOMEM;
	for (;;) {
		int tag = dwarf_tag(&cur);

		if (tag == DW_TAG_subprogram || tag == DW_TAG_entry_point) {
			err = add_function(c, &cap, &cur);
			if (err)
				break;
		}
		if (may_hold_functions(tag) && depth < MAX_DEPTH &&
		    dwarf_haschildren(&cur) && dwarf_child(&cur, &next) == 0) {
			stack[depth++] = cur;
			cur = next;
			continue;
		}
		/* The next sibling, else the next of a parent's. libdw checks
		 * that a sibling lies after its DIE: this ends. */
		while (dwarf_siblingof(&cur, &next) != 0) {
			if (!depth)
				goto done;
			cur = stack[--depth];
		}
		cur = next;
	}
done:
	free(stack);
	if (c->nfuncs)
		qsort(c->funcs, c->nfuncs, sizeof(*c->funcs), by_lo_func);
	for (size_t i = 0; i < c->nfuncs; i++) {
		if (c->funcs[i].hi > max_hi)
			max_hi = c->funcs[i].hi;
		c->funcs[i].max_hi = max_hi;
	}
	return err;
}

static struct cu *find_cu(struct dwarf_lines *dl, uint64_t pc)
{
	size_t lo = 0, hi = dl->nranges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (dl->ranges[mid].lo <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* CU ranges do not overlap in sane files; in others, the nearest
	 * one below that holds pc. */
	for (size_t i = lo, steps = 0; i-- > 0 && steps < 16; steps++)
		if (pc < dl->ranges[i].hi)
			return &dl->cus[dl->ranges[i].cu];
	return NULL;
}

/* The smallest function range holding pc (a nested function's, rather
 * than its parent's). */
static const struct func *find_func(const struct cu *c, uint64_t pc)
{
	const struct func *best = NULL;
	size_t lo = 0, hi = c->nfuncs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->funcs[mid].lo <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i-- > 0 && c->funcs[i].max_hi > pc;) {
		const struct func *f = &c->funcs[i];

		if (pc < f->hi && (!best || f->hi - f->lo < best->hi - best->lo))
			best = f;
	}
	return best;
}

/* The subprogram DIE, then the inlined_subroutine DIEs holding pc below
 * it, outermost first. Returns how many of max were written. */
static size_t scope_chain(Dwarf *dwarf, Dwarf_Off func, uint64_t pc, Dwarf_Die *chain,
			  size_t max)
{
	Dwarf_Die cur, child;
	size_t n = 0, depth = 0;

	if (!max || !dwarf_offdie(dwarf, func, &cur))
		return 0;
	chain[n++] = cur;
	if (dwarf_child(&cur, &child) != 0)
		return n;
	cur = child;
	while (depth < MAX_DEPTH) {
		int tag = dwarf_tag(&cur);

		if ((tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block ||
		     tag == DW_TAG_try_block || tag == DW_TAG_catch_block) &&
		    dwarf_haspc(&cur, pc) == 1) {
			if (tag == DW_TAG_inlined_subroutine) {
				if (n == max)
					return n;
				chain[n++] = cur;
			}
			if (dwarf_child(&cur, &child) != 0)
				return n;
			cur = child;
			depth++;
			continue;
		}
		if (dwarf_siblingof(&cur, &child) != 0)
			return n;
		cur = child;
	}
	return n;
}

static const char *die_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *name;

	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr)) {
		name = dwarf_formstring(&attr);
		if (name && *name)
			return name;
	}
	name = dwarf_diename(die);
	if (!name && dwarf_attr_integrate(die, DW_AT_name, &attr))
		name = dwarf_formstring(&attr);
	return name && *name ? name : NULL;
}

static const char *comp_dir(Dwarf_Die *cudie)
{
	Dwarf_Attribute attr;

	return dwarf_attr(cudie, DW_AT_comp_dir, &attr) ? dwarf_formstring(&attr) : NULL;
}

static void set_file(struct dwarf_frame *f, const char *file, int line, const char *dir)
{
	/* libdw writes "???" for a file table entry that is missing. */
	if (!file || !*file || !strcmp(file, "???")) {
		f->file = NULL;
		f->line = 0;
		return;
	}
	f->file = file;
	f->line = line > 0 ? line : 0;
	f->dir = file[0] != '/' && dir && dir[0] == '/' ? dir : NULL;
}

size_t dwarf_lines_lookup(struct dwarf_lines *dl, uint64_t pc, struct dwarf_frame *frames,
			  size_t max)
{
	Dwarf_Die chain[DWARF_LINES_MAX_FRAMES], cudie;
	Dwarf_Files *files = NULL;
	const struct func *fn = NULL;
	const char *file = NULL, *dir;
	size_t nchain = 0, nfiles = 0, n = 0;
	Dwarf_Line *row;
	struct cu *c;
	int line = 0;

	if (max > DWARF_LINES_MAX_FRAMES)
		max = DWARF_LINES_MAX_FRAMES;
	c = dl ? find_cu(dl, pc) : NULL;
	if (!c || !max || !dwarf_offdie(dl->dwarf, c->die, &cudie))
		return 0;
	if (!c->indexed && index_functions(dl, c))
		return 0;
	dir = comp_dir(&cudie);
	row = dwarf_getsrc_die(&cudie, pc);
	if (row) {
		file = dwarf_linesrc(row, NULL, NULL);
		if (dwarf_lineno(row, &line))
			line = 0;
	}
	fn = find_func(c, pc);
	if (fn)
		nchain = scope_chain(dl->dwarf, fn->die, pc, chain, max);
	if (!nchain) {
		if (!file)
			return 0;
		frames[0] = (struct dwarf_frame){ 0 };
		set_file(&frames[0], file, line, dir);
		return frames[0].file ? 1 : 0;
	}
	/* chain[] is outermost first; frames[] innermost first. */
	for (size_t k = nchain; k-- > 0;) {
		Dwarf_Attribute attr;
		Dwarf_Word call_file = 0, call_line = 0;
		struct dwarf_frame *f = &frames[n++];

		*f = (struct dwarf_frame){ .name = die_name(&chain[k]) };
		set_file(f, file, line, dir);
		if (!k)
			break;
		/* The next frame out is where this one was inlined. */
		file = NULL;
		line = 0;
		if (dwarf_attr(&chain[k], DW_AT_call_file, &attr) &&
		    !dwarf_formudata(&attr, &call_file) &&
		    (files || !dwarf_getsrcfiles(&cudie, &files, &nfiles)) &&
		    call_file < nfiles)
			file = dwarf_filesrc(files, call_file, NULL, NULL);
		if (dwarf_attr(&chain[k], DW_AT_call_line, &attr) &&
		    !dwarf_formudata(&attr, &call_line) && call_line <= INT32_MAX)
			line = call_line;
	}
	return n;
}

/*
 * A dwz file, found by the build ID .gnu_debugaltlink records (never by
 * the path it names, which could be anything), handed to libdw before it
 * looks for one itself with a blocking open() of that path.
 */
static int set_alt(struct dwarf_lines *dl, const char *debug_root)
{
	const void *id;
	const char *name;
	char path[4200], hex[2 * ELF_FILE_BUILD_ID_MAX + 1];
	ssize_t len = dwelf_dwarf_gnu_debugaltlink(dl->dwarf, &name, &id);
	int err;

	if (len <= 0)
		return 0;
	if (len < 2 || len > ELF_FILE_BUILD_ID_MAX || !debug_root)
		return -ENOENT;
	for (ssize_t i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", ((const uint8_t *)id)[i]);
	if (snprintf(path, sizeof(path), "%s/.build-id/%.2s/%s.debug", debug_root, hex,
		     hex + 2) >= (int)sizeof(path))
		return -ENOENT;
	dl->alt_fd = target_file_open_at(TARGET_FILE_OWN_ROOT, path, TARGET_FILE_FOLLOW);
	if (dl->alt_fd < 0)
		return -ENOENT;
	err = elf_file_open(dl->alt_fd, &dl->alt_elf);
	if (err)
		return -ENOENT;
	dl->alt = dwarf_begin_elf(dl->alt_elf, DWARF_C_READ, NULL);
	if (!dl->alt)
		return -ENOENT;
	dwarf_setalt(dl->dwarf, dl->alt);
	return 0;
}

int dwarf_lines_open(int fd, const char *debug_root, struct dwarf_lines **out)
{
	struct dwarf_lines *dl;
	int err;

	*out = NULL;
	dl = calloc(1, sizeof(*dl));
	if (!dl)
		return -ENOMEM;
	dl->fd = -1;
	dl->alt_fd = -1;
	err = elf_file_open(fd, &dl->elf);
	if (err)
		goto fail;
	dl->dwarf = dwarf_begin_elf(dl->elf, DWARF_C_READ, NULL);
	if (!dl->dwarf) {
		err = -ENODATA;
		goto fail;
	}
	err = set_alt(dl, debug_root);
	if (!err)
		err = index_cus(dl);
	if (!err && !dl->nranges)
		err = -ENODATA;
	if (err)
		goto fail;
	dl->fd = fd;
	*out = dl;
	return 0;
fail:
	dwarf_lines_close(dl);
	return err;
}

void dwarf_lines_close(struct dwarf_lines *dl)
{
	if (!dl)
		return;
	/* The main Dwarf first: it may still point at the alt one. */
	if (dl->dwarf)
		dwarf_end(dl->dwarf);
	if (dl->alt)
		dwarf_end(dl->alt);
	if (dl->alt_elf)
		elf_end(dl->alt_elf);
	if (dl->alt_fd >= 0)
		close(dl->alt_fd);
	if (dl->elf)
		elf_end(dl->elf);
	if (dl->fd >= 0)
		close(dl->fd);
	for (size_t i = 0; i < dl->ncus; i++)
		free(dl->cus[i].funcs);
	free(dl->cus);
	free(dl->ranges);
	free(dl);
}
