// SPDX-License-Identifier: MIT
/*
 * JIT-style code: machine code copied into an anonymous executable mapping
 * made after the tracer attached, with no unwind table anywhere. It calls
 * malloc itself.
 *
 *   with_fp:   the JIT code keeps a frame pointer (push %rbp; mov %rsp,%rbp),
 *              as JITs do: frame pointers must walk through it, and the
 *              DWARF unwinder take over again in the C code that called it.
 *              malloc(40001)
 *   without_fp: the JIT code points %rbp at a fake frame whose "return
 *              address" is 0x1234: the walk must stop at the JIT frame and
 *              count it, never report 0x1234 as a frame. malloc(40002)
 *
 * Usage: jit [--wait]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef void *(*jit_fn)(size_t size, void *(*alloc)(size_t));

static const unsigned char code_with_fp[] = {
	0x55,				/* push %rbp */
	0x48, 0x89, 0xe5,		/* mov %rsp,%rbp */
	0xff, 0xd6,			/* call *%rsi */
	0x5d,				/* pop %rbp */
	0xc3,				/* ret */
};

static const unsigned char code_without_fp[] = {
	0x68, 0x34, 0x12, 0x00, 0x00,	/* push $0x1234 (fake return address) */
	0x68, 0x78, 0x56, 0x00, 0x00,	/* push $0x5678 (fake saved rbp) */
	0x55,				/* push %rbp */
	0x48, 0x8d, 0x6c, 0x24, 0x08,	/* lea 0x8(%rsp),%rbp */
	0xff, 0xd6,			/* call *%rsi */
	0x5d,				/* pop %rbp */
	0x48, 0x83, 0xc4, 0x10,		/* add $0x10,%rsp */
	0xc3,				/* ret */
};

static void *volatile sink;
static volatile int counter;

__attribute__((noinline)) void call_jit(jit_fn fn, size_t size)
{
	sink = fn(size, malloc);
	counter++;
}

int main(int argc, char **argv)
{
	char line[16];
	unsigned char *mem;

	if (argc > 1 && !strcmp(argv[1], "--wait")) {
		printf("ready\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}
	mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	memcpy(mem, code_with_fp, sizeof(code_with_fp));
	memcpy(mem + 64, code_without_fp, sizeof(code_without_fp));
	/* Three rounds, apart: the first meets the new mapping before
	 * memtrace has read it (its stack is finished in user space), the
	 * later ones after (walked in BPF). */
	for (int i = 0; i < 3; i++) {
		call_jit((jit_fn)mem, 40001);
		call_jit((jit_fn)(mem + 64), 40002);
		usleep(300000);
	}
	printf("jit code at %p\ndone\n", (void *)mem);
	fflush(stdout);
	if (argc > 1 && !strcmp(argv[1], "--wait") && !fgets(line, sizeof(line), stdin))
		return 0;
	return 0;
}
