/* SPDX-License-Identifier: MIT */
/*
 * --cgroup PATH: checking that PATH is a cgroup v2 directory, its id (what
 * the kernel's cgroup structures carry: the directory's inode number), and
 * the processes in it and below.
 */
#ifndef MEMTRACE_CGROUP_H
#define MEMTRACE_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Is path a cgroup v2 directory? Its id in *id. Otherwise -ENOTDIR (or
 * -ENOENT) with one line in why that says where cgroup v2 is mounted here
 * (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts). */
int cgroup_check(const char *path, uint64_t *id, char *why, size_t why_len);

/* The processes of path's cgroup and of every cgroup below it. *out is
 * malloc'ed. */
int cgroup_procs(const char *path, pid_t **out, size_t *n);

/* Where a cgroup v2 hierarchy is mounted, from /proc/self/mountinfo
 * text; "" if none. Exposed for tests. */
void cgroup_v2_mount(const char *mountinfo, char *buf, size_t len);

#endif /* MEMTRACE_CGROUP_H */
