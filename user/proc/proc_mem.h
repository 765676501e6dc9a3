/* SPDX-License-Identifier: MIT */
/*
 * Reading another process's memory through /proc/PID/mem, with errors
 * that say whether the range or the process is gone.
 */
#ifndef MEMTRACE_PROC_MEM_H
#define MEMTRACE_PROC_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* An fd reading the memory of process pid (/proc/PID/mem), or a negative
 * errno: -ESRCH when there is no such process. */
int proc_mem_open(pid_t pid);

/*
 * Read len bytes at addr of the process whose memory fd is memfd.
 * Returns 0, -EFAULT when any of the range is not mapped (or addr is not
 * a user address), -ESRCH when the process has exited, or another
 * negative errno.
 */
int proc_mem_read(int memfd, uint64_t addr, void *buf, size_t len);

#endif /* MEMTRACE_PROC_MEM_H */
