/* SPDX-License-Identifier: MIT */
/*
 * The one context of a memtrace run: the options, the traced processes,
 * and every stage of the pipeline (probes, ring buffer consumer,
 * aggregator, stack source, symbolizer, unwinder, Python), the outputs
 * and the event loop's descriptors.
 *
 * main.c owns it: it sets it up, runs the loop and frees it. The modules
 * main.c calls into to trace processes, to report and to write the
 * outputs are given it (their headers include this one) and change it
 * only from those calls, on the loop's one thread: the run has no other
 * mutable state.
 */
#ifndef MEMTRACE_MEMTRACE_H
#define MEMTRACE_MEMTRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "kernel_btf.h"
#include "options.h"
#include "processes.h"
#include "python/fresh_stacks.h"
#include "python/python_process.h"
#include "report/warnings.h"
#include "unwind/snapshots.h"
#include "uprobe_warmup.h"
#include "util/strpool.h"

struct aggregator;
struct follow;
struct mmap_probes;
struct out_file;
struct outputs;
struct probes;
struct process_watch;
struct py_symbols;
struct rb_consumer;
struct probe_maps;
struct stack_source;
struct symbolizer;
struct unwind_loader;

struct memtrace {
	struct options opt;
	struct processes procs;
	pid_t child;			/* launched COMMAND, 0 in -p mode */

	struct uprobe_warmup warmup;	/* the first install's grace period */
	struct kernel_btf kbtf;		/* the kernel types the objects
					   relocate against */
	struct probe_maps *maps;	/* shared by probes and mmap */
	struct probes *probes;
	struct mmap_probes *mmap;	/* NULL: the kernel refused them */
	struct rb_consumer *consumer;
	struct aggregator *agg;
	struct stack_source *stacks;
	struct symbolizer *sym;
	struct unwind_loader *unwind;	/* NULL unless --stack dwarf */
	struct py_symbols *py;
	struct python_env py_env;
	struct fresh_stacks fresh;
	struct snapshots snapshots;
	struct warnings warnings;
	struct strpool type_names;	/* --types: names of types */

	/* Output files (report/out_file.h): stdout or -o FILE, and --json
	 * FILE or NULL; the files rewritten at every report (pictures). */
	struct out_file *text, *json;
	struct outputs *outputs;

	/* Which processes: followed under ptrace (NULL: --no-follow, -a),
	 * and the kernel's news of the others (forks under another tracer,
	 * -a, --cgroup). */
	struct follow *follow;
	struct process_watch *watch;
	uint64_t cgroup_id;
	/* -a: the allocator files probed for every process (device, inode) */
	struct { dev_t dev; ino_t ino; } *all_libcs;
	size_t nall_libcs, all_libcs_cap;

	int epfd, sigfd, timerfd;
	uint64_t start_ns, last_report_ns, last_maps_ns;
	uint64_t last_allocs, last_frees, stacks_at_maps;
	uint64_t maps_in_allocator;	/* allocator's own maps found by their stack */
	bool stop;
};

/* CLOCK_MONOTONIC in ns: the clock of every time stamp in the context. */
static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

#endif /* MEMTRACE_MEMTRACE_H */
