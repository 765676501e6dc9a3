// SPDX-License-Identifier: MIT
/* The kernel types cut at build time (user/kernel_btf.c): used only on the
 * kernel they were cut from, and on this machine, which built them, used. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "kernel_btf.h"

/* Two ELF notes, as /sys/kernel/notes holds them: "Linux" (type 6, a
 * 4-byte descriptor), then GNU's build ID (type 3, 20 bytes). */
static const unsigned char notes[] = {
	6, 0, 0, 0, 4, 0, 0, 0, 6, 0, 0, 0, 'L', 'i', 'n', 'u', 'x', 0, 0, 0,
	1, 2, 3, 4,
	4, 0, 0, 0, 20, 0, 0, 0, 3, 0, 0, 0, 'G', 'N', 'U', 0,
	0x4a, 0x5a, 0x9b, 0x0a, 0xff, 0xb6, 0x6c, 0x43, 0x7a, 0xbc,
	0xd4, 0x55, 0xd2, 0x73, 0x8a, 0xf8, 0x79, 0x98, 0x5f, 0xa9,
};

Test(kernel_btf, the_same_kernel_is_recognised)
{
	cr_assert(kernel_btf_same_kernel(notes, sizeof(notes), 5516713, notes, sizeof(notes),
					 5516713));
}

Test(kernel_btf, another_build_id_is_another_kernel)
{
	unsigned char other[sizeof(notes)];

	memcpy(other, notes, sizeof(notes));
	other[sizeof(other) - 1] ^= 1;
	cr_assert_not(kernel_btf_same_kernel(other, sizeof(other), 5516713, notes,
					     sizeof(notes), 5516713));
}

Test(kernel_btf, another_btf_size_is_another_kernel)
{
	cr_assert_not(kernel_btf_same_kernel(notes, sizeof(notes), 5516714, notes,
					     sizeof(notes), 5516713));
}

Test(kernel_btf, notes_without_a_build_id_prove_nothing)
{
	/* The "Linux" note alone: two kernels could both have it. */
	cr_assert_not(kernel_btf_same_kernel(notes, 24, 5516713, notes, 24, 5516713));
	/* A build-ID note cut short. */
	cr_assert_not(kernel_btf_same_kernel(notes, sizeof(notes) - 4, 5516713, notes,
					     sizeof(notes) - 4, 5516713));
}

Test(kernel_btf, garbage_sizes_are_refused_not_followed)
{
	unsigned char bad[sizeof(notes)];

	memcpy(bad, notes, sizeof(notes));
	/* The first note's name size: four gigabytes less one. */
	bad[0] = bad[1] = bad[2] = bad[3] = 0xff;
	cr_assert_not(kernel_btf_same_kernel(bad, sizeof(bad), 1, bad, sizeof(bad), 1));
	cr_assert_not(kernel_btf_same_kernel(notes, 0, 0, notes, 0, 0));
}

/* The build cut the types from this machine's kernel (Makefile), so here
 * they must be taken, and hold BTF: a build that stopped cutting them, or
 * a check that stopped recognising the kernel, fails this. */
Test(kernel_btf, this_machine_gets_its_own_types)
{
	struct kernel_btf kb;
	unsigned char magic[2] = { 0 };
	int err;
	FILE *f;

	if (access("/sys/kernel/btf/vmlinux", R_OK))
		cr_skip_test("this kernel has no BTF: nothing was cut");
	err = kernel_btf_open(&kb);
	cr_assert_eq(err, 0, "kernel_btf_open: %s", strerror(-err));
	cr_assert_not_null(kernel_btf_path(&kb));
	f = fopen(kernel_btf_path(&kb), "r");
	cr_assert_not_null(f);
	cr_assert_eq(fread(magic, 1, 2, f), 2);
	fclose(f);
	/* BTF's magic, 0xeb9f, little-endian. */
	cr_assert(magic[0] == 0x9f && magic[1] == 0xeb);
	kernel_btf_close(&kb);
	cr_assert_null(kernel_btf_path(&kb));
}

Test(kernel_btf, full_means_the_kernels_own)
{
	struct kernel_btf kb;

	setenv("MEMTRACE_KERNEL_BTF", "full", 1);
	cr_assert_eq(kernel_btf_open(&kb), -ENOENT);
	cr_assert_null(kernel_btf_path(&kb));
	kernel_btf_close(&kb);
	unsetenv("MEMTRACE_KERNEL_BTF");
}
