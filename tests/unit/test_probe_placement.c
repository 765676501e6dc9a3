// SPDX-License-Identifier: MIT
/* Where the entry probe of a function sits (user/libc_target.c). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "proc/libc_target.h"

Test(probe_placement, emulated_first_instruction_stays_at_entry)
{
	const uint8_t push_r12[] = { 0x41, 0x54, 0x55, 0x53 };	/* glibc malloc */
	const uint8_t push_rbp[] = { 0x55, 0x48, 0x89, 0xe5 };
	const uint8_t jmp[] = { 0xe9, 0x00, 0x00, 0x00, 0x00 };

	cr_assert_eq(libc_target_probe_skip(push_r12, sizeof(push_r12)), 0);
	cr_assert_eq(libc_target_probe_skip(push_rbp, sizeof(push_rbp)), 0);
	cr_assert_eq(libc_target_probe_skip(jmp, sizeof(jmp)), 0);
}

Test(probe_placement, glibc_free_moves_past_test_to_je)
{
	/* glibc 2.36 free: test %rdi,%rdi; je rel32; push %rbp */
	const uint8_t free_236[] = { 0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0x00,
				     0x00, 0x00, 0x55 };
	/* with CET: endbr64; test %rdi,%rdi; je rel8 */
	const uint8_t free_cet[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x48, 0x85, 0xff,
				     0x74, 0x10 };

	cr_assert_eq(libc_target_probe_skip(free_236, sizeof(free_236)), 3);
	cr_assert_eq(libc_target_probe_skip(free_cet, sizeof(free_cet)), 7);
}

Test(probe_placement, unknown_code_keeps_the_entry)
{
	/* cmpb $0,x(%rip) (posix_memalign): not skippable, not emulated */
	const uint8_t cmpb[] = { 0x80, 0x3d, 0x01, 0x02, 0x14, 0x00, 0x00, 0x41, 0x54 };
	/* test %rdi,%rdi then mov: the mov is not emulated, nothing gained */
	const uint8_t test_mov[] = { 0x48, 0x85, 0xff, 0x48, 0x89, 0xfb };
	/* test %rdi,%rdi cut short */
	const uint8_t cut[] = { 0x48, 0x85 };

	cr_assert_eq(libc_target_probe_skip(cmpb, sizeof(cmpb)), 0);
	cr_assert_eq(libc_target_probe_skip(test_mov, sizeof(test_mov)), 0);
	cr_assert_eq(libc_target_probe_skip(cut, sizeof(cut)), 0);
	cr_assert_eq(libc_target_probe_skip(cut, 0), 0);
}

Test(probe_placement, this_libc_free)
{
	/* The libc this test runs on: the decision must match its bytes. */
	const uint8_t *code = (const uint8_t *)(uintptr_t)&free;
	size_t skip = libc_target_probe_skip(code, 16);

	if (code[0] == 0x48 && code[1] == 0x85 && code[2] == 0xff &&
	    (code[3] == 0x0f || (code[3] >= 0x70 && code[3] <= 0x7f)))
		cr_assert_eq(skip, 3);
	else
		cr_log_info("this libc's free starts %02x %02x %02x: skip %zu",
			    code[0], code[1], code[2], skip);
}
