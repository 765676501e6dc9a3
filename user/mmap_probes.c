// SPDX-License-Identifier: MIT
/*
 * Loading the memory-mapping probes on the allocation probes' maps (see
 * mmap_probes.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "mmap_probes.h"
#include "probe_maps.h"
#include "util/tracefs.h"
#include "util/why.h"
#include "mmap_lock.skel.h"
#include "mmap_probes.skel.h"

/* The four ways in, best first (see mmap_probes.h). */
enum mmap_way { WAY_FEXIT, WAY_LOCK_TP, WAY_SYSCALL_TP, WAY_RAW_TP };

/* The syscalls' tracepoints the two tracepoint programs go on. */
static const char *const tp_enters[] = { "sys_enter_munmap", "sys_enter_mremap",
					 "sys_enter_brk" };
static const char *const tp_exits[] = { "sys_exit_mmap", "sys_exit_mremap",
					"sys_exit_brk" };
#define N_TP (sizeof(tp_enters) / sizeof(tp_enters[0]))

struct mmap_probes {
	struct mmap_probes_bpf *skel;	/* every way but the mmap lock's */
	struct mmap_lock_bpf *lock;	/* the mmap lock's */
	struct bpf_object *obj;		/* whichever of the two loaded */
	enum mmap_way way;
	struct bpf_link *tp_links[2 * N_TP];
};

/* Which way a program of mmap_probes.bpf.c belongs to, by its section. */
static enum mmap_way way_of(const struct bpf_program *prog)
{
	const char *sec = bpf_program__section_name(prog);

	if (!strncmp(sec, "tp_btf/sys_", 11))
		return WAY_RAW_TP;
	if (!strcmp(sec, "tracepoint"))
		return WAY_SYSCALL_TP;
	return WAY_FEXIT;
}

/* prog on the tracepoint syscalls/name: a perf event (all CPUs: a
 * tracepoint's program runs wherever the event fires) carrying it. */
static int attach_tp(int tracefs, struct bpf_program *prog, const char *name,
		     struct bpf_link **link)
{
	struct perf_event_attr a = { .type = PERF_TYPE_TRACEPOINT, .size = sizeof(a),
				     .sample_period = 1, .wakeup_events = 1 };
	int id = tracefs_event_id(tracefs, "syscalls", name), fd, err;

	if (id < 0)
		return id;
	a.config = id;
	fd = syscall(SYS_perf_event_open, &a, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -errno;
	*link = bpf_program__attach_perf_event(prog, fd);
	if (!*link) {
		err = -errno;
		close(fd);
		return err;
	}
	return 0;
}

static int attach_syscall_tps(struct mmap_probes *mp)
{
	int tracefs = tracefs_mount(NULL, 0), err = 0;

	if (tracefs < 0)
		return tracefs;
	for (size_t i = 0; i < N_TP && !err; i++) {
		err = attach_tp(tracefs, mp->skel->progs.syscall_tp_enter, tp_enters[i],
				&mp->tp_links[i]);
		if (!err)
			err = attach_tp(tracefs, mp->skel->progs.syscall_tp_exit, tp_exits[i],
					&mp->tp_links[N_TP + i]);
	}
	close(tracefs);
	return err;
}

/* The settings both objects' programs read, in either skeleton's
 * read-only data (the same names in each). */
#define SET_SETTINGS(rodata, cfg)                                        \
	do {                                                             \
		(rodata)->stack_mode = (cfg)->stack_mode;                \
		(rodata)->empty_probes = (cfg)->empty_probes;            \
		(rodata)->wakeup_bytes = (cfg)->ringbuf_bytes / 4;       \
	} while (0)

/* The mmap lock's way, from its own object (bpf/mmap_lock.bpf.c says
 * why). All but map_calls, the threads awaiting a syscall's return, are
 * the shared maps. */
static int load_lock_way(struct mmap_probes *mp, const struct probe_maps *maps,
			 const struct probes_config *cfg)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = cfg->btf_path);
	struct mmap_lock_bpf *s = mmap_lock_bpf__open_opts(&opts);
	int err;

	if (!s)
		return -errno;
	mp->lock = s;
	mp->obj = s->obj;
	SET_SETTINGS(s->rodata, cfg);
	err = probe_maps_share(maps, s->obj, false);
	if (!err)
		err = mmap_lock_bpf__load(s);
	if (!err)
		err = mmap_lock_bpf__attach(s);
	return err;
}

static int load(struct mmap_probes *mp, const struct probe_maps *maps,
		const struct probes_config *cfg, enum mmap_way way)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = cfg->btf_path);
	struct mmap_probes_bpf *s;
	struct bpf_program *prog;
	int err;

	mp->way = way;
	if (way == WAY_LOCK_TP)
		return load_lock_way(mp, maps, cfg);
	s = mmap_probes_bpf__open_opts(&opts);
	if (!s)
		return -errno;
	mp->skel = s;
	mp->obj = s->obj;
	SET_SETTINGS(s->rodata, cfg);
	bpf_object__for_each_program(prog, s->obj) {
		bpf_program__set_autoload(prog, way_of(prog) == way);
		/* Attached by hand: each to three tracepoints. */
		if (way_of(prog) == WAY_SYSCALL_TP)
			bpf_program__set_autoattach(prog, false);
	}
	err = probe_maps_share(maps, s->obj, true);
	if (!err)
		err = mmap_probes_bpf__load(s);
	if (!err)
		err = mmap_probes_bpf__attach(s);
	if (!err && way == WAY_SYSCALL_TP)
		err = attach_syscall_tps(mp);
	return err;
}

/*
 * Whether the kernel refuses fexit programs outright, asked with the
 * smallest one there is ("return 0", aimed at BTF type 1).
 *
 * Why: on the Firecracker kernels this project runs on, fentry/fexit
 * loads fail with EPERM, and learning that from the real object cost
 * 15-25 ms of each attach (the kernel's BTF parsed, the object relocated
 * and loaded up to its first program). The refusal comes before the
 * kernel looks at the target, so a kernel that allows fexit answers this
 * one with another error (type 1 is no function), and the real load is
 * tried as before.
 */
static bool fexit_refused(void)
{
	const struct bpf_insn ret0[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_TRACE_FEXIT,
		    .attach_btf_id = 1);
	int fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "mt_fexit_test", "GPL", ret0, 2, &o);

	if (fd >= 0) {
		close(fd);
		return false;
	}
	return errno == EPERM;
}

/* Undo a load() that failed, for the next way to be tried. */
static void unload(struct mmap_probes *mp)
{
	for (size_t i = 0; i < 2 * N_TP; i++) {
		bpf_link__destroy(mp->tp_links[i]);
		mp->tp_links[i] = NULL;
	}
	mmap_probes_bpf__destroy(mp->skel);
	mp->skel = NULL;
	mmap_lock_bpf__destroy(mp->lock);
	mp->lock = NULL;
	mp->obj = NULL;
}

int mmap_probes_open(struct mmap_probes **out, const struct probe_maps *maps,
		     const struct probes_config *cfg, char *why, size_t why_len)
{
	struct mmap_probes *mp = calloc(1, sizeof(*mp));
	int err = -EINVAL;

	*out = NULL;
	if (!mp)
		return -ENOMEM;
	/* fexit first: it costs processes that are not traced nothing; then
	 * the mmap lock's tracepoint, which other syscalls never pass; the
	 * syscalls' own tracepoints, which run no BPF for other syscalls
	 * but slow them all; the raw tracepoints, which every syscall
	 * passes, last. */
	bool no_fexit = getenv("MEMTRACE_NO_FEXIT") || fexit_refused();

	for (enum mmap_way w = no_fexit ? WAY_LOCK_TP : WAY_FEXIT;
	     w <= WAY_RAW_TP && !mp->obj; w++) {
		if ((w == WAY_LOCK_TP && getenv("MEMTRACE_NO_LOCK_TP")) ||
		    (w == WAY_SYSCALL_TP && getenv("MEMTRACE_RAW_SYSCALL_TP")))
			continue;
		err = load(mp, maps, cfg, w);
		if (err)
			unload(mp);
	}
	if (err) {
		mmap_probes_close(mp);
		return why_fail(err, why, why_len, "the kernel refused the mmap/brk probes: %s "
				"(run with MEMTRACE_DEBUG=1 for the verifier's log)",
				strerror(-err));
	}
	*out = mp;
	return 0;
}

bool mmap_probes_on_raw_tracepoints(const struct mmap_probes *m)
{
	return m && m->way == WAY_RAW_TP;
}

bool mmap_probes_on_syscall_tracepoints(const struct mmap_probes *m)
{
	return m && m->way == WAY_SYSCALL_TP;
}

int mmap_probes_print_stats(const struct mmap_probes *m, FILE *out)
{
	return probes_print_object_stats(m->obj, out);
}

void mmap_probes_close(struct mmap_probes *m)
{
	if (!m)
		return;
	unload(m);
	free(m);
}
