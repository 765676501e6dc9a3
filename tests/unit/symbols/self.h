/* SPDX-License-Identifier: MIT */
/*
 * What a symbols test process knows about itself from elsewhere than
 * memtrace: its own functions' addresses, the dynamic loader's view
 * (dladdr, dl_iterate_phdr) and the layout of the assembly below;
 * temporary files; and a child that maps libc, to look at. Shared by
 * test_symbolizer.c, test_elf_symbols.c and ../proc/test_proc_maps.c, each
 * its own program (the definitions here are made once in each).
 */
#ifndef MEMTRACE_TEST_SELF_H
#define MEMTRACE_TEST_SELF_H

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A C function with at least a few bytes of code. */
__attribute__((noinline)) void symbolizer_test_known_function(void)
{
	__asm__ volatile("nop; nop; nop; nop");
}

/*
 * Functions whose exact layout the test controls:
 *  - sized (4 bytes) directly followed by next;
 *  - gap_before (4 bytes), 4 bytes no symbol covers, gap_after;
 *  - unsized (8 bytes, no .size) directly followed by after_unsized;
 *  - outer (16 bytes) with inner (2 bytes) at outer+4.
 */
__asm__(".pushsection .text\n"
	".globl symbolizer_test_asm_sized\n"
	".type symbolizer_test_asm_sized, @function\n"
	"symbolizer_test_asm_sized:\n"
	"	nop; nop; nop; nop\n"
	".size symbolizer_test_asm_sized, 4\n"
	".globl symbolizer_test_asm_next\n"
	".type symbolizer_test_asm_next, @function\n"
	"symbolizer_test_asm_next:\n"
	"	nop; nop; nop; ret\n"
	".size symbolizer_test_asm_next, 4\n"
	".globl symbolizer_test_asm_gap_before\n"
	".type symbolizer_test_asm_gap_before, @function\n"
	"symbolizer_test_asm_gap_before:\n"
	"	nop; nop; nop; nop\n"
	".size symbolizer_test_asm_gap_before, 4\n"
	"	nop; nop; nop; nop\n"
	".globl symbolizer_test_asm_gap_after\n"
	".type symbolizer_test_asm_gap_after, @function\n"
	"symbolizer_test_asm_gap_after:\n"
	"	nop; nop; nop; ret\n"
	".size symbolizer_test_asm_gap_after, 4\n"
	".globl symbolizer_test_asm_unsized\n"
	".type symbolizer_test_asm_unsized, @function\n"
	"symbolizer_test_asm_unsized:\n"
	"	nop; nop; nop; nop; nop; nop; nop; nop\n"
	".globl symbolizer_test_asm_after_unsized\n"
	".type symbolizer_test_asm_after_unsized, @function\n"
	"symbolizer_test_asm_after_unsized:\n"
	"	nop; nop; nop; ret\n"
	".size symbolizer_test_asm_after_unsized, 4\n"
	".globl symbolizer_test_asm_outer\n"
	".type symbolizer_test_asm_outer, @function\n"
	"symbolizer_test_asm_outer:\n"
	"	nop; nop; nop; nop\n"
	".globl symbolizer_test_asm_inner\n"
	".type symbolizer_test_asm_inner, @function\n"
	"symbolizer_test_asm_inner:\n"
	"	nop; nop\n"
	".size symbolizer_test_asm_inner, 2\n"
	"	nop; nop; nop; nop; nop; nop; nop; nop; nop; ret\n"
	".size symbolizer_test_asm_outer, 16\n"
	".popsection\n");

void symbolizer_test_asm_sized(void);
void symbolizer_test_asm_next(void);
void symbolizer_test_asm_gap_before(void);
void symbolizer_test_asm_gap_after(void);
void symbolizer_test_asm_unsized(void);
void symbolizer_test_asm_after_unsized(void);
void symbolizer_test_asm_outer(void);
void symbolizer_test_asm_inner(void);

#define ADDR(fn) ((uint64_t)(uintptr_t)(fn))

/* Where the dynamic loader says an address is: which object, at which
 * load base, and at which offset in the object's file. */
struct loader_view {
	uint64_t addr;
	bool found;
	char name[PATH_MAX];	/* "" for the main program */
	uint64_t base;
	uint64_t file_offset;
};

static inline int find_in_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct loader_view *v = arg;

	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uint64_t start = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type != PT_LOAD || v->addr < start ||
		    v->addr >= start + ph->p_filesz)
			continue;
		v->found = true;
		snprintf(v->name, sizeof(v->name), "%s", info->dlpi_name);
		v->base = info->dlpi_addr;
		v->file_offset = ph->p_offset + (v->addr - start);
		return 1;
	}
	return 0;
}

static inline struct loader_view loader_view_of(uint64_t addr)
{
	struct loader_view v = { .addr = addr };

	dl_iterate_phdr(find_in_object, &v);
	cr_assert(v.found, "the loader knows no object at %#lx", (unsigned long)addr);
	return v;
}

static const char *base_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static inline void self_exe(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);

	cr_assert(n > 0);
	buf[n] = '\0';
}

/* libc's own definition: the test binary's malloc may be a sanitizer's. */
static inline uint64_t libc_function(const char *name)
{
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	void *volatile fn;

	cr_assert_not_null(libc);
	fn = dlsym(libc, name);
	cr_assert_not_null(fn);
	dlclose(libc);
	return (uint64_t)(uintptr_t)fn;
}

static inline uint64_t libc_malloc(void)
{
	return libc_function("malloc");
}

static inline bool is_malloc_name(const char *name)
{
	return name && (!strcmp(name, "malloc") || !strcmp(name, "__libc_malloc"));
}

static inline void temp_path(char *buf, size_t len, const char *what)
{
	snprintf(buf, len, "/tmp/memtrace-test-%d-%s", (int)getpid(), what);
}

static inline void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static inline void *read_whole(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	void *buf;

	cr_assert(fd >= 0);
	cr_assert_eq(fstat(fd, &st), 0);
	*len = st.st_size;
	buf = malloc(*len);
	cr_assert_not_null(buf);
	cr_assert_eq(read(fd, buf, *len), (ssize_t)*len);
	close(fd);
	return buf;
}

/* Start of the mapping of libc.so.6 at file offset 0 in pid, read here
 * with sscanf rather than through the code under test; 0 if none yet. */
static inline uint64_t libc_base_of(pid_t pid)
{
	char path[64], line[PATH_MAX + 128], file[PATH_MAX];
	unsigned long start, end, off, inode;
	uint64_t base = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	fp = fopen(path, "r");
	if (!fp)
		return 0;
	while (!base && fgets(line, sizeof(line), fp)) {
		file[0] = '\0';
		if (sscanf(line, "%lx-%lx %*s %lx %*s %lu %s", &start, &end, &off,
			   &inode, file) == 5 &&
		    off == 0 && !strcmp(base_of(file), "libc.so.6"))
			base = start;
	}
	fclose(fp);
	return base;
}

/* A child running sleep, once its loader has mapped libc (whose start
 * comes back in *libc_base). */
static inline pid_t sleeping_child(uint64_t *libc_base)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	pid_t child = fork();

	cr_assert(child >= 0);
	if (child == 0) {
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	*libc_base = 0;
	/* Until the loader has mapped libc in the new program. */
	for (int i = 0; i < 500 && !*libc_base; i++) {
		nanosleep(&pause, NULL);
		*libc_base = libc_base_of(child);
	}
	cr_assert(*libc_base, "no libc in the child");
	return child;
}

static inline void kill_and_reap(pid_t child)
{
	kill(child, SIGKILL);
	cr_assert_eq(waitpid(child, NULL, 0), child);
	cr_assert_eq(kill(child, 0), -1);
}

#endif /* MEMTRACE_TEST_SELF_H */
