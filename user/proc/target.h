/* SPDX-License-Identifier: MIT */
/*
 * The processes memtrace traces: checking a PID given with -p, and starting
 * a COMMAND so that the probes are in place before its main() runs.
 *
 * Every function returns 0 or a negative errno and writes a one-line
 * explanation for a person into `why` (when why_len > 0), which the caller
 * prints. Nothing here prints.
 */
#ifndef MEMTRACE_TARGET_H
#define MEMTRACE_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Does this process have what tracing needs (root or CAP_BPF + CAP_PERFMON
 * + CAP_SYS_PTRACE)? */
int target_check_privileges(char *why, size_t why_len);

/* Is pid a live user-space process? -ESRCH (no such process), -EINVAL
 * (kernel thread, zombie). */
int target_check_pid(pid_t pid, char *why, size_t why_len);

/* The process's command name (from /proc/PID/comm), "" if unknown. */
void target_comm(pid_t pid, char *buf, size_t len);

/* The process's resident set size in bytes (from /proc/PID/statm).
 * Returns 0, or a negative errno (-ENOENT: it has exited). */
int target_rss(pid_t pid, uint64_t *bytes);

/*
 * Start argv[0] (searched in PATH) with its arguments, and stop it at its
 * ELF entry point: the dynamic loader has mapped libc, and no code of the
 * program itself has run. The child is left stopped under ptrace; call
 * target_resume() once the probes are attached.
 */
int target_launch(char *const argv[], pid_t *pid, char *why, size_t why_len);

/* Let a launched child run (detach ptrace). */
int target_resume(pid_t pid);

/* A pidfd that becomes readable when pid exits. */
int target_pidfd(pid_t pid);

#endif /* MEMTRACE_TARGET_H */
