// SPDX-License-Identifier: MIT
/* Where a function's probes sit (user/proc/probe_site.c). The byte
 * sequences are the first instructions of Debian's builds of glibc,
 * jemalloc, tcmalloc and mimalloc (objdump -d), and hand-made cases. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proc/probe_site.h"

static struct probe_site site(const uint8_t *code, size_t len, unsigned int need)
{
	struct probe_site s;

	probe_site_find(code, len, need, &s);
	return s;
}

Test(probe_site, emulated_first_instruction_stays_at_entry)
{
	const uint8_t push_r12[] = { 0x41, 0x54, 0x55, 0x53 };	/* glibc malloc */
	const uint8_t push_rbp[] = { 0x55, 0x48, 0x89, 0xe5 };
	const uint8_t jmp[] = { 0xe9, 0x00, 0x00, 0x00, 0x00 };

	cr_assert_eq(site(push_r12, sizeof(push_r12), 1).offset, 0);
	cr_assert_eq(site(push_rbp, sizeof(push_rbp), 1).offset, 0);
	cr_assert_eq(site(jmp, sizeof(jmp), 1).offset, 0);
	cr_assert_eq(probe_site_skip(push_r12, sizeof(push_r12), 1), 0);
}

Test(probe_site, glibc_free_moves_past_test_to_je)
{
	/* glibc 2.36 free: test %rdi,%rdi; je rel32; push %rbp */
	const uint8_t free_236[] = { 0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0x00,
				     0x00, 0x00, 0x55 };
	/* with CET: endbr64; test %rdi,%rdi; je rel8 */
	const uint8_t free_cet[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x48, 0x85, 0xff,
				     0x74, 0x10 };

	cr_assert_eq(probe_site_skip(free_236, sizeof(free_236), 1), 3);
	cr_assert_eq(probe_site_skip(free_cet, sizeof(free_cet), 1), 7);
}

Test(probe_site, jemalloc_malloc_on_its_first_jump)
{
	/* jemalloc 5.3 malloc: cmp $0x1000,%rdi; ja +0x99; lea ...(%rip),%rdx */
	const uint8_t malloc_53[] = { 0x48, 0x81, 0xff, 0x00, 0x10, 0x00, 0x00,
				      0x0f, 0x87, 0x93, 0x00, 0x00, 0x00,
				      0x48, 0x8d, 0x15, 0x5c, 0x7f, 0x2c, 0x00 };
	struct probe_site s = site(malloc_53, sizeof(malloc_53), 1);

	cr_assert_eq(s.offset, 7);
	cr_assert_eq(s.arg_reg[0], MT_REG_RDI);
}

Test(probe_site, tcmalloc_malloc_past_a_rip_relative_load)
{
	/* tcmalloc 2.10 malloc: mov x(%rip),%rax; test %rax,%rax; jne */
	const uint8_t malloc_210[] = { 0x48, 0x8b, 0x05, 0x59, 0xab, 0x00, 0x00,
				       0x48, 0x85, 0xc0, 0x75, 0x75 };
	struct probe_site s = site(malloc_210, sizeof(malloc_210), 1);

	cr_assert_eq(s.offset, 10);
	cr_assert_eq(s.arg_reg[0], MT_REG_RDI);
}

Test(probe_site, mimalloc_malloc_with_the_size_moved)
{
	/* mimalloc 2.0.9 malloc: mov x(%rip),%rax; mov %rdi,%rsi;
	 * mov %fs:(%rax),%rdi; cmp $0x400,%rsi; ja */
	const uint8_t malloc_209[] = { 0x48, 0x8b, 0x05, 0x49, 0xb4, 0x00, 0x00,
				       0x48, 0x89, 0xfe, 0x64, 0x48, 0x8b, 0x38,
				       0x48, 0x81, 0xfe, 0x00, 0x04, 0x00, 0x00,
				       0x77, 0x29 };
	struct probe_site s = site(malloc_209, sizeof(malloc_209), 1);

	cr_assert_eq(s.offset, 0x15);
	cr_assert_eq(s.arg_reg[0], MT_REG_RSI);
	/* A probe that needs the second argument too cannot go there: the
	 * mov to %rsi destroyed it. */
	cr_assert_eq(site(malloc_209, sizeof(malloc_209), 3).offset, 0);
	/* And a free-like probe only skips when nothing moved. */
	cr_assert_eq(probe_site_skip(malloc_209, sizeof(malloc_209), 1), 0);
}

Test(probe_site, stops_at_stack_and_memory_writes)
{
	/* sub $8,%rsp; jmp: the return address is no longer at the top */
	const uint8_t sub_rsp[] = { 0x48, 0x83, 0xec, 0x08, 0xeb, 0x00 };
	/* mov %rdi,(%rsp); jmp: the return address overwritten */
	const uint8_t store[] = { 0x48, 0x89, 0x3c, 0x24, 0xeb, 0x00 };
	/* cmpb $0,x(%rip); push %r12: a read of memory is fine */
	const uint8_t cmpb[] = { 0x80, 0x3d, 0x01, 0x02, 0x14, 0x00, 0x00, 0x41, 0x54 };

	cr_assert_eq(site(sub_rsp, sizeof(sub_rsp), 1).offset, 0);
	cr_assert_eq(site(store, sizeof(store), 1).offset, 0);
	cr_assert_eq(site(cmpb, sizeof(cmpb), 1).offset, 7);
}

Test(probe_site, a_jump_back_into_the_skipped_code_keeps_the_entry)
{
	/* 0: cmp $0x10,%rdi; 4: ja +2; 6: nop; nop; 8: jmp back to 4:
	 * a probe on the ja would fire twice for one call. */
	const uint8_t loop[] = { 0x48, 0x83, 0xff, 0x10, 0x77, 0x02, 0x90, 0x90,
				 0xeb, 0xfa };
	/* The same with the jump going to the entry itself: fine. */
	const uint8_t to_entry[] = { 0x48, 0x83, 0xff, 0x10, 0x77, 0x02, 0x90, 0x90,
				     0xeb, 0xf6 };

	cr_assert_eq(site(loop, sizeof(loop), 1).offset, 0);
	cr_assert_eq(site(to_entry, sizeof(to_entry), 1).offset, 4);
}

Test(probe_site, unknown_code_keeps_the_entry)
{
	/* test %rdi,%rdi then mov: the mov is not emulated, nothing gained */
	const uint8_t test_mov[] = { 0x48, 0x85, 0xff, 0x48, 0x89, 0xfb };
	/* test %rdi,%rdi cut short */
	const uint8_t cut[] = { 0x48, 0x85 };
	/* syscall: not a register-only instruction */
	const uint8_t sys[] = { 0x0f, 0x05, 0xeb, 0x00 };

	cr_assert_eq(site(test_mov, sizeof(test_mov), 1).offset, 0);
	cr_assert_eq(site(cut, sizeof(cut), 1).offset, 0);
	cr_assert_eq(site(cut, 0, 1).offset, 0);
	cr_assert_eq(site(sys, sizeof(sys), 1).offset, 0);
}

Test(probe_site, this_libc_free)
{
	/* The libc this test runs on: the decision must match its bytes. */
	const uint8_t *code = (const uint8_t *)(uintptr_t)&free;
	size_t skip = probe_site_skip(code, 16, 1);

	if (code[0] == 0x48 && code[1] == 0x85 && code[2] == 0xff &&
	    (code[3] == 0x0f || (code[3] >= 0x70 && code[3] <= 0x7f)))
		cr_assert_eq(skip, 3);
	else
		cr_log_info("this libc's free starts %02x %02x %02x: skip %zu",
			    code[0], code[1], code[2], skip);
}
