/* SPDX-License-Identifier: MIT */
/*
 * The life cycle of one traced process as a Python process: is it a CPython
 * memtrace can read (at attach, after a library is mapped, after an exec),
 * publishing its offsets to the BPF frame walker, and, with
 * --python-objects, probing its pymalloc once per interpreter. What cannot
 * be done is said once on stderr and in every report (the warnings), and
 * the process is then traced natively.
 */
#ifndef MEMTRACE_PYTHON_PROCESS_H
#define MEMTRACE_PYTHON_PROCESS_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "options.h"
#include "py_arenas.h"
#include "py_census.h"
#include "python_detect.h"

struct probes;
struct warnings;

/* What the life cycle needs from the rest of memtrace. */
struct sites_cache;

struct python_env {
	struct probes *probes;		/* NULL until the probes are loaded */
	struct warnings *warnings;
	enum python_mode mode;
	bool objects;			/* --python-objects */
	struct sites_cache *sites;	/* with objects: pymalloc's inlined
					   sites per file, found ahead */
	bool native_all;		/* --native-all: no eval loop stop */
};

/* One process's Python state; zeroed: not (yet) known as Python. */
struct python_process {
	bool python;			/* a supported CPython: Python frames */
	struct py_target py;
	/* --python-objects: the interpreter object whose pymalloc is probed
	 * (its probes stay until memtrace exits, even past an exec) */
	char pymalloc_probed[PATH_MAX];
	/* The interpreter object whose code-object deallocator is probed
	 * (once, like pymalloc's probes). */
	char dealloc_probed[PATH_MAX];
	/* --types: where its arena table is (looked for once: 1 found, -1
	 * not, with why), and its last two censuses (previous: for growth;
	 * have_previous: there was one). */
	int arenas_state;
	struct py_arenas_ref arenas;
	char census_why[256];		/* "": the census went fine */
	struct py_census census, previous;
	bool have_census, have_previous;
};

/*
 * Is pid a CPython we support? Not being Python is fine, unless the mode
 * is PY_ON and quiet_if_absent is false: then one stderr line and
 * -ENOENT. An unsupported Python is said once and traced natively.
 * Returns 0 or a negative errno when memtrace must stop.
 */
int python_process_detect(const struct python_env *env, struct python_process *pp,
			  pid_t pid, const char *comm, bool quiet_if_absent);

/*
 * The probes are loaded: give the BPF walker pid's offsets, before the
 * allocation probes are attached so that the first allocations get their
 * Python frames. Returns 0, or a negative errno after one stderr line.
 */
int python_process_attach(const struct python_env *env, struct python_process *pp,
			  pid_t pid);

/* With --python-objects, probe pid's pymalloc (once per interpreter);
 * what cannot be probed is said once, and the rest goes on. */
void python_process_probe_objects(const struct python_env *env, struct python_process *pp,
				  pid_t pid);

/* pid mapped something new (a dlopen, or the program after an exec): it
 * may have become Python. */
void python_process_mapped(const struct python_env *env, struct python_process *pp,
			   pid_t pid, const char *comm);

/*
 * --types: count pid's live objects by type now (src: what memtrace tracks
 * of it), within budget_s; the census before becomes the previous one. What
 * cannot be done is in pp->census_why, said in the report.
 */
void python_process_census(struct python_process *pp, pid_t pid,
			   const struct py_census_source *src, double budget_s,
			   struct strpool *names);

/* Free what the process's Python state holds. */
void python_process_free(struct python_process *pp);

/* pid exec'd: whatever runs now is detected afresh from its mappings. */
void python_process_exec(const struct python_env *env, struct python_process *pp,
			 pid_t pid);

#endif /* MEMTRACE_PYTHON_PROCESS_H */
