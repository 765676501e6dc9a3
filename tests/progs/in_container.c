// SPDX-License-Identifier: MIT
/*
 * Run a command the way a container runtime would: in new mount and PID
 * namespaces, with ROOTDIR as its root (pivot_root, the old root detached,
 * so that no path of the host is reachable from inside), and /proc of its
 * own PID namespace. For the tests of tracing processes in containers.
 *
 * Usage: in_container ROOTDIR COMMAND [ARG...]
 * Prints nothing; exits with the command's status (or 127/126 when it
 * cannot be run, 125 when the namespaces cannot be set up).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static int fail(const char *what)
{
	fprintf(stderr, "in_container: %s: %s\n", what, strerror(errno));
	return 125;
}

int main(int argc, char **argv)
{
	int status;
	pid_t child;

	if (argc < 3) {
		fprintf(stderr, "usage: in_container ROOTDIR COMMAND [ARG...]\n");
		return 125;
	}
	if (unshare(CLONE_NEWNS | CLONE_NEWPID))
		return fail("unshare");
	child = fork();
	if (child < 0)
		return fail("fork");
	if (child > 0) {
		/* The parent stays outside, as a runtime's shim does. */
		while (waitpid(child, &status, 0) < 0)
			if (errno != EINTR)
				return fail("waitpid");
		return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	/* PID 1 of the new namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return fail("make / private");
	if (mount(argv[1], argv[1], NULL, MS_BIND | MS_REC, NULL))
		return fail("bind ROOTDIR");
	if (chdir(argv[1]))
		return fail("chdir ROOTDIR");
	mkdir(".old_root", 0700);
	mkdir("proc", 0555);
	if (syscall(SYS_pivot_root, ".", ".old_root"))
		return fail("pivot_root");
	if (chdir("/"))
		return fail("chdir /");
	if (umount2("/.old_root", MNT_DETACH))
		return fail("detach the old root");
	rmdir("/.old_root");
	if (mount("proc", "/proc", "proc", 0, NULL))
		return fail("mount /proc");
	execv(argv[2], argv + 2);
	fprintf(stderr, "in_container: %s: %s\n", argv[2], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
