// SPDX-License-Identifier: MIT
/* What a tracer's syscall hooks cost a process it does not trace: a loop
 * of getppid() (a syscall no hook is for), then one of an anonymous mmap
 * and its munmap (the calls memtrace's mmap probes are for), each timed
 * inside. Usage: syscalls [N] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

static double ns_since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1e9 + (b.tv_nsec - a->tv_nsec);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	struct timespec a;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	printf("syscalls: %.1f ns per call\n", ns_since(&a) / n);

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n / 10; i++) {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);

		if (p == MAP_FAILED)
			return 1;
		munmap(p, 4096);
	}
	printf("maps: %.1f ns per mmap+munmap\n", ns_since(&a) / (n / 10));
	return 0;
}
