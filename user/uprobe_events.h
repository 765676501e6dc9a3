/* SPDX-License-Identifier: MIT */
/*
 * Uprobes whose cost does not grow with the number of traced processes.
 *
 * Each probe (file, offset, program, cookie) is one tracefs uprobe event
 * ("definition"): one consumer of the kernel's uprobe, whatever the number
 * of processes traced. The BPF program is attached once, to an "anchor"
 * perf event on kthreadd, a kernel thread that matches no process. Each
 * traced process then gets one disabled per-task perf event per
 * definition, its "entry": the kernel installs the breakpoint only in the
 * address spaces of tasks that have an entry, so other processes never
 * trap, and a forked child that has no entry loses its inherited
 * breakpoints after one trap. A process's entries form one perf group,
 * so a context switch of the process costs what one event costs.
 *
 * Measured on kernel 6.18 (README, "Services"): per hit +4 ns per traced
 * process opened after the hitting one, against +27 ns per process per
 * probe for a uprobe_multi link per process (every link is a consumer,
 * called on every hit).
 *
 * tracefs is mounted detached (fsopen/fsmount): no mount namespace
 * changes. Definitions are named memtrace_<pid>/e<N>; those of memtrace
 * processes that died without cleaning up are removed at open.
 *
 * Every function returns 0 or a negative errno.
 */
#ifndef MEMTRACE_UPROBE_EVENTS_H
#define MEMTRACE_UPROBE_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct uprobe_events;

/*
 * Mount tracefs and check that the kernel has uprobe events; remove stale
 * definitions. system_wide (-a): every definition's anchor is a
 * system-wide event, so every process that maps the file gets the
 * breakpoints and no per-process entries are needed. -ENOENT/-ENODEV when
 * the kernel has no uprobe events (the caller falls back). why: one line.
 */
int uprobe_events_open(struct uprobe_events **out, bool system_wide,
		       char *why, size_t why_len);

/*
 * Stop: close every process's entries (the breakpoints leave those
 * processes now), then hand the definitions to a detached child process
 * that unregisters them (one RCU grace period each, ~0.1 s here, which
 * the kernel serializes) and deletes them; memtrace does not wait for it.
 * The BPF programs stay loaded until that child is done.
 */
void uprobe_events_close(struct uprobe_events *ue);

/*
 * Probe `path` at each offsets[i] with the program prog_fd (loaded as a
 * kprobe-type program) and attach cookie cookies[i], as return probes if
 * ret, for process pid (ignored when system-wide). The probes of one
 * call go in that order; definitions are shared by every process that
 * maps the same file.
 *
 * prog_fd -1 arms the probes: definitions and pid's entries, so the
 * kernel installs the breakpoints, with no program yet. A later call
 * with the program on the same sites and cookies only links it to each
 * definition. Why: the kernel's first breakpoint install of a run waits
 * for an RCU grace period (13-29 ms here, measured in the anchor's
 * perf_event_open); armed while the programs load, that wait is off the
 * attach's path. Until linked, a hit runs no program (it costs the
 * target a perf event's handling, a few µs).
 */
int uprobe_events_attach(struct uprobe_events *ue, pid_t pid, int prog_fd, const char *path,
			 const uint64_t *offsets, const uint64_t *cookies, size_t n, bool ret);

/*
 * child was just forked by parent and has not run yet: give it an entry
 * for every definition parent has. The child inherited parent's
 * breakpoints, so the kernel is told not to look for them (enable_on_exec:
 * no walk over every process that maps the file); each is then checked in
 * the child's memory, and one that is missing is installed.
 */
int uprobe_events_fork(struct uprobe_events *ue, pid_t parent, pid_t child);

/*
 * pid exec'd: disable its entries again (enable_on_exec enabled them),
 * and when the exec came from a thread other than the leader (new_leader)
 * move them to pid, whose task is a new one.
 */
int uprobe_events_exec(struct uprobe_events *ue, pid_t pid, bool new_leader);

/* pid's leader thread exits while its thread tid lives on: move its
 * entries to tid (an entry follows its task's address space). */
int uprobe_events_retarget(struct uprobe_events *ue, pid_t pid, pid_t tid);

/* pid exited, or is no longer traced: close its entries. */
void uprobe_events_forget(struct uprobe_events *ue, pid_t pid);

/*
 * on: the entries uprobe_events_attach() opens from now on leave the
 * breakpoints to be installed later; off: install them, one walk per
 * definition for every process attached meanwhile (attaching many running
 * processes one by one costs a walk over every process that maps the file,
 * per probe and per process). Until then those processes do not trap.
 */
int uprobe_events_defer(struct uprobe_events *ue, bool on);

/* Breakpoints of fork children found missing (another tracer's probes
 * detaching meanwhile) and put back. */
size_t uprobe_events_repaired(const struct uprobe_events *ue);

/* Entries held by all processes (each is one file descriptor). */
size_t uprobe_events_entries(const struct uprobe_events *ue);

/* Exposed for tests. The uprobe_events line that defines a probe:
 * "p:GROUP/NAME PATH:0xOFF" (r: for a return probe). Returns the length
 * (snprintf), -EINVAL when path holds whitespace. */
int uprobe_events_format(char *buf, size_t len, const char *group, const char *name,
			 const char *path, uint64_t offset, bool ret);

/* Exposed for tests. If a line of uprobe_events defines a probe of a
 * memtrace group, the group's owner pid in *owner and the "GROUP/NAME"
 * in name; returns true. */
bool uprobe_events_parse_line(const char *line, pid_t *owner, char *name, size_t name_len);

#endif /* MEMTRACE_UPROBE_EVENTS_H */
