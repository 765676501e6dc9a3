// SPDX-License-Identifier: MIT
/* The life of a traced process after it is traced (lifecycle.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "lifecycle.h"
#include "tracing.h"
#include "probes.h"
#include "process_watch.h"
#include "ringbuf_consumer.h"
#include "proc/alloc_target.h"
#include "proc/follow.h"
#include "proc/target.h"
#include "python/fresh_stacks.h"
#include "python/python_process.h"
#include "python/python_symbols.h"
#include "report/warnings.h"
#include "symbols/symbolizer.h"

/* After an exec the process is a new program: its allocations are gone,
 * and the probes only see it if it maps the same libc file again. */
void handle_exec(struct memtrace *mt, uint32_t pid)
{
	struct traced *t = processes_find(&mt->procs, pid);

	if (!t)
		return;
	t->execd = true;
	t->alloc_check_pending = !t->followed && !mt->opt.all;
	python_process_exec(&mt->py_env, &t->py, pid);
	/* The new program's code objects are not the old one's. */
	fresh_stacks_forget(&mt->fresh, pid);
	py_symbols_forget(mt->py, pid);
	symbolizer_reset_pid(mt->sym, pid);
	read_mappings(mt, pid);
	target_comm(pid, t->comm, sizeof(t->comm));
	/* A child that execs right after its fork drops only what it
	 * inherited: the header says what it runs now. */
	if (t->how != TRACED_BORN && t->how != TRACED_ALL)
		warnings_add(&mt->warnings, "PID %d exec'd (now %s): allocations from before "
			     "the exec were dropped", pid, t->comm);
}

/* After an exec, once the new program's objects are mapped: does its
 * malloc bind where the probes are? (At the exec itself nothing but the
 * program and ld.so is mapped yet.) Done after its tables are loaded, as
 * finding the allocator reads symbols: not while its stacks wait. Under
 * ptrace (and with -a) exec_ready() and detection see to it instead. */
static void check_allocator_after_exec(struct memtrace *mt, struct traced *t)
{
	struct alloc_target lt;
	char why[256];

	if (alloc_target_find(t->pid, &lt, why, sizeof(why)))
		return;		/* not yet: at its next mapping change */
	t->alloc_check_pending = false;
	if (strcmp(lt.maps_path, t->alloc.maps_path))
		warnings_add(&mt->warnings, "PID %d exec'd into a program that uses another "
			     "allocator (%s): its allocations are not traced", t->pid,
			     lt.maps_path);
	alloc_target_release(&lt);
}

/* Something was mapped since the mappings were read: a dlopen, a new
 * program after exec, JIT code. Load its table, and know its file for
 * symbols even if the process exits soon. */
void mappings_changed(struct memtrace *mt, uint32_t pid)
{
	struct traced *t = processes_find(&mt->procs, pid);

	read_mappings(mt, pid);
	/* A program may load libpython only now (or exec'd into Python). */
	if (t && may_be_python(mt, pid))
		python_process_mapped(&mt->py_env, &t->py, pid, t->comm);
	if (t && t->alloc_check_pending)
		check_allocator_after_exec(mt, t);
}

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* follow: a traced process created child, which waits for this. */
static bool on_born(void *ctx, pid_t parent, pid_t child)
{
	struct memtrace *mt = ctx;
	struct traced *p = processes_find(&mt->procs, parent), *t;
	char why[512];

	if (!p || processes_add(&mt->procs, child, &t))
		return false;
	/* What the child is, it inherited: the same program, allocator and
	 * Python, at the same addresses (the allocator's files stay the
	 * parent's to close). */
	t->alloc = p->alloc;
	t->alloc.open = false;
	t->rss_anon_start = p->rss_anon_start;
	t->py = p->py;
	memcpy(t->comm, p->comm, sizeof(t->comm));
	memcpy(t->exe, p->exe, sizeof(t->exe));
	t->ppid = parent;
	t->how = TRACED_BORN;
	t->followed = true;
	t->traced_from_ns = now_ns();
	if (p->not_at_all) {
		processes_set_untraced(t, p->untraced_kind, "%s", p->untraced);
		track_exit(mt, t);
		return true;
	}
	if (probes_follow(mt->probes, parent, child, &t->alloc, why, sizeof(why))) {
		processes_set_untraced(t, UNTRACED_PROBES, "%s", why);
		track_exit(mt, t);
		return true;
	}
	if (t->py.python)
		python_process_attach(&mt->py_env, &t->py, child);
	if (probes_per_process_consumers(mt->probes)) {
		/* Links are per process: its pymalloc needs its own. */
		t->py.pymalloc_probed[0] = '\0';
		python_process_probe_objects(&mt->py_env, &t->py, child);
	}
	read_mappings(mt, child);
	track_exit(mt, t);
	return true;
}

/* follow: pid exec'd; its new program and libraries are mapped, and none
 * of its code ran yet. */
static void on_exec_ready(void *ctx, pid_t pid, bool new_leader)
{
	struct memtrace *mt = ctx;
	struct traced *t;
	struct alloc_target at;
	char why[512];
	bool same, again;
	int err;

	/* The exec's own event first: it drops what the old program had. */
	rb_consumer_drain(mt->consumer);
	t = processes_find(&mt->procs, pid);
	if (!t)
		return;
	again = probes_exec(mt->probes, pid, new_leader) == 1;
	processes_read_identity(t);
	err = alloc_target_find(pid, &at, why, sizeof(why));
	if (err == -ENOENT) {
		processes_set_untraced(t, UNTRACED_STATIC, "exec'd into %s, in which no object "
				       "defines malloc (a static binary): its allocations are "
				       "not seen", t->exe);
		return;
	}
	if (err) {
		processes_set_untraced(t, UNTRACED_PROBES, "exec'd into %s: %s", t->exe, why);
		return;
	}
	/* The new program's own: its addresses, maybe another allocator
	 * (then its probes go on now, before any of its code runs). */
	same = same_file(at.path, t->alloc.path);
	alloc_target_release(&t->alloc);
	t->alloc = at;
	if (!same && probes_attach(mt->probes, pid, &t->alloc, why, sizeof(why)))
		processes_set_untraced(t, UNTRACED_PROBES, "exec'd into %s: %s", t->exe, why);
	else if (same && again &&
		 probes_attach_allocations(mt->probes, pid, &t->alloc, why, sizeof(why)))
		processes_set_untraced(t, UNTRACED_PROBES, "exec'd into %s: %s", t->exe, why);
	read_mappings(mt, pid);
	python_process_mapped(&mt->py_env, &t->py, pid, t->comm);
}

static void on_leader_exit(void *ctx, pid_t pid, pid_t tid)
{
	struct memtrace *mt = ctx;

	probes_retarget(mt->probes, pid, tid);
}

/* follow: pid's leader is exiting, stopped, its memory still readable. All
 * it did is in the ring by now: handle it, and read the code objects of
 * its new stacks, which a lagging consumer would otherwise find gone (their
 * frames then unknown). The process waits for this: its exit reaches its
 * parent a little later. */
static void on_exiting(void *ctx, pid_t pid)
{
	struct memtrace *mt = ctx;

	(void)pid;
	rb_consumer_drain(mt->consumer);
	fresh_stacks_resolve(&mt->fresh, &mt->procs, mt->stacks, mt->py);
}

/* The kernel says (bpf/process_watch.bpf.c) that child, created by the
 * traced parent, is in the filter but has no probes yet. */
void on_late_child(struct memtrace *mt, pid_t parent, pid_t child)
{
	struct traced *p = processes_find(&mt->procs, parent), *t;

	if (processes_find(&mt->procs, child))
		return;
	t = trace_late(mt, child, TRACED_LATE);
	if (!t)
		return;
	t->ppid = parent;
	if (!t->untraced[0])
		processes_set_untraced(t, NULL, "created by PID %d, which memtrace cannot "
				       "ptrace: traced from when it was seen", parent);
	if (p && !t->followed)
		process_watch_children(mt->watch, child);
}

/* A process entered the --cgroup (moved in, or created in it). */
void on_cgroup_enter(struct memtrace *mt, pid_t pid, pid_t parent)
{
	struct traced *t = processes_find(&mt->procs, pid);

	if (t && !t->exited)
		return;
	t = trace_late(mt, pid, TRACED_CGROUP);
	if (t)
		fprintf(stderr, "memtrace: PID %d (%s) entered the cgroup: %s\n", pid, t->comm,
			t->not_at_all ? "not traced" : "tracing it");
	if (t && parent && !t->untraced[0])
		processes_set_untraced(t, NULL, "created in the cgroup by PID %d, which is "
				       "not traced: traced from when memtrace saw it", parent);
}

void on_exit_of(struct memtrace *mt, struct traced *t)
{
	int status;

	t->exited = true;
	t->exited_ns = now_ns();
	if (t->pid == mt->child)
		waitpid(t->pid, &status, WNOHANG);
	epoll_ctl(mt->epfd, EPOLL_CTL_DEL, t->pidfd, NULL);
	probes_forget(mt->probes, t->pid);
	/* A cgroup may have processes again later; -a never ends so. */
	if (!mt->opt.all && !mt->opt.cgroup_path && processes_all_exited(&mt->procs))
		mt->stop = true;
}

void lifecycle_hooks(struct memtrace *mt, struct follow_hooks *hooks)
{
	*hooks = (struct follow_hooks){
		.ctx = mt,
		.born = on_born,
		.exec_ready = on_exec_ready,
		.leader_exit = on_leader_exit,
		.exiting = on_exiting,
	};
}
