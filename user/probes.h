/* SPDX-License-Identifier: MIT */
/*
 * The BPF side as user space sees it: load the probe programs, attach them
 * to a process's allocator, read their counters. Attaching is per process,
 * so other processes that map the same library never hit a breakpoint.
 */
#ifndef MEMTRACE_PROBES_H
#define MEMTRACE_PROBES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include "memtrace_events.h"
#include "python/pymalloc_sites.h"
#include "proc/alloc_target.h"

struct bpf_object;
struct probes;
struct probe_maps;

/* A process whose allocator sites are armed while the programs load
 * (uprobe_events.h): probes_attach() then only links the programs, and
 * the kernel's wait for a grace period before its first breakpoint
 * install is spent beside the verifier instead of after it. */
struct probes_arm {
	pid_t pid;
	const struct alloc_target *at;
};

struct probes_config {
	enum mt_stack_mode stack_mode;
	size_t ringbuf_bytes;		/* power of two */
	bool empty_probes;		/* programs return at once (benchmarks) */
	size_t unwind_rows;		/* rows the unwind table array holds */
	uint64_t sample_bytes;		/* --sample-bytes (0: trace every call) */
	uint64_t sample_seed;		/* seed of the sampling intervals */
	bool system_wide;		/* -a: probes_attach_all(), no per-process
					   probes */
	bool python_objects;		/* --python-objects: load pymalloc's
					   programs (probes_attach_pymalloc*) */
	bool sessions;			/* sampling, DWARF stacks, children
					   followed: the first process traced on
					   each allocator file gets session
					   uprobes where the kernel has them
					   (bpf/alloc_probes.bpf.c, alloc_session) */
	const char *btf_path;		/* the kernel's types, for libbpf's
					   btf_custom_path (kernel_btf.h);
					   NULL: the kernel's own */
	const struct probes_arm *arm;	/* processes probes_attach() will get,
					   armed with tracefs events (not with
					   sessions or system-wide) */
	size_t narm;
};

/* Load and verify the BPF programs, on the shared maps (probe_maps.h).
 * why: one line for a person. */
int probes_open(struct probes **out, const struct probe_maps *maps,
		const struct probes_config *cfg, char *why, size_t why_len);
void probes_close(struct probes *p);

/* Trace pid: add it to the in-kernel filter and put the probes on the
 * sites of at (its allocator). Return probes go on before entry probes, so
 * no call is seen entering without its return being caught as well. */
int probes_attach(struct probes *p, pid_t pid, const struct alloc_target *at,
		  char *why, size_t why_len);

/* Trace pid's Python object allocator too: entry and return probes on
 * the functions of `path` (its libpython or executable) at the file
 * offsets given per MT_FUNC_PY_* (0: absent), and an entry probe on
 * PyObject_Free at free_probe_offset. */
int probes_attach_pymalloc(struct probes *p, pid_t pid, const char *path,
			   const uint64_t offsets[MT_FUNC_COUNT], uint64_t free_probe_offset,
			   char *why, size_t why_len);

/* Trace pid's Python object allocator where it is inlined: a probe on
 * each site of ps in `path` (see user/python/pymalloc_sites.h), and a
 * return probe on its allocate_from_new_pool. */
int probes_attach_pymalloc_sites(struct probes *p, pid_t pid, const char *path,
				 const struct pymalloc_sites *ps, char *why, size_t why_len);

/* Probe pid's code-object deallocator (at offset in path, which names the
 * file through /proc/PID/root): it counts deaths per address slot and
 * copies each dying code object (see include/memtrace_python.h). */
int probes_attach_code_dealloc(struct probes *p, pid_t pid, const char *path,
			       uint64_t offset, char *why, size_t why_len);

/* The death counts the deallocator's probe keeps, MT_PY_GEN_SLOTS u64s
 * mapped read-only; valid until probes_close(). */
const volatile uint64_t *probes_py_gens(const struct probes *p);

/*
 * -a: probe every process that maps at's allocator (at found in any one of
 * them); which of them are traced is the filter's business
 * (probes_add_target).
 */
int probes_attach_all(struct probes *p, const struct alloc_target *at,
		      char *why, size_t why_len);

/* Let pid's calls through the in-kernel filter. */
int probes_add_target(struct probes *p, pid_t pid);

/*
 * child was just forked by the traced parent and has not run: trace it as
 * its parent is traced (same filter entry; same probes: with tracefs
 * events its inherited breakpoints get their entries, else at's
 * sites are attached for it).
 */
int probes_follow(struct probes *p, pid_t parent, pid_t child, const struct alloc_target *at,
		  char *why, size_t why_len);

/* Attaching many running processes: on, their breakpoints wait; off,
 * they are installed for all at once (see uprobe_events_defer()). */
int probes_batch(struct probes *p, bool on);

/* pid exec'd (new_leader: from a thread other than its leader). Returns
 * 1 when pid's allocation probes are gone and must be attached again
 * (probes_attach_allocations), else 0 or a negative errno. */
int probes_exec(struct probes *p, pid_t pid, bool new_leader);

/* Attach only the allocation functions' probes of at to pid, its frees
 * being probed already (after probes_exec() returned 1). */
int probes_attach_allocations(struct probes *p, pid_t pid, const struct alloc_target *at,
			      char *why, size_t why_len);

/* pid's leader thread exits while its thread tid lives on. */
int probes_retarget(struct probes *p, pid_t pid, pid_t tid);

/* pid exited or is no longer traced: out of the filter, its probes
 * released where that is cheap (links wait for probes_close). */
void probes_forget(struct probes *p, pid_t pid);

/* True when each traced process adds a consumer to every probe (links
 * per process: the cost per hit grows with the number of processes). */
bool probes_per_process_consumers(const struct probes *p);

/* Print each loaded program's size and the instructions the verifier
 * processed to accept it (its limit is 1 million). */
int probes_print_stats(const struct probes *p, FILE *out);

/* The same lines (no header) for each loaded program of obj, any probe
 * object's (mmap_probes.c prints its own with it). */
int probes_print_object_stats(const struct bpf_object *obj, FILE *out);

/* Sum the per-CPU counters into out[MT_CNT_COUNT]. */
int probes_read_counters(struct probes *p, uint64_t out[MT_CNT_COUNT]);

int probes_stacks_map_fd(const struct probes *p);
int probes_unwind_rows_map_fd(const struct probes *p);
int probes_mappings_map_fd(const struct probes *p);

struct mt_py_offsets;

/* Walk pid's Python frames with these offsets (0 or a negative errno), or
 * no longer (an exec: the process is detected afresh). */
int probes_set_python(struct probes *p, uint32_t pid, const struct mt_py_offsets *off);
void probes_clear_python(struct probes *p, uint32_t pid);

#endif /* MEMTRACE_PROBES_H */
