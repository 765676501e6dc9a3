// SPDX-License-Identifier: MIT
/*
 * Allocations at the bottom of deep call chains, built like distro code
 * (-O2 -fomit-frame-pointer): no frame pointer anywhere, so only a DWARF
 * unwinder can walk these stacks. Each allocation has a distinctive size so
 * that a test can put a gdb breakpoint on exactly it and compare gdb's
 * backtrace with memtrace's stack, frame by frame.
 *
 *   20-level recursion   malloc(20001)
 *   qsort callback       malloc(20002) inside libc's qsort
 *   pthread              malloc(20003) at depth 5 in a thread
 *   signal handler       malloc(20004) in a SIGUSR1 handler run by raise():
 *                        the stack goes through the kernel's signal frame
 *
 * Usage: deep [--wait]   (--wait: print "ready", wait for a line on stdin)
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *volatile sink;
static volatile int counter;

/* The work after each call keeps it from being a tail call: a tail call
 * leaves no frame on the stack (gdb re-creates one from DWARF call-site
 * information; no stack walker can). */
__attribute__((noinline)) void *recurse(int depth, size_t size)
{
	void *p;

	if (depth == 0) {
		p = malloc(size);
		counter++;
		return p;
	}
	p = recurse(depth - 1, size);
	counter += depth;
	return p;
}

__attribute__((noinline)) int compare_ints(const void *a, const void *b)
{
	static int done;
	int x = *(const int *)a, y = *(const int *)b;

	if (!done) {
		done = 1;
		sink = malloc(20002);
	}
	return (x > y) - (x < y);
}

__attribute__((noinline)) void sort_numbers(void)
{
	int v[64];

	for (int i = 0; i < 64; i++)
		v[i] = (i * 7919) % 64;
	qsort(v, 64, sizeof(v[0]), compare_ints);
	counter += v[3];
}

/* malloc is not async-signal-safe in general; here the signal comes from
 * raise() in plain code, never from inside malloc. */
__attribute__((noinline)) static void on_signal(int sig)
{
	sink = malloc(20004);
	counter += sig;
}

__attribute__((noinline)) void signal_sender(void)
{
	raise(SIGUSR1);
	counter++;
}

static void *thread_main(void *arg)
{
	sink = recurse(5, 20003);
	return arg;
}

int main(int argc, char **argv)
{
	pthread_t th;
	char line[16];

	if (argc > 1 && !strcmp(argv[1], "--wait")) {
		printf("ready\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}
	signal(SIGUSR1, on_signal);
	sink = recurse(20, 20001);
	sort_numbers();
	signal_sender();
	if (pthread_create(&th, NULL, thread_main, NULL) || pthread_join(th, NULL))
		return 1;
	printf("done\n");
	fflush(stdout);
	if (argc > 1 && !strcmp(argv[1], "--wait") && !fgets(line, sizeof(line), stdin))
		return 0;
	return 0;
}
