// SPDX-License-Identifier: MIT
/*
 * A test program that maps memory itself, from named functions, and knows
 * what it still holds: it writes that (its own ground truth) as JSON.
 *
 *   map_keep        5 x 64 KiB anonymous mmap, kept
 *   map_and_unmap   1 MiB mapped and unmapped again: nothing
 *   map_punched     256 KiB mapped, the middle 64 KiB unmapped: 192 KiB in 2
 *   map_grown       64 KiB mapped, then grown by mremap to 192 KiB: the
 *                   192 KiB belong to the mremap (in map_grown too)
 *   map_replaced    128 KiB mapped, the first 64 KiB replaced by a file
 *                   mapping (MAP_FIXED): 64 KiB left
 *   map_file        a file mapping: not memory the program allocated
 *   grow_brk        the program break moved up by 40 KiB (sbrk)
 *   shrink_brk      up by 48 KiB, then down by 16: 32 KiB left
 * It touches every page it keeps.
 *
 * Usage: mapper [--wait] [--mallocs] [--threads] TRUTH.json
 *   --wait     print "ready" and wait for a line on stdin before working
 *   --threads  last, in map_in_thread, 4 threads at once each map and unmap
 *              500 blocks of 64 KiB and keep 3 (written as "thread_maps")
 *   --mallocs  first, in malloc_heap, 40 blocks of 300 KiB (glibc maps each
 *              one with mmap) and 50,000 of 200 bytes (glibc grows its heap
 *              with brk for them), all kept: mappings the allocator makes
 *              inside malloc, none of them the program's own
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define KiB 1024UL

static void *volatile sink;

static void *anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	memset(p, 1, len);
	return p;
}

/* volatile: else the compiler may drop mallocs whose blocks nothing reads */
static void *volatile kept[50000];

__attribute__((noinline)) void malloc_heap(void)
{
	for (int i = 0; i < 40; i++)
		kept[i] = malloc(300 * KiB);
	for (int i = 40; i < 50000; i++)
		kept[i] = malloc(200);
}

__attribute__((noinline)) void map_keep(void)
{
	for (int i = 0; i < 5; i++)
		sink = anon(64 * KiB);
}

__attribute__((noinline)) void map_and_unmap(void)
{
	void *p = anon(1024 * KiB);

	munmap(p, 1024 * KiB);
}

__attribute__((noinline)) void map_punched(void)
{
	char *p = anon(256 * KiB);

	munmap(p + 96 * KiB, 64 * KiB);
	sink = p;
}

__attribute__((noinline)) void map_grown(void)
{
	void *p = anon(64 * KiB), *q;

	q = mremap(p, 64 * KiB, 192 * KiB, MREMAP_MAYMOVE);
	if (q == MAP_FAILED) {
		perror("mremap");
		exit(1);
	}
	memset(q, 2, 192 * KiB);
	sink = q;
}

__attribute__((noinline)) void map_replaced(int fd)
{
	char *p = anon(128 * KiB);

	if (mmap(p, 64 * KiB, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0) == MAP_FAILED) {
		perror("mmap MAP_FIXED");
		exit(1);
	}
	sink = p;
}

__attribute__((noinline)) void map_file(int fd)
{
	sink = mmap(NULL, 64 * KiB, PROT_READ, MAP_PRIVATE, fd, 0);
}

__attribute__((noinline)) void grow_brk(void)
{
	char *p = sbrk(40 * KiB);

	if (p == (void *)-1) {
		perror("sbrk");
		exit(1);
	}
	memset(p, 3, 40 * KiB);
	sink = p;
}

/* The break moved up, then partly back: 32 KiB are left of the 48. */
__attribute__((noinline)) void shrink_brk(void)
{
	char *p = sbrk(48 * KiB);

	if (p == (void *)-1 || sbrk(-16 * KiB) == (void *)-1) {
		perror("sbrk");
		exit(1);
	}
	memset(p, 4, 32 * KiB);
	sink = p;
}

#define THREADS 4
#define THREAD_ROUNDS 500
#define THREAD_KEEP 3

static pthread_barrier_t all_started;

/* Many threads inside mmap and munmap at the same time. */
__attribute__((noinline)) void *map_in_thread(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&all_started);
	for (int i = 0; i < THREAD_ROUNDS; i++) {
		char *p = anon(64 * KiB);

		if (i < THREAD_KEEP)
			memset(p, 5, 64 * KiB);
		else
			munmap(p, 64 * KiB);
	}
	return NULL;
}

static void map_in_threads(void)
{
	pthread_t t[THREADS];

	pthread_barrier_init(&all_started, NULL, THREADS);
	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, map_in_thread, NULL))
			exit(1);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
}

int main(int argc, char **argv)
{
	const char *truth = NULL;
	bool wait = false, mallocs = false, threads = false;
	char line[64];
	FILE *f;
	int fd;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--wait"))
			wait = true;
		else if (!strcmp(argv[i], "--mallocs"))
			mallocs = true;
		else if (!strcmp(argv[i], "--threads"))
			threads = true;
		else
			truth = argv[i];
	}
	if (!truth) {
		fprintf(stderr, "usage: mapper [--wait] [--mallocs] [--threads] TRUTH.json\n");
		return 2;
	}
	/* A file of 64 KiB to map: this program itself is bigger. */
	fd = open("/proc/self/exe", O_RDONLY);
	if (fd < 0)
		return 1;
	if (wait) {
		printf("ready\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			line[0] = '\0';
	}
	if (mallocs)
		malloc_heap();
	map_keep();
	map_and_unmap();
	map_punched();
	map_grown();
	map_replaced(fd);
	map_file(fd);
	grow_brk();
	shrink_brk();
	if (threads)
		map_in_threads();

	f = fopen(truth, "w");
	if (!f)
		return 1;
	fprintf(f, "{\"maps\": [\n"
		"  {\"function\": \"map_keep\", \"kind\": \"mmap\", \"bytes\": %lu, \"count\": 5},\n"
		"  {\"function\": \"map_and_unmap\", \"kind\": \"mmap\", \"bytes\": 0, \"count\": 0},\n"
		"  {\"function\": \"map_punched\", \"kind\": \"mmap\", \"bytes\": %lu, \"count\": 2},\n"
		"  {\"function\": \"map_grown\", \"kind\": \"mremap\", \"bytes\": %lu, \"count\": 1},\n"
		"  {\"function\": \"map_replaced\", \"kind\": \"mmap\", \"bytes\": %lu, \"count\": 1},\n"
		"  {\"function\": \"map_file\", \"kind\": \"mmap\", \"bytes\": 0, \"count\": 0},\n"
		"  {\"function\": \"grow_brk\", \"kind\": \"brk\", \"bytes\": %lu, \"count\": 1},\n"
		"  {\"function\": \"shrink_brk\", \"kind\": \"brk\", \"bytes\": %lu, \"count\": 1}\n"
		"]", 5 * 64 * KiB, 192 * KiB, 192 * KiB, 64 * KiB, 40 * KiB, 32 * KiB);
	if (threads)
		fprintf(f, ",\n\"thread_maps\": [\n"
			"  {\"function\": \"map_in_thread\", \"kind\": \"mmap\", \"bytes\": %lu, "
			"\"count\": %d}\n]", THREADS * THREAD_KEEP * 64 * KiB, THREADS * THREAD_KEEP);
	fprintf(f, "}\n");
	fclose(f);
	return 0;
}
