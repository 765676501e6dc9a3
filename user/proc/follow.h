/* SPDX-License-Identifier: MIT */
/*
 * Following the processes a traced process creates, race-free, with ptrace.
 *
 * Every thread of a traced process is attached with PTRACE_SEIZE and the
 * fork, vfork, clone and exec options. The kernel then stops each new
 * process before its first instruction; the `born` hook puts its probes in
 * place while it is stopped, and only then does it run: an allocation on
 * the line after fork() returns is seen. After an exec the process is
 * stepped from system call to system call until the dynamic loader sets
 * up thread-local storage (arch_prctl(ARCH_SET_FS), set_tid_address or
 * rseq): by then the new program and all its libraries are mapped and
 * none of its code (not even a library constructor) has run, and
 * `exec_ready` detects its libc and its Python again. Nothing is written
 * into the process, so a memtrace killed at any moment leaves its
 * processes running (the kernel detaches them).
 *
 * What it costs the traced processes (README, "Services"): a stop and a
 * resume per process and thread created, per exec (plus ~50 system-call
 * stops), and per signal delivered (the kernel stops the receiver and
 * memtrace passes the signal on). ptrace stops are invisible to the
 * processes' parents; a traced process's exit reaches its parent once
 * follow_handle() has seen it, so it must run promptly (on SIGCHLD).
 *
 * Nothing here prints; errors return a negative errno and a line in why.
 */
#ifndef MEMTRACE_FOLLOW_H
#define MEMTRACE_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct follow;

struct follow_hooks {
	void *ctx;
	/* The traced process parent created child (fork, vfork, or clone
	 * without CLONE_THREAD); child has not run an instruction and runs
	 * when this returns. Return false to let it go untraced. */
	bool (*born)(void *ctx, pid_t parent, pid_t child);
	/* pid exec'd and its new program is mapped, libraries included, with
	 * none of its code run. new_leader: a thread other than the leader
	 * called exec (pid's task is a new one). */
	void (*exec_ready)(void *ctx, pid_t pid, bool new_leader);
	/* pid's leader thread is exiting; its thread tid lives on. */
	void (*leader_exit)(void *ctx, pid_t pid, pid_t tid);
	/* pid's leader thread is exiting (all its threads, or only it): its
	 * memory can still be read, and is not once this returns. */
	void (*exiting)(void *ctx, pid_t pid);
};

struct follow_stats {
	uint64_t stops;		/* ptrace stops handled */
	uint64_t born;		/* processes created under ptrace */
	uint64_t threads;	/* threads created */
	uint64_t execs;
	uint64_t signals;	/* signals passed on to their receiver */
	uint64_t syscall_stops;	/* while stepping an exec to its libraries */
};

int follow_new(struct follow **out, const struct follow_hooks *hooks);
/* Let every traced process go (they run on). */
void follow_free(struct follow *f);

/*
 * Trace pid and every thread of it. -EPERM when another tracer (gdb,
 * strace) has it: why names that tracer. -ESRCH: gone.
 */
int follow_seize(struct follow *f, pid_t pid, char *why, size_t why_len);

/*
 * Start argv[0] (searched in PATH) traced, and stop it once its program
 * and libraries are mapped, before any of its code runs. It runs on
 * follow_release().
 */
int follow_launch(struct follow *f, char *const argv[], pid_t *pid, char *why, size_t why_len);
int follow_release(struct follow *f, pid_t pid);

/* Handle every stop that is waiting; call it on SIGCHLD. Returns the
 * number of stops handled. Also reaps memtrace's own exited children. */
int follow_handle(struct follow *f);

/* Is pid (a process) traced by f? */
bool follow_traces(const struct follow *f, pid_t pid);

void follow_get_stats(const struct follow *f, struct follow_stats *out);

/*
 * The processes whose parent is pid, now (from /proc/pid/task/ * /children,
 * so a child of any thread counts). *out is malloc'ed. For tracing a tree
 * that was running before memtrace: trace pid first (its new children
 * are then born under ptrace), then these.
 */
int follow_children(pid_t pid, pid_t **out, size_t *n);

/* Exposed for tests: is the system call (number nr, first argument arg0)
 * one that the loader or a static program makes once its code is mapped
 * and before any of it runs (thread-local storage set-up)? */
bool follow_is_tls_setup(long nr, unsigned long arg0);

#endif /* MEMTRACE_FOLLOW_H */
