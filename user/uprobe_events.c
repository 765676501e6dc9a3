// SPDX-License-Identifier: MIT
/*
 * tracefs uprobe events with per-process perf events as the filter (see
 * uprobe_events.h for why).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/perf_event.h>
#include <bpf/bpf.h>

#include "uprobe_events.h"
#include "util/tracefs.h"
#include "util/vec.h"
#include "util/why.h"

#define GROUP_PREFIX "memtrace_"
#define PF_KTHREAD 0x00200000

/* One probe: a tracefs definition and the anchor that carries its program. */
struct ue_def {
	dev_t dev;
	ino_t ino;
	uint64_t offset;
	bool ret;
	int prog_fd;		/* -1: armed, no program linked yet */
	uint64_t cookie;
	unsigned name;		/* e<name> */
	int anchor_fd;		/* perf event the program is attached to */
	int link_fd;		/* the BPF link on it */
	int id;			/* tracepoint id */
	pid_t pending;		/* deferred: a process whose entry waits for the
				   breakpoints to be installed (0: none) */
};

/* One process's entries: a perf group, one event per definition. */
struct ue_entry {
	size_t def;
	int fd;
};

struct ue_proc {
	pid_t pid;
	struct ue_entry *v;
	size_t n, cap;
};

struct uprobe_events {
	int tracefs;		/* detached mount */
	char group[32];
	bool system_wide;
	pid_t anchor_pid;	/* kthreadd, or a keeper child */
	pid_t keeper;		/* 0: none */
	struct ue_def *defs;
	size_t ndefs, defs_cap;
	struct ue_proc **procs;
	size_t nprocs, procs_cap;
	unsigned next_name;
	size_t repaired;	/* a fork child's breakpoints put back */
	bool deferring;		/* uprobe_events_defer() */
};

int uprobe_events_format(char *buf, size_t len, const char *group, const char *name,
			 const char *path, uint64_t offset, bool ret)
{
	for (const char *c = path; *c; c++)
		if (isspace((unsigned char)*c))
			return -EINVAL;
	return snprintf(buf, len, "%c:%s/%s %s:0x%" PRIx64 "\n", ret ? 'r' : 'p', group,
			name, path, offset);
}

bool uprobe_events_parse_line(const char *line, pid_t *owner, char *name, size_t name_len)
{
	const char *g, *end;
	char *num_end;
	long pid;

	/* "p:GROUP/NAME ...", "r:GROUP/NAME ..." (r<N>: a maxactive) */
	if (line[0] != 'p' && line[0] != 'r')
		return false;
	g = strchr(line, ':');
	if (!g || g - line > 8)
		return false;
	g++;
	if (strncmp(g, GROUP_PREFIX, strlen(GROUP_PREFIX)))
		return false;
	pid = strtol(g + strlen(GROUP_PREFIX), &num_end, 10);
	if (num_end == g + strlen(GROUP_PREFIX) || *num_end != '/' || pid <= 0)
		return false;
	end = num_end + strcspn(num_end, " \t\n");
	if ((size_t)(end - g) >= name_len)
		return false;
	memcpy(name, g, end - g);
	name[end - g] = '\0';
	*owner = (pid_t)pid;
	return true;
}

static int write_events(int tracefs, const char *line)
{
	int fd = openat(tracefs, "uprobe_events", O_WRONLY | O_APPEND | O_CLOEXEC);
	ssize_t n;
	int err = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, line, strlen(line));
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

static void delete_definition(int tracefs, const char *group_name)
{
	char line[128];

	snprintf(line, sizeof(line), "-:%s\n", group_name);
	write_events(tracefs, line);
}

/* Is pid a live memtrace (its definitions are in use)? */
static bool live_memtrace(pid_t pid)
{
	char path[64], comm[32] = "";
	ssize_t n;
	int fd;

	if (kill(pid, 0) && errno == ESRCH)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, comm, sizeof(comm) - 1);
	close(fd);
	comm[n > 0 ? n : 0] = '\0';
	return !strncmp(comm, "memtrace", 8);
}

/* Definitions left by memtrace processes that died (SIGKILL): without a
 * consumer they cost nothing, but they would pile up. One still in use
 * (by the releaser of an exited memtrace) refuses to go: that is fine. */
static void remove_stale(int tracefs)
{
	char *buf = NULL, *line, *save;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd = openat(tracefs, "uprobe_events", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	for (;;) {
		if (vec_reserve(&buf, &cap, len + 4097, 1))
			break;
		n = read(fd, buf + len, 4096);
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);
	if (!buf)
		return;
	buf[len] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[96];
		pid_t owner;

		if (uprobe_events_parse_line(line, &owner, name, sizeof(name)) &&
		    owner != getpid() && !live_memtrace(owner))
			delete_definition(tracefs, name);
	}
	free(buf);
}

/* The anchor's task: a kernel thread has no address space, so the
 * kernel's filter never matches it and no breakpoint goes anywhere. */
static bool is_kthreadd(pid_t pid)
{
	char path[64], buf[512], *p;
	unsigned long flags = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) == 1 &&
	       (flags & PF_KTHREAD);
}

int uprobe_events_open(struct uprobe_events **out, bool system_wide,
		       char *why, size_t why_len)
{
	struct uprobe_events *ue;
	int mnt, probe;

	mnt = tracefs_mount(why, why_len);
	if (mnt < 0)
		return mnt;
	probe = openat(mnt, "uprobe_events", O_RDONLY | O_CLOEXEC);
	if (probe < 0) {
		int err = -errno;

		close(mnt);
		return why_fail(err, why, why_len, "this kernel has no uprobe events "
				"(CONFIG_UPROBE_EVENTS)");
	}
	close(probe);

	ue = calloc(1, sizeof(*ue));
	if (!ue) {
		close(mnt);
		return -ENOMEM;
	}
	ue->tracefs = mnt;
	ue->system_wide = system_wide;
	snprintf(ue->group, sizeof(ue->group), GROUP_PREFIX "%d", getpid());
	remove_stale(mnt);
	if (!system_wide) {
		ue->anchor_pid = 2;
		if (!is_kthreadd(2)) {
			/* A PID namespace without kernel threads: a child that
			 * never runs probed code holds the anchors. */
			ue->keeper = fork();
			if (ue->keeper < 0) {
				int err = -errno;

				uprobe_events_close(ue);
				return why_fail(err, why, why_len, "fork: %s", strerror(-err));
			}
			if (ue->keeper == 0) {
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				for (;;)
					pause();
			}
			ue->anchor_pid = ue->keeper;
		}
	}
	*out = ue;
	return 0;
}

static int perf_open(int id, pid_t pid, int cpu, int group_fd, bool enable_on_exec)
{
	struct perf_event_attr a;
	long fd;

	memset(&a, 0, sizeof(a));
	a.type = PERF_TYPE_TRACEPOINT;
	a.size = sizeof(a);
	a.config = id;
	a.sample_period = 1;
	a.disabled = 1;
	/* Tells the kernel that exec and mmap will install the breakpoints:
	 * it then skips its walk over every process that maps the file. */
	a.enable_on_exec = enable_on_exec;
	fd = syscall(SYS_perf_event_open, &a, pid, cpu, group_fd, PERF_FLAG_FD_CLOEXEC);
	return fd < 0 ? -errno : (int)fd;
}

static int read_id(struct uprobe_events *ue, unsigned name)
{
	char event[16];

	snprintf(event, sizeof(event), "e%u", name);
	return tracefs_event_id(ue->tracefs, ue->group, event);
}

static void def_release(struct uprobe_events *ue, struct ue_def *d)
{
	char name[64];

	if (d->link_fd >= 0)
		close(d->link_fd);
	if (d->anchor_fd >= 0)
		close(d->anchor_fd);
	snprintf(name, sizeof(name), "%s/e%u", ue->group, d->name);
	delete_definition(ue->tracefs, name);
}

/* Link prog_fd to d's anchor: the program then runs for every entry of
 * the definition. */
static int def_link(struct ue_def *d, int prog_fd, uint64_t cookie)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo, .perf_event.bpf_cookie = cookie);
	int fd = bpf_link_create(prog_fd, d->anchor_fd, BPF_PERF_EVENT, &lo);

	if (fd < 0)
		return fd;
	d->link_fd = fd;
	d->prog_fd = prog_fd;
	return 0;
}

/* The definition of one probe, created on first use. file_fd: an O_PATH
 * descriptor of the probed file. */
static int def_get(struct uprobe_events *ue, int file_fd, const struct stat *st,
		   uint64_t offset, bool ret, int prog_fd, uint64_t cookie, size_t *idx)
{
	char line[256], name[16], path[40];
	struct ue_def *d;
	int err;

	for (size_t i = 0; i < ue->ndefs; i++) {
		d = &ue->defs[i];
		if (d->dev != st->st_dev || d->ino != st->st_ino || d->offset != offset ||
		    d->ret != ret || d->cookie != cookie)
			continue;
		/* Arming: any program's definition installs the site. */
		if (d->prog_fd == prog_fd || prog_fd < 0) {
			*idx = i;
			return 0;
		}
		/* Armed: the program comes now. */
		if (d->prog_fd < 0) {
			err = def_link(d, prog_fd, cookie);
			if (!err)
				*idx = i;
			return err;
		}
	}
	if (vec_reserve(&ue->defs, &ue->defs_cap, ue->ndefs + 1, sizeof(*ue->defs)))
		return -ENOMEM;
	d = &ue->defs[ue->ndefs];
	*d = (struct ue_def){ .dev = st->st_dev, .ino = st->st_ino, .offset = offset,
			      .ret = ret, .prog_fd = prog_fd, .cookie = cookie,
			      .name = ue->next_name++, .anchor_fd = -1, .link_fd = -1 };
	/* Through our descriptor: any path (a container's, one with spaces)
	 * resolves, and it is the file we looked at. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", file_fd);
	snprintf(name, sizeof(name), "e%u", d->name);
	err = uprobe_events_format(line, sizeof(line), ue->group, name, path, offset, ret);
	if (err < 0)
		return err;
	err = write_events(ue->tracefs, line);
	if (err)
		return err;
	d->id = read_id(ue, d->name);
	if (d->id < 0) {
		err = d->id;
		goto fail;
	}
	d->anchor_fd = ue->system_wide ? perf_open(d->id, -1, 0, -1, false)
				       : perf_open(d->id, ue->anchor_pid, -1, -1, true);
	if (d->anchor_fd < 0) {
		err = d->anchor_fd;
		goto fail;
	}
	if (prog_fd >= 0 && (err = def_link(d, prog_fd, cookie)))
		goto fail;
	*idx = ue->ndefs++;
	return 0;
fail:
	def_release(ue, d);
	return err;
}

static struct ue_proc *proc_find(struct uprobe_events *ue, pid_t pid)
{
	for (size_t i = 0; i < ue->nprocs; i++)
		if (ue->procs[i]->pid == pid)
			return ue->procs[i];
	return NULL;
}

static struct ue_proc *proc_get(struct uprobe_events *ue, pid_t pid)
{
	struct ue_proc *p = proc_find(ue, pid);

	if (p)
		return p;
	if (vec_reserve(&ue->procs, &ue->procs_cap, ue->nprocs + 1, sizeof(*ue->procs)))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	ue->procs[ue->nprocs++] = p;
	return p;
}

static bool proc_has(const struct ue_proc *p, size_t def)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].def == def)
			return true;
	return false;
}

/* Open p's entry for definition def on task tid, in p's perf group. */
static int entry_open(struct uprobe_events *ue, struct ue_proc *p, pid_t tid, size_t def,
		      bool born)
{
	int fd;

	if (vec_reserve(&p->v, &p->cap, p->n + 1, sizeof(*p->v)))
		return -ENOMEM;
	if (!born && ue->deferring) {
		/* Installed for every process at once by the flush. */
		born = true;
		ue->defs[def].pending = tid;
	}
	fd = perf_open(ue->defs[def].id, tid, -1, p->n ? p->v[0].fd : -1, born);
	if (fd < 0)
		return fd;
	p->v[p->n++] = (struct ue_entry){ .def = def, .fd = fd };
	return 0;
}

int uprobe_events_attach(struct uprobe_events *ue, pid_t pid, int prog_fd, const char *path,
			 const uint64_t *offsets, const uint64_t *cookies, size_t n, bool ret)
{
	struct ue_proc *p = NULL;
	struct stat st;
	int file_fd, err = 0;

	file_fd = open(path, O_PATH | O_CLOEXEC);
	if (file_fd < 0)
		return -errno;
	if (fstat(file_fd, &st)) {
		err = -errno;
		goto out;
	}
	if (!ue->system_wide && !(p = proc_get(ue, pid))) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n && !err; i++) {
		size_t def;

		err = def_get(ue, file_fd, &st, offsets[i], ret, prog_fd,
			      cookies ? cookies[i] : 0, &def);
		if (!err && p && !proc_has(p, def))
			err = entry_open(ue, p, pid, def, false);
	}
out:
	close(file_fd);
	return err;
}

static void proc_close_entries(struct ue_proc *p);

/* Where def's probe is in pid's address space (0: not mapped). */
static uint64_t probe_address(const struct ue_def *d, const char *maps)
{
	for (const char *line = maps; line && *line;) {
		unsigned long lo, hi, pgoff, ino, maj, min;
		char perms[8];
		const char *end = strchr(line, '\n');

		if (sscanf(line, "%lx-%lx %7s %lx %lx:%lx %lu", &lo, &hi, perms, &pgoff, &maj, &min,
			   &ino) == 7 && perms[2] == 'x' && ino == d->ino &&
		    maj == major(d->dev) && min == minor(d->dev) && d->offset >= pgoff &&
		    d->offset < pgoff + (hi - lo))
			return lo + (d->offset - pgoff);
		line = end ? end + 1 : NULL;
	}
	return 0;
}

static char *read_maps(pid_t pid)
{
	char path[64], *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	for (;;) {
		if (vec_reserve(&buf, &cap, len + 4097, 1))
			break;
		n = read(fd, buf + len, 4096);
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);
	if (buf)
		buf[len] = '\0';
	return buf;
}

/*
 * The child's breakpoints were copied by fork; but another tracer's probe
 * detaching meanwhile (the kernel then walks every process that maps the
 * file, and removes what no consumer claims) took away those of a child
 * that had no entry yet. They are checked now that the entries exist (a
 * read of the child's memory waits for such a walk to finish with it).
 * If one is missing, the child's entries are opened again the ordinary
 * way, which installs the breakpoints (with an entry of its address space
 * already there, the kernel would not look: so the old ones go first;
 * the child is stopped, nothing runs meanwhile). Returns 1 if it did.
 */
static int fork_repair(struct uprobe_events *ue, struct ue_proc *cp, pid_t child)
{
	char *maps = read_maps(child), path[64];
	bool missing = false;
	size_t *defs, n;
	int memfd, err = 0;

	snprintf(path, sizeof(path), "/proc/%d/mem", child);
	memfd = open(path, O_RDONLY | O_CLOEXEC);
	for (size_t i = 0; i < cp->n && !missing; i++) {
		uint64_t addr = maps ? probe_address(&ue->defs[cp->v[i].def], maps) : 0;
		unsigned char byte = 0;

		missing = !addr || memfd < 0 || pread(memfd, &byte, 1, (off_t)addr) != 1 ||
			  byte != 0xcc;
	}
	if (memfd >= 0)
		close(memfd);
	free(maps);
	if (!missing)
		return 0;
	n = cp->n;
	defs = calloc(n ? n : 1, sizeof(*defs));
	if (!defs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		defs[i] = cp->v[i].def;
	proc_close_entries(cp);
	for (size_t i = 0; i < n && !err; i++)
		err = entry_open(ue, cp, child, defs[i], false);
	free(defs);
	ue->repaired++;
	return err ? err : 1;
}

int uprobe_events_fork(struct uprobe_events *ue, pid_t parent, pid_t child)
{
	struct ue_proc *pp, *cp;
	int err = 0;

	if (ue->system_wide)
		return 0;
	pp = proc_find(ue, parent);
	if (!pp || !(cp = proc_get(ue, child)))
		return pp ? -ENOMEM : -ENOENT;
	/* proc_get may have moved the array, never the entries. */
	for (size_t i = 0; i < pp->n && !err; i++)
		if (!proc_has(cp, pp->v[i].def))
			err = entry_open(ue, cp, child, pp->v[i].def, true);
	if (!err)
		err = fork_repair(ue, cp, child);
	return err < 0 ? err : 0;
}

int uprobe_events_defer(struct uprobe_events *ue, bool on)
{
	int err = 0;

	ue->deferring = on;
	if (on)
		return 0;
	/* One ordinary entry per definition, opened and closed: the
	 * kernel's walk installs the breakpoint in every process that has an
	 * entry (its filter says so), where one walk per process and
	 * definition would be O(processes x processes). It is memtrace's own:
	 * for an address space that has an entry already the kernel would not
	 * walk; closing it walks once more, taking it out of memtrace. */
	for (size_t i = 0; i < ue->ndefs; i++) {
		int fd;

		if (!ue->defs[i].pending)
			continue;
		fd = perf_open(ue->defs[i].id, getpid(), -1, -1, false);
		if (fd >= 0)
			close(fd);
		else if (!err && fd != -ESRCH)
			err = fd;
		ue->defs[i].pending = 0;
	}
	return err;
}

size_t uprobe_events_repaired(const struct uprobe_events *ue)
{
	return ue->repaired;
}

static void proc_close_entries(struct ue_proc *p)
{
	/* Siblings first: closing a group leader first would make each
	 * sibling a group of its own, one by one. */
	for (size_t i = p->n; i-- > 0;)
		close(p->v[i].fd);
	p->n = 0;
}

/* Reopen every entry of p on task tid. Opened before the old ones are
 * closed, so that the address space is never without an entry. */
static int proc_reopen(struct uprobe_events *ue, struct ue_proc *p, pid_t tid)
{
	struct ue_proc fresh = { .pid = p->pid };
	int err = 0;

	for (size_t i = 0; i < p->n && !err; i++)
		err = entry_open(ue, &fresh, tid, p->v[i].def, false);
	if (err) {
		proc_close_entries(&fresh);
		free(fresh.v);
		return err;
	}
	proc_close_entries(p);
	free(p->v);
	p->v = fresh.v;
	p->n = fresh.n;
	p->cap = fresh.cap;
	return 0;
}

int uprobe_events_exec(struct uprobe_events *ue, pid_t pid, bool new_leader)
{
	struct ue_proc *p = ue->system_wide ? NULL : proc_find(ue, pid);

	if (!p || !p->n)
		return 0;
	if (new_leader)
		return proc_reopen(ue, p, pid);
	/* enable_on_exec enabled the group: an enabled event is scheduled
	 * at every context switch, a disabled one is not. */
	return ioctl(p->v[0].fd, PERF_EVENT_IOC_DISABLE, PERF_IOC_FLAG_GROUP) ? -errno : 0;
}

int uprobe_events_retarget(struct uprobe_events *ue, pid_t pid, pid_t tid)
{
	struct ue_proc *p = ue->system_wide ? NULL : proc_find(ue, pid);

	return p && p->n ? proc_reopen(ue, p, tid) : 0;
}

void uprobe_events_forget(struct uprobe_events *ue, pid_t pid)
{
	for (size_t i = 0; i < ue->nprocs; i++) {
		struct ue_proc *p = ue->procs[i];

		if (p->pid != pid)
			continue;
		proc_close_entries(p);
		free(p->v);
		free(p);
		ue->procs[i] = ue->procs[--ue->nprocs];
		return;
	}
}

size_t uprobe_events_entries(const struct uprobe_events *ue)
{
	size_t n = 0;

	for (size_t i = 0; i < ue->nprocs; i++)
		n += ue->procs[i]->n;
	return n;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* In the releaser: close every descriptor but the sorted keep[]. */
static void close_all_but(const int *keep, size_t n)
{
	unsigned from = 0;

	for (size_t i = 0; i < n; i++) {
		if ((unsigned)keep[i] > from)
			syscall(SYS_close_range, from, (unsigned)keep[i] - 1, 0);
		from = (unsigned)keep[i] + 1;
	}
	syscall(SYS_close_range, from, ~0U, 0);
}

void uprobe_events_close(struct uprobe_events *ue)
{
	int *keep;
	size_t nkeep = 0;
	pid_t child = -1;

	if (!ue)
		return;
	/* The breakpoints leave each traced process as its entries close
	 * (no grace period): after this, no process pays for a probe. */
	for (size_t i = 0; i < ue->nprocs; i++) {
		proc_close_entries(ue->procs[i]);
		free(ue->procs[i]->v);
		free(ue->procs[i]);
	}
	free(ue->procs);

	/* Unregistering a definition waits for a grace period, one after
	 * another: a child does it while memtrace exits. */
	keep = calloc(2 * ue->ndefs + 1, sizeof(*keep));
	if (keep && ue->ndefs) {
		keep[nkeep++] = ue->tracefs;
		for (size_t i = 0; i < ue->ndefs; i++) {
			if (ue->defs[i].link_fd >= 0)	/* -1: armed only */
				keep[nkeep++] = ue->defs[i].link_fd;
			keep[nkeep++] = ue->defs[i].anchor_fd;
		}
		qsort(keep, nkeep, sizeof(*keep), cmp_int);
		child = fork();
	}
	if (child == 0) {
		/* The releaser: nothing of memtrace's but these, no terminal
		 * (a pipe reader must not wait for us), no signals from it. */
		setsid();
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		close_all_but(keep, nkeep);
	}
	if (child <= 0) {
		/* The releaser, or memtrace itself if it could not fork. */
		for (size_t i = 0; i < ue->ndefs; i++)
			def_release(ue, &ue->defs[i]);
		if (child == 0)
			_exit(0);
	} else {
		for (size_t i = 0; i < ue->ndefs; i++) {
			if (ue->defs[i].link_fd >= 0)
				close(ue->defs[i].link_fd);
			close(ue->defs[i].anchor_fd);
		}
	}
	if (ue->keeper > 0) {
		kill(ue->keeper, SIGKILL);
		waitpid(ue->keeper, NULL, 0);
	}
	free(keep);
	free(ue->defs);
	close(ue->tracefs);
	free(ue);
}
