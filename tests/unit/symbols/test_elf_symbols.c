// SPDX-License-Identifier: MIT
/*
 * The ELF symbol reader (user/symbols/elf_symbols.c), checked against what
 * the test process knows about itself from elsewhere (self.h): the
 * dynamic loader's addresses, offsets and build IDs, and the layout of
 * assembly written there; and on files that are anything but valid.
 */
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>

#include "symbols/elf_symbols.h"
#include "self.h"

Test(elf_symbols, own_symbols_and_segments)
{
	uint64_t addr = ADDR(symbolizer_test_known_function);
	struct loader_view v = loader_view_of(addr);
	const struct elf_symbol *sym;
	struct elf_symbols *es;
	uint64_t value, size, off, vaddr;
	char exe[PATH_MAX];

	self_exe(exe, sizeof(exe));
	cr_assert_eq(elf_symbols_open_path(exe, &es), 0);
	cr_assert(elf_symbols_count(es) > 10);
	cr_assert_eq(elf_symbols_find(es, "symbolizer_test_known_function", &value, &size), 0);
	cr_assert_eq(value, addr - v.base);
	cr_assert(size >= 5);
	cr_assert_eq(elf_symbols_find(es, "symbolizer_test_asm_outer", &value, &size), 0);
	cr_assert_eq(size, 16);
	cr_assert_eq(elf_symbols_find(es, "no_such_function_here", &value, NULL), -ENOENT);

	sym = elf_symbols_lookup(es, addr - v.base + 1);
	cr_assert_not_null(sym);
	cr_assert_str_eq(sym->name, "symbolizer_test_known_function");

	cr_assert_eq(elf_symbols_vaddr_to_offset(es, addr - v.base, &off), 0);
	cr_assert_eq(off, v.file_offset);
	cr_assert_eq(elf_symbols_offset_to_vaddr(es, off, &vaddr), 0);
	cr_assert_eq(vaddr, addr - v.base);
	elf_symbols_close(es);
}

/* libc's build ID, as the loaded image's PT_NOTE segments hold it. */
struct build_id_view {
	uint8_t id[64];
	size_t len;
};

static int libc_build_id(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct build_id_view *b = arg;

	if (strcmp(base_of(info->dlpi_name), "libc.so.6"))
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		const char *end = p + ph->p_filesz;
		size_t align = ph->p_align == 8 ? 8 : 4;

		if (ph->p_type != PT_NOTE)
			continue;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			const char *name = p + sizeof(*nh);
			const char *desc = name + ((nh->n_namesz + align - 1) & ~(align - 1));

			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    !memcmp(name, "GNU", 4) && nh->n_descsz <= sizeof(b->id)) {
				memcpy(b->id, desc, nh->n_descsz);
				b->len = nh->n_descsz;
				return 1;
			}
			p = desc + ((nh->n_descsz + align - 1) & ~(align - 1));
		}
	}
	return 1;
}

Test(elf_symbols, libc)
{
	uint64_t pc = libc_malloc();
	struct loader_view v = loader_view_of(pc);
	struct build_id_view want = { .len = 0 };
	struct elf_symbols *es;
	const uint8_t *id;
	uint64_t value, off;
	size_t len;

	cr_assert_eq(elf_symbols_open_path(v.name, &es), 0);
	cr_assert_eq(elf_symbols_find(es, "malloc", &value, NULL), 0);
	cr_assert_eq(value, pc - v.base);
	cr_assert_eq(elf_symbols_vaddr_to_offset(es, value, &off), 0);
	cr_assert_eq(off, v.file_offset);
	cr_assert_eq(elf_symbols_find(es, "free", &value, NULL), 0);
	cr_assert_eq(value + v.base, libc_function("free"));
	/* Not a function. */
	cr_assert_eq(elf_symbols_find(es, "environ", &value, NULL), -ENOENT);

	dl_iterate_phdr(libc_build_id, &want);
	cr_assert(want.len, "libc has no build ID in memory");
	cr_assert_eq(elf_symbols_build_id(es, &id, &len), 0);
	cr_assert_eq(len, want.len);
	cr_assert_eq(memcmp(id, want.id, len), 0);
	elf_symbols_close(es);
}

/* Whatever the file holds, opening it either fails or gives tables that
 * answer every question without crashing. */
static int open_and_poke(const char *path)
{
	struct elf_symbols *es = NULL;
	const struct elf_segment *segs;
	const uint8_t *id;
	uint64_t v, sz;
	size_t n;
	int err;

	err = elf_symbols_open_path(path, &es);
	if (err) {
		cr_assert(err < 0);
		cr_assert_null(es);
		return err;
	}
	for (uint64_t a = 0; a < 0x40000; a += 0x1b3)
		elf_symbols_lookup(es, a);
	elf_symbols_lookup(es, UINT64_MAX);
	elf_symbols_find(es, "main", &v, &sz);
	elf_symbols_offset_to_vaddr(es, 0x1000, &v);
	elf_symbols_vaddr_to_offset(es, 0x1000, &v);
	elf_symbols_build_id(es, &id, &n);
	elf_symbols_segments(es, &segs);
	elf_symbols_close(es);
	return 0;
}

Test(elf_symbols, garbage)
{
	unsigned char junk[8192];
	char path[128];
	size_t len;
	unsigned char *elf;

	temp_path(path, sizeof(path), "junk");
	srand(42);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = rand();
	write_file(path, junk, sizeof(junk));
	cr_assert_eq(open_and_poke(path), -ENOEXEC);

	/* ELF magic, then junk. */
	memcpy(junk, ELFMAG, SELFMAG);
	write_file(path, junk, sizeof(junk));
	cr_assert(open_and_poke(path) < 0);

	write_file(path, "", 0);
	cr_assert_eq(open_and_poke(path), -ENOEXEC);

	cr_assert_eq(open_and_poke("/nonexistent/file"), -ENOENT);
	cr_assert(open_and_poke("/tmp") < 0);

	/* A real ELF file without section headers has no symbol tables. */
	elf = read_whole("/bin/true", &len);
	{
		Elf64_Ehdr *eh = (Elf64_Ehdr *)elf;

		eh->e_shoff = 0;
		eh->e_shnum = 0;
		eh->e_shstrndx = 0;
	}
	write_file(path, elf, len);
	cr_assert_eq(open_and_poke(path), -ENODATA);
	free(elf);
	unlink(path);
}

Test(elf_symbols, truncated)
{
	char path[128];
	size_t len;
	unsigned char *elf = read_whole("/bin/true", &len);

	temp_path(path, sizeof(path), "truncated");
	/* The section headers are at the end: without them, no symbols. */
	write_file(path, elf, len / 2);
	cr_assert(open_and_poke(path) < 0);
	write_file(path, elf, 64);
	cr_assert(open_and_poke(path) < 0);
	/* Any length: no crash. */
	for (size_t n = 0; n < len; n += 61) {
		write_file(path, elf, n);
		open_and_poke(path);
	}
	write_file(path, elf, len);
	cr_assert_eq(open_and_poke(path), 0);
	free(elf);
	unlink(path);
}

Test(elf_symbols, corrupted)
{
	char path[128];
	size_t len;
	unsigned char *elf = read_whole("/bin/true", &len);
	unsigned char *copy = malloc(len);

	cr_assert_not_null(copy);
	temp_path(path, sizeof(path), "corrupted");
	srand(7);
	for (int round = 0; round < 300; round++) {
		memcpy(copy, elf, len);
		/* Mostly in the headers and the tables they point to. */
		for (int k = 0; k < 8; k++) {
			size_t at = rand() % 3 ? (size_t)rand() % 64 + (round % 2 ? len - 2048 : 0)
					       : (size_t)rand() % len;

			if (at < len)
				copy[at] = rand();
		}
		write_file(path, copy, len);
		open_and_poke(path);
	}
	free(copy);
	free(elf);
	unlink(path);
}
