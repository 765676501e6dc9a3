// SPDX-License-Identifier: MIT
/*
 * Loading the memory-mapping probes on the allocation probes' maps (see
 * mmap_probes.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "mmap_probes.h"
#include "util/why.h"
#include "mmap_probes.skel.h"

struct mmap_probes {
	struct mmap_probes_bpf *skel;
	bool tracepoints;
};

/* Every map of skel but its own data sections becomes the one of the same
 * name in the allocation probes' object. */
static int share_maps(struct mmap_probes_bpf *skel, const struct bpf_object *from)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, skel->obj) {
		struct bpf_map *theirs;
		int err;

		if (bpf_map__is_internal(m))
			continue;
		theirs = bpf_object__find_map_by_name(from, bpf_map__name(m));
		if (!theirs)
			return -ENOENT;
		err = bpf_map__reuse_fd(m, bpf_map__fd(theirs));
		if (err)
			return err;
	}
	return 0;
}

static int load(struct mmap_probes *mp, const struct probes *p,
		const struct probes_config *cfg, bool tracepoints)
{
	struct mmap_probes_bpf *s = mmap_probes_bpf__open();
	struct bpf_program *prog;
	int err;

	if (!s)
		return -errno;
	mp->skel = s;
	mp->tracepoints = tracepoints;
	s->rodata->stack_mode = cfg->stack_mode;
	s->rodata->empty_probes = cfg->empty_probes;
	s->rodata->wakeup_bytes = cfg->ringbuf_bytes / 4;
	bpf_object__for_each_program(prog, s->obj) {
		enum bpf_attach_type t = bpf_program__expected_attach_type(prog);

		bpf_program__set_autoload(prog, (t == BPF_TRACE_RAW_TP) == tracepoints);
	}
	err = share_maps(s, probes_bpf_object(p));
	if (!err)
		err = mmap_probes_bpf__load(s);
	if (!err)
		err = mmap_probes_bpf__attach(s);
	return err;
}

int mmap_probes_open(struct mmap_probes **out, const struct probes *p,
		     const struct probes_config *cfg, char *why, size_t why_len)
{
	struct mmap_probes *mp = calloc(1, sizeof(*mp));
	int err = -EINVAL;

	*out = NULL;
	if (!mp)
		return -ENOMEM;
	/* fexit first: it costs processes that are not traced nothing. */
	if (!getenv("MEMTRACE_NO_FEXIT")) {
		err = load(mp, p, cfg, false);
		if (err) {
			mmap_probes_bpf__destroy(mp->skel);
			mp->skel = NULL;
		}
	}
	if (!mp->skel)
		err = load(mp, p, cfg, true);
	if (err) {
		mmap_probes_close(mp);
		return why_fail(err, why, why_len, "the kernel refused the mmap/brk probes: %s "
				"(run with MEMTRACE_DEBUG=1 for the verifier's log)",
				strerror(-err));
	}
	*out = mp;
	return 0;
}

bool mmap_probes_on_tracepoints(const struct mmap_probes *m)
{
	return m && m->tracepoints;
}

int mmap_probes_print_stats(const struct mmap_probes *m, FILE *out)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, m->skel->obj) {
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd < 0)
			continue;	/* the other family, not loaded */
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			return -errno;
		fprintf(out, "%-24s %14u %12u %12u\n", bpf_program__name(prog),
			info.verified_insns, info.xlated_prog_len, info.jited_prog_len);
	}
	return 0;
}

void mmap_probes_close(struct mmap_probes *m)
{
	if (!m)
		return;
	mmap_probes_bpf__destroy(m->skel);
	free(m);
}
