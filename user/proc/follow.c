// SPDX-License-Identifier: MIT
/*
 * Following children with ptrace (see follow.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>

#include "follow.h"
#include "util/vec.h"
#include "util/why.h"

#define OPTS (PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | \
	      PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD)
/* Leaders also stop at their exit: a leader that leaves while its
 * threads go on takes its probes' entries with it, unless they move. */
#define LEADER_OPTS (OPTS | PTRACE_O_TRACEEXIT)

#define ARCH_SET_FS 0x1002
#define NR_ARCH_PRCTL 158
#define NR_SET_TID_ADDRESS 218
#define NR_RSEQ 334
/* A program that never sets up thread-local storage runs on after this
 * many system-call stops (entry and exit count one each). */
#define MAX_STEP_STOPS 20000

enum task_state {
	T_RUNNING,
	T_ANNOUNCED,		/* its creator's event was handled; its first
				   stop is due */
	T_FIRST_STOP,		/* stopped before its creator's event came */
	T_STEPPING,		/* exec'd: stepping to the TLS set-up */
};

struct task {
	pid_t tid;
	pid_t tgid;
	unsigned char state;
	bool process;		/* a new process, not a thread */
	bool follow;		/* born() said to trace it */
	bool new_leader;	/* stepping an exec made by another thread */
	bool held;		/* follow_launch: stays stopped at the TLS set-up */
	unsigned steps;
};

struct follow {
	struct follow_hooks hooks;
	struct task *tasks;	/* sorted by tid */
	size_t n, cap;
	struct follow_stats stats;
};

bool follow_is_tls_setup(long nr, unsigned long arg0)
{
	return (nr == NR_ARCH_PRCTL && arg0 == ARCH_SET_FS) || nr == NR_SET_TID_ADDRESS ||
	       nr == NR_RSEQ;
}

static size_t lower(const struct follow *f, pid_t tid)
{
	size_t lo = 0, hi = f->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->tasks[mid].tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct task *task_find(struct follow *f, pid_t tid)
{
	size_t i = lower(f, tid);

	return i < f->n && f->tasks[i].tid == tid ? &f->tasks[i] : NULL;
}

/* Pointers into the table move when a task is added or removed. */
static struct task *task_add(struct follow *f, pid_t tid, pid_t tgid, enum task_state st)
{
	size_t i = lower(f, tid);

	if (i < f->n && f->tasks[i].tid == tid)
		return &f->tasks[i];
	if (vec_reserve(&f->tasks, &f->cap, f->n + 1, sizeof(*f->tasks)))
		return NULL;
	memmove(&f->tasks[i + 1], &f->tasks[i], (f->n - i) * sizeof(*f->tasks));
	f->n++;
	f->tasks[i] = (struct task){ .tid = tid, .tgid = tgid, .state = st };
	return &f->tasks[i];
}

static void task_del(struct follow *f, pid_t tid)
{
	size_t i = lower(f, tid);

	if (i < f->n && f->tasks[i].tid == tid) {
		memmove(&f->tasks[i], &f->tasks[i + 1], (f->n - i - 1) * sizeof(*f->tasks));
		f->n--;
	}
}

int follow_new(struct follow **out, const struct follow_hooks *hooks)
{
	struct follow *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->hooks = *hooks;
	*out = f;
	return 0;
}

void follow_free(struct follow *f)
{
	if (!f)
		return;
	/* Exiting detaches every tracee; a tracee stopped now would wait
	 * for that, so those we can reach are let go at once. */
	for (size_t i = 0; i < f->n; i++)
		ptrace(PTRACE_DETACH, f->tasks[i].tid, 0, 0);
	free(f->tasks);
	free(f);
}

bool follow_traces(const struct follow *f, pid_t pid)
{
	return task_find((struct follow *)f, pid) != NULL;
}

void follow_get_stats(const struct follow *f, struct follow_stats *out)
{
	*out = f->stats;
}

static pid_t status_field(pid_t tid, const char *field)
{
	char path[64], line[256];
	size_t flen = strlen(field);
	pid_t v = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	fp = fopen(path, "re");
	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp))
		if (!strncmp(line, field, flen) && line[flen] == ':') {
			v = atoi(line + flen + 1);
			break;
		}
	fclose(fp);
	return v;
}

static void comm_of(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	buf[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, len - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

static int seize_one(struct follow *f, pid_t tid, pid_t tgid)
{
	if (ptrace(PTRACE_SEIZE, tid, 0, (void *)(long)(tid == tgid ? LEADER_OPTS : OPTS)))
		return -errno;
	return task_add(f, tid, tgid, T_RUNNING) ? 0 : -ENOMEM;
}

int follow_seize(struct follow *f, pid_t pid, char *why, size_t why_len)
{
	bool added;
	int err;

	err = seize_one(f, pid, pid);
	if (err == -EPERM) {
		pid_t tracer = status_field(pid, "TracerPid");
		char comm[32];

		comm_of(tracer, comm, sizeof(comm));
		if (tracer > 0)
			return why_fail(err, why, why_len, "PID %d is already traced by PID %d "
					"(%s)", pid, tracer, comm);
		return why_fail(err, why, why_len, "PID %d cannot be traced with ptrace: %s",
				pid, strerror(-err));
	}
	if (err)
		return why_fail(err, why, why_len, "PID %d: ptrace: %s", pid, strerror(-err));
	/* Threads started by a thread already seized are attached by the
	 * kernel; the others are found by listing again until none is new. */
	do {
		char path[64];
		struct dirent *de;
		DIR *d;

		added = false;
		snprintf(path, sizeof(path), "/proc/%d/task", pid);
		d = opendir(path);
		if (!d)
			return why_fail(-errno, why, why_len, "PID %d: %s", pid, strerror(errno));
		while ((de = readdir(d))) {
			pid_t tid = atoi(de->d_name);

			if (tid <= 0 || task_find(f, tid))
				continue;
			err = seize_one(f, tid, pid);
			if (!err)
				added = true;
			else if (err != -ESRCH && err != -EPERM)
				break;	/* EPERM: ours already, or exiting */
			err = 0;
		}
		closedir(d);
		if (err)
			return why_fail(err, why, why_len, "PID %d: ptrace: %s", pid,
					strerror(-err));
	} while (added);
	return 0;
}

/* Resume tid, with the options its role wants. */
static void resume(struct follow *f, struct task *t, int sig)
{
	ptrace(t->state == T_STEPPING ? PTRACE_SYSCALL : PTRACE_CONT, t->tid, 0,
	       (void *)(long)sig);
	(void)f;
}

/* A new task's first stop: it runs from here (or goes, untraced). */
static void first_run(struct follow *f, pid_t tid)
{
	struct task *t = task_find(f, tid);

	if (!t)
		return;
	if (t->process && !t->follow) {
		ptrace(PTRACE_DETACH, tid, 0, 0);
		task_del(f, tid);
		return;
	}
	ptrace(PTRACE_SETOPTIONS, tid, 0, (void *)(long)(t->process ? LEADER_OPTS : OPTS));
	t->state = T_RUNNING;
	ptrace(PTRACE_CONT, tid, 0, 0);
}

static void on_new_task(struct follow *f, struct task *parent, int event)
{
	unsigned long msg = 0;
	pid_t child, parent_tgid = parent->tgid;
	bool process;
	struct task *c;

	ptrace(PTRACE_GETEVENTMSG, parent->tid, 0, &msg);
	child = (pid_t)msg;
	process = event != PTRACE_EVENT_CLONE || status_field(child, "Tgid") == child;
	c = task_find(f, child);
	if (!c && !(c = task_add(f, child, process ? child : parent_tgid, T_ANNOUNCED)))
		return;
	c->tgid = process ? child : parent_tgid;
	c->process = process;
	if (process) {
		f->stats.born++;
		c->follow = !f->hooks.born || f->hooks.born(f->hooks.ctx, parent_tgid, child);
		c = task_find(f, child);	/* the hook may have added tasks */
	} else {
		f->stats.threads++;
	}
	if (c && c->state == T_FIRST_STOP)
		first_run(f, child);
	else if (c)
		c->state = T_ANNOUNCED;
}

/* After an exec: is this system-call stop the loader's TLS set-up? */
static void on_syscall_stop(struct follow *f, struct task *t)
{
	struct user_regs_struct regs;
	pid_t tid = t->tid;

	f->stats.syscall_stops++;
	if (ptrace(PTRACE_GETREGS, tid, 0, &regs)) {
		ptrace(PTRACE_CONT, tid, 0, 0);
		return;
	}
	if (!follow_is_tls_setup((long)regs.orig_rax, regs.rdi) &&
	    ++t->steps < MAX_STEP_STOPS) {
		ptrace(PTRACE_SYSCALL, tid, 0, 0);
		return;
	}
	t->state = T_RUNNING;
	if (t->held)
		return;		/* follow_launch's caller releases it */
	if (f->hooks.exec_ready) {
		bool new_leader = t->new_leader;

		f->hooks.exec_ready(f->hooks.ctx, t->tgid, new_leader);
	}
	ptrace(PTRACE_CONT, tid, 0, 0);
}

static void on_exec(struct follow *f, struct task *t)
{
	unsigned long former = 0;
	pid_t tid = t->tid;

	f->stats.execs++;
	ptrace(PTRACE_GETEVENTMSG, tid, 0, &former);
	if ((pid_t)former != tid)
		task_del(f, (pid_t)former);	/* it is tid now */
	t = task_find(f, tid);
	if (!t)
		return;
	t->tgid = tid;
	t->new_leader = (pid_t)former != tid;
	t->state = T_STEPPING;
	t->steps = 0;
	ptrace(PTRACE_SYSCALL, tid, 0, 0);
}

static void on_leader_exit(struct follow *f, struct task *t)
{
	pid_t tid = t->tid, tgid = t->tgid, other = 0;

	/* Held at its exit, the process's memory is still there: what it
	 * holds (its code objects' names, its mappings) is read now, while
	 * it can be, and not after it is gone. */
	if (f->hooks.exiting)
		f->hooks.exiting(f->hooks.ctx, tgid);
	for (size_t i = 0; i < f->n && !other; i++)
		if (f->tasks[i].tgid == tgid && f->tasks[i].tid != tid)
			other = f->tasks[i].tid;
	if (other && f->hooks.leader_exit)
		f->hooks.leader_exit(f->hooks.ctx, tgid, other);
	ptrace(PTRACE_CONT, tid, 0, 0);
}

static bool stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

static void on_stop(struct follow *f, pid_t tid, int status)
{
	int sig = WSTOPSIG(status), event = (status >> 16) & 0xff;
	struct task *t = task_find(f, tid);

	f->stats.stops++;
	if (!t) {
		/* A new task stopped before its creator's event: it waits. */
		if (event == PTRACE_EVENT_STOP)
			task_add(f, tid, tid, T_FIRST_STOP);
		else
			ptrace(PTRACE_CONT, tid, 0, (void *)(long)(event ? 0 : sig));
		return;
	}
	switch (event) {
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
	case PTRACE_EVENT_CLONE:
		on_new_task(f, t, event);
		ptrace(PTRACE_CONT, tid, 0, 0);
		return;
	case PTRACE_EVENT_EXEC:
		on_exec(f, t);
		return;
	case PTRACE_EVENT_EXIT:
		on_leader_exit(f, t);
		return;
	case PTRACE_EVENT_STOP:
		if (t->state == T_ANNOUNCED)
			first_run(f, tid);
		else if (stop_signal(sig))
			ptrace(PTRACE_LISTEN, tid, 0, 0);	/* job control: stay stopped */
		else
			resume(f, t, 0);
		return;
	case 0:
		if (sig == (SIGTRAP | 0x80) && t->state == T_STEPPING) {
			on_syscall_stop(f, t);
			return;
		}
		if (sig == (SIGTRAP | 0x80)) {
			resume(f, t, 0);
			return;
		}
		/* A signal on its way: pass it on. */
		f->stats.signals++;
		resume(f, t, sig);
		return;
	default:
		resume(f, t, 0);
	}
}

int follow_handle(struct follow *f)
{
	int status, handled = 0;
	pid_t tid;

	while ((tid = waitpid(-1, &status, __WALL | WNOHANG)) > 0) {
		handled++;
		if (WIFSTOPPED(status))
			on_stop(f, tid, status);
		else if (WIFEXITED(status) || WIFSIGNALED(status))
			task_del(f, tid);
	}
	return handled;
}

int follow_launch(struct follow *f, char *const argv[], pid_t *pidp, char *why, size_t why_len)
{
	int gate[2], errpipe[2], status = 0, child_errno = 0, err;
	uint64_t execs;
	struct task *t;
	pid_t pid;

	if (pipe2(gate, O_CLOEXEC))
		return why_fail(-errno, why, why_len, "pipe: %s", strerror(errno));
	if (pipe2(errpipe, O_CLOEXEC)) {
		err = -errno;
		close(gate[0]);
		close(gate[1]);
		return why_fail(err, why, why_len, "pipe: %s", strerror(-err));
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(gate[0]);
		close(gate[1]);
		close(errpipe[0]);
		close(errpipe[1]);
		return why_fail(err, why, why_len, "fork: %s", strerror(-err));
	}
	if (pid == 0) {
		char c;

		close(gate[1]);
		close(errpipe[0]);
		/* Wait until memtrace traces us: then exec. */
		if (read(gate[0], &c, 1) == 1)
			execvp(argv[0], argv);
		child_errno = errno;
		if (write(errpipe[1], &child_errno, sizeof(child_errno)) < 0)
			_exit(126);
		_exit(127);
	}
	close(gate[0]);
	close(errpipe[1]);
	err = ptrace(PTRACE_SEIZE, pid, 0, (void *)(long)LEADER_OPTS) ? -errno : 0;
	if (!err && !(t = task_add(f, pid, pid, T_RUNNING)))
		err = -ENOMEM;
	if (err || write(gate[1], "g", 1) != 1) {
		close(gate[1]);
		close(errpipe[0]);
		kill(pid, SIGKILL);
		waitpid(pid, &status, __WALL);
		task_del(f, pid);
		return why_fail(err ? err : -EIO, why, why_len, "cannot trace the command: %s",
				strerror(err ? -err : EIO));
	}
	close(gate[1]);
	/* exec's own error comes back through the close-on-exec pipe. */
	if (read(errpipe[0], &child_errno, sizeof(child_errno)) == sizeof(child_errno)) {
		close(errpipe[0]);
		while (waitpid(pid, &status, __WALL) == pid && !WIFEXITED(status) &&
		       !WIFSIGNALED(status))
			ptrace(PTRACE_CONT, pid, 0, 0);
		task_del(f, pid);
		return why_fail(-child_errno, why, why_len, "cannot execute '%s': %s", argv[0],
				strerror(child_errno));
	}
	close(errpipe[0]);

	/* Its exec, then its loader, up to the TLS set-up. */
	t = task_find(f, pid);
	t->held = true;
	execs = f->stats.execs;
	for (;;) {
		if (waitpid(pid, &status, __WALL) != pid) {
			err = -errno;
			break;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			err = -ECHILD;
			break;
		}
		on_stop(f, pid, status);
		t = task_find(f, pid);
		if (t && f->stats.execs > execs && t->state == T_RUNNING) {
			*pidp = pid;	/* held at its TLS set-up */
			return 0;
		}
	}
	task_del(f, pid);
	return why_fail(err, why, why_len, "the command did not start (%s %d)",
			WIFEXITED(status) ? "status" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

int follow_release(struct follow *f, pid_t pid)
{
	struct task *t = task_find(f, pid);

	if (!t || !t->held)
		return -ENOENT;
	t->held = false;
	return ptrace(PTRACE_CONT, pid, 0, 0) ? -errno : 0;
}

int follow_children(pid_t pid, pid_t **out, size_t *n)
{
	char path[64];
	struct dirent *de;
	size_t cap = 0;
	DIR *d;

	*out = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char cpath[320];
		long child;
		FILE *fp;

		if (de->d_name[0] == '.')
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", pid, de->d_name);
		fp = fopen(cpath, "re");
		if (!fp)
			continue;
		while (fscanf(fp, "%ld", &child) == 1) {
			if (vec_reserve(out, &cap, *n + 1, sizeof(**out))) {
				fclose(fp);
				closedir(d);
				return -ENOMEM;
			}
			(*out)[(*n)++] = (pid_t)child;
		}
		fclose(fp);
	}
	closedir(d);
	return 0;
}
