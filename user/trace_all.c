// SPDX-License-Identifier: MIT
/* -a: tracing every process of the machine (trace_all.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace_all.h"
#include "tracing.h"
#include "probes.h"
#include "proc/alloc_target.h"
#include "proc/target.h"
#include "python/python_process.h"
#include "symbols/symbolizer.h"
#include "util/vec.h"

/* -a: which allocator files are probed for every process. */
static bool all_libc_known(struct memtrace *mt, const struct alloc_target *lt, bool add)
{
	struct stat st;

	if (stat(lt->path, &st))
		return false;
	for (size_t i = 0; i < mt->nall_libcs; i++)
		if (mt->all_libcs[i].dev == st.st_dev && mt->all_libcs[i].ino == st.st_ino)
			return true;
	if (add && !vec_reserve(&mt->all_libcs, &mt->all_libcs_cap, mt->nall_libcs + 1,
				sizeof(*mt->all_libcs))) {
		mt->all_libcs[mt->nall_libcs].dev = st.st_dev;
		mt->all_libcs[mt->nall_libcs++].ino = st.st_ino;
	}
	return false;
}

/* -a: start tracing an entry made by prepare_process(). */
void attach_all_process(struct memtrace *mt, struct traced *t, bool late)
{
	char why[512];

	if (t->not_at_all || t->exited)
		return;
	t->traced_from_ns = now_ns();
	if (!all_libc_known(mt, &t->alloc, true)) {
		if (probes_attach_all(mt->probes, &t->alloc, why, sizeof(why))) {
			processes_set_untraced(t, UNTRACED_PROBES, "%s", why);
			return;
		}
		if (late)
			processes_set_untraced(t, NULL, "its allocator (%s) was probed only once "
					       "it had started", t->alloc.maps_path);
	}
	probes_add_target(mt->probes, t->pid);
	symbolizer_add_pid(mt->sym, t->pid);
	python_process_attach(&mt->py_env, &t->py, t->pid);
	python_process_probe_objects(&mt->py_env, &t->py, t->pid);
}

/* -a: a process memtrace has not seen yet sent an event. */
void adopt(struct memtrace *mt, pid_t pid, bool at_exec)
{
	struct traced *t;

	if ((pid_t)pid == getpid())
		return;
	if (prepare_process(mt, pid, TRACED_ALL) || !(t = processes_find(&mt->procs, pid))) {
		/* Gone before it could be looked at: its events still count. */
		if (!processes_add(&mt->procs, pid, &t)) {
			t->how = TRACED_ALL;
			t->exited = true;
			t->exited_ns = now_ns();
		}
		return;
	}
	if (at_exec && t->not_at_all && t->untraced_kind &&
	    !strcmp(t->untraced_kind, UNTRACED_NO_LIBC)) {
		/* Seen at its exec, before its loader mapped its libraries:
		 * looked at again when the loader says it has. */
		t->untraced[0] = '\0';
		t->not_at_all = false;
		t->untraced_kind = NULL;
		t->detect_pending = true;
		t->traced_from_ns = now_ns();
		/* What it maps now (its program, the loader) goes to the
		 * unwinder at once: a stack that runs into a library mapped
		 * next comes with a snapshot, finished once that is read. */
		read_mappings(mt, pid);
		track_exit(mt, t);
		return;
	}
	attach_all_process(mt, t, true);
	read_mappings(mt, pid);
	track_exit(mt, t);
}

/* -a: a process seen at its exec has mapped its libraries (or already
 * allocates): its allocator, its Python. */
void redetect(struct memtrace *mt, struct traced *t, bool last_chance)
{
	char why[512];
	int err;

	alloc_target_release(&t->alloc);
	err = alloc_target_find(t->pid, &t->alloc, why, sizeof(why));
	if (err && !last_chance && err != -ESRCH)
		return;
	t->detect_pending = false;
	if (err) {
		processes_set_untraced(t, err == -ESRCH ? UNTRACED_GONE :
				       processes_exe_is_static(t->pid) ? UNTRACED_STATIC :
				       UNTRACED_NO_LIBC, "%s", why);
		return;
	}
	processes_read_identity(t);
	if (may_be_python(mt, t->pid))
		python_process_detect(&mt->py_env, &t->py, t->pid, t->comm, true);
	attach_all_process(mt, t, true);
	read_mappings(mt, t->pid);
}

/* -a: every user process running now. */
int scan_all(struct memtrace *mt)
{
	struct dirent *de;
	DIR *d = opendir("/proc");

	if (!d) {
		fprintf(stderr, "memtrace: cannot list /proc: %s\n", strerror(errno));
		return -errno;
	}
	while ((de = readdir(d))) {
		char why[256];
		pid_t pid = atoi(de->d_name);

		if (pid <= 0 || pid == getpid() || target_check_pid(pid, why, sizeof(why)))
			continue;	/* kernel threads, zombies */
		prepare_process(mt, pid, TRACED_ALL);
	}
	closedir(d);
	return 0;
}
