/* SPDX-License-Identifier: MIT */
/*
 * Opening an ELF file that a traced process maps, whatever it holds: the
 * checks every reader of such files needs before it trusts a header.
 */
#ifndef MEMTRACE_ELF_FILE_H
#define MEMTRACE_ELF_FILE_H

#include <libelf.h>
#include <stddef.h>
#include <stdint.h>

/* The longest build ID kept (GNU's are 20 bytes). */
#define ELF_FILE_BUILD_ID_MAX 64

/*
 * Open fd (read, not mapped) as a 64-bit little-endian x86-64 ELF file
 * whose section header table lies inside the file. Returns 0 with *out
 * (free with elf_end()), -ENOEXEC for anything else, or a negative errno
 * from fstat().
 */
int elf_file_open(int fd, Elf **out);

/* Copy elf's NT_GNU_BUILD_ID into id[ELF_FILE_BUILD_ID_MAX]; *len is 0
 * when it has none (or a longer one). */
void elf_file_build_id(Elf *elf, uint8_t *id, size_t *len);

/*
 * The virtual address of file offset off, through the PT_LOAD segment
 * whose file bytes hold it (an executable one where old linkers let
 * segments share a page). Reads only the program headers: a file whose
 * section headers or symbol tables are damaged still has its segments.
 * Returns 0 or -ENOENT.
 */
int elf_file_offset_to_vaddr(Elf *elf, uint64_t off, uint64_t *vaddr);

#endif /* MEMTRACE_ELF_FILE_H */
