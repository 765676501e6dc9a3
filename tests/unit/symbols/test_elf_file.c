// SPDX-License-Identifier: MIT
/*
 * Opening ELF files (user/symbols/elf_file.c): an x86-64 file opens and
 * has its build ID (as readelf -n shows it); anything else, and any file
 * cut short before the end of its section table, is -ENOEXEC. Files come
 * from this machine (/bin/ls, as a distribution built it) and copies of
 * it with one field changed or cut short.
 */
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbols/elf_file.h"

#define SAMPLE "/bin/ls"

static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(path, O_RDONLY);

	cr_assert_geq(fd, 0, "cannot open %s", path);
	cr_assert_eq(fstat(fd, &st), 0);
	buf = malloc(st.st_size);
	cr_assert_not_null(buf);
	cr_assert_eq(read(fd, buf, st.st_size), st.st_size);
	close(fd);
	*len = st.st_size;
	return buf;
}

/* elf_file_open() on len bytes of data, through a temporary file. */
static int open_bytes(const void *data, size_t len)
{
	char path[] = "/tmp/test_elf_file.XXXXXX";
	int fd = mkstemp(path), err;
	Elf *elf = (Elf *)1;

	cr_assert_geq(fd, 0);
	unlink(path);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	err = elf_file_open(fd, &elf);
	if (err)
		cr_assert_null(elf, "no handle on failure");
	else
		elf_end(elf);
	close(fd);
	return err;
}

/* The build ID as `readelf -n` prints it ("Build ID: 3a5c..."), in hex. */
static void readelf_build_id(const char *path, char *hex, size_t len)
{
	char cmd[256], line[512];
	FILE *p;

	hex[0] = '\0';
	snprintf(cmd, sizeof(cmd), "readelf -n %s 2>/dev/null", path);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	while (fgets(line, sizeof(line), p)) {
		char *at = strstr(line, "Build ID: ");

		if (at && sscanf(at + strlen("Build ID: "), "%127s", hex) == 1)
			break;
	}
	pclose(p);
	(void)len;
}

Test(elf_file, opens_an_x86_64_file_with_its_build_id)
{
	char want[128], got[2 * ELF_FILE_BUILD_ID_MAX + 1] = "";
	uint8_t id[ELF_FILE_BUILD_ID_MAX];
	size_t n = 99;
	Elf *elf;
	int fd = open(SAMPLE, O_RDONLY);

	cr_assert_geq(fd, 0);
	cr_assert_eq(elf_file_open(fd, &elf), 0);
	elf_file_build_id(elf, id, &n);
	elf_end(elf);
	close(fd);
	for (size_t i = 0; i < n; i++)
		sprintf(got + 2 * i, "%02x", id[i]);
	readelf_build_id(SAMPLE, want, sizeof(want));
	if (!want[0])
		cr_skip_test("readelf shows no build ID for " SAMPLE);
	cr_assert_str_eq(got, want);
}

Test(elf_file, refuses_what_is_not_x86_64_elf)
{
	size_t len;
	uint8_t *buf = slurp(SAMPLE, &len);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
	const char text[] = "#!/bin/sh\necho not an ELF file\n";

	cr_assert_eq(open_bytes(buf, len), 0, "the unchanged copy opens");
	cr_assert_eq(open_bytes(text, sizeof(text)), -ENOEXEC);
	cr_assert_eq(open_bytes("", 0), -ENOEXEC);

	eh->e_machine = EM_AARCH64;
	cr_assert_eq(open_bytes(buf, len), -ENOEXEC, "another machine");
	eh->e_machine = EM_X86_64;
	buf[EI_CLASS] = ELFCLASS32;
	cr_assert_eq(open_bytes(buf, len), -ENOEXEC, "32-bit");
	buf[EI_CLASS] = ELFCLASS64;
	buf[EI_DATA] = ELFDATA2MSB;
	cr_assert_eq(open_bytes(buf, len), -ENOEXEC, "big-endian");
	free(buf);
}

Test(elf_file, refuses_a_file_cut_short)
{
	size_t len;
	uint8_t *buf = slurp(SAMPLE, &len);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)buf;
	size_t table_end = eh->e_shoff + (size_t)eh->e_shnum * sizeof(Elf64_Shdr);

	cr_assert_eq(table_end, len, SAMPLE " ends with its section table");
	cr_assert_eq(open_bytes(buf, table_end), 0);
	/* In the middle of the table, at its start, and well before it. */
	cr_assert_eq(open_bytes(buf, table_end - sizeof(Elf64_Shdr) / 2), -ENOEXEC);
	cr_assert_eq(open_bytes(buf, eh->e_shoff), -ENOEXEC);
	cr_assert_eq(open_bytes(buf, eh->e_shoff / 2), -ENOEXEC);
	cr_assert_eq(open_bytes(buf, sizeof(*eh)), -ENOEXEC);
	free(buf);
}

Test(elf_file, a_directory_is_refused)
{
	Elf *elf;
	int fd = open("/tmp", O_RDONLY | O_DIRECTORY);

	cr_assert_geq(fd, 0);
	cr_assert_eq(elf_file_open(fd, &elf), -ENOEXEC);
	close(fd);
}
