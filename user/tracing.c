// SPDX-License-Identifier: MIT
/* Starting to trace a process (tracing.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "tracing.h"
#include "probes.h"
#include "process_watch.h"
#include "proc/alloc_target.h"
#include "proc/follow.h"
#include "proc/proc_maps.h"
#include "proc/rss.h"
#include "proc/target.h"
#include "python/python_process.h"
#include "report/warnings.h"
#include "symbols/symbolizer.h"
#include "unwind/unwind_loader.h"
#include "util/vec.h"
#include "util/why.h"

/*
 * Read pid's mappings once for both that keep them: the unwind tables and
 * the symbolizer. Events are handled after the fact, and a process may
 * have exited meanwhile: a second read could find nothing where the
 * first found a new library. A process already gone leaves what was read
 * before as it is (the symbolizer notes that it is gone).
 */
void read_mappings(struct memtrace *mt, uint32_t pid)
{
	struct proc_maps maps;
	int err = proc_maps_read(pid, &maps);

	/* -ESRCH leaves maps empty, which both take as "gone". */
	if (err && err != -ESRCH)
		return;
	if (mt->unwind)
		unwind_loader_sync(mt->unwind, pid, &maps);
	symbolizer_add_maps(mt->sym, pid, &maps);
	proc_maps_free(&maps);
}

/*
 * -a sees every process the machine starts, and looking for an interpreter
 * reads the symbol tables of all that a process maps (tens of ms): with
 * -a only processes that map something named like a Python (python3.11,
 * libpython3.12.so) are looked at. A renamed interpreter is traced
 * natively.
 */
bool may_be_python(const struct memtrace *mt, pid_t pid)
{
	char path[64], line[512];
	bool found = false;
	FILE *f;

	if (!mt->opt.all)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		const char *slash = strrchr(line, '/');

		found = slash && strstr(slash, "python");
	}
	fclose(f);
	return found;
}

/* Watch pid's exit (its pidfd in the loop, once the loop exists). */
void track_exit(struct memtrace *mt, struct traced *t)
{
	struct epoll_event ev = { .events = EPOLLIN };

	if (t->pidfd >= 0 || t->exited)
		return;
	t->pidfd = target_pidfd(t->pid);
	if (t->pidfd < 0) {
		t->exited = true;	/* gone already */
		t->exited_ns = now_ns();
		return;
	}
	ev.data.fd = t->pidfd;
	if (mt->epfd >= 0)
		epoll_ctl(mt->epfd, EPOLL_CTL_ADD, t->pidfd, &ev);
}

/* Check a process and find its libc, before anything is loaded. */
int prepare_process(struct memtrace *mt, pid_t pid, enum traced_how how)
{
	/* A process named on the command line must be traceable: anything
	 * else is one line and the end. Others found on the way (a child, a
	 * cgroup's process) become entries that say why they are not traced. */
	bool named = how == TRACED_NAMED;
	struct traced *t;
	char why[512];
	int err;

	err = target_check_pid(pid, why, sizeof(why));
	if (err) {
		if (named)
			why_say("%s", why);
		return err;
	}
	err = processes_add(&mt->procs, pid, &t);
	if (err) {
		fprintf(stderr, "memtrace: cannot set up: %s\n", strerror(-err));
		return err;
	}
	t->how = how;
	processes_read_identity(t);
	err = alloc_target_find(pid, &t->alloc, why, sizeof(why));
	/* A process that exits while memtrace looks leaves no mappings. */
	if (err == -ESRCH || (err && target_check_pid(pid, NULL, 0) == -ESRCH))
		goto gone;
	if (err && named) {
		why_say("%s", why);
		return err;
	}
	if (err) {
		processes_set_untraced(t, processes_exe_is_static(pid) ? UNTRACED_STATIC :
				       UNTRACED_NO_LIBC, "%s", why);
		return 0;
	}
	err = may_be_python(mt, pid) ?
		python_process_detect(&mt->py_env, &t->py, pid, t->comm, !named) : 0;
	if (err)
		return err;
	/* Before the BPF maps exist, so that they can be sized; later, the
	 * tables come with the mappings (read_mappings). */
	if (mt->unwind && !mt->probes) {
		err = unwind_loader_prepare(mt->unwind, pid);
		if (err == -ESRCH)
			goto gone;
		if (err) {
			fprintf(stderr, "memtrace: PID %d: cannot read its mappings for "
				"unwinding: %s\n", pid, strerror(-err));
			return err;
		}
	}
	t->pidfd = target_pidfd(pid);
	if (t->pidfd == -ESRCH)
		goto gone;
	if (t->pidfd < 0) {
		fprintf(stderr, "memtrace: PID %d: cannot watch for its exit: %s\n",
			pid, strerror(-t->pidfd));
		return t->pidfd;
	}
	return 0;
gone:
	/* It exited while memtrace looked at it: said, and the others go on. */
	t->pidfd = -1;
	t->exited = true;
	t->exited_ns = now_ns();
	processes_set_untraced(t, UNTRACED_GONE, "exited before memtrace could trace it");
	return 0;
}

int attach_process(struct memtrace *mt, struct traced *t)
{
	bool named = t->how == TRACED_NAMED;
	struct rss rss;
	char why[512];
	int err;

	if (t->not_at_all || t->exited)
		return 0;
	t->traced_from_ns = now_ns();
	/* What it holds already, to tell the growth since. */
	if (!rss_read(t->pid, &rss))
		t->rss_anon_start = rss.anon;
	/* Mappings first: if the process exits early, its stacks still
	 * resolve. */
	err = symbolizer_add_pid(mt->sym, t->pid);
	if (err && err != -ESRCH)
		warnings_add(&mt->warnings, "PID %d: cannot read its mappings: %s", t->pid,
			     strerror(-err));
	err = python_process_attach(&mt->py_env, &t->py, t->pid);
	if (err)
		return err;
	err = probes_attach(mt->probes, t->pid, &t->alloc, why, sizeof(why));
	if (err && target_check_pid(t->pid, NULL, 0) == -ESRCH) {	/* or a zombie */
		t->exited = true;
		t->exited_ns = now_ns();
		processes_set_untraced(t, UNTRACED_GONE, "exited before memtrace could trace it");
		return 0;
	}
	if (err && !named) {
		processes_set_untraced(t, UNTRACED_PROBES, "%s", why);
		return 0;
	}
	if (err) {
		why_say("%s", why);
		return err;
	}
	python_process_probe_objects(&mt->py_env, &t->py, t->pid);
	return 0;
}

/*
 * Start tracing pid, found after start-up (a process of the --cgroup, a
 * child of a process memtrace cannot ptrace, a child found running):
 * what prepare_process and attach_process do, where a failure makes it
 * an untraced entry instead of the end of memtrace.
 */
struct traced *trace_late(struct memtrace *mt, pid_t pid, enum traced_how how)
{
	struct traced *t = processes_find(&mt->procs, pid);
	char why[512];

	if (t && !t->exited)
		return t;
	if (prepare_process(mt, pid, how) || !(t = processes_find(&mt->procs, pid)))
		return NULL;
	t->how = how;
	if (!t->not_at_all && !t->exited) {
		attach_process(mt, t);
		read_mappings(mt, pid);
	}
	if (mt->follow && !t->not_at_all && !t->exited &&
	    follow_seize(mt->follow, pid, why, sizeof(why)) == 0)
		t->followed = true;
	track_exit(mt, t);
	return t;
}

/* A traced process cannot be ptraced (another tracer has it): the kernel
 * adds its children to the filter, and they are probed when seen. */
static void follow_by_watch(struct memtrace *mt, struct traced *t, const char *why)
{
	if (!mt->watch || process_watch_children(mt->watch, t->pid))
		processes_set_untraced(t, NULL, "%s: the processes it creates are not traced",
				       why);
	else
		processes_set_untraced(t, NULL, "%s: the processes it creates are traced from "
				       "when memtrace sees them, not from their first instruction",
				       why);
}

/* Trace t's future children under ptrace; where that cannot be (another
 * tracer), through the kernel's fork news. */
void follow_process(struct memtrace *mt, struct traced *t)
{
	char why[512];

	if (!mt->follow || t->not_at_all || t->exited || t->followed)
		return;
	if (!follow_seize(mt->follow, t->pid, why, sizeof(why)))
		t->followed = true;
	else if (target_check_pid(t->pid, NULL, 0) == 0)
		follow_by_watch(mt, t, why);
}

/* The executable mappings of pid, "start inode" a line. */
static char *exec_layout(pid_t pid)
{
	char path[64], line[512], *out = NULL;
	size_t len = 0, cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, ino;
		char perms[8];
		int n;

		if (sscanf(line, "%lx-%*x %7s %*x %*s %lu", &lo, perms, &ino) != 3 ||
		    perms[2] != 'x' || vec_reserve(&out, &cap, len + 48, 1))
			continue;
		n = snprintf(out + len, 48, "%lx %lu\n", lo, ino);
		len += n;
	}
	fclose(f);
	return out;
}

/*
 * A child of the traced process parent_idx found running: if it maps the
 * same code at the same addresses (a fork that did not exec), it is what
 * its parent is (allocator, Python), and the search for them (tens of ms
 * a process: a Python's symbol tables) is skipped. NULL: it differs, the
 * caller looks at it afresh.
 */
static struct traced *trace_forked(struct memtrace *mt, size_t parent_idx, pid_t pid)
{
	struct traced *p = mt->procs.v[parent_idx], *t;
	char *a = p->not_at_all || p->exited ? NULL : exec_layout(p->pid);
	char *b = a ? exec_layout(pid) : NULL, why[512];
	bool same = a && b && !strcmp(a, b);
	struct rss rss;

	free(a);
	free(b);
	if (!same || processes_add(&mt->procs, pid, &t))
		return NULL;
	p = mt->procs.v[parent_idx];
	t->alloc = p->alloc;
	t->alloc.open = false;		/* the parent's files */
	t->py = p->py;
	t->py.pymalloc_probed[0] = '\0';	/* its own entries */
	t->how = TRACED_DESCENDANT;
	processes_read_identity(t);
	t->traced_from_ns = now_ns();
	if (!rss_read(pid, &rss))
		t->rss_anon_start = rss.anon;
	symbolizer_add_pid(mt->sym, pid);
	python_process_attach(&mt->py_env, &t->py, pid);
	if (probes_attach(mt->probes, pid, &t->alloc, why, sizeof(why)))
		processes_set_untraced(t, target_check_pid(pid, NULL, 0) == -ESRCH ?
				       UNTRACED_GONE : UNTRACED_PROBES, "%s", why);
	else
		python_process_probe_objects(&mt->py_env, &t->py, pid);
	read_mappings(mt, pid);
	if (!t->not_at_all && !follow_seize(mt->follow, pid, why, sizeof(why)))
		t->followed = true;
	track_exit(mt, t);
	return t;
}

/* The processes that already descend from the traced ones, found after
 * these are followed (what they create from then on is born under
 * ptrace). */
void trace_descendants(struct memtrace *mt)
{
	probes_batch(mt->probes, true);
	for (size_t i = 0; i < mt->procs.n; i++) {
		struct traced *t = mt->procs.v[i];
		pid_t *kids;
		size_t n;

		if (!t->followed || t->exited || follow_children(t->pid, &kids, &n))
			continue;
		for (size_t k = 0; k < n; k++) {
			struct traced *c;

			if (processes_find(&mt->procs, kids[k]))
				continue;
			c = trace_forked(mt, i, kids[k]);
			if (!c)
				c = trace_late(mt, kids[k], TRACED_DESCENDANT);
			if (c)
				c->ppid = t->pid;
			t = mt->procs.v[i];	/* the table grew */
		}
		free(kids);
	}
	probes_batch(mt->probes, false);
}
