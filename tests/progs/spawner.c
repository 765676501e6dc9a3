// SPDX-License-Identifier: MIT
/*
 * A process tree whose every member leaks a known number of blocks of a
 * size of its own, at once: on the line right after fork() returns, right
 * after vfork()+exec, in a child forked from a thread, in a grandchild
 * before and after it execs another program. Each member writes
 * "ROLE PID" to the roles file, so a test can check memtrace's count of
 * each size in each process against what that process really did.
 *
 *   role        size  count  how
 *   parent      1001     10  the process started
 *   child       1002     20  fork(), the next line
 *   grandchild  1003     30  fork() in child; then it execs EXEC_PROG,
 *                            which leaks 40 x 1004 (the 30 are dropped)
 *   vforked        -      -  vfork() + exec EXEC_PROG 50 x 1005
 *   thread_child 1006    60  fork() from a second thread
 *
 * Usage: spawner ROLES_FILE EXEC_PROG   (EXEC_PROG: build/progs/leak_n)
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

static void *volatile sink;
static const char *roles, *exec_prog;

static void say(const char *role)
{
	char line[64];
	int fd = open(roles, O_WRONLY | O_APPEND | O_CREAT, 0644);
	int n = snprintf(line, sizeof(line), "%s %d\n", role, getpid());

	if (fd >= 0 && write(fd, line, n) != n)
		_exit(3);
	close(fd);
}

__attribute__((noinline)) static void leak(size_t size, int count)
{
	for (int i = 0; i < count; i++)
		sink = malloc(size);
}

static void *thread_forks(void *arg)
{
	pid_t p = fork();

	if (p == 0) {
		leak(1006, 60);
		say("thread_child");
		_exit(0);
	}
	waitpid(p, NULL, 0);
	return arg;
}

int main(int argc, char **argv)
{
	pthread_t th;
	pid_t child, v;

	if (argc != 3) {
		fprintf(stderr, "usage: spawner ROLES_FILE EXEC_PROG\n");
		return 2;
	}
	roles = argv[1];
	exec_prog = argv[2];
	say("parent");
	leak(1001, 10);

	child = fork();
	if (child == 0) {
		pid_t g;

		leak(1002, 20);		/* the first line the child runs */
		say("child");
		g = fork();
		if (g == 0) {
			leak(1003, 30);
			say("grandchild");
			execl(exec_prog, exec_prog, "1004", "40", NULL);
			_exit(127);
		}
		waitpid(g, NULL, 0);
		_exit(0);
	}
	waitpid(child, NULL, 0);

	v = vfork();
	if (v == 0) {
		execl(exec_prog, exec_prog, "1005", "50", "vforked", roles, NULL);
		_exit(127);
	}
	waitpid(v, NULL, 0);

	if (pthread_create(&th, NULL, thread_forks, NULL))
		return 1;
	pthread_join(th, NULL);
	return 0;
}
