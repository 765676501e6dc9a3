// SPDX-License-Identifier: MIT
/*
 * Unit tests for the unwind loader's mapping lists: what a rescan keeps
 * (published into BPF maps made here: root, or CAP_BPF, needed; not the
 * probes' own), and what does not fit (rows in memory: no root).
 *
 * The process is made up: maps text naming a copy of libc, for a PID that
 * no longer exists, as when memtrace handles the events of a process that
 * has exited meanwhile.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "memtrace_unwind.h"
#include "proc/proc_maps.h"
#include "unwind/unwind_loader.h"

#define ROWS_CAP (1 << 20)

struct fixture {
	struct unwind_loader *ul;
	int rows_fd, maps_fd;
	char lib[128];			/* the copy of libc */
	struct proc_map text;		/* libc's code mapping in this process */
	struct stat st;			/* of the copy */
	pid_t pid;			/* exited */
};

static pid_t unused_pid(void)
{
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0)
		_exit(0);
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	return pid;
}

static void copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	char buf[65536];
	ssize_t n;

	cr_assert(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		cr_assert_eq(write(out, buf, n), n);
	cr_assert_eq(n, 0);
	close(in);
	close(out);
}

static void setup(struct fixture *f)
{
	struct proc_maps self;
	const char *found = NULL;

	memset(f, 0, sizeof(*f));
	f->rows_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "test_rows", sizeof(__u32),
				    sizeof(struct mt_unwind_row), ROWS_CAP,
				    &(struct bpf_map_create_opts){
					    .sz = sizeof(struct bpf_map_create_opts),
					    .map_flags = BPF_F_MMAPABLE });
	if (f->rows_fd < 0)
		cr_skip_test("cannot make BPF maps here (%s): needs root", strerror(errno));
	f->maps_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "test_mappings", sizeof(__u32),
				    sizeof(struct mt_proc_mappings), 16, NULL);
	cr_assert(f->maps_fd >= 0);
	cr_assert_eq(unwind_loader_new(&f->ul), 0);
	cr_assert_eq(unwind_loader_attach(f->ul, f->rows_fd, ROWS_CAP, f->maps_fd), 0);

	cr_assert_eq(proc_maps_read(getpid(), &self), 0);
	for (size_t i = 0; i < self.n && !found; i++) {
		const char *slash = strrchr(self.maps[i].path, '/');

		if (self.maps[i].perms[2] == 'x' && slash && !strcmp(slash, "/libc.so.6")) {
			f->text = self.maps[i];
			found = self.maps[i].path;
		}
	}
	cr_assert_not_null(found, "no libc.so.6 code mapping here");
	snprintf(f->lib, sizeof(f->lib), "/tmp/memtrace-test-%d-libc copy.so", (int)getpid());
	copy_file(found, f->lib);
	f->text.path = f->lib;
	proc_maps_free(&self);
	cr_assert_eq(stat(f->lib, &f->st), 0);
	f->pid = unused_pid();
}

static void teardown(struct fixture *f)
{
	unlink(f->lib);
	unwind_loader_free(f->ul);
	close(f->rows_fd);
	close(f->maps_fd);
}

/* Maps text: the copy of libc at [start, end), then extra lines. */
static void maps_of(const struct fixture *f, uint64_t start, uint64_t end,
		    const char *extra, struct proc_maps *out)
{
	char text[1024];
	int n;

	n = snprintf(text, sizeof(text), "%" PRIx64 "-%" PRIx64 " r-xp %08" PRIx64
		     " %02x:%02x %lu   %s\n%s", start, end, f->text.pgoff,
		     major(f->st.st_dev), minor(f->st.st_dev), (unsigned long)f->st.st_ino,
		     f->lib, extra);
	cr_assert(n > 0 && n < (int)sizeof(text));
	cr_assert_eq(proc_maps_parse(text, n, out), 0);
}

/* What the BPF unwinder would find for the process. */
static struct mt_proc_mappings published(const struct fixture *f)
{
	struct mt_proc_mappings m;
	__u32 key = f->pid;

	cr_assert_eq(bpf_map_lookup_elem(f->maps_fd, &key, &m), 0);
	return m;
}

static const struct mt_mapping *mapping_at(const struct mt_proc_mappings *m, uint64_t start)
{
	for (uint32_t i = 0; i < m->n; i++)
		if (m->m[i].start == start)
			return &m->m[i];
	cr_assert_fail("no mapping at %" PRIx64, start);
	return NULL;
}

/*
 * A mapping already known keeps its table when the process's maps are
 * read again, even if its file cannot be opened any more (the process
 * exited, the file is gone): the table belongs to the mapping, which has
 * not changed. A mapping that did change is looked at afresh.
 */
Test(unwind_loader, rescan_keeps_the_tables_it_has)
{
	struct mt_proc_mappings m;
	struct mt_mapping first;
	struct proc_maps maps;
	struct fixture f;
	uint64_t len, moved;

	setup(&f);
	len = f.text.end - f.text.start;
	/* First sight: the file is opened (by its path, the process being
	 * gone) and its table loaded. */
	maps_of(&f, f.text.start, f.text.end, "", &maps);
	cr_assert_eq(unwind_loader_sync(f.ul, f.pid, &maps), 0);
	proc_maps_free(&maps);
	m = published(&f);
	cr_assert_eq(m.n, 1);
	first = m.m[0];
	cr_assert(first.rows_len > 100, "libc's table has %u rows", first.rows_len);

	/* The file is out of reach now, and something else was mapped. */
	cr_assert_eq(unlink(f.lib), 0);
	maps_of(&f, f.text.start, f.text.end,
		"7ff000000000-7ff000001000 r-xp 00000000 00:00 0 \n", &maps);
	cr_assert_eq(unwind_loader_sync(f.ul, f.pid, &maps), 0);
	proc_maps_free(&maps);
	m = published(&f);
	cr_assert_eq(m.n, 2);
	cr_assert_eq(memcmp(mapping_at(&m, f.text.start), &first, sizeof(first)), 0);
	cr_assert_eq(mapping_at(&m, 0x7ff000000000)->rows_len, 0);

	/* The same file at another address is another mapping: its file
	 * must be opened, and cannot be. */
	moved = 0x100000000ULL;
	maps_of(&f, moved, moved + len, "", &maps);
	cr_assert_eq(unwind_loader_sync(f.ul, f.pid, &maps), 0);
	proc_maps_free(&maps);
	m = published(&f);
	cr_assert_eq(m.n, 1);
	cr_assert_eq(mapping_at(&m, moved)->rows_len, 0);
	teardown(&f);
}

/* No mappings: the process is gone, and what was published stays. */
Test(unwind_loader, exited_process_keeps_its_list)
{
	struct mt_proc_mappings m;
	struct proc_maps maps;
	struct fixture f;

	setup(&f);
	maps_of(&f, f.text.start, f.text.end, "", &maps);
	cr_assert_eq(unwind_loader_sync(f.ul, f.pid, &maps), 0);
	proc_maps_free(&maps);
	cr_assert_eq(proc_maps_parse("", 0, &maps), 0);
	cr_assert_eq(unwind_loader_sync(f.ul, f.pid, &maps), -ESRCH);
	proc_maps_free(&maps);
	m = published(&f);
	cr_assert_eq(m.n, 1);
	cr_assert(mapping_at(&m, f.text.start)->rows_len > 100);
	teardown(&f);
}

/*
 * Tables that do not fit the rows array are left out whole (their code is
 * then walked by frame pointers) and counted; the others are loaded. No
 * BPF: rows in memory, as the user-space walk alone uses them.
 */
Test(unwind_loader, tables_that_do_not_fit_are_counted)
{
	struct unwind_loader_stats st;
	struct unwind_loader *ul;
	struct mt_unwind_row *rows;
	size_t need, cap;

	cr_assert_eq(unwind_loader_new(&ul), 0);
	cr_assert_eq(unwind_loader_prepare(ul, getpid()), 0);
	need = unwind_loader_rows_needed(ul);
	cap = need / 2;
	rows = calloc(cap, sizeof(*rows));
	cr_assert_not_null(rows);
	cr_assert_eq(unwind_loader_attach_memory(ul, rows, cap), 0);
	unwind_loader_stats(ul, &st);
	cr_assert(st.objects >= 2, "%zu objects", st.objects);
	cr_assert(st.full >= 1, "%zu rows of %zu needed fitted, none left out", st.rows, need);
	cr_assert(st.rows > 0 && st.rows <= cap, "%zu rows loaded in %zu", st.rows, cap);
	cr_assert_eq(st.rows_cap, cap);
	cr_assert_eq(st.too_many_mappings, 0);
	unwind_loader_free(ul);
	free(rows);
}
