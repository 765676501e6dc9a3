// SPDX-License-Identifier: MIT
/*
 * Loading the allocation probes and attaching them to processes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "probe_maps.h"
#include "probes.h"
#include "sampling.h"
#include "uprobe_events.h"
#include "uprobe_multi.h"
#include "util/side_task.h"
#include "util/vec.h"
#include "util/why.h"
#include "alloc_probes.skel.h"

/* Links for one traced process: per function an entry and a return probe,
 * ld.so's hook, and pymalloc's (a few hundred where it is inlined). */
struct pid_link {
	struct bpf_link *link;
	int fd;			/* a multi-uprobe link (link == NULL) */
};

struct pid_links {
	pid_t pid;
	struct pid_link *links;
	size_t nlinks, cap;
	bool session;		/* its allocation functions: one session link */
};

/* An allocator file whose session probes one process holds (see
 * claim_session()). */
struct session_file {
	dev_t dev;
	ino_t ino;
};

struct probes {
	struct alloc_probes_bpf *skel;
	/* --python-objects: pymalloc's programs, in an instance of their own
	 * on the same maps (load_py_skel()); NULL without. */
	struct alloc_probes_bpf *py_skel;
	struct bpf_link *exec_link;
	struct pid_links *pids;
	size_t npids, pids_cap;
	int ncpus;
	bool multi;		/* allocation probes attach as multi-uprobes */
	const volatile uint64_t *py_gens;	/* py_code_gens, mapped */
	uint64_t *targets_gen;			/* targets_gen, mapped */
	/* Probes as tracefs uprobe events, one kernel consumer each however
	 * many processes are traced (see uprobe_events.h); NULL: links per
	 * process, as above. */
	struct uprobe_events *ue;
	bool system_wide;	/* -a: every process that maps a probed file */
	bool session;		/* alloc_session is loaded (cfg->sessions, and
				   the kernel has session uprobes) */
	struct session_file *session_files;
	size_t nsession_files, session_files_cap;
};

#define PY_GENS_BYTES ((size_t)MT_PY_GEN_SLOTS * sizeof(uint64_t))

/* The BPF object, opened on the shared maps and configured for cfg, not
 * loaded yet; NULL with why filled. */
static struct alloc_probes_bpf *open_skel(const struct probe_maps *maps,
					  const struct probes_config *cfg,
					  char *why, size_t why_len)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = cfg->btf_path);
	struct alloc_probes_bpf *skel = alloc_probes_bpf__open_opts(&opts);
	int err;

	if (!skel) {
		why_fail(-errno, why, why_len, "cannot open the BPF object: %s", strerror(errno));
		return NULL;
	}
	skel->rodata->stack_mode = cfg->stack_mode;
	skel->rodata->empty_probes = cfg->empty_probes;
	skel->rodata->sample_bytes = cfg->sample_bytes;
	/* Tests only: the stacks walked in BPF are walked in user space
	 * too, and compared (user/unwind/snapshots.h). */
	skel->rodata->unwind_check = getenv("MEMTRACE_UNWIND_CHECK") != NULL;
	/* Wake the consumer at a quarter full: it also drains on a timer,
	 * so this only matters in bursts. */
	skel->rodata->wakeup_bytes = cfg->ringbuf_bytes / 4;
	err = probe_maps_share(maps, skel->obj, true);
	if (err) {
		why_fail(err, why, why_len, "cannot share the BPF maps: %s", strerror(-err));
		alloc_probes_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

static int load_failed(int err, char *why, size_t why_len)
{
	return why_fail(err, why, why_len, "the kernel refused the BPF programs: %s "
			"(run with MEMTRACE_DEBUG=1 for the verifier's log)", strerror(-err));
}

/* Open and load the BPF object into p->skel, without pymalloc's programs
 * (see load_py_skel()). multi: load the allocation probes for multi-uprobe
 * links (see struct batch); session: load alloc_session too, for session
 * links. */
static int load_skel(struct probes *p, const struct probe_maps *maps,
		     const struct probes_config *cfg, bool multi, bool session,
		     char *why, size_t why_len)
{
	int err;

	p->skel = open_skel(maps, cfg, why, why_len);
	if (!p->skel)
		return -EINVAL;
	if (multi) {
		struct bpf_program *progs[] = {
			p->skel->progs.alloc_enter, p->skel->progs.alloc_exit,
			p->skel->progs.free_enter,
		};

		for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
			bpf_program__set_expected_attach_type(progs[i],
							      MT_BPF_TRACE_UPROBE_MULTI);
	}
	bpf_program__set_autoload(p->skel->progs.pymalloc_site, false);
	bpf_program__set_autoload(p->skel->progs.pymalloc_new_pool_exit, false);
	if (session)
		bpf_program__set_expected_attach_type(p->skel->progs.alloc_session,
						      MT_BPF_TRACE_UPROBE_SESSION);
	else
		bpf_program__set_autoload(p->skel->progs.alloc_session, false);
	p->multi = multi;
	p->session = session;
	err = alloc_probes_bpf__load(p->skel);
	return err ? load_failed(err, why, why_len) : 0;
}

/*
 * --python-objects: pymalloc's two programs, from an instance of the BPF
 * object of their own (the same maps), into p->py_skel: loaded while
 * p->skel loads, on another CPU, as each walks stacks and takes the
 * verifier ~100 ms (all three one after another took 0.3 s).
 */
struct py_load {
	struct probes *p;
	const struct probe_maps *maps;
	const struct probes_config *cfg;
	bool multi;
	int err;
	char why[256];
};

static void load_py_skel(void *arg)
{
	struct py_load *l = arg;
	struct alloc_probes_bpf *skel = open_skel(l->maps, l->cfg, l->why, sizeof(l->why));
	struct bpf_program *prog;
	int err;

	l->p->py_skel = skel;
	if (!skel) {
		l->err = -EINVAL;
		return;
	}
	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, prog == skel->progs.pymalloc_site ||
					  prog == skel->progs.pymalloc_new_pool_exit);
	if (l->multi) {
		bpf_program__set_expected_attach_type(skel->progs.pymalloc_site,
						      MT_BPF_TRACE_UPROBE_MULTI);
		bpf_program__set_expected_attach_type(skel->progs.pymalloc_new_pool_exit,
						      MT_BPF_TRACE_UPROBE_MULTI);
	}
	err = alloc_probes_bpf__load(skel);
	l->err = err ? load_failed(err, l->why, sizeof(l->why)) : 0;
}

/* Load p->skel (falling back to older kernels' ways) and, with
 * --python-objects, p->py_skel beside it. */
static int load_both(struct probes *p, const struct probe_maps *maps,
		     const struct probes_config *cfg, char *why, size_t why_len)
{
	bool multi = !p->ue && !getenv("MEMTRACE_NO_UPROBE_MULTI");
	struct py_load py = { .p = p, .maps = maps, .cfg = cfg, .multi = multi };
	struct side_task py_task;
	int err;

	if (cfg->python_objects)
		side_task_start(&py_task, load_py_skel, &py);
	/* Session links need the per-process entries of tracefs events
	 * for every other process (see claim_session()); a kernel older
	 * than 6.13 refuses alloc_session's attach type or its kfunc, and
	 * the programs are loaded again without it
	 * (MEMTRACE_NO_UPROBE_SESSION=1 to test without). */
	err = load_skel(p, maps, cfg, multi,
			cfg->sessions && p->ue && !cfg->system_wide &&
				!getenv("MEMTRACE_NO_UPROBE_SESSION"),
			why, why_len);
	if (err && p->session) {
		alloc_probes_bpf__destroy(p->skel);
		err = load_skel(p, maps, cfg, p->multi, false, why, why_len);
	}
	if (err && p->multi) {
		alloc_probes_bpf__destroy(p->skel);
		err = load_skel(p, maps, cfg, false, false, why, why_len);
	}
	if (!cfg->python_objects)
		return err;
	side_task_finish(&py_task);
	if (err)
		return err;
	/* Loaded for multi-uprobes, which the kernel refused. */
	if (py.multi != p->multi) {
		alloc_probes_bpf__destroy(p->py_skel);
		py.multi = p->multi;
		load_py_skel(&py);
	}
	if (py.err)
		return why_fail(py.err, why, why_len, "%s", py.why);
	return 0;
}

/* Arming the processes of cfg->arm beside the load (arm_run()). */
struct arm_job {
	struct probes *p;
	const struct probes_config *cfg;
};

static void arm_run(void *arg);

int probes_open(struct probes **out, const struct probe_maps *maps,
		const struct probes_config *cfg, char *why, size_t why_len)
{
	struct probes *p;
	struct side_task arm_task;
	struct arm_job arm = { .cfg = cfg };
	bool arming;
	int err;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	arm.p = p;
	p->ncpus = libbpf_num_possible_cpus();
	if (p->ncpus <= 0) {
		err = why_fail(-EINVAL, why, why_len, "cannot count CPUs");
		goto err;
	}

	/* Probes as tracefs uprobe events where the kernel has them
	 * (MEMTRACE_NO_UPROBE_EVENTS=1 to test without): their cost per hit
	 * does not grow with the number of traced processes. Else the
	 * allocation probes attach as multi-uprobe links where the kernel
	 * has them (6.6+; MEMTRACE_NO_UPROBE_MULTI=1 to test without), as
	 * one uprobe each where it refuses the attach type. */
	p->system_wide = cfg->system_wide;
	if (!getenv("MEMTRACE_NO_UPROBE_EVENTS") &&
	    uprobe_events_open(&p->ue, cfg->system_wide, NULL, 0))
		p->ue = NULL;
	/* Sessions would take the allocation functions off the armed
	 * events (claim_session()), and -a has no per-process entries. */
	arming = p->ue && cfg->narm && !cfg->sessions && !cfg->system_wide &&
		 !getenv("MEMTRACE_NO_ARM");
	if (arming)
		side_task_start(&arm_task, arm_run, &arm);
	err = load_both(p, maps, cfg, why, why_len);
	if (arming)
		side_task_finish(&arm_task);
	if (err)
		goto err;

	if (cfg->sample_bytes &&
	    (err = sampling_fill_intervals(bpf_map__fd(p->skel->maps.sample_intervals),
					   cfg->sample_bytes, cfg->sample_seed))) {
		why_fail(err, why, why_len, "cannot fill the sampling intervals: %s",
			 strerror(-err));
		goto err;
	}

	p->py_gens = mmap(NULL, PY_GENS_BYTES, PROT_READ, MAP_SHARED,
			  bpf_map__fd(p->skel->maps.py_code_gens), 0);
	if (p->py_gens == MAP_FAILED) {
		p->py_gens = NULL;
		err = why_fail(-errno, why, why_len, "cannot map the code objects' generations: %s",
			       strerror(errno));
		goto err;
	}

	p->targets_gen = mmap(NULL, sizeof(*p->targets_gen), PROT_READ | PROT_WRITE, MAP_SHARED,
			      bpf_map__fd(p->skel->maps.targets_gen), 0);
	if (p->targets_gen == MAP_FAILED) {
		p->targets_gen = NULL;
		err = why_fail(-errno, why, why_len, "cannot map the filter's generation: %s",
			       strerror(errno));
		goto err;
	}

	p->exec_link = bpf_program__attach(p->skel->progs.handle_exec);
	if (!p->exec_link) {
		err = why_fail(-errno, why, why_len, "cannot attach the exec tracepoint: %s",
			   strerror(errno));
		goto err;
	}
	*out = p;
	return 0;
err:
	probes_close(p);
	return err;
}

static struct bpf_link *attach_one(struct bpf_program *prog, pid_t pid,
				   const char *path, uint64_t offset, bool ret,
				   uint64_t cookie)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = ret, .bpf_cookie = cookie);

	return bpf_program__attach_uprobe_opts(prog, pid, path, offset, &opts);
}

static void destroy_link(struct pid_link *l)
{
	if (l->link)
		bpf_link__destroy(l->link);
	else
		close(l->fd);
}

/* Keep a link (a libbpf one, or else the fd of a multi-uprobe link), or
 * destroy it if it cannot be kept. */
static int keep_link(struct pid_links *pl, struct bpf_link *link, int fd)
{
	struct pid_link l = { .link = link, .fd = fd };

	if (vec_reserve(&pl->links, &pl->cap, pl->nlinks + 1, sizeof(*pl->links))) {
		destroy_link(&l);
		return -ENOMEM;
	}
	pl->links[pl->nlinks++] = l;
	return 0;
}

static struct pid_links *find_pid(struct probes *p, pid_t pid)
{
	for (size_t i = 0; i < p->npids; i++)
		if (p->pids[i].pid == pid)
			return &p->pids[i];
	return NULL;
}

/* A fresh, empty record for pid, even if it had one (a reused pid must not
 * bring back a stale session flag); NULL: out of memory. */
static struct pid_links *new_pid_links(struct probes *p, pid_t pid)
{
	struct pid_links *pl;

	if (vec_reserve(&p->pids, &p->pids_cap, p->npids + 1, sizeof(*p->pids)))
		return NULL;
	pl = &p->pids[p->npids++];
	*pl = (struct pid_links){ .pid = pid };
	return pl;
}

/* pid's links, made empty if it has none yet; NULL: out of memory. */
static struct pid_links *pid_links_of(struct probes *p, pid_t pid)
{
	struct pid_links *pl = find_pid(p, pid);

	return pl ? pl : new_pid_links(p, pid);
}

/*
 * Probes of one program in one file, attached together: as one multi-uprobe
 * link where the kernel has them, else one uprobe each. Detaching a uprobe
 * waits for an RCU grace period (~0.1 s here) and the kernel does them one
 * after another, so a link per probe costs a process 2 s to detach for
 * libc alone and 26 s with Debian python3.11's 220 pymalloc sites; a
 * multi-uprobe link waits once.
 */
struct batch {
	struct bpf_program *prog;
	bool ret;			/* return probes */
	size_t n, cap;
	uint64_t *offsets, *cookies;
};

static int batch_add(struct batch *b, uint64_t offset, uint64_t cookie)
{
	size_t cookies_cap = b->cap;

	/* One capacity for both: the cookies grow first, so that b->cap
	 * (the offsets') never claims more than either array holds. */
	if (vec_reserve(&b->cookies, &cookies_cap, b->n + 1, sizeof(*b->cookies)) ||
	    vec_reserve(&b->offsets, &b->cap, b->n + 1, sizeof(*b->offsets)))
		return -ENOMEM;
	b->offsets[b->n] = offset;
	b->cookies[b->n++] = cookie;
	return 0;
}

static void batch_free(struct batch *b)
{
	free(b->offsets);
	free(b->cookies);
	b->offsets = b->cookies = NULL;
	b->n = b->cap = 0;
}

/* Attach the batch's probes to pid and empty the batch. */
static int batch_attach(struct probes *p, struct pid_links *pl, const char *path,
			struct batch *b)
{
	int err = 0;

	if (b->n && p->ue)
		err = uprobe_events_attach(p->ue, pl->pid, bpf_program__fd(b->prog), path,
					   b->offsets, b->cookies, b->n, b->ret);
	else if (b->n && p->multi) {
		/* pid 0: every process (-a) */
		int fd = uprobe_multi_attach(bpf_program__fd(b->prog),
					     p->system_wide ? 0 : pl->pid, path,
					     b->offsets, b->cookies, b->n,
					     b->ret ? UPROBE_MULTI_RETURN : UPROBE_MULTI_ENTRY);

		err = fd < 0 ? fd : keep_link(pl, NULL, fd);
	}
	for (size_t i = 0; b->n && !p->ue && !p->multi && !err && i < b->n; i++) {
		struct bpf_link *link = attach_one(b->prog, p->system_wide ? -1 : pl->pid,
						   path, b->offsets[i],
						   b->ret, b->cookies[i]);

		err = link ? keep_link(pl, link, -1) : -errno;
	}
	batch_free(b);
	return err;
}

/*
 * The probes of an allocator's functions, in batches attached in the order
 * that keeps the books right where probes join a live process (pymalloc's,
 * attach_functions; the allocator's own go in under MT_TARGET_ATTACHING and
 * go live together in mark_live(), where the order costs nothing):
 * - frees first: a block recorded later is always seen freed;
 * - then returns, so that a call whose entry was seen returns seen;
 * - then the entries of the realloc family before the others: a block
 *   recorded by malloc is never moved unseen by a realloc whose entry was
 *   not live yet.
 */
struct site_batches {
	struct batch frees, rets, moves, entries;
};

/* The order above, for a struct batch *[] of b's batches. */
#define SITE_BATCHES_IN_ORDER(b) { &(b)->frees, &(b)->rets, &(b)->moves, &(b)->entries }

/* skel NULL: batches without programs, for arming. */
static void site_batches_init(struct site_batches *b, const struct alloc_probes_bpf *skel)
{
	*b = (struct site_batches){
		.frees = { .prog = skel ? skel->progs.free_enter : NULL },
		.rets = { .prog = skel ? skel->progs.alloc_exit : NULL, .ret = true },
		.moves = { .prog = skel ? skel->progs.alloc_enter : NULL },
		.entries = { .prog = skel ? skel->progs.alloc_enter : NULL },
	};
}

/* A free's entry probe, or an allocation function's return and entry
 * probes, at their offsets in the file. */
static int site_batches_add(struct site_batches *b, unsigned int func, bool is_free,
			    uint64_t ret_offset, uint64_t entry_offset, uint64_t cookie)
{
	int err;

	if (is_free)
		return batch_add(&b->frees, entry_offset, cookie);
	err = batch_add(&b->rets, ret_offset, cookie);
	return err ? err : batch_add(mt_func_takes_block(func) ? &b->moves : &b->entries,
				     entry_offset, cookie);
}

/* Which of an allocator's probes attach_sites() puts on, and how. */
enum sites_how {
	SITES_ALL,		/* every site, the usual way */
	SITES_SESSION,		/* frees the usual way; the allocation
				   functions as one session link */
	SITES_ALLOCATIONS,	/* only the allocation functions, the usual way */
};

/* The allocation functions' entries (each site's entry and return are
 * at one offset) as one session link of alloc_session, kept in pl. */
static int session_attach(struct probes *p, struct pid_links *pl, const char *path,
			  struct site_batches *b)
{
	struct batch all = { 0 };
	int fd, err = 0;

	for (size_t i = 0; i < b->moves.n && !err; i++)
		err = batch_add(&all, b->moves.offsets[i], b->moves.cookies[i]);
	for (size_t i = 0; i < b->entries.n && !err; i++)
		err = batch_add(&all, b->entries.offsets[i], b->entries.cookies[i]);
	if (!err && all.n) {
		fd = uprobe_multi_attach(bpf_program__fd(p->skel->progs.alloc_session), pl->pid,
					 path, all.offsets, all.cookies, all.n,
					 UPROBE_MULTI_SESSION);
		err = fd < 0 ? fd : keep_link(pl, NULL, fd);
		pl->session = !err;
	}
	batch_free(&all);
	return err;
}

/* Attach them, in order, as how says, and free them. After an error, the
 * batches not attached yet are only freed. */
static int site_batches_attach(struct probes *p, struct pid_links *pl, const char *path,
			       struct site_batches *b, enum sites_how how, int err)
{
	struct batch *order[] = SITE_BATCHES_IN_ORDER(b);

	if (how == SITES_SESSION) {
		if (!err)
			err = batch_attach(p, pl, path, &b->frees);
		if (!err)
			err = session_attach(p, pl, path, b);
	}
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		bool skip = how == SITES_SESSION || (how == SITES_ALLOCATIONS && i == 0);

		if (!err && !skip)
			err = batch_attach(p, pl, path, order[i]);
		batch_free(order[i]);
	}
	return err;
}

/*
 * Entry and return probes on the allocation functions first..free_func (its
 * last one, which only needs an entry probe): at func_offset[f] for the
 * return probe, probe_offset[f] for the entry probe; 0: absent. Functions
 * marked in skip (aliases of an earlier one) are left out.
 */
static int attach_functions(struct probes *p, struct pid_links *pl, const char *path,
			    const uint64_t func_offset[MT_FUNC_COUNT],
			    const uint64_t probe_offset[MT_FUNC_COUNT],
			    const uint8_t *skip, int first, int free_func)
{
	struct site_batches b;
	int err = 0;

	site_batches_init(&b, p->skel);
	for (int f = first; f <= free_func && !err; f++)
		if (func_offset[f] && !(skip && skip[f]))
			err = site_batches_add(&b, f, f == free_func, func_offset[f],
					       probe_offset[f], f);
	return site_batches_attach(p, pl, path, &b, SITES_ALL, err);
}

/*
 * The allocator's sites: an entry and a return probe on each allocation
 * function, both at its probe_offset (the return probe there takes the
 * return address from the top of the stack, untouched before that site:
 * user/proc/probe_site.h), and an entry probe on each free.
 */
static int site_batches_of(struct site_batches *b, const struct alloc_probes_bpf *skel,
			   const struct alloc_target *at)
{
	int err = 0;

	site_batches_init(b, skel);
	for (size_t i = 0; i < at->nsites && !err; i++) {
		const struct alloc_site *s = &at->sites[i];

		err = site_batches_add(b, s->func, s->func == MT_FUNC_FREE, s->probe_offset,
				       s->probe_offset, s->cookie);
	}
	return err;
}

static int attach_sites(struct probes *p, struct pid_links *pl,
			const struct alloc_target *at, enum sites_how how)
{
	struct site_batches b;
	int err = site_batches_of(&b, p->skel, at);

	return site_batches_attach(p, pl, at->path, &b, how, err);
}

/*
 * Arm the sites probes_attach() gives pid with SITES_ALL, in its order (see
 * struct probes_arm). It runs while the programs load, so it touches only
 * p->ue; what fails here is met again, and said, by probes_attach().
 */
static void arm_process(struct probes *p, pid_t pid, const struct alloc_target *at)
{
	struct site_batches b;
	struct batch *order[] = SITE_BATCHES_IN_ORDER(&b);
	int err;

	if (at->ldso_path[0])
		uprobe_events_attach(p->ue, pid, -1, at->ldso_path, &at->dl_debug_state_offset,
				     NULL, 1, false);
	err = site_batches_of(&b, NULL, at);
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!err && order[i]->n)
			err = uprobe_events_attach(p->ue, pid, -1, at->path, order[i]->offsets,
						   order[i]->cookies, order[i]->n, order[i]->ret);
		batch_free(order[i]);
	}
}

static void arm_run(void *arg)
{
	struct arm_job *j = arg;

	for (size_t i = 0; i < j->cfg->narm; i++)
		arm_process(j->p, j->cfg->arm[i].pid, j->cfg->arm[i].at);
}

/*
 * May pid's allocation functions in at's file be one session link? Yes
 * for the first process traced on that file only. A consumer of a uprobe
 * that is not the hitting process's own returns "run the return" for it,
 * so a second session link on the same file would take the skip away
 * from both; the other processes get tracefs events, whose cost per hit
 * does not grow with their number. The claim stays for the whole run: the
 * link does, until probes_close().
 */
static bool claim_session(struct probes *p, const struct alloc_target *at)
{
	struct stat st;

	if (!p->session || !p->ue || p->system_wide || fstat(at->fd, &st))
		return false;
	for (size_t i = 0; i < p->nsession_files; i++)
		if (p->session_files[i].dev == st.st_dev && p->session_files[i].ino == st.st_ino)
			return false;
	if (vec_reserve(&p->session_files, &p->session_files_cap, p->nsession_files + 1,
			sizeof(*p->session_files)))
		return false;
	p->session_files[p->nsession_files++] = (struct session_file){ st.st_dev, st.st_ino };
	return true;
}

/* After each write to targets: the threads' copies of their entries are
 * stale (target_known() in bpf/probe_common.bpf.h). */
static void targets_changed(struct probes *p)
{
	if (p->targets_gen)
		__atomic_fetch_add(p->targets_gen, 1, __ATOMIC_SEQ_CST);
}

/* pid's entry in the filter map is tv. */
static int set_target(struct probes *p, pid_t pid, const struct mt_target *tv)
{
	__u32 key = pid;
	int err;

	err = bpf_map__update_elem(p->skel->maps.targets, &key, sizeof(key), tv,
				   sizeof(*tv), BPF_ANY);
	targets_changed(p);
	return err;
}

/*
 * Say when pid's entry probes went live (now), or that some are being
 * attached: returns without an entry in that window are calls that were
 * in flight, counted apart (MT_IN_FLIGHT_NS in memtrace_events.h).
 */
static void mark_live(struct probes *p, pid_t pid, bool live)
{
	struct mt_target tv;
	struct timespec ts;
	__u32 key = pid;

	if (bpf_map__lookup_elem(p->skel->maps.targets, &key, sizeof(key), &tv,
				 sizeof(tv), 0))
		return;
	tv.live_ns = 0;
	/* bpf_ktime_get_ns() is CLOCK_MONOTONIC. */
	if (live && !clock_gettime(CLOCK_MONOTONIC, &ts))
		tv.live_ns = (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	if (live)
		tv.flags &= ~MT_TARGET_ATTACHING;	/* all its probes at once */
	bpf_map__update_elem(p->skel->maps.targets, &key, sizeof(key), &tv, sizeof(tv),
			     BPF_EXIST);
	targets_changed(p);
}

int probes_attach(struct probes *p, pid_t pid, const struct alloc_target *at,
		  char *why, size_t why_len)
{
	struct pid_links *pl = pid_links_of(p, pid);
	struct mt_target tv = { .flags = MT_TARGET_ATTACHING };
	int err;

	if (!pl)
		return -ENOMEM;

	err = set_target(p, pid, &tv);
	if (err)
		return why_fail(err, why, why_len, "cannot add PID %d to the filter: %s",
			    pid, strerror(-err));

	/* Where the loader announces new objects (optional: without it,
	 * new objects are found when the unwinder meets them). */
	if (at->ldso_path[0] && p->ue) {
		uprobe_events_attach(p->ue, pid, bpf_program__fd(p->skel->progs.maps_changed),
				     at->ldso_path, &at->dl_debug_state_offset, NULL, 1, false);
	} else if (at->ldso_path[0]) {
		struct bpf_link *link = attach_one(p->skel->progs.maps_changed,
						   p->system_wide ? -1 : pid, at->ldso_path,
						   at->dl_debug_state_offset, false, 0);

		if (link && keep_link(pl, link, -1))
			return -ENOMEM;
	}

	/* Gated by MT_TARGET_ATTACHING until mark_live(): all at once. */
	err = attach_sites(p, pl, at, claim_session(p, at) ? SITES_SESSION : SITES_ALL);
	if (err)
		return why_fail(err, why, why_len,
				"cannot attach uprobes to the allocation functions of %s "
				"for PID %d: %s", at->maps_path, pid, strerror(-err));
	mark_live(p, pid, true);
	return 0;
}

int probes_attach_pymalloc(struct probes *p, pid_t pid, const char *path,
			   const uint64_t offsets[MT_FUNC_COUNT], uint64_t free_probe_offset,
			   char *why, size_t why_len)
{
	struct pid_links *pl = find_pid(p, pid);
	uint64_t probe_offsets[MT_FUNC_COUNT];
	int err;

	if (!pl)
		return why_fail(-ENOENT, why, why_len, "PID %d is not traced", pid);
	memcpy(probe_offsets, offsets, sizeof(probe_offsets));
	probe_offsets[MT_FUNC_PY_FREE] = free_probe_offset;
	mark_live(p, pid, false);
	err = attach_functions(p, pl, path, offsets, probe_offsets, NULL,
			       MT_FUNC_PY_MALLOC, MT_FUNC_PY_FREE);
	mark_live(p, pid, true);
	if (err)
		return why_fail(err, why, why_len,
				"cannot attach uprobes to pymalloc's functions in %s for "
				"PID %d: %s", path, pid, strerror(-err));
	return 0;
}

int probes_attach_pymalloc_sites(struct probes *p, pid_t pid, const char *path,
				 const struct pymalloc_sites *ps, char *why, size_t why_len)
{
	struct pid_links *pl = find_pid(p, pid);
	struct batch frees = { .prog = p->py_skel->progs.pymalloc_site };
	struct batch allocs = { .prog = p->py_skel->progs.pymalloc_site };
	struct batch new_pool = { .prog = p->py_skel->progs.pymalloc_new_pool_exit,
				  .ret = true };
	int err = 0;

	if (!pl)
		return why_fail(-ENOENT, why, why_len, "PID %d is not traced", pid);
	for (size_t i = 0; i < ps->n_sites && !err; i++) {
		bool is_free = (ps->sites[i].cookie & 0xff) == MT_PYSITE_FREE;

		err = batch_add(is_free ? &frees : &allocs, ps->sites[i].offset,
				ps->sites[i].cookie);
	}
	if (!err && ps->new_pool_offset)
		err = batch_add(&new_pool, ps->new_pool_offset, 0);

	/* Frees first, then the pool refill, then allocations: a block whose
	 * allocation is seen always has its free seen too (a free seen
	 * without its allocation is merely counted as unknown). */
	if (!err)
		err = batch_attach(p, pl, path, &frees);
	if (!err)
		err = batch_attach(p, pl, path, &new_pool);
	if (!err)
		err = batch_attach(p, pl, path, &allocs);
	/* After an error, batches not attached yet are left to free. */
	batch_free(&frees);
	batch_free(&new_pool);
	batch_free(&allocs);
	if (err)
		return why_fail(err, why, why_len,
				"cannot attach uprobes to pymalloc's inlined sites in %s for "
				"PID %d: %s", path, pid, strerror(-err));
	return 0;
}

int probes_attach_code_dealloc(struct probes *p, pid_t pid, const char *path,
			       uint64_t offset, char *why, size_t why_len)
{
	struct pid_links *pl = pid_links_of(p, pid);
	struct bpf_link *link;

	if (!pl)
		return -ENOMEM;
	/* As the allocation probes: one event for every process (a link
	 * per process waits a grace period each at exit). */
	if (p->ue) {
		int err = uprobe_events_attach(p->ue, p->system_wide ? 0 : pid,
					       bpf_program__fd(p->skel->progs.py_code_dealloc),
					       path, &offset, NULL, 1, false);

		return err ? why_fail(err, why, why_len, "cannot probe the code objects' "
				      "deallocator in %s: %s", path, strerror(-err)) : 0;
	}
	link = attach_one(p->skel->progs.py_code_dealloc, p->system_wide ? -1 : pid, path,
			  offset, false, 0);
	if (!link)
		return why_fail(-errno, why, why_len, "cannot probe the code objects' "
				"deallocator in %s: %s", path, strerror(errno));
	return keep_link(pl, link, -1);
}

const volatile uint64_t *probes_py_gens(const struct probes *p)
{
	return p->py_gens;
}

int probes_attach_all(struct probes *p, const struct alloc_target *at,
		      char *why, size_t why_len)
{
	struct pid_links *pl;
	int err;

	if (!p->system_wide)
		return why_fail(-EINVAL, why, why_len, "not tracing system-wide");
	pl = new_pid_links(p, 0);
	if (!pl)
		return -ENOMEM;
	if (at->ldso_path[0] && p->ue) {
		uprobe_events_attach(p->ue, 0, bpf_program__fd(p->skel->progs.maps_changed),
				     at->ldso_path, &at->dl_debug_state_offset, NULL, 1, false);
	} else if (at->ldso_path[0]) {
		struct bpf_link *link = attach_one(p->skel->progs.maps_changed, -1,
						   at->ldso_path, at->dl_debug_state_offset,
						   false, 0);

		if (link && keep_link(pl, link, -1))
			return -ENOMEM;
	}
	err = attach_sites(p, pl, at, SITES_ALL);
	if (err)
		return why_fail(err, why, why_len,
				"cannot attach uprobes to the allocation functions of %s: %s",
				at->maps_path, strerror(-err));
	return 0;
}

int probes_add_target(struct probes *p, pid_t pid)
{
	struct mt_target tv = { 0 };
	int err = set_target(p, pid, &tv);

	if (!err)
		mark_live(p, pid, true);
	return err;
}

int probes_follow(struct probes *p, pid_t parent, pid_t child, const struct alloc_target *at,
		  char *why, size_t why_len)
{
	struct pid_links *pl;
	struct mt_target tv = { 0 };
	__u32 key = parent;
	bool parent_session;
	int err;

	/* The child is what its parent was: same filter entry, and with
	 * tracefs events the same probes (its breakpoints are inherited). */
	bpf_map__lookup_elem(p->skel->maps.targets, &key, sizeof(key), &tv, sizeof(tv), 0);
	if (!p->ue)
		return probes_attach(p, child, at, why, why_len);
	pl = find_pid(p, parent);
	/* A session link is its process's own: the child of its holder gets
	 * the usual probes on the allocation functions. */
	parent_session = pl && pl->session;
	pl = new_pid_links(p, child);
	if (!pl)
		return -ENOMEM;
	err = set_target(p, child, &tv);
	if (!err)
		err = uprobe_events_fork(p->ue, parent, child);
	if (!err && parent_session)
		err = attach_sites(p, pl, at, SITES_ALLOCATIONS);
	if (!err)
		mark_live(p, child, true);
	if (err)
		return why_fail(err, why, why_len, "cannot trace PID %d, a child of %d: %s",
				child, parent, strerror(-err));
	return 0;
}

int probes_batch(struct probes *p, bool on)
{
	return p->ue ? uprobe_events_defer(p->ue, on) : 0;
}

int probes_exec(struct probes *p, pid_t pid, bool new_leader)
{
	struct pid_links *pl = find_pid(p, pid);
	int err = p->ue ? uprobe_events_exec(p->ue, pid, new_leader) : 0;

	/* A session link installs its breakpoints where its task's memory
	 * is: after an exec from another thread, that task is the old
	 * leader, gone, and the new program would get none. Such a process
	 * gets the usual probes instead. */
	if (err || !new_leader || !pl || !pl->session)
		return err;
	/* With tracefs events, the session link is its only link. */
	for (size_t i = 0; i < pl->nlinks; i++)
		destroy_link(&pl->links[i]);
	pl->nlinks = 0;
	pl->session = false;
	return 1;
}

int probes_attach_allocations(struct probes *p, pid_t pid, const struct alloc_target *at,
			      char *why, size_t why_len)
{
	struct pid_links *pl = pid_links_of(p, pid);
	int err;

	if (!pl)
		return -ENOMEM;
	err = attach_sites(p, pl, at, SITES_ALLOCATIONS);
	if (err)
		return why_fail(err, why, why_len,
				"cannot attach uprobes to the allocation functions of %s "
				"for PID %d: %s", at->maps_path, pid, strerror(-err));
	return 0;
}

int probes_retarget(struct probes *p, pid_t pid, pid_t tid)
{
	return p->ue ? uprobe_events_retarget(p->ue, pid, tid) : 0;
}

void probes_forget(struct probes *p, pid_t pid)
{
	__u32 key = pid;

	bpf_map__delete_elem(p->skel->maps.targets, &key, sizeof(key), 0);
	targets_changed(p);
	if (p->ue)
		uprobe_events_forget(p->ue, pid);
}

bool probes_per_process_consumers(const struct probes *p)
{
	return !p->ue && !p->system_wide;
}

int probes_print_object_stats(const struct bpf_object *obj, FILE *out)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, obj) {
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		int err;

		if (bpf_program__fd(prog) < 0)
			continue;	/* not loaded: not wanted, or not here */
		err = bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len);
		if (err)
			return err;
		fprintf(out, "%-24s %14u %12u %12u\n", bpf_program__name(prog),
			info.verified_insns, info.xlated_prog_len, info.jited_prog_len);
	}
	return 0;
}

int probes_print_stats(const struct probes *p, FILE *out)
{
	int err;

	fprintf(out, "%-24s %14s %12s %12s\n", "program", "verified insns",
		"xlated B", "jited B");
	err = probes_print_object_stats(p->skel->obj, out);
	if (!err && p->py_skel)
		err = probes_print_object_stats(p->py_skel->obj, out);
	return err;
}

int probes_read_counters(struct probes *p, uint64_t out[MT_CNT_COUNT])
{
	uint64_t *vals = calloc(p->ncpus, sizeof(*vals));

	if (!vals)
		return -ENOMEM;
	for (__u32 c = 0; c < MT_CNT_COUNT; c++) {
		int err = bpf_map__lookup_elem(p->skel->maps.counters, &c, sizeof(c),
					       vals, p->ncpus * sizeof(*vals), 0);

		out[c] = 0;
		if (err) {
			free(vals);
			return err;
		}
		for (int i = 0; i < p->ncpus; i++)
			out[c] += vals[i];
	}
	free(vals);
	return 0;
}

int probes_stacks_map_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.stacks);
}

int probes_unwind_rows_map_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.unwind_rows);
}

int probes_mappings_map_fd(const struct probes *p)
{
	return bpf_map__fd(p->skel->maps.proc_mappings);
}

int probes_set_python(struct probes *p, uint32_t pid, const struct mt_py_offsets *off)
{
	__u32 key = pid;

	return bpf_map_update_elem(bpf_map__fd(p->skel->maps.py_targets), &key, off,
				   BPF_ANY) ? -errno : 0;
}

void probes_clear_python(struct probes *p, uint32_t pid)
{
	__u32 key = pid;

	bpf_map_delete_elem(bpf_map__fd(p->skel->maps.py_targets), &key);
}

/* Close the links of processes [from, to) of p, each entry probes first
 * (they were attached last), so that no call enters with its return
 * probe already gone. */
struct closer {
	struct probes *p;
	size_t from, to;
};

static void *close_links(void *arg)
{
	struct closer *c = arg;

	for (size_t i = c->from; i < c->to; i++) {
		for (size_t j = c->p->pids[i].nlinks; j-- > 0;)
			destroy_link(&c->p->pids[i].links[j]);
		free(c->p->pids[i].links);
	}
	return NULL;
}

/* Closing a link waits for a grace period (~46 ms here), and one close
 * after another took 10.3 s for 64 processes; grace periods are shared by
 * concurrent waiters, so the processes' links are closed from up to 64
 * threads at once (0.38 s for 64 processes, measured). */
#define CLOSE_THREADS 64

static void close_all_links(struct probes *p)
{
	pthread_t th[CLOSE_THREADS];
	struct closer c[CLOSE_THREADS];
	size_t nth = p->npids < CLOSE_THREADS ? p->npids : CLOSE_THREADS, started = 0;

	for (size_t t = 0; t < nth; t++) {
		c[t] = (struct closer){ p, p->npids * t / nth, p->npids * (t + 1) / nth };
		if (nth > 1 && !pthread_create(&th[t], NULL, close_links, &c[t]))
			started = t + 1;
		else
			break;
	}
	/* What no thread took, here. */
	if (started < nth) {
		struct closer rest = { p, c[started].from, p->npids };

		close_links(&rest);
	}
	for (size_t t = 0; t < started; t++)
		pthread_join(th[t], NULL);
}

/* Empty the filter map: the programs return at once from here on. */
static void clear_targets(struct probes *p)
{
	int fd = bpf_map__fd(p->skel->maps.targets);
	__u32 key;

	while (!bpf_map_get_next_key(fd, NULL, &key))
		if (bpf_map_delete_elem(fd, &key))
			break;
	targets_changed(p);
}

void probes_close(struct probes *p)
{
	if (!p)
		return;
	if (p->skel)
		clear_targets(p);
	uprobe_events_close(p->ue);
	close_all_links(p);
	free(p->pids);
	free(p->session_files);
	bpf_link__destroy(p->exec_link);
	if (p->py_gens)
		munmap((void *)p->py_gens, PY_GENS_BYTES);
	if (p->targets_gen)
		munmap(p->targets_gen, sizeof(*p->targets_gen));
	alloc_probes_bpf__destroy(p->py_skel);
	alloc_probes_bpf__destroy(p->skel);
	free(p);
}
