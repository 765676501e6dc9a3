// SPDX-License-Identifier: MIT
/*
 * BPF_LINK_CREATE for multi-uprobe links, by hand: libbpf 1.1 and the
 * installed kernel headers predate them, so the attribute layout is
 * spelled out here as the kernel defines it (union bpf_attr, link_create).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/bpf.h>

#include "uprobe_multi.h"

#define UPROBE_MULTI_RETURN 1u	/* BPF_F_UPROBE_MULTI_RETURN */

struct link_create_uprobe_multi {
	uint32_t prog_fd;
	uint32_t target_fd;
	uint32_t attach_type;
	uint32_t flags;
	uint64_t path;
	uint64_t offsets;
	uint64_t ref_ctr_offsets;
	uint64_t cookies;
	uint32_t cnt;
	uint32_t uprobe_flags;	/* UPROBE_MULTI_RETURN */
	uint32_t pid;
	uint32_t pad;
};

int uprobe_multi_attach(int prog_fd, pid_t pid, const char *path,
			const uint64_t *offsets, const uint64_t *cookies, size_t n,
			enum uprobe_multi_kind kind)
{
	struct link_create_uprobe_multi attr;
	long fd;

	if (n == 0 || n > UINT32_MAX)
		return -EINVAL;
	memset(&attr, 0, sizeof(attr));
	attr.prog_fd = prog_fd;
	attr.attach_type = kind == UPROBE_MULTI_SESSION ? MT_BPF_TRACE_UPROBE_SESSION
						       : MT_BPF_TRACE_UPROBE_MULTI;
	attr.path = (uint64_t)(uintptr_t)path;
	attr.offsets = (uint64_t)(uintptr_t)offsets;
	attr.cookies = (uint64_t)(uintptr_t)cookies;
	attr.cnt = (uint32_t)n;
	attr.uprobe_flags = kind == UPROBE_MULTI_RETURN ? UPROBE_MULTI_RETURN : 0;
	attr.pid = (uint32_t)pid;
	fd = syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	return fd < 0 ? -errno : (int)fd;
}
