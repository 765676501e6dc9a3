// SPDX-License-Identifier: MIT
/*
 * The symbolizer and the maps parser, checked against what the test
 * process knows about itself from elsewhere (self.h): its own functions'
 * addresses, the dynamic loader (dladdr, dl_iterate_phdr) and the layout
 * of assembly written there.
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

/* Start of the mapping of libc.so.6 at file offset 0 in pid, read here
 * with sscanf rather than through the code under test; 0 if none yet. */
static uint64_t libc_base_of(pid_t pid)
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
static pid_t sleeping_child(uint64_t *libc_base)
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

static void kill_and_reap(pid_t child)
{
	kill(child, SIGKILL);
	cr_assert_eq(waitpid(child, NULL, 0), child);
	cr_assert_eq(kill(child, 0), -1);
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

/* --- proc_maps -------------------------------------------------------- */

static const char sample_maps[] =
	"55d4c8a00000-55d4c8a02000 r--p 00000000 fd:01 1835030                    /usr/bin/cat\n"
	"55d4c8a02000-55d4c8a07000 r-xp 00002000 fd:01 1835030                    /usr/bin/cat\n"
	"55d4c9b1e000-55d4c9b3f000 rw-p 00000000 00:00 0                          [heap]\n"
	"7f1c2a000000-7f1c2a021000 rw-p 00000000 00:00 0 \n"
	"7f1c2a200000-7f1c2a228000 r-xp 00028000 103:02 2623212                   /opt/my app/lib with spaces.so\n"
	"7f1c2a300000-7f1c2a301000 r-xp 00001000 08:11 77                         /tmp/jit code.so (deleted)\n"
	"7ffd6f3a9000-7ffd6f3ca000 rw-p 00000000 00:00 0                          [stack]\n"
	"7ffd6f3f6000-7ffd6f3f8000 r-xp 00000000 00:00 0                          [vdso]\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]";

Test(proc_maps, parse_sample)
{
	const struct proc_map *m;
	struct proc_maps maps;

	cr_assert_eq(proc_maps_parse(sample_maps, strlen(sample_maps), &maps), 0);
	cr_assert_eq(maps.n, 9);

	m = &maps.maps[1];
	cr_assert_eq(m->start, 0x55d4c8a02000);
	cr_assert_eq(m->end, 0x55d4c8a07000);
	cr_assert_eq(m->pgoff, 0x2000);
	cr_assert_eq(m->dev_major, 0xfd);
	cr_assert_eq(m->dev_minor, 1);
	cr_assert_eq(m->inode, 1835030);
	cr_assert_str_eq(m->perms, "r-xp");
	cr_assert_str_eq(m->path, "/usr/bin/cat");
	cr_assert(!m->deleted);

	cr_assert_str_eq(maps.maps[2].path, "[heap]");
	cr_assert_str_eq(maps.maps[3].path, "");
	cr_assert_eq(maps.maps[3].inode, 0);

	m = &maps.maps[4];
	cr_assert_str_eq(m->path, "/opt/my app/lib with spaces.so");
	cr_assert_eq(m->dev_major, 0x103);
	cr_assert_eq(m->dev_minor, 2);
	cr_assert_eq(m->pgoff, 0x28000);

	m = &maps.maps[5];
	cr_assert_str_eq(m->path, "/tmp/jit code.so (deleted)");
	cr_assert(m->deleted);

	cr_assert_str_eq(maps.maps[8].path, "[vsyscall]");
	cr_assert_eq(maps.maps[8].end, 0xffffffffff601000);

	m = proc_maps_find(&maps, 0x7f1c2a200000 + 0x1234);
	cr_assert_eq(m, &maps.maps[4]);
	cr_assert_null(proc_maps_find(&maps, 0x7f1c2a228000));
	cr_assert_null(proc_maps_find(&maps, 0x1000));
	cr_assert_eq(proc_maps_find(&maps, 0x55d4c8a00000), &maps.maps[0]);
	cr_assert_eq(proc_maps_find(&maps, 0xffffffffff600fff), &maps.maps[8]);
	proc_maps_free(&maps);
	cr_assert_eq(maps.n, 0);
}

Test(proc_maps, parse_rejects_garbage)
{
	const char *bad[] = {
		"hello world\n",
		"1000-2000 r-xp 00000000 fd:01\n",
		"2000-1000 r-xp 00000000 fd:01 5 /x\n",
		"1000-2000 r-xp 00000000 fd:01 5/x\n",
		"-1000-2000 r-xp 00000000 fd:01 5 /x\n",
		"1000-2000 r-x\n",
		"10000000000000000000-2000 r-xp 00000000 fd:01 5 /x\n",
	};
	struct proc_maps maps;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(proc_maps_parse(bad[i], strlen(bad[i]), &maps), -EINVAL,
			     "accepted: %s", bad[i]);
	cr_assert_eq(proc_maps_parse("", 0, &maps), 0);
	cr_assert_eq(maps.n, 0);
	proc_maps_free(&maps);

	/* Out of order: sorted anyway. */
	{
		const char *text = "3000-4000 r--p 0 00:00 0\n1000-2000 r--p 0 00:00 0\n";

		cr_assert_eq(proc_maps_parse(text, strlen(text), &maps), 0);
		cr_assert_eq(maps.n, 2);
		cr_assert_eq(maps.maps[0].start, 0x1000);
		cr_assert_eq(proc_maps_find(&maps, 0x3fff), &maps.maps[1]);
		proc_maps_free(&maps);
	}
}

Test(proc_maps, read_self)
{
	uint64_t addr = ADDR(symbolizer_test_known_function);
	const struct proc_map *m;
	struct proc_maps maps;
	char exe[PATH_MAX];

	self_exe(exe, sizeof(exe));
	cr_assert_eq(proc_maps_read(getpid(), &maps), 0);
	cr_assert(maps.n > 5);
	m = proc_maps_find(&maps, addr);
	cr_assert_not_null(m);
	cr_assert_str_eq(m->path, exe);
	cr_assert_eq(m->perms[2], 'x');
	cr_assert_eq(m->pgoff + (addr - m->start), loader_view_of(addr).file_offset);
	for (size_t i = 1; i < maps.n; i++)
		cr_assert(maps.maps[i - 1].end <= maps.maps[i].start);
	proc_maps_free(&maps);
}

/* Neither the process's root nor map_files outlive it: the file at the
 * path its maps named is taken if it has the mapping's device and inode,
 * and refused if not. */
Test(proc_maps, open_file_after_exit)
{
	struct proc_maps maps;
	struct proc_map other;
	const struct proc_map *m;
	uint64_t base;
	struct stat st;
	pid_t child;
	int fd;

	child = sleeping_child(&base);
	cr_assert_eq(proc_maps_read(child, &maps), 0);
	kill_and_reap(child);

	m = proc_maps_find(&maps, base);
	cr_assert_not_null(m);
	fd = target_file_open_mapped(child, m);
	cr_assert(fd >= 0, "error %d", fd);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_ino, m->inode);
	close(fd);

	other = *m;
	other.inode = m->inode + 1;
	cr_assert_eq(target_file_open_mapped(child, &other), -ENOENT);
	proc_maps_free(&maps);
}
