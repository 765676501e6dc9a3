// SPDX-License-Identifier: MIT
/*
 * Leaks COUNT blocks of SIZE bytes and exits; with ROLE and ROLES_FILE,
 * first appends "ROLE PID" to ROLES_FILE (see spawner.c). With --hold
 * (instead of a role) it prints "leaked" and waits for a line on stdin
 * before exiting; with --wait it also prints "ready" and waits for a line
 * before it leaks.
 *
 * Usage: leak_n SIZE COUNT [ROLE ROLES_FILE | --hold | --wait]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *volatile sink;

__attribute__((noinline)) static void leak(size_t size, long count)
{
	for (long i = 0; i < count; i++)
		sink = malloc(size);
}

int main(int argc, char **argv)
{
	char line[64];

	if (argc < 3) {
		fprintf(stderr, "usage: leak_n SIZE COUNT [ROLE ROLES_FILE | --hold | --wait]\n");
		return 2;
	}
	if (argc >= 5) {
		int fd = open(argv[4], O_WRONLY | O_APPEND | O_CREAT, 0644);
		int n = snprintf(line, sizeof(line), "%s %d\n", argv[3], getpid());

		if (fd < 0 || write(fd, line, n) != n)
			return 3;
		close(fd);
	}
	if (argc == 4 && !strcmp(argv[3], "--wait")) {
		printf("ready\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 0;
	}
	leak(strtoul(argv[1], NULL, 10), strtol(argv[2], NULL, 10));
	if (argc == 4 && (!strcmp(argv[3], "--hold") || !strcmp(argv[3], "--wait"))) {
		printf("leaked\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 0;
	}
	return 0;
}
