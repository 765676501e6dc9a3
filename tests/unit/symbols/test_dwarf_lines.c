// SPDX-License-Identifier: MIT
/*
 * DWARF lines and inline chains, checked against addr2line (binutils) on
 * this very test program, built with -g: for every call site in it, the
 * return address - 1 gives the same functions (inlined ones included),
 * files and lines. Then hostile copies of the program (corrupt
 * .debug_line and .debug_info, references outside their sections), and
 * debug files that are FIFOs or devices: never a crash, never a hang.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <elfutils/libdwelf.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc/target_file.h"
#include "symbols/debug_file.h"
#include "symbols/dwarf_lines.h"

/* An inline chain the comparison is sure to meet: dwarf_lines_test_outer
 * calls rand() from inside two functions inlined into it. */
static inline __attribute__((always_inline)) int dwarf_lines_test_inner(int x)
{
	return rand() + x;
}

static inline __attribute__((always_inline)) int dwarf_lines_test_middle(int x)
{
	return dwarf_lines_test_inner(x * 3) + 1;
}

__attribute__((noinline)) int dwarf_lines_test_outer(int x)
{
	return dwarf_lines_test_middle(x) * 2;
}

#define MAX_ADDRS 6000

static char *self_path(void)
{
	static char path[4096];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	cr_assert(n > 0);
	path[n] = '\0';
	return path;
}

/* Return addresses - 1 of the call instructions in exe, from objdump. */
static size_t all_call_sites(const char *exe, uint64_t *out, size_t max)
{
	char cmd[4200], line[512];
	bool after_call = false;
	size_t n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "objdump -d --no-show-raw-insn '%s'", exe);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	while (fgets(line, sizeof(line), p)) {
		unsigned long addr;
		char insn[32];

		if (sscanf(line, " %lx: %31s", &addr, insn) != 2)
			continue;
		if (after_call && n < max)
			out[n++] = addr - 1;
		after_call = !strncmp(insn, "call", 4);
	}
	pclose(p);
	return n;
}

/* Up to max of them, spread over the whole program, and every one in
 * dwarf_lines_test_outer (whose inline chain the test must meet). */
static size_t call_sites(const char *exe, uint64_t *out, size_t max)
{
	size_t all_max = 200000, n, step, k = 0;
	uint64_t *all = calloc(all_max, sizeof(*all)), outer;
	Dl_info info;

	cr_assert(dladdr((void *)dwarf_lines_test_outer, &info));
	outer = (uint64_t)(uintptr_t)dwarf_lines_test_outer - (uint64_t)(uintptr_t)info.dli_fbase;
	n = all_call_sites(exe, all, all_max);
	step = n > max ? (n + max - 2) / (max - 1) : 1;
	for (size_t i = 0; i < n && k < max; i++)
		if (i % step == 0 || (all[i] >= outer && all[i] < outer + 256))
			out[k++] = all[i];
	free(all);
	return k;
}

struct a2l_frame {
	char name[256];
	char where[512];
};

/* addr2line -a -f -i for each address: frames[i][0..counts[i]). */
static void addr2line(const char *exe, const uint64_t *addrs, size_t n,
		      struct a2l_frame (*frames)[8], size_t *counts)
{
	char in[] = "/tmp/memtrace-a2l-XXXXXX", cmd[4300], line[4400];
	ssize_t cur = -1;
	bool want_where = false;
	FILE *f, *p;
	int fd = mkstemp(in);

	cr_assert(fd >= 0);
	f = fdopen(fd, "w");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%#lx\n", (unsigned long)addrs[i]);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "addr2line -a -f -i -e '%s' < %s", exe, in);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	memset(counts, 0, n * sizeof(*counts));
	while (fgets(line, sizeof(line), p)) {
		char *disc;

		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "0x", 2) && !want_where) {
			cur++;
			continue;
		}
		cr_assert(cur >= 0 && (size_t)cur < n);
		if (!want_where) {
			if (counts[cur] < 8)
				snprintf(frames[cur][counts[cur]].name, 256, "%.255s", line);
		} else {
			disc = strstr(line, " (discriminator");
			if (disc)
				*disc = '\0';
			if (counts[cur] < 8)
				snprintf(frames[cur][counts[cur]].where, 512, "%.511s", line);
			counts[cur]++;
		}
		want_where = !want_where;
	}
	pclose(p);
	unlink(in);
}

/*
 * Where binutils and gdb disagree, gdb is asked: binutils 2.40 gives some
 * rows of a function defined in a header (a BPF skeleton's) the file of
 * the .c that includes it, where gdb and elfutils agree on the header.
 * True when gdb's "info line *addr" names our file (gdb's path may be
 * relative to the compilation directory) and line.
 */
static bool gdb_agrees(const char *exe, uint64_t addr, const char *where)
{
	char cmd[4400], line[4400], file[4200];
	bool agrees = false;
	int lineno;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "gdb -nx -batch -ex 'info line *%#lx' '%s' 2>/dev/null",
		 (unsigned long)addr, exe);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	while (fgets(line, sizeof(line), p)) {
		char expect[4300];
		size_t fl, wl = strlen(where), el;

		if (sscanf(line, "Line %d of \"%4199[^\"]\"", &lineno, file) != 2)
			continue;
		snprintf(expect, sizeof(expect), "/%s:%d", file, lineno);
		fl = strlen(expect);
		el = fl;
		agrees = wl >= el && !strcmp(where + wl - el, expect);
		(void)fl;
	}
	pclose(p);
	return agrees;
}

static void where_of(const struct dwarf_frame *f, char *buf, size_t size)
{
	if (!f->file)
		snprintf(buf, size, "??:0");
	else if (f->dir)
		snprintf(buf, size, "%s/%s:%d", f->dir, f->file, f->line);
	else
		snprintf(buf, size, "%s:%d", f->file, f->line);
}

static struct dwarf_lines *open_lines(const char *path)
{
	struct dwarf_lines *dl;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	cr_assert(fd >= 0);
	cr_assert_eq(dwarf_lines_open(fd, "/nonexistent", &dl), 0);
	return dl;
}

Test(dwarf_lines, every_call_site_as_addr2line_says)
{
	const char *exe = self_path();
	uint64_t *addrs = calloc(MAX_ADDRS, sizeof(*addrs));
	struct a2l_frame (*theirs)[8] = calloc(MAX_ADDRS, sizeof(*theirs));
	size_t *counts = calloc(MAX_ADDRS, sizeof(*counts));
	struct dwarf_lines *dl = open_lines(exe);
	size_t n = call_sites(exe, addrs, MAX_ADDRS), compared = 0, chains = 0, gdb_settled = 0;
	bool saw_test_chain = false;

	cr_assert_gt(n, 100);
	addr2line(exe, addrs, n, theirs, counts);
	for (size_t i = 0; i < n; i++) {
		struct dwarf_frame ours[DWARF_LINES_MAX_FRAMES];
		size_t k = dwarf_lines_lookup(dl, addrs[i], ours, DWARF_LINES_MAX_FRAMES);
		char where[4200];

		/* Where addr2line knows no line (code without DWARF: crt
		 * files, PLT stubs, libiberty.a; it may name the object file
		 * from the symbol table: "cp-demangle.o:?"), neither do we. */
		size_t wl = strlen(theirs[i][0].where);

		if (counts[i] == 1 && ((wl >= 2 && !strcmp(theirs[i][0].where + wl - 2, ":?")) ||
				       !strcmp(theirs[i][0].where, "??:0"))) {
			cr_expect(k == 0 || !ours[0].file, "%#lx", (unsigned long)addrs[i]);
			continue;
		}
		cr_assert_eq(k, counts[i], "%#lx: %zu frames, addr2line %zu (%s)",
			     (unsigned long)addrs[i], k, counts[i], theirs[i][0].name);
		for (size_t j = 0; j < k; j++) {
			where_of(&ours[j], where, sizeof(where));
			if (strcmp(where, theirs[i][j].where) && j == 0 &&
			    gdb_agrees(exe, addrs[i], where)) {
				gdb_settled++;
				continue;
			}
			cr_assert_str_eq(where, theirs[i][j].where, "%#lx frame %zu",
					 (unsigned long)addrs[i], j);
			/* The outermost name: addr2line takes it from the
			 * symbol table (clones: "f.constprop.0"), the symbolizer
			 * from the ELF symbol too. Inlined ones from DWARF. */
			if (j + 1 < k)
				cr_assert_str_eq(ours[j].name, theirs[i][j].name, "%#lx frame %zu",
						 (unsigned long)addrs[i], j);
		}
		if (k == 3 && !strcmp(ours[0].name, "dwarf_lines_test_inner") &&
		    !strcmp(ours[1].name, "dwarf_lines_test_middle") &&
		    !strcmp(ours[2].name, "dwarf_lines_test_outer"))
			saw_test_chain = true;
		chains += k > 1;
		compared++;
	}
	cr_assert_gt(compared, 100);
	cr_assert(saw_test_chain, "the inline chain of dwarf_lines_test_outer was not met");
	/* A handful at most: binutils is the reference, not gdb. */
	cr_assert_lt(gdb_settled, 20);
	fprintf(stderr, "dwarf_lines: %zu call sites compared, %zu with inlined frames, %zu settled by gdb",
		    compared, chains, gdb_settled);
	dwarf_lines_close(dl);
	free(addrs);
	free(theirs);
	free(counts);
}

Test(dwarf_lines, no_dwarf_and_not_elf)
{
	struct dwarf_lines *dl;
	int fd = open("/proc/self/cmdline", O_RDONLY);

	cr_assert_eq(dwarf_lines_open(fd, NULL, &dl), -ENOEXEC);
	cr_assert_null(dl);
	close(fd);
	cr_assert_eq(dwarf_lines_lookup(NULL, 0x1000, NULL, 0), 0);
	dwarf_lines_close(NULL);
}

/* --- Hostile files ------------------------------------------------------ */

struct section {
	uint64_t offset, size;
};

static struct section section_of(const char *path, const char *name)
{
	struct section out = { 0 };
	int fd = open(path, O_RDONLY);
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	Elf *elf;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	cr_assert_not_null(elf);
	cr_assert_eq(elf_getshdrstrndx(elf, &shstrndx), 0);
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		gelf_getshdr(scn, &sh);
		if (!strcmp(elf_strptr(elf, shstrndx, sh.sh_name), name))
			out = (struct section){ sh.sh_offset, sh.sh_size };
	}
	elf_end(elf);
	close(fd);
	cr_assert_gt(out.size, 16, "%s has no %s", path, name);
	return out;
}

static unsigned char *read_all(const char *path, size_t *len)
{
	struct stat st;
	unsigned char *buf;
	int fd = open(path, O_RDONLY);

	cr_assert(fd >= 0 && !fstat(fd, &st));
	buf = malloc(st.st_size);
	cr_assert_eq(pread(fd, buf, st.st_size, 0), st.st_size);
	close(fd);
	*len = st.st_size;
	return buf;
}

/* Every lookup on a mutated copy: it may fail, never crash or loop. */
static void lookups_survive(const unsigned char *buf, size_t len, const uint64_t *addrs,
			    size_t n)
{
	char path[] = "/tmp/memtrace-hostile-XXXXXX";
	struct dwarf_frame frames[DWARF_LINES_MAX_FRAMES];
	struct dwarf_lines *dl;
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	unlink(path);
	if (dwarf_lines_open(fd, "/nonexistent", &dl)) {
		close(fd);
		return;
	}
	for (size_t i = 0; i < n; i++)
		dwarf_lines_lookup(dl, addrs[i], frames, DWARF_LINES_MAX_FRAMES);
	dwarf_lines_close(dl);
}

static void mutate_and_look(const char *section, unsigned seed, int rounds)
{
	const char *exe = self_path();
	struct section sec = section_of(exe, section);
	uint64_t *addrs = calloc(MAX_ADDRS, sizeof(*addrs));
	size_t n = call_sites(exe, addrs, 400), len;
	unsigned char *orig = read_all(exe, &len), *buf = malloc(len);
	static const uint32_t words[] = { 0xffffffff, 0x7fffffff, 0xfffffff0, 0x80000000 };

	srand(seed);
	for (int r = 0; r < rounds; r++) {
		memcpy(buf, orig, len);
		for (int k = 0; k < 1 + r % 8; k++) {
			uint64_t at = sec.offset + (uint64_t)rand() % (sec.size - 4);

			if (rand() % 2)
				buf[at] = rand();
			else	/* An offset or length pointing past the section. */
				memcpy(buf + at, &words[rand() % 4], 4);
		}
		lookups_survive(buf, len, addrs, n);
	}
	/* The unit lengths themselves, far past the section's end. */
	memcpy(buf, orig, len);
	memcpy(buf + sec.offset, &words[1], 4);
	lookups_survive(buf, len, addrs, n);
	memcpy(buf + sec.offset, &words[2], 4);
	lookups_survive(buf, len, addrs, n);
	free(orig);
	free(buf);
	free(addrs);
}

Test(dwarf_lines, corrupt_debug_line)
{
	mutate_and_look(".debug_line", 1, 40);
}

Test(dwarf_lines, corrupt_debug_info)
{
	mutate_and_look(".debug_info", 2, 40);
}

Test(dwarf_lines, corrupt_debug_abbrev)
{
	mutate_and_look(".debug_abbrev", 3, 20);
}

/* --- Debug files that are no regular files ------------------------------ */

static void run(const char *cmd)
{
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* A copy of this program whose .gnu_debuglink names dir/prog.debug, which
 * is then made a FIFO or a link to a device. */
static void stripped_copy(const char *dir, const char *exe)
{
	char cmd[9000];

	snprintf(cmd, sizeof(cmd),
		 "cp '%s' %s/prog && objcopy --only-keep-debug %s/prog %s/prog.debug && "
		 "objcopy --strip-debug --remove-section=.note.gnu.build-id "
		 "--add-gnu-debuglink=%s/prog.debug %s/prog",
		 exe, dir, dir, dir, dir, dir);
	run(cmd);
}

Test(debug_file, debuglink_to_fifo_or_device_is_no_debug_file)
{
	char dir[] = "/tmp/memtrace-dbglink-XXXXXX", path[4200], debug[4200], found[4200];

	/* A hang would be the bug: SIGALRM ends the test as a crash. */
	alarm(30);

	cr_assert_not_null(mkdtemp(dir));
	stripped_copy(dir, self_path());
	snprintf(path, sizeof(path), "%s/prog", dir);
	snprintf(debug, sizeof(debug), "%s/prog.debug", dir);
	/* The real one is found, by its CRC (no build ID). */
	cr_assert_eq(debug_file_find(path, DEBUG_FILE_ROOT, found, sizeof(found)), 0);
	cr_assert_str_eq(found, debug);

	/* A FIFO: opening it for reading would block until a writer came. */
	unlink(debug);
	cr_assert_eq(mkfifo(debug, 0600), 0);
	cr_assert_eq(debug_file_find(path, DEBUG_FILE_ROOT, found, sizeof(found)), -ENOENT);
	cr_assert_eq(target_file_open_at(TARGET_FILE_OWN_ROOT, debug, TARGET_FILE_FOLLOW), -ENOEXEC);

	/* A device, through a symlink. */
	unlink(debug);
	cr_assert_eq(symlink("/dev/zero", debug), 0);
	cr_assert_eq(debug_file_find(path, DEBUG_FILE_ROOT, found, sizeof(found)), -ENOENT);
	cr_assert_eq(target_file_open_at(TARGET_FILE_OWN_ROOT, debug, TARGET_FILE_FOLLOW), -ENOEXEC);

	snprintf(path, sizeof(path), "rm -rf %s", dir);
	run(path);
}

Test(debug_file, build_id_entry_that_is_a_fifo)
{
	char dir[] = "/tmp/memtrace-buildid-XXXXXX", cmd[9000], found[4200];
	const char *exe = self_path();
	uint8_t id[64];
	size_t len;
	char hex[129];
	int fd = open(exe, O_RDONLY);
	Elf *elf;

	/* A hang would be the bug: SIGALRM ends the test as a crash. */
	alarm(30);

	cr_assert_not_null(mkdtemp(dir));
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	{
		const void *p;
		ssize_t n = dwelf_elf_gnu_build_id(elf, &p);

		cr_assert_gt(n, 1);
		len = n;
		memcpy(id, p, len);
	}
	elf_end(elf);
	close(fd);
	for (size_t i = 0; i < len; i++)
		sprintf(hex + 2 * i, "%02x", id[i]);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/.build-id/%.2s && mkfifo %s/.build-id/%.2s/%s.debug",
		 dir, hex, dir, hex, hex + 2);
	run(cmd);
	cr_assert_eq(debug_file_find(exe, dir, found, sizeof(found)), -ENOENT);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	run(cmd);
}

Test(dwarf_lines, dwz_link_to_a_fifo_is_not_followed)
{
	char dir[] = "/tmp/memtrace-dwz-XXXXXX", cmd[9000], prog[4200];
	struct dwarf_lines *dl;
	FILE *f;
	int fd;

	/* A hang would be the bug: SIGALRM ends the test as a crash. */
	alarm(30);

	cr_assert_not_null(mkdtemp(dir));
	/* .gnu_debugaltlink: a path (here a FIFO) and a build ID that no
	 * file under the debug root has. libdw itself would open the path. */
	snprintf(cmd, sizeof(cmd), "mkfifo %s/alt && cp '%s' %s/prog", dir, self_path(), dir);
	run(cmd);
	snprintf(cmd, sizeof(cmd), "%s/altlink", dir);
	f = fopen(cmd, "w");
	fprintf(f, "%s/alt", dir);
	fputc(0, f);
	fwrite("0123456789abcdefghij", 1, 20, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "objcopy --add-section .gnu_debugaltlink=%s/altlink %s/prog",
		 dir, dir);
	run(cmd);
	snprintf(prog, sizeof(prog), "%s/prog", dir);
	fd = open(prog, O_RDONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(dwarf_lines_open(fd, dir, &dl), -ENOENT);
	close(fd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	run(cmd);
}
