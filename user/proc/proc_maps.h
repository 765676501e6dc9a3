/* SPDX-License-Identifier: MIT */
/*
 * The memory mappings of a process, as /proc/PID/maps lists them.
 */
#ifndef MEMTRACE_PROC_MAPS_H
#define MEMTRACE_PROC_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_map {
	uint64_t start;		/* first address */
	uint64_t end;		/* one past the last address */
	uint64_t pgoff;		/* file offset of start (not a file offset
				   for anonymous memory) */
	uint32_t dev_major;
	uint32_t dev_minor;
	uint64_t inode;		/* 0 for anonymous memory and "[vdso]" etc. */
	char perms[5];		/* "r-xp": r, w, x, then p(rivate) or s(hared) */
	bool deleted;		/* path ends with " (deleted)": the file was
				   unlinked or replaced after being mapped */
	const char *path;	/* as the kernel prints it: "" for anonymous
				   memory, "[heap]", "[stack]", "[vdso]"..., or a
				   file path, which may contain spaces and keeps
				   its " (deleted)" suffix */
};

struct proc_maps {
	struct proc_map *maps;	/* sorted by start */
	size_t n;
	char *text;		/* what the paths point into */
};

/*
 * Read /proc/PID/maps into *out, which the caller releases with
 * proc_maps_free(). Returns 0, -ESRCH when the process does not exist, or
 * another negative errno. A process that has exited but not been reaped
 * (and a kernel thread) gives 0 and no mappings.
 */
int proc_maps_read(pid_t pid, struct proc_maps *out);

/* The same from maps text already in memory (len bytes, need not end with
 * a NUL). Returns 0, -EINVAL when a line is not a maps line, or -ENOMEM. */
int proc_maps_parse(const char *text, size_t len, struct proc_maps *out);

/* The mapping holding addr, or NULL. */
const struct proc_map *proc_maps_find(const struct proc_maps *m, uint64_t addr);

/* Release what proc_maps_read/parse allocated; *m is then empty. */
void proc_maps_free(struct proc_maps *m);

/* Opening the file behind a mapping: proc/target_file.h. */

#endif /* MEMTRACE_PROC_MAPS_H */
