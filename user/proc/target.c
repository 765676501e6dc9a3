// SPDX-License-Identifier: MIT
/*
 * Target processes: checks on a PID, and launching a COMMAND stopped at its
 * entry point.
 *
 * Why stop at the entry point: uprobes go on the libc the process really
 * maps, which exists only once the dynamic loader has run. The loader runs
 * between exec and the ELF entry point, and the program's own code (its
 * constructors, then main) only after it. So the child is traced with
 * ptrace, a breakpoint is put on the entry point (AT_ENTRY), and the child
 * is held there while memtrace attaches.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include "target.h"
#include "util/why.h"

#define PF_KTHREAD 0x00200000

int target_check_privileges(char *why, size_t why_len)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	uint64_t eff;
	bool bpf, perf, ptrace_ok;

	if (syscall(SYS_capget, &hdr, data))
		return why_fail(-errno, why, why_len, "cannot read capabilities: %s",
			    strerror(errno));
	eff = data[0].effective | ((uint64_t)data[1].effective << 32);
#define HAS(cap) (!!(eff & (1ULL << (cap))))
	bpf = HAS(CAP_BPF) || HAS(CAP_SYS_ADMIN);
	perf = HAS(CAP_PERFMON) || HAS(CAP_SYS_ADMIN);
	ptrace_ok = HAS(CAP_SYS_PTRACE);
#undef HAS
	if (bpf && perf && ptrace_ok)
		return 0;
	return why_fail(-EPERM, why, why_len,
		    "needs root to load BPF probes (missing%s%s%s): run it as root, "
		    "e.g. with sudo, or grant CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE",
		    bpf ? "" : " CAP_BPF", perf ? "" : " CAP_PERFMON",
		    ptrace_ok ? "" : " CAP_SYS_PTRACE");
}

int target_rss(pid_t pid, uint64_t *bytes)
{
	unsigned long long size, resident;
	char path[64], buf[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/statm", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -ENOENT;
	buf[n] = '\0';
	/* "size resident shared text lib data dt", in pages. */
	if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
		return -EINVAL;
	*bytes = (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
	return 0;
}

void target_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0) {
		buf[0] = '\0';
		return;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

int target_check_pid(pid_t pid, char *why, size_t why_len)
{
	char path[64], buf[1024], comm[64], state;
	unsigned long flags;
	char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return why_fail(-ESRCH, why, why_len,
			    "no process with PID %d: check the PID (ps -p %d)", pid, pid);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return why_fail(-ESRCH, why, why_len, "no process with PID %d", pid);
	buf[n] = '\0';

	/* "pid (comm) state ppid ... flags": comm may hold spaces and ')' */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2)
		return why_fail(-EINVAL, why, why_len, "cannot parse %s", path);
	target_comm(pid, comm, sizeof(comm));
	if (flags & PF_KTHREAD)
		return why_fail(-EINVAL, why, why_len,
			    "PID %d (%s) is a kernel thread: it has no user-space "
			    "allocations to trace; give the PID of a user process", pid, comm);
	if (state == 'Z' || state == 'X')
		return why_fail(-ESRCH, why, why_len,
			    "PID %d (%s) has exited (zombie): nothing left to trace", pid, comm);
	return 0;
}

/* execvp's search, done up front so that "not found" is one clear line. */
static int find_in_path(const char *cmd, char *out, size_t len)
{
	const char *path = getenv("PATH"), *p, *end;
	int last = -ENOENT;

	if (strchr(cmd, '/')) {
		snprintf(out, len, "%s", cmd);
		return access(out, X_OK) ? -errno : 0;
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; ; p = end + 1) {
		end = strchrnul(p, ':');
		snprintf(out, len, "%.*s%s%s", (int)(end - p), p, end > p ? "/" : "", cmd);
		if (access(out, X_OK) == 0)
			return 0;
		if (errno != ENOENT && errno != ENOTDIR)
			last = -errno;
		if (!*end)
			break;
	}
	return last;
}

static int read_entry_point(pid_t pid, uint64_t *entry)
{
	char path[64];
	uint64_t av[2];
	int fd, err = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (read(fd, av, sizeof(av)) == sizeof(av) && av[0] != AT_NULL) {
		if (av[0] == AT_ENTRY) {
			*entry = av[1];
			err = 0;
			break;
		}
	}
	close(fd);
	return err;
}

/* Wait for the child's next stop; signals other than SIGTRAP are passed on
 * to it. Returns 0 at a SIGTRAP stop, -ECHILD if it exited (status in
 * *status). */
static int wait_for_trap(pid_t pid, int *status)
{
	for (;;) {
		if (waitpid(pid, status, 0) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (WIFEXITED(*status) || WIFSIGNALED(*status))
			return -ECHILD;
		if (WIFSTOPPED(*status) && WSTOPSIG(*status) == SIGTRAP)
			return 0;
		if (ptrace(PTRACE_CONT, pid, 0, (void *)(long)WSTOPSIG(*status)))
			return -errno;
	}
}

static int run_to_entry(pid_t pid, char *why, size_t why_len)
{
	struct user_regs_struct regs;
	uint64_t entry = 0;
	long word;
	int status, err;

	err = read_entry_point(pid, &entry);
	if (err)
		return why_fail(err, why, why_len, "cannot read the entry point of PID %d", pid);
	errno = 0;
	word = ptrace(PTRACE_PEEKTEXT, pid, (void *)entry, 0);
	if (errno)
		return why_fail(-errno, why, why_len, "ptrace peek: %s", strerror(errno));
	if (ptrace(PTRACE_POKETEXT, pid, (void *)entry, (void *)((word & ~0xffL) | 0xcc)))
		return why_fail(-errno, why, why_len, "ptrace poke: %s", strerror(errno));
	if (ptrace(PTRACE_CONT, pid, 0, 0))
		return why_fail(-errno, why, why_len, "ptrace cont: %s", strerror(errno));

	err = wait_for_trap(pid, &status);
	if (err == -ECHILD)
		return why_fail(err, why, why_len,
			    "the command exited (%s %d) before reaching its entry point: "
			    "the dynamic loader failed?",
			    WIFEXITED(status) ? "status" : "signal",
			    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	if (err)
		return why_fail(err, why, why_len, "waitpid: %s", strerror(-err));

	/* Put the instruction back and step rip back onto it. */
	if (ptrace(PTRACE_POKETEXT, pid, (void *)entry, (void *)word) ||
	    ptrace(PTRACE_GETREGS, pid, 0, &regs))
		return why_fail(-errno, why, why_len, "ptrace: %s", strerror(errno));
	if (regs.rip != entry + 1)
		return why_fail(-EPROTO, why, why_len, "stopped at 0x%llx, not at the entry "
			    "point 0x%lx", regs.rip, (unsigned long)entry);
	regs.rip = entry;
	if (ptrace(PTRACE_SETREGS, pid, 0, &regs))
		return why_fail(-errno, why, why_len, "ptrace setregs: %s", strerror(errno));
	return 0;
}

int target_launch(char *const argv[], pid_t *pidp, char *why, size_t why_len)
{
	char path[PATH_MAX];
	int errpipe[2], status, child_errno = 0, err;
	pid_t pid;

	err = find_in_path(argv[0], path, sizeof(path));
	if (err)
		return why_fail(err, why, why_len, "cannot execute '%s': %s", argv[0],
			    strerror(-err));
	/* exec's own error comes back through a close-on-exec pipe. */
	if (pipe2(errpipe, O_CLOEXEC))
		return why_fail(-errno, why, why_len, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(errpipe[0]);
		close(errpipe[1]);
		return why_fail(err, why, why_len, "fork: %s", strerror(-err));
	}
	if (pid == 0) {
		close(errpipe[0]);
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) == 0)
			execv(path, argv);
		child_errno = errno;
		if (write(errpipe[1], &child_errno, sizeof(child_errno)) < 0)
			_exit(126);
		_exit(127);
	}
	close(errpipe[1]);
	if (read(errpipe[0], &child_errno, sizeof(child_errno)) == sizeof(child_errno)) {
		close(errpipe[0]);
		waitpid(pid, &status, 0);
		return why_fail(-child_errno, why, why_len, "cannot execute '%s': %s",
			    path, strerror(child_errno));
	}
	close(errpipe[0]);

	/* A successful exec under PTRACE_TRACEME stops with SIGTRAP. */
	err = wait_for_trap(pid, &status);
	if (!err)
		err = run_to_entry(pid, why, why_len);
	else
		why_fail(err, why, why_len, "the command did not start");
	if (err) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return err;
	}
	*pidp = pid;
	return 0;
}

int target_resume(pid_t pid)
{
	return ptrace(PTRACE_DETACH, pid, 0, 0) ? -errno : 0;
}

int target_pidfd(pid_t pid)
{
	int fd = syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : fd;
}
