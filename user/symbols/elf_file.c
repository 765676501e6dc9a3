// SPDX-License-Identifier: MIT
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <gelf.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "elf_file.h"

/* libelf wants its version declared before any other call; once, as
 * threads may open files at the same time. */
static pthread_once_t libelf_once = PTHREAD_ONCE_INIT;

static void libelf_init(void)
{
	elf_version(EV_CURRENT);
}

int elf_file_open(int fd, Elf **out)
{
	GElf_Ehdr ehdr;
	struct stat st;
	size_t nsec;
	Elf *elf;

	*out = NULL;
	if (fstat(fd, &st))
		return -errno;
	pthread_once(&libelf_once, libelf_init);
	/* ELF_C_READ, not ELF_C_READ_MMAP: reading a mapping of a file that
	 * shrinks meanwhile would be a SIGBUS, reading the file an error. */
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		return -ENOEXEC;
	/* The register numbers and the PLT rule are x86-64's. A file cut
	 * short is refused here, rather than found to have no CFI: libelf
	 * opens it, and simply sees no sections. */
	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &ehdr) ||
	    ehdr.e_ident[EI_CLASS] != ELFCLASS64 ||
	    ehdr.e_ident[EI_DATA] != ELFDATA2LSB ||
	    ehdr.e_machine != EM_X86_64 || elf_getshdrnum(elf, &nsec) ||
	    ehdr.e_shoff > (uint64_t)st.st_size ||
	    nsec > ((uint64_t)st.st_size - ehdr.e_shoff) / sizeof(Elf64_Shdr) ||
	    /* libelf shows no sections when their table is not all in the
	     * file; a file without sections has no table offset. */
	    (!nsec && ehdr.e_shoff)) {
		elf_end(elf);
		return -ENOEXEC;
	}
	*out = elf;
	return 0;
}


void elf_file_build_id(Elf *elf, uint8_t *id, size_t *len)
{
	const void *p;
	ssize_t n = dwelf_elf_gnu_build_id(elf, &p);

	*len = 0;
	if (n > 0 && (size_t)n <= ELF_FILE_BUILD_ID_MAX) {
		memcpy(id, p, n);
		*len = n;
	}
}


int elf_file_offset_to_vaddr(Elf *elf, uint64_t off, uint64_t *vaddr)
{
	GElf_Phdr found = { 0 }, ph;
	bool have = false;
	size_t phnum;

	if (elf_getphdrnum(elf, &phnum))
		return -ENOENT;
	for (size_t i = 0; i < phnum; i++) {
		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD ||
		    off < ph.p_offset || off - ph.p_offset >= ph.p_filesz)
			continue;
		if (!have || (ph.p_flags & PF_X)) {
			found = ph;
			have = true;
		}
	}
	if (!have)
		return -ENOENT;
	*vaddr = found.p_vaddr + (off - found.p_offset);
	return 0;
}
