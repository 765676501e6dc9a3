// SPDX-License-Identifier: MIT
/*
 * An allocator memtrace does not know, for its tests: preloaded, it gives
 * every program its malloc, calloc, realloc, posix_memalign, aligned_alloc
 * and free. Blocks come one after another out of one big mapping and are
 * never reused (free does nothing), so that it stays a few lines.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define ARENA (1UL << 30)
#define HEADER 16

static char *arena;
static size_t used;

static void *bump(size_t size, size_t align)
{
	size_t start, end;
	char *p;

	if (!arena) {
		void *m = mmap(NULL, ARENA, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		char *expected = NULL;

		if (m == MAP_FAILED)
			return NULL;
		if (!__atomic_compare_exchange_n(&arena, &expected, m, 0, __ATOMIC_SEQ_CST,
						 __ATOMIC_SEQ_CST))
			munmap(m, ARENA);
	}
	if (align < HEADER)
		align = HEADER;
	for (;;) {
		size_t old = __atomic_load_n(&used, __ATOMIC_RELAXED);

		start = (old + HEADER + align - 1) & ~(align - 1);
		end = start + (size ? size : 1);
		if (end > ARENA)
			return NULL;
		if (__atomic_compare_exchange_n(&used, &old, end, 0, __ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			break;
	}
	p = arena + start;
	memcpy(p - sizeof(size), &size, sizeof(size));
	return p;
}

void *malloc(size_t size)
{
	return bump(size, HEADER);
}

void *calloc(size_t n, size_t size)
{
	/* The mapping is zeroed and never reused. */
	if (size && n > SIZE_MAX / size)
		return NULL;
	return bump(n * size, HEADER);
}

void free(void *p)
{
	(void)p;
}

void *realloc(void *p, size_t size)
{
	size_t old;
	void *q;

	if (!p)
		return malloc(size);
	if (!size)
		return NULL;	/* freed, as glibc's realloc(p, 0) */
	memcpy(&old, (char *)p - sizeof(old), sizeof(old));
	q = bump(size, HEADER);
	if (q)
		memcpy(q, p, old < size ? old : size);
	return q;
}

int posix_memalign(void **out, size_t align, size_t size)
{
	void *p = bump(size, align);

	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *aligned_alloc(size_t align, size_t size)
{
	return bump(size, align);
}
