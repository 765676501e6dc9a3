// SPDX-License-Identifier: MIT
/*
 * The maps parser (user/proc/proc_maps.c), checked against hand-made
 * maps and against what the test process knows about itself from
 * elsewhere (../symbols/self.h): where the dynamic loader put its own
 * functions.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc/proc_maps.h"
#include "proc/target_file.h"
#include "../symbols/self.h"

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
