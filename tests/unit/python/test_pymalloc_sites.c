// SPDX-License-Identifier: MIT
/*
 * pymalloc's inlined sites (user/python/pymalloc_sites.c). On Debian's
 * python3.11 the result must be the research list, whose points were
 * checked against the interpreter's own block counts
 * (scripts/research/README.md); any other file must give an error, never
 * a crash.
 */
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbols/elf_symbols.h"
#include "memtrace_python.h"
#include "python/pymalloc_sites.h"

#define DEBIAN_PYTHON "/usr/bin/python3.11"
/* Relative to the repo root, where tests run. */
#define RESEARCH_LIST "tests/unit/python/data/sites_python3.11_deb12u6.txt"
/* allocate_from_new_pool in that build. */
#define RESEARCH_NEW_POOL 0x4fb540
/* The build is not PIE: file offset = vaddr - this. */
#define RESEARCH_LOAD_BASE 0x400000

#define KIND(cookie) ((cookie) & 0xff)
#define REG(cookie) (((cookie) >> 8) & 0xff)
/* The requested size's bits (the research list has none of them). */
#define SIZE_BITS (MT_PYSITE_SIZE_REG | MT_PYSITE_SIZE_CONST | \
		   0x3ffu << MT_PYSITE_SIZE_SHIFT)
#define SIZE_VALUE(cookie) (((cookie) >> MT_PYSITE_SIZE_SHIFT) & 0x3ff)

/* In enum mt_reg order. */
static const char *const reg_names[MT_REG_COUNT] = {
	"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};

struct research {
	struct pymalloc_site sites[512];
	size_t n;
	char build_id[2 * 20 + 1];
};

static uint32_t parse_cookie(const char *kind, const char *reg, const char *mode)
{
	uint32_t cookie = 0;
	size_t r = 0;

	if (!strcmp(kind, "alloc"))
		cookie = MT_PYSITE_ALLOC;
	else if (!strcmp(kind, "free"))
		cookie = MT_PYSITE_FREE;
	else
		cr_assert_fail("bad kind %s in " RESEARCH_LIST, kind);
	while (r < MT_REG_COUNT && strcmp(reg_names[r], reg))
		r++;
	cr_assert_lt(r, MT_REG_COUNT, "bad register %s in " RESEARCH_LIST, reg);
	cookie |= (uint32_t)r << 8;
	if (!strcmp(mode, "pool"))
		cookie |= MT_PYSITE_VIA_POOL;
	else
		cr_assert_str_eq(mode, "reg", "bad mode %s in " RESEARCH_LIST, mode);
	return cookie;
}

/* "kind vaddr reg mode" lines; the build ID is in a comment. */
static void read_research(struct research *r)
{
	FILE *f = fopen(RESEARCH_LIST, "r");
	char line[512];

	cr_assert_not_null(f, "cannot open %s (tests run from the repo root)",
			   RESEARCH_LIST);
	memset(r, 0, sizeof(*r));
	while (fgets(line, sizeof(line), f)) {
		char kind[16], reg[16], mode[16];
		const char *id = strstr(line, "build-id ");
		uint64_t vaddr;

		if (line[0] == '#') {
			if (id)
				sscanf(id, "build-id %40[0-9a-f]", r->build_id);
			continue;
		}
		if (sscanf(line, "%15s %" SCNx64 " %15s %15s", kind, &vaddr, reg,
			   mode) != 4)
			continue;
		cr_assert_lt(r->n, sizeof(r->sites) / sizeof(r->sites[0]));
		r->sites[r->n++] = (struct pymalloc_site){
			.vaddr = vaddr,
			.offset = vaddr - RESEARCH_LOAD_BASE,
			.cookie = parse_cookie(kind, reg, mode),
		};
	}
	fclose(f);
	cr_assert_eq(strlen(r->build_id), 40, "no build-id in " RESEARCH_LIST);
}

/* The file's build ID in hex, "" if it has none. */
static void build_id_of(const char *path, char *hex, size_t len)
{
	struct elf_symbols *es;
	const uint8_t *id;
	size_t n;

	hex[0] = '\0';
	if (elf_symbols_open_path(path, &es))
		return;
	if (!elf_symbols_build_id(es, &id, &n))
		for (size_t i = 0; i < n && 2 * i + 2 < len; i++)
			snprintf(hex + 2 * i, 3, "%02x", id[i]);
	elf_symbols_close(es);
}

/* What holds for any result. */
static void check_well_formed(const struct pymalloc_sites *s)
{
	size_t n_alloc = 0, n_free = 0, n_sized = 0;

	for (size_t i = 0; i < s->n_sites; i++) {
		uint32_t c = s->sites[i].cookie;

		cr_assert(KIND(c) == MT_PYSITE_ALLOC || KIND(c) == MT_PYSITE_FREE);
		cr_assert_lt(REG(c), MT_REG_COUNT);
		cr_assert_eq(c & ~(MT_PYSITE_VIA_POOL | SIZE_BITS | 0xffffu), 0);
		/* After an allocation, pool->freeblock is the next block. */
		if (KIND(c) == MT_PYSITE_ALLOC)
			cr_assert_eq(c & MT_PYSITE_VIA_POOL, 0);
		/* A size only for allocations, one kind at a time, the
		 * value in the bits that kind uses. */
		if (KIND(c) == MT_PYSITE_FREE)
			cr_assert_eq(c & SIZE_BITS, 0);
		if (c & MT_PYSITE_SIZE_CONST) {
			cr_assert_eq(c & MT_PYSITE_SIZE_REG, 0);
			cr_assert(SIZE_VALUE(c) >= 1 && SIZE_VALUE(c) <= 512);
		} else if (c & MT_PYSITE_SIZE_REG) {
			cr_assert_lt(SIZE_VALUE(c), MT_REG_COUNT);
			cr_assert_neq(SIZE_VALUE(c), MT_REG_RSP);
		} else {
			cr_assert_eq(c & SIZE_BITS, 0);
		}
		n_alloc += KIND(c) == MT_PYSITE_ALLOC;
		n_free += KIND(c) == MT_PYSITE_FREE;
		n_sized += (c & SIZE_BITS) != 0;
		if (i)
			cr_assert_gt(s->sites[i].vaddr, s->sites[i - 1].vaddr,
				     "not sorted or repeated at %#" PRIx64,
				     s->sites[i].vaddr);
	}
	cr_assert_eq(s->n_alloc, n_alloc);
	cr_assert_eq(s->n_free, n_free);
	cr_assert_eq(s->n_sized, n_sized);
}

Test(pymalloc_sites, debian_python311_is_the_research_list)
{
	struct research *r = calloc(1, sizeof(*r));
	struct pymalloc_sites s;
	char id[64], want[64];

	if (access(DEBIAN_PYTHON, R_OK))
		cr_skip_test("%s is not installed", DEBIAN_PYTHON);
	cr_assert_not_null(r);
	read_research(r);
	cr_assert_eq(pymalloc_sites_find(DEBIAN_PYTHON, &s), 0);
	check_well_formed(&s);

	build_id_of(DEBIAN_PYTHON, id, sizeof(id));
	if (strcmp(id, r->build_id)) {
		/* Another build: the list does not apply, the order of
		 * magnitude still should. */
		cr_assert_geq(s.n_alloc, 100, "%zu alloc sites", s.n_alloc);
		cr_assert_geq(s.n_free, 30, "%zu free sites", s.n_free);
		snprintf(want, sizeof(want), "%s", r->build_id);
		pymalloc_sites_free(&s);
		free(r);
		cr_skip_test("%s has build-id %s, the research list is for %s: "
			     "only the counts were checked", DEBIAN_PYTHON, id,
			     want);
	}
	cr_assert_eq(s.n_sites, r->n, "%zu sites, the research list has %zu",
		     s.n_sites, r->n);
	for (size_t i = 0; i < r->n; i++) {
		const struct pymalloc_site *got = &s.sites[i], *want = &r->sites[i];

		cr_assert_eq(got->vaddr, want->vaddr, "site %zu at %#" PRIx64
			     ", expected %#" PRIx64, i, got->vaddr, want->vaddr);
		cr_assert_eq(got->cookie & ~SIZE_BITS, want->cookie,
			     "site %#" PRIx64 ": cookie %#x, expected %#x",
			     got->vaddr, got->cookie, want->cookie);
		cr_assert_eq(got->offset, want->offset);
	}
	cr_assert_eq(s.n_alloc, 171);
	cr_assert_eq(s.n_free, 48);
	cr_assert_eq(s.new_pool_vaddr, RESEARCH_NEW_POOL, "new pool at %#" PRIx64,
		     s.new_pool_vaddr);
	cr_assert_eq(s.new_pool_offset, RESEARCH_NEW_POOL - RESEARCH_LOAD_BASE);
	pymalloc_sites_free(&s);
	free(r);
}

/* The cookie of the site at vaddr, which must be there. */
static uint32_t cookie_at(const struct pymalloc_sites *s, uint64_t vaddr)
{
	for (size_t i = 0; i < s->n_sites; i++)
		if (s->sites[i].vaddr == vaddr)
			return s->sites[i].cookie;
	cr_assert_fail("no site at %#" PRIx64, vaddr);
	return 0;
}

/*
 * The requested size at the allocation sites, as the fallback to the raw
 * allocator next to each tells it (checked by hand against objdump, see
 * find_sizes). The counts are lower bounds: a better rule may know more.
 */
Test(pymalloc_sites, debian_python311_requested_sizes)
{
	struct research *r = calloc(1, sizeof(*r));
	struct pymalloc_sites s;
	size_t n_const = 0, n_reg = 0;
	char id[64];

	if (access(DEBIAN_PYTHON, R_OK))
		cr_skip_test("%s is not installed", DEBIAN_PYTHON);
	cr_assert_not_null(r);
	read_research(r);
	build_id_of(DEBIAN_PYTHON, id, sizeof(id));
	if (strcmp(id, r->build_id)) {
		free(r);
		cr_skip_test("%s is another build than the research list's",
			     DEBIAN_PYTHON);
	}
	free(r);
	cr_assert_eq(pymalloc_sites_find(DEBIAN_PYTHON, &s), 0);
	/* _PyObject_Malloc: malloc(size ? size : 1), size in %rsi */
	cr_assert_eq(cookie_at(&s, 0x4fb48f) & SIZE_BITS,
		     MT_PYSITE_SIZE_REG | MT_REG_RSI << MT_PYSITE_SIZE_SHIFT);
	/* PyLong_FromLong: malloc(0x20) */
	cr_assert_eq(cookie_at(&s, 0x50d36a) & SIZE_BITS,
		     MT_PYSITE_SIZE_CONST | 32u << MT_PYSITE_SIZE_SHIFT);
	/* PyUnicode_FromString: %rsi spilled around the new pool call */
	cr_assert_eq(cookie_at(&s, 0x4fbae3) & SIZE_BITS,
		     MT_PYSITE_SIZE_REG | MT_REG_RSI << MT_PYSITE_SIZE_SHIFT);
	for (size_t i = 0; i < s.n_sites; i++) {
		n_const += !!(s.sites[i].cookie & MT_PYSITE_SIZE_CONST);
		n_reg += !!(s.sites[i].cookie & MT_PYSITE_SIZE_REG);
	}
	cr_assert_geq(n_const, 47, "%zu sites with a constant size", n_const);
	cr_assert_geq(n_reg, 95, "%zu sites with the size in a register", n_reg);
	pymalloc_sites_free(&s);
}

/* An x86-64 program without pymalloc: nothing found, an empty result. */
Test(pymalloc_sites, program_without_pymalloc)
{
	struct pymalloc_sites s;

	cr_assert_eq(pymalloc_sites_find("/bin/ls", &s), -ENOENT);
	cr_assert_null(s.sites);
	cr_assert_eq(s.n_sites + s.n_alloc + s.n_free + s.new_pool_vaddr, 0);
	pymalloc_sites_free(&s);
}

Test(pymalloc_sites, missing_file)
{
	struct pymalloc_sites s;

	cr_assert_eq(pymalloc_sites_find("/nonexistent/python", &s), -ENOENT);
	cr_assert_null(s.sites);
}

/* A temporary file holding len bytes of data. The caller unlinks it. */
static void write_temp(char *path, size_t path_len, const void *data, size_t len)
{
	int fd;

	snprintf(path, path_len, "/tmp/test_pymalloc_sites.XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* The whole of a file, in a malloc'd buffer. */
static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(path, O_RDONLY);

	cr_assert_geq(fd, 0, "cannot open %s", path);
	cr_assert_eq(fstat(fd, &st), 0);
	buf = malloc(st.st_size ? st.st_size : 1);
	cr_assert_not_null(buf);
	cr_assert_eq(read(fd, buf, st.st_size), st.st_size);
	close(fd);
	*len = st.st_size;
	return buf;
}

/* Scan len bytes of data from a file; return what pymalloc_sites_find
 * did, after checking that a failure leaves nothing behind. */
static int find_in(const void *data, size_t len)
{
	struct pymalloc_sites s;
	char path[64];
	int err;

	write_temp(path, sizeof(path), data, len);
	err = pymalloc_sites_find(path, &s);
	unlink(path);
	if (err) {
		cr_assert_lt(err, 0);
		cr_assert_null(s.sites);
		cr_assert_eq(s.n_sites, 0);
	} else {
		check_well_formed(&s);
	}
	pymalloc_sites_free(&s);
	return err;
}

Test(pymalloc_sites, not_elf)
{
	const char text[] = "#!/bin/sh\necho this is not an ELF file\n";

	cr_assert_eq(find_in(text, sizeof(text) - 1), -ENOEXEC);
	cr_assert_eq(find_in("", 0), -ENOEXEC);
	cr_assert_eq(find_in("\x7f" "ELF", 4), -ENOEXEC);
}

Test(pymalloc_sites, directory)
{
	struct pymalloc_sites s;

	cr_assert_lt(pymalloc_sites_find("/tmp", &s), 0);
	cr_assert_null(s.sites);
}

/* A valid ELF file for another machine, or 32-bit. */
Test(pymalloc_sites, not_x86_64)
{
	size_t len;
	uint8_t *ls = slurp("/bin/ls", &len);

	ls[18] = 183;	/* e_machine = EM_AARCH64 */
	ls[19] = 0;
	cr_assert_eq(find_in(ls, len), -ENOEXEC);
	ls[18] = 62;	/* back to EM_X86_64 ... */
	ls[4] = 1;	/* ... but ELFCLASS32 */
	cr_assert_eq(find_in(ls, len), -ENOEXEC);
	free(ls);
}

/* Cut anywhere: the headers, the code, the section table at the end. */
static void check_truncations(const char *path)
{
	size_t len;
	uint8_t *buf = slurp(path, &len);
	const size_t cuts[] = { 1, 16, 63, 64, 65, 1024, 4096 + 7, len / 4,
				len / 2, len - 4096, len - 64, len - 1 };

	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		int err;

		if (cuts[i] >= len)
			continue;
		err = find_in(buf, cuts[i]);
		cr_assert(err < 0 && err != -ENOENT,
			  "%s cut to %zu bytes: %d", path, cuts[i], err);
	}
	free(buf);
}

Test(pymalloc_sites, truncated_files)
{
	check_truncations("/bin/ls");
	if (!access(DEBIAN_PYTHON, R_OK))
		check_truncations(DEBIAN_PYTHON);
}

/* Section headers intact, but the code they describe beyond the end of
 * the file. */
Test(pymalloc_sites, code_beyond_end_of_file)
{
	size_t len;
	uint8_t *ls = slurp("/bin/ls", &len);
	Elf64_Ehdr eh;
	bool patched = false;

	memcpy(&eh, ls, sizeof(eh));
	cr_assert_leq(eh.e_shoff + (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr), len);
	for (size_t i = 0; i < eh.e_shnum; i++) {
		uint8_t *at = ls + eh.e_shoff + i * sizeof(Elf64_Shdr);
		Elf64_Shdr sh;

		memcpy(&sh, at, sizeof(sh));
		if (!(sh.sh_flags & SHF_EXECINSTR))
			continue;
		sh.sh_size = len;	/* from its offset on: past the end */
		memcpy(at, &sh, sizeof(sh));
		patched = true;
	}
	cr_assert(patched, "/bin/ls has no code section");
	cr_assert_eq(find_in(ls, len), -ENOEXEC);
	free(ls);
}

/*
 * Random bytes written over the ELF header, the program and section
 * headers and the code: whatever comes back, no crash (and, under the
 * sanitizers, no bad access).
 */
Test(pymalloc_sites, corrupted_files)
{
	size_t len;
	uint8_t *ls = slurp("/bin/ls", &len);
	uint8_t *copy = malloc(len);
	uint32_t seed = 12345;
	uint64_t shoff;

	cr_assert_not_null(copy);
	memcpy(&shoff, ls + 0x28, sizeof(shoff));	/* e_shoff */
	for (int round = 0; round < 150; round++) {
		memcpy(copy, ls, len);
		for (int k = 0; k < 8; k++) {
			size_t at;

			seed = seed * 1103515245 + 12345;
			/* the ELF header, the section table, or anywhere */
			switch (seed >> 30) {
			case 0:
				at = (seed >> 8) % 64;
				break;
			case 1:
				at = shoff < len ? shoff + (seed >> 8) % (len - shoff)
						 : (seed >> 8) % len;
				break;
			default:
				at = (seed >> 4) % len;
				break;
			}
			seed = seed * 1103515245 + 12345;
			copy[at] = (uint8_t)(seed >> 16);
		}
		find_in(copy, len);
	}
	free(copy);
	free(ls);
}
