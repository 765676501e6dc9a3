// SPDX-License-Identifier: MIT
/*
 * memtrace: which call stacks of a live process hold memory that is still
 * allocated.
 *
 * The data flows one way:
 *   probes (BPF) -> ring buffer -> consumer -> aggregator
 *   -> report builder (stack source + symbolizer) -> reporters
 * This file owns the one context that ties the stages together, and the
 * loop that drives them: drain the ring on a short timer, report every
 * interval, stop on a signal, the end of --duration or the exit of the
 * traced processes, and always finish with a final report.
 */
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "aggregator.h"
#include "libc_target.h"
#include "options.h"
#include "probes.h"
#include "proc_maps.h"
#include "python_detect.h"
#include "python_symbols.h"
#include "pymalloc_target.h"
#include "report.h"
#include "report_builder.h"
#include "ringbuf_consumer.h"
#include "stack_source.h"
#include "symbolizer.h"
#include "target.h"
#include "unwind_loader.h"

/* How often the ring is drained when the probes have not woken us. */
#define DRAIN_MS 100
/* How often the mappings of a live process are re-read while new stacks
 * appear, so that stacks in libraries loaded later still resolve after
 * the process has exited. */
#define MAPS_REFRESH_NS 1000000000ULL
#define MAX_WARNINGS 16
/* Threads whose stack snapshot waits for its allocation event (they come
 * one right after the other, so a few suffice). */
#define MAX_PENDING_SNAPSHOTS 8
/* The unwind table array holds what the targets need at start, with room
 * for libraries loaded later. */
#define UNWIND_ROWS_MIN (1u << 18)
#define UNWIND_ROWS_FACTOR 2

struct traced {
	pid_t pid;
	int pidfd;
	bool exited;
	bool execd;
	char comm[64];
	struct libc_target libc;
	bool python;			/* a supported CPython: Python frames */
	struct py_target py;
	/* --python-objects: the interpreter object whose pymalloc is probed
	 * (its probes stay until memtrace exits, even past an exec) */
	char pymalloc_probed[PATH_MAX];
};

struct memtrace {
	struct options opt;
	struct traced procs[MT_MAX_PIDS];
	size_t nprocs;
	pid_t child;			/* launched COMMAND, 0 in -p mode */

	struct probes *probes;
	struct rb_consumer *consumer;
	struct aggregator *agg;
	struct stack_source *stacks;
	struct symbolizer *sym;
	struct unwind_loader *unwind;	/* NULL unless --stack dwarf */
	struct py_symbols *py;

	/* Stacks first seen since the last tick, whose Python code objects
	 * are resolved while the process still lives. */
	struct new_stack { uint32_t pid; uint64_t id; } *fresh;
	size_t nfresh, fresh_cap;

	FILE *text;			/* stdout or -o FILE */
	FILE *json;			/* --json FILE, or NULL */

	int epfd, sigfd, timerfd;
	uint64_t start_ns, last_report_ns, last_maps_ns;
	uint64_t last_allocs, last_frees, stacks_at_maps;
	bool stop;

	char warnings[MAX_WARNINGS][256];
	size_t nwarnings;

	struct mt_snapshot *pending[MAX_PENDING_SNAPSHOTS];
	uint64_t snapshots_done, snapshots_failed;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void warn_once(struct memtrace *mt, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Remember a warning for every later report (each said once). */
static void warn_once(struct memtrace *mt, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < mt->nwarnings; i++)
		if (!strcmp(mt->warnings[i], buf))
			return;
	if (mt->nwarnings < MAX_WARNINGS)
		snprintf(mt->warnings[mt->nwarnings++], sizeof(buf), "%s", buf);
}

static struct traced *find_traced(struct memtrace *mt, uint32_t pid)
{
	for (size_t i = 0; i < mt->nprocs; i++)
		if ((uint32_t)mt->procs[i].pid == pid)
			return &mt->procs[i];
	return NULL;
}

/*
 * Read pid's mappings once for both that keep them: the unwind tables and
 * the symbolizer. Events are handled after the fact, and a process may
 * have exited meanwhile: a second read could find nothing where the
 * first found a new library. A process already gone leaves what was read
 * before as it is (the symbolizer notes that it is gone).
 */
static void read_mappings(struct memtrace *mt, uint32_t pid)
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

/* After an exec the process is a new program: its allocations are gone,
 * and the probes only see it if it maps the same libc file again. */
static void handle_exec(struct memtrace *mt, uint32_t pid)
{
	struct traced *t = find_traced(mt, pid);
	struct libc_target lt;
	char why[256];

	if (!t)
		return;
	t->execd = true;
	if (t->python) {
		/* Whatever runs now is detected afresh from its mappings. */
		__u32 key = pid;

		t->python = false;
		bpf_map_delete_elem(probes_py_targets_map_fd(mt->probes), &key);
	}
	symbolizer_reset_pid(mt->sym, pid);
	read_mappings(mt, pid);
	target_comm(pid, t->comm, sizeof(t->comm));
	warn_once(mt, "PID %d exec'd (now %s): allocations from before the exec "
		  "were dropped", pid, t->comm);
	/* The new program has not mapped its libc yet when the exec is
	 * seen; a program with another libc (or none) is noticed when its
	 * mappings are next read. */
	if (!libc_target_find(pid, &lt, why, sizeof(why)) &&
	    strcmp(lt.maps_path, t->libc.maps_path))
		warn_once(mt, "PID %d exec'd into a program that uses another libc (%s): "
			  "its allocations are not traced", pid, lt.maps_path);
}

/* Is pid a CPython we support? Not being Python is fine (unless --python
 * on); an unsupported Python is said once, and traced natively. Returns 0
 * or a negative errno when memtrace must stop. */
static int detect_python(struct memtrace *mt, struct traced *t, bool quiet_if_absent)
{
	char why[512];
	int err;

	if (mt->opt.python == PY_OFF)
		return 0;
	err = python_detect(t->pid, &t->py, why, sizeof(why));
	if (!err) {
		t->python = true;
		if (mt->probes) {
			__u32 key = t->pid;

			bpf_map_update_elem(probes_py_targets_map_fd(mt->probes), &key,
					    &t->py.off, BPF_ANY);
		}
		return 0;
	}
	if (err == -ENOENT && mt->opt.python == PY_ON && !quiet_if_absent) {
		fprintf(stderr, "memtrace: PID %d (%s) is not a Python process (no "
			"_PyRuntime in its mappings); use --python auto or off\n",
			t->pid, t->comm);
		return err;
	}
	if (err == -ENOTSUP) {
		/* Said now, and in every report. */
		fprintf(stderr, "memtrace: PID %d: %s: tracing its native allocations "
			"only\n", t->pid, why);
		warn_once(mt, "PID %d: %s: tracing its native allocations only", t->pid, why);
	}
	return 0;
}

static void attach_pymalloc(struct memtrace *mt, struct traced *t);

/* Something was mapped since the mappings were read: a dlopen, a new
 * program after exec, JIT code. Load its table, and know its file for
 * symbols even if the process exits soon. */
static void mappings_changed(struct memtrace *mt, uint32_t pid)
{
	struct traced *t = find_traced(mt, pid);

	read_mappings(mt, pid);
	/* A program may load libpython only now (or exec'd into Python). */
	if (t && !t->python) {
		detect_python(mt, t, true);
		if (t->python && mt->opt.python_objects)
			attach_pymalloc(mt, t);
	}
}

static void keep_snapshot(struct memtrace *mt, const struct mt_snapshot *snap)
{
	struct mt_snapshot **slot = NULL;

	for (size_t i = 0; i < MAX_PENDING_SNAPSHOTS; i++) {
		if (mt->pending[i] && mt->pending[i]->tid == snap->tid) {
			slot = &mt->pending[i];	/* its allocation was lost */
			break;
		}
		if (!slot && (!mt->pending[i] || !mt->pending[i]->type))
			slot = &mt->pending[i];
	}
	if (!slot) {
		mt->snapshots_failed++;
		return;
	}
	if (!*slot && !(*slot = malloc(sizeof(**slot)))) {
		mt->snapshots_failed++;
		return;
	}
	memcpy(*slot, snap, sizeof(*snap));
}

/*
 * The allocation whose stack the BPF unwinder could not finish: finish it
 * from the snapshot sent just before, now that the new mappings are
 * loaded, and give the allocation the whole stack's ID.
 */
static void finish_stack(struct memtrace *mt, struct mt_event *e)
{
	const struct mt_stack *partial;
	struct mt_snapshot *snap = NULL;
	struct mt_stack whole;
	uint64_t id;

	for (size_t i = 0; i < MAX_PENDING_SNAPSHOTS && !snap; i++)
		if (mt->pending[i] && mt->pending[i]->type && mt->pending[i]->tid == e->tid)
			snap = mt->pending[i];
	if (!snap || !mt->unwind ||
	    stack_source_get(mt->stacks, e->stack_id, &partial)) {
		mt->snapshots_failed++;
		return;
	}
	snap->type = 0;		/* the slot is free again */
	mappings_changed(mt, e->pid);
	memcpy(&whole, partial, offsetof(struct mt_stack, pcs) +
	       partial->len * sizeof(partial->pcs[0]));
	if (unwind_loader_finish(mt->unwind, e->pid, snap, &whole)) {
		mt->snapshots_failed++;
		return;
	}
	id = stack_source_id(&whole);
	stack_source_put(mt->stacks, id, &whole);	/* -EEXIST: already known */
	e->stack_id = id;
	mt->snapshots_done++;
}

/* Remember stacks of Python processes seen for the first time. */
static void note_if_new_stack(struct memtrace *mt, const struct mt_event *e)
{
	struct traced *t = find_traced(mt, e->pid);
	struct new_stack *grown;

	if (!t || !t->python || agg_has_stack(mt->agg, e->pid, e->stack_id))
		return;
	if (mt->nfresh == mt->fresh_cap) {
		size_t cap = mt->fresh_cap ? 2 * mt->fresh_cap : 256;

		grown = realloc(mt->fresh, cap * sizeof(*grown));
		if (!grown)
			return;	/* names may then be unknown after exit */
		mt->fresh = grown;
		mt->fresh_cap = cap;
	}
	mt->fresh[mt->nfresh++] = (struct new_stack){ e->pid, e->stack_id };
}

/* Read the code objects of new stacks now: once the process has exited,
 * its memory cannot be read, and the names would be lost. */
static void resolve_fresh_stacks(struct memtrace *mt)
{
	for (size_t i = 0; i < mt->nfresh; i++) {
		struct traced *t = find_traced(mt, mt->fresh[i].pid);
		const struct mt_stack *st;
		struct py_location loc;

		if (!t || !t->python || t->exited ||
		    stack_source_get(mt->stacks, mt->fresh[i].id, &st))
			continue;
		for (uint32_t k = 0; k < st->py_len && k < MT_MAX_PY_FRAMES; k++)
			py_symbols_resolve(mt->py, t->pid, &t->py, st->py[k].code,
					   st->py[k].instr, &loc);
	}
	mt->nfresh = 0;
}

static void on_event(void *ctx, const void *rec, size_t size)
{
	struct memtrace *mt = ctx;
	struct mt_event e;

	if (((const struct mt_event *)rec)->type == MT_EV_STACK_SNAPSHOT) {
		if (size >= sizeof(struct mt_snapshot))
			keep_snapshot(mt, rec);
		return;
	}
	memcpy(&e, rec, sizeof(e));
	if (e.type == MT_EV_ALLOC && e.stack_id)
		note_if_new_stack(mt, &e);
	switch (e.type) {
	case MT_EV_ALLOC:
		if (e.flags & MT_EVF_SNAPSHOT)
			finish_stack(mt, &e);
		break;
	case MT_EV_EXEC:
		handle_exec(mt, e.pid);
		break;
	case MT_EV_UNKNOWN_PC:
	case MT_EV_MAPS_CHANGED:
		mappings_changed(mt, e.pid);
		break;
	}
	agg_handle(mt->agg, &e);
}

static int write_folded(struct memtrace *mt, const struct report *r)
{
	char tmp[4096];
	FILE *f;
	int err;

	/* Write aside and rename, so a reader never sees half a file. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", mt->opt.folded_path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	err = report_write_folded(f, r);
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, mt->opt.folded_path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

static int build(struct memtrace *mt, const struct report_process *procs,
		 size_t top_n, uint64_t now, struct built_report *out)
{
	const struct libc_target *libcs[MT_MAX_PIDS];
	const struct py_target *pythons[MT_MAX_PIDS];
	struct report_inputs in = {
		.agg = mt->agg,
		.stacks = mt->stacks,
		.sym = mt->sym,
		.nprocs = mt->nprocs,
		.procs = procs,
		.libcs = libcs,
		.filter = {
			.now_ns = now,
			.min_age_ns = mt->opt.min_age_s * 1e9,
			.window_ns = mt->opt.window_s * 1e9,
		},
		.top_n = top_n,
		.pythons = pythons,
		.py = mt->py,
	};

	for (size_t i = 0; i < mt->nprocs; i++) {
		libcs[i] = &mt->procs[i].libc;
		pythons[i] = mt->procs[i].python ? &mt->procs[i].py : NULL;
	}
	return report_build(&in, out);
}

static int report(struct memtrace *mt, bool final)
{
	struct report_process procs[MT_MAX_PIDS];
	const char *warnings[MAX_WARNINGS];
	uint64_t counters[MT_CNT_COUNT] = { 0 }, now = now_ns();
	struct built_report b;
	struct report *r = &b.r;
	double interval;
	int err;

	rb_consumer_drain(mt->consumer);
	if (probes_read_counters(mt->probes, counters))
		warn_once(mt, "could not read the probes' counters");
	if (rb_consumer_malformed(mt->consumer))
		warn_once(mt, "%llu ring buffer records were malformed and ignored",
			  (unsigned long long)rb_consumer_malformed(mt->consumer));

	for (size_t i = 0; i < mt->nprocs; i++) {
		procs[i] = (struct report_process){
			.pid = mt->procs[i].pid,
			.comm = mt->procs[i].comm,
			.exited = mt->procs[i].exited,
		};
	}

	/* Flame graphs want every stack; the text and JSON reports show the
	 * first top_n of the same, largest-first list. */
	err = build(mt, procs, mt->opt.folded_path ? 0 : mt->opt.top_n, now, &b);
	if (err)
		return err;

	clock_gettime(CLOCK_REALTIME, &r->wall);
	r->final = final;
	r->elapsed_s = (now - mt->start_ns) / 1e9;
	interval = (now - mt->last_report_ns) / 1e9;
	r->interval_s = interval;
	if (interval > 0) {
		r->alloc_rate = (r->allocs - mt->last_allocs) / interval;
		r->free_rate = (r->frees - mt->last_frees) / interval;
	}
	r->acct.lost_events = counters[MT_CNT_EVENTS_LOST];
	r->acct.returns_without_entry = counters[MT_CNT_RET_WITHOUT_ENTRY];
	r->acct.entries_without_return = counters[MT_CNT_ENTRY_WITHOUT_RET];
	r->acct.stacks_not_captured = counters[MT_CNT_STACK_FAILED];
	r->acct.nested_calls = counters[MT_CNT_NESTED];
	r->acct.unwind.no_table = counters[MT_CNT_UNWIND_NO_TABLE];
	r->acct.unwind.no_mapping = counters[MT_CNT_UNWIND_NO_MAPPING];
	r->acct.unwind.unsupported = counters[MT_CNT_UNWIND_UNSUPPORTED];
	r->acct.unwind.bad_read = counters[MT_CNT_UNWIND_BAD_READ];
	r->acct.unwind.depth = counters[MT_CNT_UNWIND_DEPTH];
	r->acct.unwind.fp_frames = counters[MT_CNT_UNWIND_FP_FRAMES];
	r->acct.unwind.fp_end = counters[MT_CNT_UNWIND_FP_END];
	r->acct.pymalloc.unreadable = counters[MT_CNT_PYMALLOC_BAD_READ];
	r->acct.pymalloc.block_sizes = counters[MT_CNT_PYMALLOC_BLOCK_SIZE];
	r->acct.unwind.finished = mt->snapshots_done;
	r->acct.unwind.unfinished = mt->snapshots_failed + counters[MT_CNT_SNAPSHOTS_LOST];
	if (counters[MT_CNT_STATE_FAILED])
		warn_once(mt, "per-thread state could not be created %llu times: "
			  "those calls were not traced",
			  (unsigned long long)counters[MT_CNT_STATE_FAILED]);
	r->min_age_s = mt->opt.min_age_s;
	r->window_s = mt->opt.window_s;
	for (size_t i = 0; i < mt->nwarnings; i++)
		warnings[i] = mt->warnings[i];
	r->nwarnings = mt->nwarnings;
	r->warnings = warnings;

	mt->last_report_ns = now;
	mt->last_allocs = r->allocs;
	mt->last_frees = r->frees;

	if (mt->opt.folded_path)
		err = write_folded(mt, r);
	r->top_n = mt->opt.top_n;
	if (r->top_n && r->nstacks > r->top_n)
		r->nstacks = r->top_n;
	if (!err && (!mt->opt.quiet || final)) {
		err = report_write_text(mt->text, r);
		fflush(mt->text);
	}
	if (!err && mt->json) {
		err = report_write_json(mt->json, r);
		fflush(mt->json);
	}
	if (err)
		fprintf(stderr, "memtrace: cannot write the report: %s\n", strerror(-err));
	report_built_free(&b);
	return err;
}

/* Re-read the mappings of live processes while new stacks keep
 * appearing: a library loaded after attach must be known before the
 * process exits, or its frames cannot be named afterwards. */
static void refresh_maps(struct memtrace *mt, uint64_t now)
{
	struct agg_totals t;

	if (now - mt->last_maps_ns < MAPS_REFRESH_NS)
		return;
	agg_totals(mt->agg, &t);
	if (t.stacks == mt->stacks_at_maps)
		return;
	mt->stacks_at_maps = t.stacks;
	mt->last_maps_ns = now;
	for (size_t i = 0; i < mt->nprocs; i++)
		if (!mt->procs[i].exited)
			symbolizer_add_pid(mt->sym, mt->procs[i].pid);
}

static void on_exit_of(struct memtrace *mt, struct traced *t)
{
	int status;

	t->exited = true;
	if (t->pid == mt->child)
		waitpid(t->pid, &status, WNOHANG);
	epoll_ctl(mt->epfd, EPOLL_CTL_DEL, t->pidfd, NULL);
	for (size_t i = 0; i < mt->nprocs; i++)
		if (!mt->procs[i].exited)
			return;
	mt->stop = true;
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
		resolve_fresh_stacks(mt);
		refresh_maps(mt, now_ns());

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == mt->sigfd) {
				struct signalfd_siginfo si;

				if (read(mt->sigfd, &si, sizeof(si)) == sizeof(si) &&
				    (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM))
					mt->stop = true;
			} else if (fd == mt->timerfd) {
				uint64_t ticks;

				if (read(mt->timerfd, &ticks, sizeof(ticks)) == sizeof(ticks))
					report(mt, false);
			} else if (fd != rb_consumer_fd(mt->consumer)) {
				for (size_t k = 0; k < mt->nprocs; k++)
					if (mt->procs[k].pidfd == fd && !mt->procs[k].exited)
						on_exit_of(mt, &mt->procs[k]);
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

static int open_outputs(struct memtrace *mt)
{
	const struct options *o = &mt->opt;

	mt->text = stdout;
	if (o->output_path) {
		mt->text = fopen(o->output_path, "w");
		if (!mt->text) {
			fprintf(stderr, "memtrace: cannot write -o '%s': %s\n",
				o->output_path, strerror(errno));
			return -errno;
		}
	}
	if (o->json_path) {
		mt->json = fopen(o->json_path, "w");
		if (!mt->json) {
			fprintf(stderr, "memtrace: cannot write --json '%s': %s\n",
				o->json_path, strerror(errno));
			return -errno;
		}
	}
	if (o->folded_path) {
		/* Written only at report time: check now that it can be. */
		FILE *f = fopen(o->folded_path, "w");

		if (!f) {
			fprintf(stderr, "memtrace: cannot write --folded '%s': %s\n",
				o->folded_path, strerror(errno));
			return -errno;
		}
		fclose(f);
	}
	return 0;
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
	for (size_t i = 0; i < mt->nprocs; i++)
		if ((err = add_fd(mt->epfd, mt->procs[i].pidfd)))
			return err;
	return 0;
}

/* Check a process and find its libc, before anything is loaded. */
static int prepare_process(struct memtrace *mt, pid_t pid)
{
	struct traced *t = &mt->procs[mt->nprocs];
	char why[512];
	int err;

	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->pidfd = -1;
	err = target_check_pid(pid, why, sizeof(why));
	if (!err)
		err = libc_target_find(pid, &t->libc, why, sizeof(why));
	if (err) {
		fprintf(stderr, "memtrace: %s\n", why);
		return err;
	}
	target_comm(pid, t->comm, sizeof(t->comm));
	err = detect_python(mt, t, false);
	if (err)
		return err;
	if (mt->unwind) {
		err = unwind_loader_prepare(mt->unwind, pid);
		if (err) {
			fprintf(stderr, "memtrace: PID %d: cannot read its mappings for "
				"unwinding: %s\n", pid, strerror(-err));
			return err;
		}
	}
	t->pidfd = target_pidfd(pid);
	if (t->pidfd < 0) {
		fprintf(stderr, "memtrace: PID %d: cannot watch for its exit: %s\n",
			pid, strerror(-t->pidfd));
		return t->pidfd;
	}
	mt->nprocs++;
	return 0;
}

/* --python-objects: probe pymalloc too, where the interpreter lets us;
 * where it does not, say so once and go on with the rest. */
static void attach_pymalloc(struct memtrace *mt, struct traced *t)
{
	struct pymalloc_target pm;
	char why[512];
	int err;

	/* Once per interpreter: probing it twice (a Python that exec'd the
	 * same Python) would report every object twice. */
	if (!strcmp(t->pymalloc_probed, t->py.lib_path))
		return;
	snprintf(t->pymalloc_probed, sizeof(t->pymalloc_probed), "%s", t->py.lib_path);

	err = pymalloc_target_find(t->pid, &t->py, &pm, why, sizeof(why));
	if (!err && pm.sites.n_sites)
		err = probes_attach_pymalloc_sites(mt->probes, t->pid, pm.path, &pm.sites,
						   why, sizeof(why));
	else if (!err)
		err = probes_attach_pymalloc(mt->probes, t->pid, pm.path, pm.offset,
					     pm.free_probe_offset, why, sizeof(why));
	if (!err && pm.sites.n_sites)
		/* Not an error, but it says what the sizes mean. */
		warn_once(mt, "PID %d: pymalloc is inlined in %s: probed at its %zu inlined "
			  "sites; %zu of its %zu allocation sites name the requested size, "
			  "objects from the others are counted at their pymalloc block size "
			  "(see accounting)", t->pid, t->py.lib_path, pm.sites.n_sites,
			  pm.sites.n_sized, pm.sites.n_alloc);
	pymalloc_target_free(&pm);
	if (err) {
		fprintf(stderr, "memtrace: PID %d: --python-objects: %s\n", t->pid, why);
		warn_once(mt, "PID %d: --python-objects: %s", t->pid, why);
	}
}

static int attach_process(struct memtrace *mt, struct traced *t)
{
	char why[512];
	int err;

	/* Mappings first: if the process exits early, its stacks still
	 * resolve. */
	err = symbolizer_add_pid(mt->sym, t->pid);
	if (err && err != -ESRCH)
		warn_once(mt, "PID %d: cannot read its mappings: %s", t->pid,
			  strerror(-err));
	if (t->python) {
		__u32 key = t->pid;

		err = bpf_map_update_elem(probes_py_targets_map_fd(mt->probes), &key,
					  &t->py.off, BPF_ANY);
		if (err) {
			fprintf(stderr, "memtrace: PID %d: cannot load its Python offsets: %s\n",
				t->pid, strerror(errno));
			return -errno;
		}
	}
	err = probes_attach(mt->probes, t->pid, &t->libc, why, sizeof(why));
	if (err) {
		fprintf(stderr, "memtrace: %s\n", why);
		return err;
	}
	if (t->python && mt->opt.python_objects)
		attach_pymalloc(mt, t);
	return 0;
}

static void cleanup(struct memtrace *mt)
{
	/* Probes go first: nothing is left in the kernel, whatever failed. */
	probes_close(mt->probes);
	rb_consumer_free(mt->consumer);
	stack_source_free(mt->stacks);
	symbolizer_free(mt->sym);
	unwind_loader_free(mt->unwind);
	py_symbols_free(mt->py);
	free(mt->fresh);
	for (size_t i = 0; i < MAX_PENDING_SNAPSHOTS; i++)
		free(mt->pending[i]);
	agg_free(mt->agg);
	for (size_t i = 0; i < mt->nprocs; i++)
		if (mt->procs[i].pidfd >= 0)
			close(mt->procs[i].pidfd);
	if (mt->text && mt->text != stdout)
		fclose(mt->text);
	if (mt->json)
		fclose(mt->json);
	if (mt->epfd > 0)
		close(mt->epfd);
	if (mt->sigfd > 0)
		close(mt->sigfd);
	if (mt->timerfd > 0)
		close(mt->timerfd);
}

int main(int argc, char **argv)
{
	struct memtrace mt = { .epfd = -1, .sigfd = -1, .timerfd = -1 };
	struct probes_config pc;
	char why[512];
	int err;

	err = options_parse(&mt.opt, argc, argv);
	if (err)
		return err > 0 ? 0 : 2;
	err = target_check_privileges(why, sizeof(why));
	if (err) {
		fprintf(stderr, "memtrace: %s\n", why);
		return 1;
	}
	if (open_outputs(&mt))
		goto fail;

	if (mt.opt.bpf_stats) {
		pc = (struct probes_config){
			.stack_mode = mt.opt.stack_mode,
			.ringbuf_bytes = mt.opt.ringbuf_bytes,
			.unwind_rows = UNWIND_ROWS_MIN,
		};
		err = probes_open(&mt.probes, &pc, why, sizeof(why));
		if (err) {
			fprintf(stderr, "memtrace: %s\n", why);
			goto fail;
		}
		err = probes_print_stats(mt.probes, stdout);
		cleanup(&mt);
		return err ? 1 : 0;
	}

	if (mt.opt.stack_mode == MT_STACK_DWARF && (err = unwind_loader_new(&mt.unwind))) {
		fprintf(stderr, "memtrace: cannot set up: %s\n", strerror(-err));
		goto fail;
	}

	/* Everything that can be wrong with the targets is found before
	 * anything is loaded into the kernel. */
	if (mt.opt.command) {
		err = target_launch(mt.opt.command, &mt.child, why, sizeof(why));
		if (err) {
			fprintf(stderr, "memtrace: %s\n", why);
			goto fail;
		}
		if (prepare_process(&mt, mt.child))
			goto fail;
	} else {
		for (size_t i = 0; i < mt.opt.npids; i++)
			if (prepare_process(&mt, mt.opt.pids[i]))
				goto fail;
	}

	pc = (struct probes_config){
		.stack_mode = mt.opt.stack_mode,
		.ringbuf_bytes = mt.opt.ringbuf_bytes,
		.empty_probes = mt.opt.empty_probes,
	};
	if (mt.unwind) {
		size_t need = unwind_loader_rows_needed(mt.unwind) * UNWIND_ROWS_FACTOR;

		pc.unwind_rows = need > UNWIND_ROWS_MIN ? need : UNWIND_ROWS_MIN;
	}
	err = probes_open(&mt.probes, &pc, why, sizeof(why));
	if (err) {
		fprintf(stderr, "memtrace: %s\n", why);
		goto fail;
	}
	if ((err = agg_new(&mt.agg)) || (err = symbolizer_new(&mt.sym)) ||
	    (err = py_symbols_new(&mt.py)) ||
	    (err = stack_source_new(&mt.stacks, probes_stacks_map_fd(mt.probes))) ||
	    (err = rb_consumer_new(&mt.consumer, probes_events_map_fd(mt.probes),
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
	for (size_t i = 0; i < mt.nprocs; i++)
		if (attach_process(&mt, &mt.procs[i]))
			goto fail;

	err = setup_loop(&mt);
	if (err) {
		fprintf(stderr, "memtrace: cannot set up the event loop: %s\n",
			strerror(-err));
		goto fail;
	}
	mt.start_ns = mt.last_report_ns = mt.last_maps_ns = now_ns();
	if (mt.child && (err = target_resume(mt.child))) {
		fprintf(stderr, "memtrace: cannot start the command: %s\n", strerror(-err));
		goto fail;
	}
	fprintf(stderr, "memtrace: tracing %zu process%s (%s); Ctrl-C to stop\n",
		mt.nprocs, mt.nprocs == 1 ? "" : "es", mt.procs[0].libc.maps_path);

	err = run(&mt);
	if (err)
		fprintf(stderr, "memtrace: event loop failed: %s\n", strerror(-err));
	report(&mt, true);
	cleanup(&mt);
	return err ? 1 : 0;
fail:
	/* A launched command never ran a line of its own: end it. */
	if (mt.child) {
		kill(mt.child, SIGKILL);
		waitpid(mt.child, NULL, 0);
	}
	cleanup(&mt);
	return 1;
}
