// SPDX-License-Identifier: MIT
/* Which allocator an object is, by the functions it defines
 * (user/proc/alloc_target.c), and whose internal functions a map's stack
 * names (user/map_filter.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "map_filter.h"
#include "proc/alloc_target.h"

static bool defines(const char *name, void *ctx)
{
	for (const char *const *n = ctx; *n; n++)
		if (!strcmp(*n, name))
			return true;
	return false;
}

Test(alloc_target, kinds_by_symbols)
{
	const char *glibc[] = { "malloc", "free", "__libc_malloc", "gnu_get_libc_version", NULL };
	const char *jemalloc[] = { "malloc", "mallocx", "mallctl", "sdallocx", NULL };
	/* tcmalloc and mimalloc define __libc_malloc too. */
	const char *tcmalloc[] = { "malloc", "__libc_malloc", "tc_malloc", NULL };
	const char *mimalloc[] = { "malloc", "__libc_malloc", "mi_malloc", NULL };
	const char *other[] = { "malloc", "free", "calloc", "realloc", NULL };

	cr_assert_eq(alloc_kind_of(defines, glibc, true), ALLOC_GLIBC);
	cr_assert_eq(alloc_kind_of(defines, jemalloc, false), ALLOC_JEMALLOC);
	cr_assert_eq(alloc_kind_of(defines, tcmalloc, false), ALLOC_TCMALLOC);
	cr_assert_eq(alloc_kind_of(defines, mimalloc, false), ALLOC_MIMALLOC);
	cr_assert_eq(alloc_kind_of(defines, other, false), ALLOC_UNKNOWN);
	cr_assert_eq(alloc_kind_of(defines, other, true), ALLOC_MUSL);
	cr_assert_str_eq(alloc_kind_name(ALLOC_UNKNOWN), "unknown");
	cr_assert_str_eq(alloc_kind_name(ALLOC_JEMALLOC), "jemalloc");
}

Test(alloc_target, every_function_has_a_name)
{
	for (int f = 0; f < MT_FUNC_COUNT; f++)
		cr_assert_not_null(mt_func_names[f], "mt_func %d", f);
}

Test(map_filter, allocator_internal_names)
{
	cr_assert(map_filter_internal_name(ALLOC_JEMALLOC, "je_extent_alloc_mmap"));
	cr_assert(map_filter_internal_name(ALLOC_JEMALLOC, "os_pages_map.constprop.0"));
	cr_assert(map_filter_internal_name(ALLOC_TCMALLOC, "_Z20TCMalloc_SystemAllocmPmm"));
	cr_assert(map_filter_internal_name(ALLOC_MIMALLOC, "_mi_os_alloc"));
	cr_assert_not(map_filter_internal_name(ALLOC_JEMALLOC, "mmap_buffer"));
	cr_assert_not(map_filter_internal_name(ALLOC_GLIBC, "je_extent_alloc_mmap"));
	cr_assert_not(map_filter_internal_name(ALLOC_MIMALLOC, "main"));
}
