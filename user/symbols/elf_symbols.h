/* SPDX-License-Identifier: MIT */
/*
 * What memtrace needs from an ELF file: its function symbols, its load
 * segments (to go between file offsets, which mappings and uprobes use, and
 * the virtual addresses symbols use), and its build ID.
 *
 * Everything is read once into memory: the file may be closed afterwards.
 */
#ifndef MEMTRACE_ELF_SYMBOLS_H
#define MEMTRACE_ELF_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

struct elf_symbols;

struct elf_symbol {
	uint64_t value;		/* virtual address, as the file links it */
	uint64_t size;		/* 0 when the symbol table gives none */
	const char *name;	/* lives as long as the elf_symbols */
};

/* One PT_LOAD program header. */
struct elf_segment {
	uint64_t vaddr;
	uint64_t offset;	/* in the file */
	uint64_t filesz;
	uint64_t memsz;
	uint32_t flags;		/* PF_R, PF_W, PF_X */
};

/*
 * Read the function symbols (STT_FUNC, STT_GNU_IFUNC, and sized STT_NOTYPE
 * in executable sections) of .symtab, else (none, or a damaged one) of
 * .dynsym, and the PT_LOAD headers and build ID. The fd is only read from, with pread: it stays the
 * caller's, and may be closed as soon as this returns.
 * Returns 0, -ENOEXEC when the file is not a readable ELF file (including
 * truncated ones), -ENODATA when it has neither .symtab nor .dynsym, or
 * another negative errno.
 */
int elf_symbols_open(int fd, struct elf_symbols **out);
int elf_symbols_open_path(const char *path, struct elf_symbols **out);

/* NULL is fine. */
void elf_symbols_close(struct elf_symbols *es);

/*
 * The function covering vaddr, or NULL. A symbol with a size covers
 * [value, value + size); one without covers from its value up to the next
 * symbol (or its section's end), and is only chosen when no symbol with a
 * size covers vaddr.
 */
const struct elf_symbol *elf_symbols_lookup(const struct elf_symbols *es,
					    uint64_t vaddr);

/*
 * Value and size of the defined function called name, from .dynsym or
 * .symtab (a global definition preferred to a weak one, a weak one to a
 * local one). size may be NULL. Returns 0 or -ENOENT.
 */
int elf_symbols_find(const struct elf_symbols *es, const char *name,
		     uint64_t *value, uint64_t *size);

/* The same for a global or weak definition only: what another object's
 * call to `name` can bind to. Returns 0 or -ENOENT. */
int elf_symbols_find_global(const struct elf_symbols *es, const char *name,
			    uint64_t *value, uint64_t *size);

/* Between file offsets and virtual addresses, through the PT_LOAD segment
 * whose file bytes hold them. Return 0 or -ENOENT (no such segment: the
 * offset is in no loaded part, or the address is in .bss). */
int elf_symbols_offset_to_vaddr(const struct elf_symbols *es, uint64_t offset,
				uint64_t *vaddr);
int elf_symbols_vaddr_to_offset(const struct elf_symbols *es, uint64_t vaddr,
				uint64_t *offset);

/* The NT_GNU_BUILD_ID note: 0 with *id (owned by es) and *len set, or
 * -ENOENT. */
int elf_symbols_build_id(const struct elf_symbols *es, const uint8_t **id,
			 size_t *len);

/* The PT_LOAD segments, in file order; returns how many. */
size_t elf_symbols_segments(const struct elf_symbols *es,
			    const struct elf_segment **segs);

/* How many distinct addresses elf_symbols_lookup() knows a function at. */
size_t elf_symbols_count(const struct elf_symbols *es);

#endif /* MEMTRACE_ELF_SYMBOLS_H */
