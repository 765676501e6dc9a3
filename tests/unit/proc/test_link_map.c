// SPDX-License-Identifier: MIT
/* The dynamic linker's lookup order (user/proc/link_map.c) and the
 * allocator malloc binds to (user/proc/alloc_target.c), read from this
 * test's own process: the dynamic linker itself says where malloc is
 * (dlsym, dladdr), the ground truth. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc/alloc_target.h"
#include "proc/link_map.h"
#include "proc/proc_maps.h"

static void real(const char *path, char *out)
{
	cr_assert_not_null(realpath(path, out), "%s", path);
}

Test(link_map, own_process_in_lookup_order)
{
	struct proc_maps maps = { 0 };
	struct link_map_list l;
	char exe[PATH_MAX], first[PATH_MAX];
	bool libc_seen = false, ldso_seen = false;

	cr_assert_eq(proc_maps_read(getpid(), &maps), 0);
	cr_assert_eq(link_map_read(getpid(), &maps, &l), 0);
	cr_assert_gt(l.n, 2);
	/* The executable first, libc and ld.so after it (objects loaded
	 * later with dlopen come after those). */
	real("/proc/self/exe", exe);
	real(l.objs[0]->path, first);
	cr_assert_str_eq(first, exe);
	for (size_t i = 1; i < l.n; i++) {
		libc_seen |= strstr(l.objs[i]->path, "libc.so.6") != NULL;
		ldso_seen |= strstr(l.objs[i]->path, "ld-linux") != NULL;
	}
	cr_assert(libc_seen);
	cr_assert(ldso_seen);
	link_map_free(&l);
	proc_maps_free(&maps);
}

Test(alloc_target, own_malloc_where_the_dynamic_linker_says)
{
	void *m = dlsym(RTLD_DEFAULT, "malloc");
	char want[PATH_MAX], got[PATH_MAX], why[256];
	struct alloc_target *at = calloc(1, sizeof(*at));
	Dl_info info;

	cr_assert_not_null(at);
	cr_assert(m && dladdr(m, &info) && info.dli_fname);
	real(info.dli_fname, want);
	cr_assert_eq(alloc_target_find(getpid(), at, why, sizeof(why)), 0, "%s", why);
	real(at->maps_path, got);
	cr_assert_str_eq(got, want);
	/* malloc and free have sites; each site is in the function. */
	cr_assert_neq(at->func_offset[MT_FUNC_MALLOC], 0);
	cr_assert_neq(at->func_offset[MT_FUNC_FREE], 0);
	for (size_t i = 0; i < at->nsites; i++) {
		cr_assert_geq(at->sites[i].probe_offset, at->sites[i].func_offset);
		cr_assert_lt(at->sites[i].probe_offset - at->sites[i].func_offset, 256);
		cr_assert_eq(MT_COOKIE_FUNC(at->sites[i].cookie), at->sites[i].func);
	}
	free(at);
}
