// SPDX-License-Identifier: MIT
/*
 * A function whose call frame information is wrong: bad_alloc's CFI says
 * its CFA is rsp + 2056 while it is rsp + 16, so an unwinder following it
 * reads its "return address" 2 KiB up the stack, in a buffer its caller
 * zeroed. A correct unwinder must not call that stack complete. It leaks
 * 64 blocks of 77777 bytes through bad_alloc.
 *
 * Usage: bad_cfi   prints "ready", waits for a line, leaks, prints "done",
 *                  waits for a line, exits
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *bad_alloc(size_t n);

__asm__(".text\n"
	".globl bad_alloc\n"
	".type bad_alloc, @function\n"
	"bad_alloc:\n"
	".cfi_startproc\n"
	"sub $8, %rsp\n"
	".cfi_def_cfa_offset 2056\n"	/* the lie: 16 */
	"call malloc@PLT\n"
	"add $8, %rsp\n"
	".cfi_def_cfa_offset 8\n"
	"ret\n"
	".cfi_endproc\n"
	".size bad_alloc, .-bad_alloc\n");

static void *sink[64];

__attribute__((noinline)) void outer(void)
{
	volatile char zeros[8192];

	memset((char *)zeros, 0, sizeof(zeros));
	for (int i = 0; i < 64; i++)
		sink[i] = bad_alloc(77777);
	zeros[0] = 1;
}

int main(void)
{
	char line[16];

	printf("ready\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	outer();
	printf("done\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 0;
	return 0;
}
