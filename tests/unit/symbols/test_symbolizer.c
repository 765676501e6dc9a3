// SPDX-License-Identifier: MIT
/*
 * The symbolizer, checked against what the test process knows about
 * itself from elsewhere (self.h): its own functions' addresses, the
 * dynamic loader (dladdr, dl_iterate_phdr) and the layout of assembly
 * written there. The maps parser's tests are ../proc/test_proc_maps.c.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "symbols/elf_symbols.h"
#include "proc/proc_maps.h"
#include "proc/target_file.h"
#include "symbols/symbolizer.h"
#include "self.h"

static struct symbolizer *new_symbolizer(void)
{
	struct symbolizer *s;

	cr_assert_eq(symbolizer_new(&s), 0);
	return s;
}

static void resolve_ok(struct symbolizer *s, pid_t pid, uint64_t pc, bool ret,
		       struct sym_frame *f)
{
	int err = symbolizer_resolve(s, pid, pc, ret, f);

	cr_assert_eq(err, 0, "resolve %#lx: %d", (unsigned long)pc, err);
	cr_assert_eq(f->address, pc);
}

static void expect_function(const struct sym_frame *f, const char *name, uint64_t offset)
{
	cr_assert_not_null(f->function, "no function at %#lx, expected %s",
			   (unsigned long)f->address, name);
	cr_assert_str_eq(f->function, name);
	cr_assert_eq(f->offset, offset, "%s+%#lx, expected +%#lx", f->function,
		     (unsigned long)f->offset, (unsigned long)offset);
}

Test(symbolizer, own_function)
{
	uint64_t pc = ADDR(symbolizer_test_known_function) + 2;
	struct loader_view v = loader_view_of(pc);
	struct symbolizer *s = new_symbolizer();
	char exe[PATH_MAX];
	struct sym_frame f;

	self_exe(exe, sizeof(exe));
	cr_assert_eq(symbolizer_add_pid(s, getpid()), 0);
	resolve_ok(s, getpid(), pc, false, &f);
	expect_function(&f, "symbolizer_test_known_function", 2);
	cr_assert_str_eq(f.module, base_of(exe));
	cr_assert_not_null(f.module_path);
	cr_assert_str_eq(f.module_path, exe);
	cr_assert_eq(f.module_offset, v.file_offset);
	/* The test is built with -g: file and line as gdb says. (Not
	 * addr2line: binutils 2.40 names the including .c for code of a
	 * function defined in a header, self.h here, under DWARF 5.) */
	{
		char cmd[PATH_MAX + 64], out[PATH_MAX + 128], file[PATH_MAX], expect[PATH_MAX + 32];
		bool found = false;
		int line = 0;
		FILE *p;

		snprintf(cmd, sizeof(cmd), "gdb -nx -batch -ex 'info line *%#lx' '%s' 2>/dev/null",
			 (unsigned long)(pc - v.base), exe);
		p = popen(cmd, "r");
		cr_assert_not_null(p);
		while (fgets(out, sizeof(out), p))
			if (sscanf(out, "Line %d of \"%4095[^\"]\"", &line, file) == 2)
				found = true;
		pclose(p);
		cr_assert(found, "gdb knows no line at %#lx", (unsigned long)(pc - v.base));
		cr_assert_not_null(f.file);
		/* gdb's path may be relative to the compilation directory. */
		snprintf(expect, sizeof(expect), "/%s", file);
		cr_assert_geq(strlen(f.file), strlen(expect));
		cr_assert_str_eq(f.file + strlen(f.file) - strlen(expect), expect);
		cr_assert_eq(f.line, line);
	}

	/* Again: the same answer, from the same strings. */
	{
		struct sym_frame g;

		resolve_ok(s, getpid(), pc, false, &g);
		cr_assert_eq(g.function, f.function);
		cr_assert_eq(g.module, f.module);
	}
	symbolizer_free(s);
}

Test(symbolizer, libc_malloc)
{
	uint64_t pc = libc_malloc();
	struct symbolizer *s = new_symbolizer();
	struct sym_frame f;
	Dl_info info;

	cr_assert(dladdr((void *)(uintptr_t)pc, &info));
	cr_assert_eq((uint64_t)(uintptr_t)info.dli_saddr, pc);
	cr_assert(is_malloc_name(info.dli_sname), "dladdr says %s", info.dli_sname);

	cr_assert_eq(symbolizer_add_pid(s, getpid()), 0);
	for (uint64_t off = 0; off <= 5; off += 5) {
		resolve_ok(s, getpid(), pc + off, false, &f);
		cr_assert(is_malloc_name(f.function), "got %s", f.function);
		cr_assert_eq(f.offset, off);
		cr_assert_str_eq(f.module, "libc.so.6");
		cr_assert_str_eq(base_of(f.module_path), base_of(info.dli_fname));
		cr_assert_eq(f.module_offset, loader_view_of(pc + off).file_offset);
	}
	symbolizer_free(s);
}

Test(symbolizer, return_address_at_function_end)
{
	uint64_t end = ADDR(symbolizer_test_asm_next);
	struct symbolizer *s = new_symbolizer();
	struct sym_frame f;

	cr_assert_eq(end, ADDR(symbolizer_test_asm_sized) + 4);
	cr_assert_eq(symbolizer_add_pid(s, getpid()), 0);

	/* A call as the last instruction: the return address is the next
	 * function's first byte, but the frame is the caller's. */
	resolve_ok(s, getpid(), end, true, &f);
	expect_function(&f, "symbolizer_test_asm_sized", 4);
	cr_assert_eq(f.module_offset, loader_view_of(end).file_offset);

	resolve_ok(s, getpid(), end, false, &f);
	expect_function(&f, "symbolizer_test_asm_next", 0);
	symbolizer_free(s);
}

Test(symbolizer, symbol_extents)
{
	uint64_t outer = ADDR(symbolizer_test_asm_outer);
	struct symbolizer *s = new_symbolizer();
	pid_t me = getpid();
	struct sym_frame f;

	cr_assert_eq(ADDR(symbolizer_test_asm_gap_after),
		     ADDR(symbolizer_test_asm_gap_before) + 8);
	cr_assert_eq(ADDR(symbolizer_test_asm_inner), outer + 4);
	cr_assert_eq(symbolizer_add_pid(s, me), 0);

	/* Past a sized function, before the next: nobody's. */
	resolve_ok(s, me, ADDR(symbolizer_test_asm_gap_before) + 5, false, &f);
	cr_assert_null(f.function, "got %s", f.function);
	cr_assert_not_null(f.module_path);
	resolve_ok(s, me, ADDR(symbolizer_test_asm_gap_before) + 3, false, &f);
	expect_function(&f, "symbolizer_test_asm_gap_before", 3);

	/* Without a size: up to the next symbol. */
	resolve_ok(s, me, ADDR(symbolizer_test_asm_unsized) + 7, false, &f);
	expect_function(&f, "symbolizer_test_asm_unsized", 7);
	resolve_ok(s, me, ADDR(symbolizer_test_asm_unsized) + 8, false, &f);
	expect_function(&f, "symbolizer_test_asm_after_unsized", 0);

	/* An inner symbol, and the outer one around it. */
	resolve_ok(s, me, outer + 5, false, &f);
	expect_function(&f, "symbolizer_test_asm_inner", 1);
	resolve_ok(s, me, outer + 6, false, &f);
	expect_function(&f, "symbolizer_test_asm_outer", 6);
	resolve_ok(s, me, outer + 15, false, &f);
	expect_function(&f, "symbolizer_test_asm_outer", 15);
	symbolizer_free(s);
}

Test(symbolizer, address_in_no_mapping)
{
	struct symbolizer *s = new_symbolizer();
	struct sym_frame f;

	cr_assert_eq(symbolizer_add_pid(s, getpid()), 0);
	/* Below mmap_min_addr: nothing can be mapped there. */
	cr_assert_eq(symbolizer_resolve(s, getpid(), 0x10, false, &f), -ENOENT);
	cr_assert_str_eq(f.module, "[unknown]");
	cr_assert_null(f.function);
	cr_assert_null(f.module_path);
	cr_assert_eq(f.address, 0x10);
	cr_assert_eq(symbolizer_resolve(s, getpid(), 0, true, &f), -ENOENT);
	cr_assert_str_eq(f.module, "[unknown]");
	symbolizer_free(s);
}

static pid_t unused_pid(void)
{
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0)
		_exit(0);
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	return pid;
}

Test(symbolizer, process_that_does_not_exist)
{
	struct symbolizer *s = new_symbolizer();
	pid_t pid = unused_pid();
	struct proc_maps m;
	struct sym_frame f;

	cr_assert_eq(symbolizer_add_pid(s, pid), -ESRCH);
	cr_assert_eq(symbolizer_resolve(s, pid, ADDR(symbolizer_test_known_function),
					false, &f), -ENOENT);
	cr_assert_str_eq(f.module, "[unknown]");
	cr_assert_eq(proc_maps_read(pid, &m), -ESRCH);
	symbolizer_free(s);
}

Test(symbolizer, special_and_anonymous_mappings)
{
	struct symbolizer *s = new_symbolizer();
	size_t page = sysconf(_SC_PAGESIZE);
	char *anon = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int local = 0;
	struct sym_frame f;

	cr_assert(anon != MAP_FAILED);
	cr_assert_eq(symbolizer_add_pid(s, getpid()), 0);
	resolve_ok(s, getpid(), (uint64_t)(uintptr_t)anon + page + 3, false, &f);
	cr_assert_str_eq(f.module, "[anon]");
	cr_assert_null(f.module_path);
	cr_assert_null(f.function);

	resolve_ok(s, getpid(), (uint64_t)(uintptr_t)&local, false, &f);
	cr_assert_str_eq(f.module, "[stack]");
	cr_assert_null(f.function);

	resolve_ok(s, getpid(), getauxval(AT_SYSINFO_EHDR) + 16, false, &f);
	cr_assert_str_eq(f.module, "[vdso]");
	cr_assert_null(f.module_path);
	munmap(anon, 2 * page);
	symbolizer_free(s);
}

/* A read-only executable mapping of a file, as a loader would make. */
static uint64_t map_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	void *p;

	cr_assert(fd >= 0);
	cr_assert_eq(fstat(fd, &st), 0);
	*len = st.st_size;
	p = mmap(NULL, *len, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	cr_assert(p != MAP_FAILED);
	close(fd);
	return (uint64_t)(uintptr_t)p;
}

Test(symbolizer, rescans_for_new_mappings)
{
	struct symbolizer *s = new_symbolizer();
	struct timespec pause = { 0, 150 * 1000 * 1000 };
	uint64_t a, b;
	size_t alen, blen;
	struct sym_frame f;

	cr_assert_eq(symbolizer_add_pid(s, getpid()), 0);
	a = map_file("/bin/true", &alen);
	resolve_ok(s, getpid(), a + 100, false, &f);
	cr_assert_str_eq(f.module, "true");
	cr_assert_eq(f.module_offset, 100);

	/* Rescans are rate-limited: wait out the limit. */
	b = map_file("/bin/false", &blen);
	nanosleep(&pause, NULL);
	resolve_ok(s, getpid(), b + 200, false, &f);
	cr_assert_str_eq(f.module, "false");
	cr_assert_eq(f.module_offset, 200);

	munmap((void *)(uintptr_t)a, alen);
	munmap((void *)(uintptr_t)b, blen);
	symbolizer_free(s);
}

Test(symbolizer, second_scan_merges)
{
	struct symbolizer *s = new_symbolizer();
	size_t len, len2;
	uint64_t a, b;
	void *p;
	struct sym_frame f;

	a = map_file("/bin/true", &len);
	cr_assert_eq(symbolizer_add_pid(s, getpid()), 0);
	resolve_ok(s, getpid(), a + 10, false, &f);
	cr_assert_str_eq(f.module, "true");

	/* Unmapped: kept, for the stacks recorded while it was there. */
	munmap((void *)(uintptr_t)a, len);
	cr_assert_eq(symbolizer_add_pid(s, getpid()), 0);
	resolve_ok(s, getpid(), a + 10, false, &f);
	cr_assert_str_eq(f.module, "true");

	/* Something else mapped over it: replaced. */
	b = map_file("/bin/false", &len2);
	munmap((void *)(uintptr_t)b, len2);
	p = mmap((void *)(uintptr_t)a, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
		 MAP_FIXED_NOREPLACE, -1, 0);
	cr_assert_eq((uint64_t)(uintptr_t)p, a);
	cr_assert_eq(symbolizer_add_pid(s, getpid()), 0);
	resolve_ok(s, getpid(), a + 10, false, &f);
	cr_assert_str_eq(f.module, "[anon]");
	munmap(p, 4096);
	symbolizer_free(s);
}

Test(symbolizer, deleted_file)
{
	uint64_t malloc_off = loader_view_of(libc_malloc()).file_offset;
	struct symbolizer *s = new_symbolizer();
	char path[128], deleted[160];
	struct sym_frame f;
	size_t len, maplen;
	uint64_t base;
	void *libc;

	/* A copy of libc, mapped whole, then unlinked: only
	 * /proc/PID/map_files still reaches it. */
	libc = read_whole(loader_view_of(libc_malloc()).name, &len);
	temp_path(path, sizeof(path), "libc copy.so");
	write_file(path, libc, len);
	free(libc);
	base = map_file(path, &maplen);
	cr_assert_eq(unlink(path), 0);

	cr_assert_eq(symbolizer_add_pid(s, getpid()), 0);
	resolve_ok(s, getpid(), base + malloc_off + 1, false, &f);
	cr_assert_str_eq(f.module, base_of(path));
	snprintf(deleted, sizeof(deleted), "%s (deleted)", path);
	cr_assert_str_eq(f.module_path, deleted);
	cr_assert_eq(f.module_offset, malloc_off + 1);
	cr_assert(is_malloc_name(f.function), "got %s", f.function);
	cr_assert_eq(f.offset, 1);
	munmap((void *)(uintptr_t)base, maplen);
	symbolizer_free(s);
}

Test(symbolizer, reset_pid_keeps_frames_valid)
{
	uint64_t pc = ADDR(symbolizer_test_known_function);
	struct symbolizer *s = new_symbolizer();
	struct sym_frame f, g;

	cr_assert_eq(symbolizer_add_pid(s, getpid()), 0);
	resolve_ok(s, getpid(), pc, false, &f);
	cr_assert_eq(symbolizer_reset_pid(s, getpid()), 0);
	/* The strings of a frame outlive the mappings they came from. */
	cr_assert_str_eq(f.function, "symbolizer_test_known_function");
	cr_assert_not_null(f.module_path);
	/* And the process is read again when asked. */
	resolve_ok(s, getpid(), pc, false, &g);
	expect_function(&g, "symbolizer_test_known_function", 0);
	cr_assert_eq(symbolizer_reset_pid(s, 999999999), 0);
	symbolizer_free(s);
}

Test(symbolizer, resolves_after_exit)
{
	uint64_t malloc_here = libc_malloc(), base_here = libc_base_of(getpid());
	struct symbolizer *s = new_symbolizer();
	uint64_t base_there, pc;
	struct sym_frame f;
	pid_t child;

	cr_assert(base_here);
	cr_assert_eq(loader_view_of(malloc_here).base, base_here);
	child = sleeping_child(&base_there);
	pc = base_there + (malloc_here - base_here) + 2;

	cr_assert_eq(symbolizer_add_pid(s, child), 0);
	kill_and_reap(child);

	resolve_ok(s, child, pc, false, &f);
	cr_assert(is_malloc_name(f.function), "got %s", f.function);
	cr_assert_eq(f.offset, 2);
	cr_assert_str_eq(f.module, "libc.so.6");
	/* And still nothing where nothing was mapped. */
	cr_assert_eq(symbolizer_resolve(s, child, 0x10, false, &f), -ENOENT);
	symbolizer_free(s);
}

/* Maps read while the process lived, taken in after it exited (events
 * are handled late): its files are opened at the paths the maps name. */
Test(symbolizer, maps_read_before_exit)
{
	uint64_t malloc_here = libc_malloc(), base_here = libc_base_of(getpid());
	struct symbolizer *s = new_symbolizer();
	struct proc_maps maps;
	uint64_t base_there, pc;
	struct sym_frame f;
	pid_t child;

	cr_assert(base_here);
	child = sleeping_child(&base_there);
	pc = base_there + (malloc_here - base_here) + 2;
	cr_assert_eq(proc_maps_read(child, &maps), 0);
	kill_and_reap(child);

	cr_assert_eq(symbolizer_add_maps(s, child, &maps), 0);
	proc_maps_free(&maps);
	resolve_ok(s, child, pc, false, &f);
	cr_assert(is_malloc_name(f.function), "got %s", f.function);
	cr_assert_str_eq(f.module, "libc.so.6");
	/* No mappings: the process is gone. */
	cr_assert_eq(symbolizer_add_maps(s, child, &maps), -ESRCH);
	resolve_ok(s, child, pc, false, &f);
	cr_assert(is_malloc_name(f.function), "got %s", f.function);
	symbolizer_free(s);
}
