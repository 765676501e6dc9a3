/* SPDX-License-Identifier: MIT */
/*
 * The order in which the dynamic linker looks up a process's symbols:
 * the executable, then the LD_PRELOAD objects, then the libraries each
 * needs, breadth first (then ld.so itself). That order decides which
 * object a call to `malloc` lands in. It is read from the process's own
 * link-map list (r_debug.r_map, which the executable's DT_DEBUG points to:
 * what debuggers read), so it is the real order, not a guess.
 */
#ifndef MEMTRACE_LINK_MAP_H
#define MEMTRACE_LINK_MAP_H

#include <stddef.h>
#include <sys/types.h>

#include "proc_maps.h"

/* Longest link-map list followed (a corrupted list could be a cycle). */
#define LINK_MAP_MAX 4096

struct link_map_list {
	/* Each object's mapping (into the proc_maps given), in lookup
	 * order; objects with no file mapping (the vDSO) are left out. */
	const struct proc_map **objs;
	size_t n;
};

/*
 * Read pid's link-map list, naming each object by the mapping in maps
 * that holds its dynamic section. Returns 0, -ENOENT when the process has
 * no dynamic linker state (a static executable, or ld.so not done yet),
 * -EIO when its memory could not be read, or -ENOMEM. The caller frees
 * out->objs (its entries point into maps).
 */
int link_map_read(pid_t pid, const struct proc_maps *maps, struct link_map_list *out);

void link_map_free(struct link_map_list *l);

#endif /* MEMTRACE_LINK_MAP_H */
