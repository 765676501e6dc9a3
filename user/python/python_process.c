// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "python_process.h"
#include "pymalloc_sites_cache.h"
#include "pymalloc_target.h"
#include "probes.h"
#include "proc/target_file.h"
#include "report/warnings.h"
#include "util/why.h"

/*
 * Probe the code objects' deallocator (once per interpreter), so that
 * frames carry generations and a code object freed before its frames are
 * named is never given another's name; what cannot be probed is said once,
 * and names are then checked the weaker way (user/python/python_symbols.h).
 */
static void watch_deaths(const struct python_env *env, struct python_process *pp, pid_t pid)
{
	char path[64], why[512];
	int fd, err;

	pp->py.off.watch_deaths = 0;
	if (!strcmp(pp->dealloc_probed, pp->py.lib_path)) {
		pp->py.off.watch_deaths = 1;
		return;
	}
	if (!pp->py.code_dealloc_offset) {
		warnings_add(env->warnings, "PID %d: the code objects' deallocator is not in %s: "
			     "a Python frame whose code is freed and replaced before memtrace "
			     "reads it may be misnamed", pid, pp->py.lib_path);
		return;
	}
	/* Attached through the very file mapped (user/proc/target_file.h). */
	fd = python_open_lib(pid, pp->py.lib_path);
	if (fd < 0) {
		warnings_add(env->warnings, "PID %d: cannot open %s: %s: a Python frame whose "
			     "code is freed and replaced before memtrace reads it may be "
			     "misnamed", pid, pp->py.lib_path, strerror(-fd));
		return;
	}
	target_file_fd_path(fd, path, sizeof(path));
	err = probes_attach_code_dealloc(env->probes, pid, path, pp->py.code_dealloc_offset,
					 why, sizeof(why));
	close(fd);
	if (err) {
		warnings_add(env->warnings, "PID %d: %s: a Python frame whose code is freed and "
			     "replaced before memtrace reads it may be misnamed", pid, why);
		return;
	}
	snprintf(pp->dealloc_probed, sizeof(pp->dealloc_probed), "%s", pp->py.lib_path);
	pp->py.off.watch_deaths = 1;
}

/* Give the BPF walker pid's offsets, deaths watched first: every frame
 * it records then carries its code's generation. */
static int publish(const struct python_env *env, struct python_process *pp, pid_t pid)
{
	watch_deaths(env, pp, pid);
	if (env->native_all)
		pp->py.off.eval_start = pp->py.off.eval_end = 0;
	else if (pp->py.off.eval_end)
		/* Said, as the stacks look whole (stack_complete) without it. */
		warnings_add(env->warnings, "Python stacks end at the outermost Python frame: "
			     "the interpreter's start-up frames outside it (Py_RunMain ... "
			     "_start) are not walked (--native-all walks them)");
	return probes_set_python(env->probes, pid, &pp->py.off);
}

/* --python-objects: start looking for pymalloc's inlined sites in pid's
 * interpreter now, to be ready when its probes go on. */
static void prefetch_sites(const struct python_env *env, const struct python_process *pp,
			   pid_t pid)
{
	int fd = python_open_lib(pid, pp->py.lib_path);

	if (fd < 0)
		return;		/* said when the probes go on */
	sites_cache_prefetch(env->sites, fd);
	close(fd);
}

int python_process_detect(const struct python_env *env, struct python_process *pp,
			  pid_t pid, const char *comm, bool quiet_if_absent)
{
	char why[512];
	int err;

	if (env->mode == PY_OFF)
		return 0;
	err = python_detect(pid, &pp->py, why, sizeof(why));
	if (!err) {
		pp->python = true;
		if (env->objects && env->sites)
			prefetch_sites(env, pp, pid);
		if (env->probes)
			publish(env, pp, pid);
		return 0;
	}
	if (err == -ENOENT && env->mode == PY_ON && !quiet_if_absent) {
		why_say("PID %d (%s) is not a Python process (no _PyRuntime in its "
			"mappings); use --python auto or off", pid, comm);
		return err;
	}
	if (err == -ENOTSUP) {
		/* Said now, and in every report. */
		why_say("PID %d: %s: tracing its native allocations only", pid, why);
		warnings_add(env->warnings, "PID %d: %s: tracing its native allocations only",
			     pid, why);
	}
	return 0;
}

/* --python-objects: probe pymalloc too, where the interpreter lets us;
 * where it does not, say so once and go on with the rest. */
static void attach_pymalloc(const struct python_env *env, struct python_process *pp,
			    pid_t pid)
{
	struct pymalloc_target pm;
	char why[512];
	int err;

	/* Once per interpreter: probing it twice (a Python that exec'd the
	 * same Python) would report every object twice. */
	if (!strcmp(pp->pymalloc_probed, pp->py.lib_path))
		return;
	snprintf(pp->pymalloc_probed, sizeof(pp->pymalloc_probed), "%s", pp->py.lib_path);

	err = pymalloc_target_find(pid, &pp->py, env->sites, &pm, why, sizeof(why));
	if (!err && pm.sites.n_sites)
		err = probes_attach_pymalloc_sites(env->probes, pid, pm.path, &pm.sites,
						   why, sizeof(why));
	else if (!err)
		err = probes_attach_pymalloc(env->probes, pid, pm.path, pm.offset,
					     pm.free_probe_offset, why, sizeof(why));
	if (!err && pm.sites.n_sites)
		/* Not an error, but it says what the sizes mean. */
		warnings_add(env->warnings, "PID %d: pymalloc is inlined in %s: probed at its "
			     "%zu inlined sites; %zu of its %zu allocation sites name the "
			     "requested size, objects from the others are counted at their "
			     "pymalloc block size (see accounting)", pid, pp->py.lib_path,
			     pm.sites.n_sites, pm.sites.n_sized, pm.sites.n_alloc);
	pymalloc_target_free(&pm);
	if (err) {
		why_say("PID %d: --python-objects: %s", pid, why);
		warnings_add(env->warnings, "PID %d: --python-objects: %s", pid, why);
	}
}

int python_process_attach(const struct python_env *env, struct python_process *pp,
			  pid_t pid)
{
	int err;

	if (!pp->python)
		return 0;
	err = publish(env, pp, pid);
	if (err) {
		fprintf(stderr, "memtrace: PID %d: cannot load its Python offsets: %s\n",
			pid, strerror(-err));
		return err;
	}
	return 0;
}

void python_process_probe_objects(const struct python_env *env, struct python_process *pp,
				  pid_t pid)
{
	if (pp->python && env->objects)
		attach_pymalloc(env, pp, pid);
}

void python_process_mapped(const struct python_env *env, struct python_process *pp,
			   pid_t pid, const char *comm)
{
	if (pp->python)
		return;
	python_process_detect(env, pp, pid, comm, true);
	python_process_probe_objects(env, pp, pid);
}

void python_process_census(struct python_process *pp, pid_t pid,
			   const struct py_census_source *src, double budget_s,
			   struct strpool *names)
{
	struct py_census next;
	int err;

	if (!pp->python)
		return;
	if (!pp->arenas_state) {
		err = py_arenas_find(pid, &pp->py, &pp->arenas, pp->census_why,
				     sizeof(pp->census_why));
		if (err == -ESRCH)
			return;		/* gone: the last census stands */
		pp->arenas_state = err ? -1 : 1;
	}
	if (pp->arenas_state < 0)
		return;
	err = py_census_take(pid, &pp->py, &pp->arenas, src, budget_s, names, &next);
	if (err == -ESRCH)
		return;
	if (err) {
		snprintf(pp->census_why, sizeof(pp->census_why), "the census failed: %s",
			 err == -ENOMEM ? "out of memory" : "the arena table is unreadable");
		return;
	}
	pp->census_why[0] = '\0';
	py_census_free(&pp->previous);
	pp->previous = pp->census;
	pp->have_previous = pp->have_census;
	pp->census = next;
	pp->have_census = true;
}

void python_process_free(struct python_process *pp)
{
	py_census_free(&pp->census);
	py_census_free(&pp->previous);
	pp->have_census = pp->have_previous = false;
}

void python_process_exec(const struct python_env *env, struct python_process *pp,
			 pid_t pid)
{
	/* Another program: its objects are not the old one's. */
	python_process_free(pp);
	pp->arenas_state = 0;
	if (!pp->python)
		return;
	pp->python = false;
	probes_clear_python(env->probes, pid);
}
