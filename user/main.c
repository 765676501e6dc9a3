// SPDX-License-Identifier: MIT
/*
 * memtrace: which call stacks of a live process hold memory that is still
 * allocated.
 *
 * The data flows one way:
 *   probes (BPF) -> ring buffer -> consumer -> aggregator
 *   -> report builder (stack source + symbolizer) -> reporters
 * This file owns the one context that ties the stages together
 * (memtrace.h): it sets it up and frees it, and runs the loop that drives
 * them: drain the ring on a short timer, report every interval
 * (report_cycle.h), stop on a signal, the end of --duration or the exit
 * of the traced processes, and always finish with a final report. How
 * processes come to be traced is tracing.h (and trace_all.h for -a),
 * what happens to them then is lifecycle.h, and the output files are
 * output_files.h.
 */
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "memtrace.h"
#include "lifecycle.h"
#include "output_files.h"
#include "report_cycle.h"
#include "trace_all.h"
#include "tracing.h"
#include "aggregator.h"
#include "map_filter.h"
#include "mmap_probes.h"
#include "options.h"
#include "probe_maps.h"
#include "probes.h"
#include "process_watch.h"
#include "processes.h"
#include "report_builder.h"
#include "ringbuf_consumer.h"
#include "stack_source.h"
#include "proc/cgroup.h"
#include "proc/follow.h"
#include "proc/target.h"
#include "python/fresh_stacks.h"
#include "python/pymalloc_sites_cache.h"
#include "python/python_process.h"
#include "python/python_symbols.h"
#include "report/outputs.h"
#include "report/out_file.h"
#include "util/strpool.h"
#include "report/warnings.h"
#include "symbols/symbolizer.h"
#include "unwind/snapshots.h"
#include "unwind/unwind_loader.h"
#include "util/side_task.h"
#include "util/why.h"

/* How often the ring is drained when the probes have not woken us. */
#define DRAIN_MS 100
/* The unwind table array holds what the targets need at start, with room
 * for libraries loaded later. */
#define UNWIND_ROWS_MIN (1u << 18)
#define UNWIND_ROWS_FACTOR 2

/* The ring buffer's records, one at a time and in order: each goes to
 * the stage it concerns, an allocation event to the aggregator. */
static void on_event(void *ctx, const void *rec, size_t size)
{
	struct memtrace *mt = ctx;
	struct mt_event e;

	if (((const struct mt_event *)rec)->type == MT_EV_STACK_SNAPSHOT) {
		if (size >= sizeof(struct mt_snapshot))
			snapshots_keep(&mt->snapshots, rec);
		return;
	}
	if (((const struct mt_event *)rec)->type == MT_EV_PY_CODE_FREED) {
		/* The copy of a dying code object names the frames that
		 * ran it, if they have no name yet. */
		const struct mt_py_code_freed *f = rec;
		struct traced *t = size >= offsetof(struct mt_py_code_freed, table_bytes) ?
			processes_find(&mt->procs, f->pid) : NULL;

		if (t && t->py.python)
			py_symbols_code_freed(mt->py, &t->py.py, rec, size);
		return;
	}
	memcpy(&e, rec, sizeof(e));
	if (e.type == MT_EV_FORK) {
		on_late_child(mt, (pid_t)e.addr, e.pid);
		return;
	}
	if (e.type == MT_EV_CGROUP_ENTER) {
		on_cgroup_enter(mt, e.pid, (pid_t)e.addr);
		return;
	}
	if (mt->opt.all) {
		struct traced *t = processes_find(&mt->procs, e.pid);

		if (!t)
			adopt(mt, e.pid, e.type == MT_EV_EXEC);
		else if (t->detect_pending && e.type != MT_EV_EXEC)
			redetect(mt, t, e.type != MT_EV_MAPS_CHANGED);
		else if (e.type == MT_EV_EXEC && !t->exited)
			t->detect_pending = true;	/* a new program */
	}
	/* Maps the program made itself carry a stack too. */
	if (e.type == MT_EV_MMAP || e.type == MT_EV_MREMAP_DONE || e.type == MT_EV_BRK) {
		if (e.flags & MT_EVF_SNAPSHOT) {
			mappings_changed(mt, e.pid);
			snapshots_finish(&mt->snapshots, mt->unwind, mt->stacks, &e);
		}
		if (e.flags & MT_EVF_SNAPSHOT_CHECK)	/* MEMTRACE_UNWIND_CHECK */
			snapshots_check(&mt->snapshots, mt->unwind, mt->stacks, &e);
	}
	if ((e.type == MT_EV_ALLOC || e.type == MT_EV_MMAP || e.type == MT_EV_MREMAP_DONE ||
	     e.type == MT_EV_BRK) && e.stack_id) {
		/* Stacks of Python processes seen for the first time have
		 * their code objects read at the next tick. */
		struct traced *t = processes_find(&mt->procs, e.pid);

		if (t && t->py.python && !agg_has_stack(mt->agg, e.pid, e.stack_id))
			fresh_stacks_note(&mt->fresh, mt->stacks, mt->py, e.pid, &t->py.py,
					  e.stack_id);
	}
	switch (e.type) {
	case MT_EV_ALLOC:
		if (e.flags & MT_EVF_SNAPSHOT) {
			/* The rest of the stack is in a library mapped
			 * moments ago: load it, then finish the walk. */
			mappings_changed(mt, e.pid);
			snapshots_finish(&mt->snapshots, mt->unwind, mt->stacks, &e);
		}
		if (e.flags & MT_EVF_SNAPSHOT_CHECK)	/* MEMTRACE_UNWIND_CHECK */
			snapshots_check(&mt->snapshots, mt->unwind, mt->stacks, &e);
		break;
	case MT_EV_EXEC:
		handle_exec(mt, e.pid);
		break;
	case MT_EV_UNKNOWN_PC:
	case MT_EV_MAPS_CHANGED:
		mappings_changed(mt, e.pid);
		break;
	case MT_EV_MMAP:
	case MT_EV_MREMAP_DONE:
	case MT_EV_BRK: {
		/* The allocator's own maps are its blocks, counted already;
		 * thread stacks are counted from /proc, not as mapped. */
		struct traced *t = processes_find(&mt->procs, e.pid);
		enum map_owner owner = e.size ? map_filter_owner(mt->stacks, mt->sym,
								 t ? &t->alloc : NULL, &e) :
						MAP_PROGRAM;

		/* With --python-objects pymalloc is an allocator whose
		 * objects are counted: its arenas are its own maps. */
		if (owner == MAP_PROGRAM && t && t->py.python && t->py.pymalloc_probed[0] &&
		    map_filter_is_python_arena(mt->stacks, mt->sym, &t->py.py, e.pid, e.stack_id,
					       e.size))
			owner = MAP_ALLOCATOR;
		if (owner == MAP_ALLOCATOR)
			mt->maps_in_allocator++;
		if (owner != MAP_PROGRAM)
			return;
		break;
	}
	}
	agg_handle(mt->agg, &e);
}

static int run(struct memtrace *mt)
{
	uint64_t deadline = mt->opt.duration_s > 0 ?
		mt->start_ns + (uint64_t)(mt->opt.duration_s * 1e9) : 0;
	struct epoll_event evs[8];

	while (!mt->stop) {
		int timeout = DRAIN_MS, n;
		uint64_t now = now_ns();

		if (deadline) {
			if (now >= deadline)
				break;
			if ((deadline - now) / 1000000 < (uint64_t)timeout)
				timeout = (deadline - now) / 1000000 + 1;
		}
		n = epoll_wait(mt->epfd, evs, 8, timeout);
		if (n < 0 && errno != EINTR)
			return -errno;

		/* Always drain first: events that precede an exit or a
		 * signal belong in the report that follows it. */
		rb_consumer_drain(mt->consumer);
		/* Processes wait in their ptrace stops: always look. */
		if (mt->follow)
			follow_handle(mt->follow);
		fresh_stacks_resolve(&mt->fresh, &mt->procs, mt->stacks, mt->py);
		refresh_maps(mt, now_ns());

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == mt->sigfd) {
				struct signalfd_siginfo si;

				if (read(mt->sigfd, &si, sizeof(si)) == sizeof(si) &&
				    (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM))
					mt->stop = true;
				/* SIGCHLD: ptrace stops, handled below. */
			} else if (fd == mt->timerfd) {
				uint64_t ticks;

				if (read(mt->timerfd, &ticks, sizeof(ticks)) == sizeof(ticks))
					report(mt, false);
			} else if (fd != rb_consumer_fd(mt->consumer)) {
				for (size_t k = 0; k < mt->procs.n; k++)
					if (mt->procs.v[k]->pidfd == fd && !mt->procs.v[k]->exited)
						on_exit_of(mt, mt->procs.v[k]);
			}
		}
	}
	return 0;
}

static int add_fd(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int setup_loop(struct memtrace *mt)
{
	struct itimerspec its = { 0 };
	sigset_t mask;
	int err;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Followed processes wait for memtrace at each fork, thread start,
	 * exec and signal: Ctrl-Z must not stop it under them. */
	if (mt->follow) {
		signal(SIGTSTP, SIG_IGN);
		signal(SIGTTIN, SIG_IGN);
		signal(SIGTTOU, SIG_IGN);
	}

	mt->epfd = epoll_create1(EPOLL_CLOEXEC);
	mt->sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
	mt->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (mt->epfd < 0 || mt->sigfd < 0 || mt->timerfd < 0)
		return -errno;
	its.it_value.tv_sec = (time_t)mt->opt.interval_s;
	its.it_value.tv_nsec = (long)((mt->opt.interval_s - its.it_value.tv_sec) * 1e9);
	its.it_interval = its.it_value;
	if (timerfd_settime(mt->timerfd, 0, &its, NULL))
		return -errno;
	if ((err = add_fd(mt->epfd, mt->sigfd)) || (err = add_fd(mt->epfd, mt->timerfd)) ||
	    (err = add_fd(mt->epfd, rb_consumer_fd(mt->consumer))))
		return err;
	for (size_t i = 0; i < mt->procs.n; i++)
		if (mt->procs.v[i]->pidfd >= 0 && (err = add_fd(mt->epfd, mt->procs.v[i]->pidfd)))
			return err;
	return 0;
}

/* Files and pidfds: with many processes, the soft limit (1024) is soon
 * reached; the hard one is the system's word. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void cleanup(struct memtrace *mt)
{
	/* Probes go first: nothing is left in the kernel, whatever failed. */
	mmap_probes_close(mt->mmap);
	process_watch_close(mt->watch);
	probes_close(mt->probes);
	probe_maps_close(mt->maps);
	follow_free(mt->follow);
	free(mt->all_libcs);
	rb_consumer_free(mt->consumer);
	stack_source_free(mt->stacks);
	symbolizer_free(mt->sym);
	unwind_loader_free(mt->unwind);
	py_symbols_free(mt->py);
	sites_cache_free(mt->py_env.sites);
	fresh_stacks_free(&mt->fresh);
	snapshots_print_check(&mt->snapshots, stderr);
	snapshots_free(&mt->snapshots);
	strpool_free(&mt->type_names);
	agg_free(mt->agg);
	processes_free(&mt->procs);
	close_outputs(mt);
	kernel_btf_close(&mt->kbtf);
	uprobe_warmup_free(&mt->warmup);
	if (mt->epfd > 0)
		close(mt->epfd);
	if (mt->sigfd > 0)
		close(mt->sigfd);
	if (mt->timerfd > 0)
		close(mt->timerfd);
}

/* One of the loads load_probes() runs beside the allocation probes'
 * (util/side_task.h). */
struct side_load {
	int (*run)(struct memtrace *mt, const struct probes_config *pc, char *why,
		   size_t why_len);
	struct memtrace *mt;
	const struct probes_config *pc;
	struct side_task task;
	int err;
	char why[512];
};

static void side_load_run(void *arg)
{
	struct side_load *l = arg;

	l->err = l->run(l->mt, l->pc, l->why, sizeof(l->why));
}

static int load_mmap(struct memtrace *mt, const struct probes_config *pc, char *why,
		     size_t why_len)
{
	return mmap_probes_open(&mt->mmap, mt->maps, pc, why, why_len);
}

/* The kernel's news of new processes, where something must hear it. */
static int load_watch(struct memtrace *mt, const struct probes_config *pc, char *why,
		      size_t why_len)
{
	struct process_watch_config wc = {
		.trace_all = mt->opt.all,
		.cgroup_id = mt->cgroup_id,
		.events_fd = probe_maps_events_fd(mt->maps),
		.targets_fd = probe_maps_targets_fd(mt->maps),
		.btf_path = pc->btf_path,
	};

	if (!mt->follow && !mt->opt.all && !mt->cgroup_id)
		return 0;
	return process_watch_open(&mt->watch, &wc, why, why_len);
}

/* The processes named on the command line, whose probes are armed while
 * the programs load (struct probes_arm); NULL if none or out of memory
 * (they are then attached the slower way). */
static struct probes_arm *arm_list(const struct memtrace *mt, size_t *n)
{
	struct probes_arm *arm = calloc(mt->procs.n ? mt->procs.n : 1, sizeof(*arm));

	*n = 0;
	for (size_t i = 0; arm && !mt->opt.all && i < mt->procs.n; i++) {
		const struct traced *t = mt->procs.v[i];

		/* Only where a failure ends memtrace: armed sites never
		 * linked would cost the process a perf event per hit. */
		if (t->how == TRACED_NAMED && !t->not_at_all && !t->exited)
			arm[(*n)++] = (struct probes_arm){ .pid = t->pid, .at = &t->alloc };
	}
	return arm;
}

/*
 * Create the shared maps, then load the allocation probes, the mmap probes
 * and the process watch side by side: each object's verification and
 * set-up is most of the start-up, and the machine has a second CPU. The
 * mmap probes failing is a warning in mt->warnings (or a line, for the
 * raw tracepoints); anything else failing returns a negative errno with
 * why filled.
 */
static int load_probes(struct memtrace *mt, const struct probes_config *pc,
		       char *why, size_t why_len)
{
	struct side_load mmap = { .run = load_mmap, .mt = mt, .pc = pc };
	struct side_load watch = { .run = load_watch, .mt = mt, .pc = pc };
	int err = probe_maps_open(mt->maps, pc, why, why_len);

	if (err)
		return err;
	side_task_start(&mmap.task, side_load_run, &mmap);
	side_task_start(&watch.task, side_load_run, &watch);
	err = probes_open(&mt->probes, mt->maps, pc, why, why_len);
	side_task_finish(&mmap.task);
	side_task_finish(&watch.task);
	if (watch.err && !err)
		err = why_fail(watch.err, why, why_len, "%s", watch.why);
	if (err)
		return err;
	/* Without them only what the program maps itself goes unseen. */
	if (mmap.err)
		warnings_add(&mt->warnings, "%s: memory the programs map themselves (mmap, brk) "
			     "is not traced", mmap.why);
	else if (mmap_probes_on_raw_tracepoints(mt->mmap))
		why_say("%s: the mmap and brk syscalls are traced from the raw syscall "
			"tracepoints, which every syscall on the machine passes while memtrace "
			"runs",
			getenv("MEMTRACE_RAW_SYSCALL_TP") ? "MEMTRACE_RAW_SYSCALL_TP is set"
			: "the kernel refused fentry/fexit, the mmap lock's tracepoint and the "
			  "tracepoints of the mmap and brk syscalls");
	/* Measured (SYSCALLS_ONLY=1 scripts/bench_allocators.sh, Linux
	 * 6.18.44, which refuses the first two): an untraced process's
	 * getppid() 193 -> 278-293 ns while memtrace ran. */
	else if (mmap_probes_on_syscall_tracepoints(mt->mmap))
		why_say("%s: the mmap and brk syscalls are traced from their own tracepoints, "
			"which put every syscall on the machine on the kernel's slow path while "
			"memtrace runs",
			getenv("MEMTRACE_NO_LOCK_TP") ? "MEMTRACE_NO_LOCK_TP is set"
			: getenv("MEMTRACE_NO_FEXIT") ? "MEMTRACE_NO_FEXIT is set and the kernel "
							"refused the mmap lock's tracepoint"
			: "the kernel refused fentry/fexit and the mmap lock's tracepoint");
	return 0;
}

int main(int argc, char **argv)
{
	struct memtrace mt = { .epfd = -1, .sigfd = -1, .timerfd = -1, .kbtf = { .fd = -1 } };
	struct probes_config pc;
	struct probes_arm *arm;
	char why[512];
	int err, failed;

	err = options_parse(&mt.opt, argc, argv);
	if (err)
		return err > 0 ? 0 : 2;
	mt.py_env = (struct python_env){
		.warnings = &mt.warnings,
		.mode = mt.opt.python,
		.objects = mt.opt.python_objects,
		.native_all = mt.opt.native_all,
	};
	if (mt.opt.python_objects && sites_cache_new(&mt.py_env.sites)) {
		fprintf(stderr, "memtrace: cannot set up: %s\n", strerror(ENOMEM));
		return 1;
	}
	err = target_check_privileges(why, sizeof(why));
	if (err) {
		why_say("%s", why);
		return 1;
	}
	if (open_outputs(&mt))
		goto fail;
	/* Not this kernel's, or no file for them: libbpf reads the
	 * kernel's own, as it would without them. */
	kernel_btf_open(&mt.kbtf);
	uprobe_warmup_start(&mt.warmup);
	/* Created while the targets are read (probe_maps.h). */
	if (probe_maps_begin(&mt.maps, mt.opt.ringbuf_bytes)) {
		fprintf(stderr, "memtrace: cannot set up: %s\n", strerror(ENOMEM));
		goto fail;
	}

	if (mt.opt.bpf_stats) {
		pc = (struct probes_config){
			.stack_mode = mt.opt.stack_mode,
			.ringbuf_bytes = mt.opt.ringbuf_bytes,
			.unwind_rows = UNWIND_ROWS_MIN,
			.python_objects = true,
			.btf_path = kernel_btf_path(&mt.kbtf),
		};
		err = probe_maps_open(mt.maps, &pc, why, sizeof(why));
		if (!err)
			err = probes_open(&mt.probes, mt.maps, &pc, why, sizeof(why));
		if (err) {
			why_say("%s", why);
			goto fail;
		}
		err = probes_print_stats(mt.probes, stdout);
		if (!err && !mmap_probes_open(&mt.mmap, mt.maps, &pc, why, sizeof(why)))
			err = mmap_probes_print_stats(mt.mmap, stdout);
		cleanup(&mt);
		return err ? 1 : 0;
	}

	if (mt.opt.stack_mode == MT_STACK_DWARF && (err = unwind_loader_new(&mt.unwind))) {
		fprintf(stderr, "memtrace: cannot set up: %s\n", strerror(-err));
		goto fail;
	}

	raise_fd_limit();
	if (mt.opt.follow && !mt.opt.all) {
		struct follow_hooks hooks;

		lifecycle_hooks(&mt, &hooks);
		if ((err = follow_new(&mt.follow, &hooks))) {
			fprintf(stderr, "memtrace: cannot set up: %s\n", strerror(-err));
			goto fail;
		}
	}

	/* Everything that can be wrong with the targets is found before
	 * anything is loaded into the kernel. */
	if (mt.opt.command) {
		/* Followed, it is stopped once its libraries are mapped and
		 * before their constructors; else at its entry point. */
		err = mt.follow ? follow_launch(mt.follow, mt.opt.command, &mt.child, why,
						sizeof(why))
				: target_launch(mt.opt.command, &mt.child, why, sizeof(why));
		if (err) {
			why_say("%s", why);
			goto fail;
		}
		if (prepare_process(&mt, mt.child, TRACED_NAMED))
			goto fail;
		mt.procs.v[0]->followed = mt.follow != NULL;
	} else if (mt.opt.npids) {
		/* Each must exist; one that exits while memtrace attaches is
		 * reported as exited, and the others are traced. */
		for (size_t i = 0; i < mt.opt.npids; i++)
			if ((err = target_check_pid(mt.opt.pids[i], why, sizeof(why)))) {
				fprintf(stderr, "memtrace: %s\n", why);
				goto fail;
			}
		for (size_t i = 0; i < mt.opt.npids; i++)
			if (prepare_process(&mt, mt.opt.pids[i], TRACED_NAMED))
				goto fail;
	} else if (mt.opt.cgroup_path) {
		pid_t *pids;
		size_t n;

		if (cgroup_check(mt.opt.cgroup_path, &mt.cgroup_id, why, sizeof(why))) {
			fprintf(stderr, "memtrace: %s\n", why);
			goto fail;
		}
		if ((err = cgroup_procs(mt.opt.cgroup_path, &pids, &n))) {
			fprintf(stderr, "memtrace: --cgroup '%s': cannot list its processes: %s\n",
				mt.opt.cgroup_path, strerror(-err));
			goto fail;
		}
		for (size_t i = 0; i < n; i++)
			if (pids[i] != getpid())
				prepare_process(&mt, pids[i], TRACED_CGROUP);
		free(pids);
	} else if (mt.opt.all && scan_all(&mt)) {
		goto fail;
	}

	pc = (struct probes_config){
		.stack_mode = mt.opt.stack_mode,
		.ringbuf_bytes = mt.opt.ringbuf_bytes,
		.empty_probes = mt.opt.empty_probes,
		.sample_bytes = mt.opt.sample_bytes,
		.sample_seed = mt.opt.sample_seed,
		.system_wide = mt.opt.all,
		.python_objects = mt.opt.python_objects,
		.btf_path = kernel_btf_path(&mt.kbtf),
		/* The mmap probes find a skipped call on the DWARF walk's
		 * stack (in_skipped_call()); frame pointers would lose it in
		 * glibc. Unfollowed children would keep the session's
		 * breakpoints, which never remove themselves. */
		.sessions = mt.opt.sample_bytes && mt.opt.stack_mode == MT_STACK_DWARF &&
			    mt.opt.follow,
	};
	if (mt.unwind) {
		size_t need = unwind_loader_rows_needed(mt.unwind) * UNWIND_ROWS_FACTOR;

		pc.unwind_rows = need > UNWIND_ROWS_MIN ? need : UNWIND_ROWS_MIN;
	}
	pc.arm = arm = arm_list(&mt, &pc.narm);
	err = load_probes(&mt, &pc, why, sizeof(why));
	free(arm);
	pc.arm = NULL;
	pc.narm = 0;
	if (err) {
		why_say("%s", why);
		goto fail;
	}
	if (!(err = agg_new(&mt.agg)))
		agg_set_sampling(mt.agg, mt.opt.sample_bytes);
	if (err || (err = symbolizer_new(&mt.sym)) ||
	    (err = py_symbols_new(&mt.py)) ||
	    (err = stack_source_new(&mt.stacks, probes_stacks_map_fd(mt.probes))) ||
	    (err = rb_consumer_new(&mt.consumer, probe_maps_events_fd(mt.maps),
				   on_event, &mt))) {
		fprintf(stderr, "memtrace: cannot set up: %s\n", strerror(-err));
		goto fail;
	}
	if (mt.unwind && (err = unwind_loader_attach(mt.unwind,
						     probes_unwind_rows_map_fd(mt.probes),
						     pc.unwind_rows,
						     probes_mappings_map_fd(mt.probes)))) {
		fprintf(stderr, "memtrace: cannot load the unwind tables: %s\n",
			strerror(-err));
		goto fail;
	}
	mt.py_env.probes = mt.probes;
	py_symbols_watch_deaths(mt.py, probes_py_gens(mt.probes));
	for (size_t i = 0; i < mt.procs.n; i++) {
		struct traced *t = mt.procs.v[i];

		if (mt.opt.all) {
			attach_all_process(&mt, t, false);
			continue;
		}
		if (attach_process(&mt, t))
			goto fail;
		/* Followed from here on: what it creates next is born under
		 * ptrace. The launched command is followed already. */
		if (t->pid != mt.child)
			follow_process(&mt, t);
	}
	if (mt.opt.npids && processes_all_exited(&mt.procs)) {
		fprintf(stderr, "memtrace: every process given with -p exited while memtrace "
			"attached to it: nothing left to trace\n");
		goto fail;
	}
	if (mt.follow)
		trace_descendants(&mt);

	err = setup_loop(&mt);
	if (err) {
		fprintf(stderr, "memtrace: cannot set up the event loop: %s\n",
			strerror(-err));
		goto fail;
	}
	mt.start_ns = mt.last_report_ns = mt.last_maps_ns = now_ns();
	if (mt.child && (err = mt.follow ? follow_release(mt.follow, mt.child)
					 : target_resume(mt.child))) {
		fprintf(stderr, "memtrace: cannot start the command: %s\n", strerror(-err));
		goto fail;
	}
	if (mt.opt.all || mt.opt.cgroup_path || !mt.procs.n)
		why_say("tracing %zu process%s%s%s; Ctrl-C to stop",
			mt.procs.n, mt.procs.n == 1 ? "" : "es",
			mt.opt.all ? " and every process started from now" : " of the cgroup",
			mt.opt.all ? "" : " and those that enter it");
	else
		why_say("tracing %zu process%s (%s)%s; Ctrl-C to stop",
			mt.procs.n, mt.procs.n == 1 ? "" : "es", mt.procs.v[0]->alloc.maps_path,
			mt.follow ? " and the processes they create" : "");
	publish_outputs(&mt);
	uprobe_warmup_end(&mt.warmup);

	err = run(&mt);
	if (err)
		fprintf(stderr, "memtrace: event loop failed: %s\n", strerror(-err));
	report(&mt, true);
	outputs_say(mt.outputs, stderr, !out_file_error(mt.json), !out_file_error(mt.text));
	/* The final report went wherever it still could; a file that
	 * failed makes the exit status say so. */
	failed = close_outputs(&mt);
	cleanup(&mt);
	return err || failed ? 1 : 0;
fail:
	/* A launched command never ran a line of its own: end it. */
	if (mt.child) {
		kill(mt.child, SIGKILL);
		waitpid(mt.child, NULL, 0);
	}
	cleanup(&mt);
	return 1;
}
