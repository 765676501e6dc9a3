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

#endif /* MEMTRACE_ELF_FILE_H */
