// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "proc_mem.h"

int proc_mem_open(pid_t pid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	return fd;
}

int proc_mem_read(int memfd, uint64_t addr, void *buf, size_t len)
{
	ssize_t n;

	/* pread takes a signed offset: kernel addresses are out of reach,
	 * and no user address is that high anyway. */
	if (addr > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - addr)
		return -EFAULT;
	if (!len)
		return 0;
	n = pread(memfd, buf, len, (off_t)addr);
	if (n < 0)
		return errno == EIO ? -EFAULT : -errno;
	/* Nothing at all: the process no longer has an address space. */
	if (n == 0)
		return -ESRCH;
	/* A range running into an unmapped page. */
	if ((size_t)n < len)
		return -EFAULT;
	return 0;
}
