// SPDX-License-Identifier: MIT
/*
 * ELF function symbols, load segments and build ID, read once with libelf
 * and kept in plain arrays, so that the file can be closed and nothing
 * libelf owns outlives elf_symbols_open().
 *
 * Symbols are kept in two arrays:
 *  - the address table, for elf_symbols_lookup(): the functions of .symtab
 *    (else of .dynsym, all a stripped file has), sorted by address, one per
 *    address (the preferred name of each set of aliases);
 *  - the others, only for elf_symbols_find(): the aliases the table
 *    dropped and, when .symtab was read, the functions of .dynsym, whose
 *    names are the plain ones callers ask for ("memcpy") where .symtab may
 *    only have versioned ones ("memcpy@@GLIBC_2.14").
 *
 * The file may be anything a process maps, so every libelf call is
 * checked: garbage gives an error, never a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elf_file.h"
#include "elf_symbols.h"
#include "util/search.h"
#include "util/vec.h"

struct sym_entry {
	struct elf_symbol sym;
	/* One past the last address the symbol covers. While the tables are
	 * being read, the end of the symbol's section instead. */
	uint64_t end;
	/* The largest end of this entry and every earlier one: where a
	 * lookup walking back can stop. */
	uint64_t max_end;
	unsigned char bind;	/* STB_GLOBAL, STB_WEAK, STB_LOCAL... */
};

struct sym_vec {
	struct sym_entry *v;
	size_t n, cap;
};

struct elf_symbols {
	struct sym_vec table;	/* sorted by address, see above */
	struct sym_vec others;
	char *names;		/* every symbol's name points in here */
	struct elf_segment *segs;
	size_t nsegs;
	uint8_t build_id[ELF_FILE_BUILD_ID_MAX];
	size_t build_id_len;
};

/* What a symbol needs to know about its section. */
struct section {
	uint64_t addr;
	uint64_t size;
	uint64_t flags;
};

static int vec_push(struct sym_vec *vec, const struct sym_entry *e)
{
	if (vec_reserve(&vec->v, &vec->cap, vec->n + 1, sizeof(*vec->v)))
		return -ENOMEM;
	vec->v[vec->n++] = *e;
	return 0;
}

static bool is_function(const GElf_Sym *sym, const struct section *sec)
{
	switch (GELF_ST_TYPE(sym->st_info)) {
	case STT_FUNC:
	case STT_GNU_IFUNC:
		return true;
	case STT_NOTYPE:
		/* Assembly routines declared without .type but with .size;
		 * unsized NOTYPE symbols are mostly labels and markers. */
		return sym->st_size && (sec->flags & SHF_EXECINSTR);
	default:
		return false;
	}
}

static int read_symbols(Elf *elf, Elf_Scn *scn, const struct section *secs,
			size_t nsecs, struct sym_vec *vec)
{
	size_t entsize = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
	Elf_Data *data;
	GElf_Shdr shdr;
	int err;

	if (!gelf_getshdr(scn, &shdr) || !entsize)
		return -ENOEXEC;
	data = elf_getdata(scn, NULL);
	if (!data || data->d_type != ELF_T_SYM)
		return -ENOEXEC;
	/* Entry 0 is always the undefined symbol. */
	for (size_t i = 1; i < data->d_size / entsize; i++) {
		struct sym_entry e = { 0 };
		const struct section *sec;
		const char *name;
		GElf_Sym sym;

		if (!gelf_getsym(data, i, &sym))
			return -ENOEXEC;
		/* Undefined, absolute, common and other special indexes name
		 * no code in this file. */
		if (sym.st_shndx == SHN_UNDEF || sym.st_shndx >= SHN_LORESERVE ||
		    sym.st_shndx >= nsecs)
			continue;
		sec = &secs[sym.st_shndx];
		if (!is_function(&sym, sec))
			continue;
		name = elf_strptr(elf, shdr.sh_link, sym.st_name);
		if (!name || !*name)
			continue;
		e.sym.value = sym.st_value;
		e.sym.size = sym.st_size;
		e.sym.name = name;
		e.end = sec->addr + sec->size;
		e.bind = GELF_ST_BIND(sym.st_info);
		err = vec_push(vec, &e);
		if (err)
			return err;
	}
	return 0;
}

static int bind_rank(unsigned char bind)
{
	switch (bind) {
	case STB_GLOBAL:
	case STB_GNU_UNIQUE:
		return 0;
	case STB_WEAK:
		return 1;
	default:
		return 2;
	}
}

static size_t leading_underscores(const char *s)
{
	return strspn(s, "_");
}

/*
 * Which of two aliases (same address) names the function: the one covering
 * more, then a global one, then the public-looking one ("malloc" rather
 * than "__libc_malloc"), then the shorter; strcmp makes it deterministic.
 */
static int preference(const struct sym_entry *x, const struct sym_entry *y)
{
	size_t ux, uy, lx, ly;

	if (x->sym.size != y->sym.size)
		return x->sym.size > y->sym.size ? -1 : 1;
	if (bind_rank(x->bind) != bind_rank(y->bind))
		return bind_rank(x->bind) - bind_rank(y->bind);
	ux = leading_underscores(x->sym.name);
	uy = leading_underscores(y->sym.name);
	if (ux != uy)
		return ux < uy ? -1 : 1;
	lx = strlen(x->sym.name);
	ly = strlen(y->sym.name);
	if (lx != ly)
		return lx < ly ? -1 : 1;
	return strcmp(x->sym.name, y->sym.name);
}

static int by_address(const void *a, const void *b)
{
	const struct sym_entry *x = a, *y = b;

	if (x->sym.value != y->sym.value)
		return x->sym.value < y->sym.value ? -1 : 1;
	return preference(x, y);
}

/* Sort the table and move all but the preferred alias at each address to
 * the others, which elf_symbols_find() still searches. */
static int sort_table(struct elf_symbols *es)
{
	struct sym_vec *t = &es->table;
	size_t kept = 0;
	int err;

	if (t->n)
		qsort(t->v, t->n, sizeof(*t->v), by_address);
	for (size_t i = 0; i < t->n; i++) {
		if (kept && t->v[i].sym.value == t->v[kept - 1].sym.value) {
			err = vec_push(&es->others, &t->v[i]);
			if (err)
				return err;
			continue;
		}
		t->v[kept++] = t->v[i];
	}
	t->n = kept;
	return 0;
}

/* Fix each entry's extent, now that its successor is known. */
static void compute_ends(struct sym_vec *t)
{
	uint64_t max_end = 0;

	for (size_t i = 0; i < t->n; i++) {
		struct sym_entry *e = &t->v[i];

		if (e->sym.size) {
			e->end = e->sym.value + e->sym.size;
			if (e->end < e->sym.value)
				e->end = UINT64_MAX;
		} else if (i + 1 < t->n && t->v[i + 1].sym.value < e->end) {
			e->end = t->v[i + 1].sym.value;
		}
		/* else: up to the end of its section, already in e->end (which
		 * is below the value, covering nothing, in a corrupt file). */
		if (e->end > max_end)
			max_end = e->end;
		e->max_end = max_end;
	}
}

/* Copy the names out of libelf's buffers, which elf_end() frees. */
static int copy_names(struct elf_symbols *es)
{
	struct sym_vec *vecs[] = { &es->table, &es->others };
	size_t total = 0;
	char *p;

	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < vecs[k]->n; i++)
			total += strlen(vecs[k]->v[i].sym.name) + 1;
	es->names = p = malloc(total ? total : 1);
	if (!es->names)
		return -ENOMEM;
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < vecs[k]->n; i++) {
			size_t len = strlen(vecs[k]->v[i].sym.name) + 1;

			memcpy(p, vecs[k]->v[i].sym.name, len);
			vecs[k]->v[i].sym.name = p;
			p += len;
		}
	}
	return 0;
}

static int read_segments(Elf *elf, struct elf_symbols *es)
{
	size_t phnum;

	if (elf_getphdrnum(elf, &phnum))
		return -ENOEXEC;
	es->segs = calloc(phnum ? phnum : 1, sizeof(*es->segs));
	if (!es->segs)
		return -ENOMEM;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, i, &ph))
			return -ENOEXEC;
		if (ph.p_type != PT_LOAD)
			continue;
		es->segs[es->nsegs++] = (struct elf_segment){
			.vaddr = ph.p_vaddr,
			.offset = ph.p_offset,
			.filesz = ph.p_filesz,
			.memsz = ph.p_memsz,
			.flags = ph.p_flags,
		};
	}
	return 0;
}

static int read_elf(Elf *elf, struct elf_symbols *es)
{
	Elf_Scn *scn = NULL, *symtab = NULL, *dynsym = NULL;
	struct section *secs = NULL;
	size_t nsecs;
	int err;

	if (elf_getshdrnum(elf, &nsecs))
		return -ENOEXEC;
	secs = calloc(nsecs ? nsecs : 1, sizeof(*secs));
	if (!secs)
		return -ENOMEM;
	while ((scn = elf_nextscn(elf, scn))) {
		size_t i = elf_ndxscn(scn);
		GElf_Shdr shdr;

		if (!gelf_getshdr(scn, &shdr) || i >= nsecs) {
			err = -ENOEXEC;
			goto out;
		}
		secs[i] = (struct section){ shdr.sh_addr, shdr.sh_size, shdr.sh_flags };
		if (shdr.sh_type == SHT_SYMTAB && !symtab)
			symtab = scn;
		else if (shdr.sh_type == SHT_DYNSYM && !dynsym)
			dynsym = scn;
	}
	if (!symtab && !dynsym) {
		err = -ENODATA;
		goto out;
	}
	err = read_symbols(elf, symtab ? symtab : dynsym, secs, nsecs, &es->table);
	if (err == -ENOEXEC && symtab && dynsym) {
		/* A damaged .symtab: the .dynsym may still be whole. */
		es->table.n = 0;
		symtab = NULL;
		err = read_symbols(elf, dynsym, secs, nsecs, &es->table);
	}
	if (!err && symtab && dynsym)
		err = read_symbols(elf, dynsym, secs, nsecs, &es->others);
	if (!err)
		err = read_segments(elf, es);
	if (!err)
		err = sort_table(es);
	if (!err)
		err = copy_names(es);
	if (err)
		goto out;
	compute_ends(&es->table);
	/* A missing or malformed build ID is not an error: it is optional. */
	elf_file_build_id(elf, es->build_id, &es->build_id_len);
out:
	free(secs);
	return err;
}

int elf_symbols_open(int fd, struct elf_symbols **out)
{
	struct elf_symbols *es;
	Elf *elf;
	int err;

	*out = NULL;
	es = calloc(1, sizeof(*es));
	if (!es)
		return -ENOMEM;
	err = elf_file_open(fd, &elf);
	if (err) {
		elf_symbols_close(es);
		return err;
	}
	err = read_elf(elf, es);
	elf_end(elf);
	if (err) {
		elf_symbols_close(es);
		return err;
	}
	*out = es;
	return 0;
}

int elf_symbols_open_path(const char *path, struct elf_symbols **out)
{
	int fd, err;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = elf_symbols_open(fd, out);
	close(fd);
	return err;
}

void elf_symbols_close(struct elf_symbols *es)
{
	if (!es)
		return;
	free(es->table.v);
	free(es->others.v);
	free(es->names);
	free(es->segs);
	free(es);
}

const struct elf_symbol *elf_symbols_lookup(const struct elf_symbols *es,
					    uint64_t vaddr)
{
	const struct sym_entry *t = es->table.v, *unsized = NULL;
	/* The first symbol starting after vaddr. */
	size_t lo = FIRST_ABOVE(t, es->table.n, sym.value, vaddr);

	/*
	 * The nearest symbol before vaddr may not cover it while an earlier,
	 * larger one does (a function with an inner entry point): walk back
	 * until no earlier symbol reaches vaddr. In ordinary files that is
	 * one or two steps.
	 */
	for (size_t i = lo; i-- > 0 && t[i].max_end > vaddr;) {
		if (vaddr >= t[i].end)
			continue;
		if (t[i].sym.size)
			return &t[i].sym;
		if (!unsized)
			unsized = &t[i];
	}
	return unsized ? &unsized->sym : NULL;
}

int elf_symbols_find(const struct elf_symbols *es, const char *name,
		     uint64_t *value, uint64_t *size)
{
	const struct sym_vec *vecs[] = { &es->table, &es->others };
	const struct sym_entry *best = NULL;

	/* Only a few lookups per file: a linear scan is enough. */
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < vecs[k]->n; i++) {
			const struct sym_entry *e = &vecs[k]->v[i];

			if (strcmp(e->sym.name, name))
				continue;
			if (!best || bind_rank(e->bind) < bind_rank(best->bind))
				best = e;
		}
	}
	if (!best)
		return -ENOENT;
	*value = best->sym.value;
	if (size)
		*size = best->sym.size;
	return 0;
}

int elf_symbols_find_global(const struct elf_symbols *es, const char *name,
			    uint64_t *value, uint64_t *size)
{
	const struct sym_vec *vecs[] = { &es->table, &es->others };

	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < vecs[k]->n; i++) {
			const struct sym_entry *e = &vecs[k]->v[i];

			if (bind_rank(e->bind) < 2 && !strcmp(e->sym.name, name)) {
				*value = e->sym.value;
				if (size)
					*size = e->sym.size;
				return 0;
			}
		}
	}
	return -ENOENT;
}

int elf_symbols_offset_to_vaddr(const struct elf_symbols *es, uint64_t offset,
				uint64_t *vaddr)
{
	const struct elf_segment *found = NULL;

	for (size_t i = 0; i < es->nsegs; i++) {
		const struct elf_segment *s = &es->segs[i];

		if (offset < s->offset || offset - s->offset >= s->filesz)
			continue;
		/* Old linkers let segments share a page; code wins. */
		if (!found || (s->flags & PF_X))
			found = s;
	}
	if (!found)
		return -ENOENT;
	*vaddr = found->vaddr + (offset - found->offset);
	return 0;
}

int elf_symbols_vaddr_to_offset(const struct elf_symbols *es, uint64_t vaddr,
				uint64_t *offset)
{
	for (size_t i = 0; i < es->nsegs; i++) {
		const struct elf_segment *s = &es->segs[i];

		if (vaddr < s->vaddr || vaddr - s->vaddr >= s->filesz)
			continue;
		*offset = s->offset + (vaddr - s->vaddr);
		return 0;
	}
	return -ENOENT;
}

int elf_symbols_build_id(const struct elf_symbols *es, const uint8_t **id,
			 size_t *len)
{
	if (!es->build_id_len)
		return -ENOENT;
	*id = es->build_id;
	*len = es->build_id_len;
	return 0;
}

size_t elf_symbols_segments(const struct elf_symbols *es,
			    const struct elf_segment **segs)
{
	*segs = es->segs;
	return es->nsegs;
}

size_t elf_symbols_count(const struct elf_symbols *es)
{
	return es->table.n;
}
