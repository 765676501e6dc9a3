// SPDX-License-Identifier: MIT
/* proc/target_file.c: opening files a traced process names. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <zlib.h>

#include "proc/proc_maps.h"
#include "proc/target_file.h"

static char dir[64];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_target_file.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static const char *at(const char *name)
{
	static char path[4][128];
	static int k;

	k = (k + 1) % 4;
	snprintf(path[k], sizeof(path[k]), "%s/%s", dir, name);
	return path[k];
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

TestSuite(target_file, .init = make_dir, .fini = remove_dir);

Test(target_file, regular_file_opens_others_never_do)
{
	int fd;

	write_file(at("plain"), "hello");
	fd = target_file_open_at(TARGET_FILE_OWN_ROOT, at("plain"), 0);
	cr_assert_geq(fd, 0, "%d", fd);
	cr_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);

	/* A FIFO with no writer would block a plain open() forever. */
	cr_assert_eq(mkfifo(at("fifo"), 0644), 0);
	cr_assert_eq(target_file_open_at(TARGET_FILE_OWN_ROOT, at("fifo"), 0), -ENOEXEC);
	cr_assert_eq(target_file_open_at(TARGET_FILE_OWN_ROOT, at("fifo"),
					 TARGET_FILE_FOLLOW), -ENOEXEC);
	cr_assert_eq(target_file_open_at(TARGET_FILE_OWN_ROOT, "/dev/zero", TARGET_FILE_FOLLOW),
		     -ENOEXEC);
	cr_assert_eq(target_file_open_at(TARGET_FILE_OWN_ROOT, dir, 0), -ENOEXEC);
	cr_assert_eq(target_file_open_at(TARGET_FILE_OWN_ROOT, at("absent"), 0), -ENOENT);
}

Test(target_file, symlinks_only_with_follow)
{
	int fd;

	write_file(at("real"), "x");
	cr_assert_eq(symlink(at("real"), at("link")), 0);
	cr_assert_eq(symlink("/dev/zero", at("zero")), 0);
	cr_assert_eq(target_file_open_at(TARGET_FILE_OWN_ROOT, at("link"), 0), -ENOEXEC);
	fd = target_file_open_at(TARGET_FILE_OWN_ROOT, at("link"), TARGET_FILE_FOLLOW);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(target_file_open_at(TARGET_FILE_OWN_ROOT, at("zero"), TARGET_FILE_FOLLOW),
		     -ENOEXEC);
}

/* Inside a process's root, an absolute symlink means that root's path, as
 * it does for the process: it cannot lead out to memtrace's files. */
Test(target_file, symlinks_stay_inside_a_root)
{
	int root, fd;
	char buf[16] = "";

	cr_assert_eq(mkdir(at("root"), 0755), 0);
	cr_assert_eq(mkdir(at("root/etc"), 0755), 0);
	write_file(at("root/etc/secret"), "inside");
	/* Outside the root, at the same path from "/": memtrace's own. */
	cr_assert_eq(symlink("/etc/secret", at("root/escape")), 0);
	cr_assert_eq(symlink("../../../../../../etc/secret", at("root/dotdot")), 0);
	root = open(at("root"), O_PATH | O_DIRECTORY);
	cr_assert_geq(root, 0);
	fd = target_file_open_at(root, "/escape", TARGET_FILE_FOLLOW);
	cr_assert_geq(fd, 0, "%d", fd);
	cr_assert_eq(pread(fd, buf, sizeof(buf) - 1, 0), 6);
	cr_assert_str_eq(buf, "inside");
	close(fd);
	fd = target_file_open_at(root, "/dotdot", TARGET_FILE_FOLLOW);
	cr_assert_geq(fd, 0, "%d", fd);
	close(fd);
	/* Magic links lead anywhere: refused. */
	cr_assert_eq(symlink("/proc/self/root/etc/passwd", at("root/magic")), 0);
	cr_assert_lt(target_file_open_at(root, "/magic", TARGET_FILE_FOLLOW), 0);
	cr_assert_eq(target_file_open_at(root, "relative", 0), -EINVAL);
	close(root);
}

Test(target_file, crc32_matches_zlib_and_is_bounded)
{
	static unsigned char data[200000];
	uint32_t crc;
	int fd;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 2654435761u >> 13);
	fd = open(at("data"), O_CREAT | O_RDWR, 0644);
	cr_assert_eq(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	cr_assert_eq(target_file_crc32(fd, &crc), 0);
	cr_assert_eq(crc, (uint32_t)crc32(0, data, sizeof(data)));
	close(fd);
	/* A huge sparse file is refused before a byte of it is read. */
	fd = open(at("sparse"), O_CREAT | O_RDWR, 0644);
	cr_assert_eq(ftruncate(fd, (off_t)TARGET_FILE_MAX_BYTES + 1), 0);
	cr_assert_eq(target_file_crc32(fd, &crc), -EFBIG);
	close(fd);
	cr_assert_eq(target_file_open_at(TARGET_FILE_OWN_ROOT, at("sparse"), 0), -EFBIG);
}

/* A child that maps a file, then sleeps. */
static pid_t child_mapping(const char *path, uint64_t *addr)
{
	int p[2];
	pid_t pid;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		void *m;
		int fd;

		/* Dies with the test, even one that failed half-way. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(path, O_RDONLY);
		m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
		if (write(p[1], &m, sizeof(m)) != sizeof(m))
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], addr, sizeof(*addr)), (ssize_t)sizeof(*addr));
	close(p[0]);
	return pid;
}

Test(target_file, mapped_file_is_the_one_mapped)
{
	struct proc_maps maps;
	const struct proc_map *m;
	struct stat st, mapped;
	uint64_t addr;
	pid_t child;
	int fd, root;

	write_file(at("lib.so"), "the mapped one");
	child = child_mapping(at("lib.so"), &addr);
	cr_assert_eq(stat(at("lib.so"), &mapped), 0);
	/* The file at the path is replaced, as a decoy would be (maps then
	 * says "lib.so (deleted)"). */
	cr_assert_eq(unlink(at("lib.so")), 0);
	write_file(at("lib.so"), "a decoy");

	cr_assert_eq(proc_maps_read(child, &maps), 0);
	m = proc_maps_find(&maps, addr);
	cr_assert_not_null(m);
	fd = target_file_open_mapped(child, m);
	cr_assert_geq(fd, 0, "%d", fd);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(st.st_ino, mapped.st_ino);
	close(fd);

	/* The maps path leads elsewhere now, in both views. */
	cr_assert(m->deleted);
	cr_assert_eq(target_file_view(child, m, &root), -ENOENT);

	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	/* Gone: map_files and the root with it; the path holds the decoy. */
	cr_assert_eq(target_file_open_mapped(child, m), -ENOENT);
	proc_maps_free(&maps);
}

Test(target_file, view_of_a_process_in_our_root)
{
	struct proc_maps maps;
	const struct proc_map *m;
	uint64_t addr;
	pid_t child;
	int root;

	write_file(at("lib.so"), "mapped");
	child = child_mapping(at("lib.so"), &addr);
	cr_assert_eq(proc_maps_read(child, &maps), 0);
	m = proc_maps_find(&maps, addr);
	cr_assert_not_null(m);
	cr_assert_eq(target_file_view(child, m, &root), 0);
	cr_assert_eq(root, TARGET_FILE_OWN_ROOT);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	proc_maps_free(&maps);
}
