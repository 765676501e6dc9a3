// SPDX-License-Identifier: MIT
/* Loading bpf/process_watch.bpf.c (see process_watch.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "process_watch.h"
#include "util/why.h"
#include "process_watch.skel.h"

struct process_watch {
	struct process_watch_bpf *skel;
	struct bpf_link *links[3];
};

int process_watch_open(struct process_watch **out, const struct process_watch_config *cfg,
		       char *why, size_t why_len)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = cfg->btf_path);
	struct process_watch *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return -ENOMEM;
	w->skel = process_watch_bpf__open_opts(&opts);
	if (!w->skel) {
		err = why_fail(-errno, why, why_len, "cannot open the process watch: %s",
			       strerror(errno));
		goto fail;
	}
	w->skel->rodata->trace_all = cfg->trace_all;
	w->skel->rodata->self_tgid = getpid();
	w->skel->rodata->cgroup_id = cfg->cgroup_id;
	if ((err = bpf_map__reuse_fd(w->skel->maps.events, cfg->events_fd)) ||
	    (err = bpf_map__reuse_fd(w->skel->maps.targets, cfg->targets_fd))) {
		why_fail(err, why, why_len, "cannot share the probes' maps: %s", strerror(-err));
		goto fail;
	}
	if (!cfg->cgroup_id)
		bpf_program__set_autoload(w->skel->progs.watch_cgroup, false);
	err = process_watch_bpf__load(w->skel);
	if (err) {
		why_fail(err, why, why_len, "the kernel refused the process watch: %s",
			 strerror(-err));
		goto fail;
	}
	w->links[0] = bpf_program__attach(w->skel->progs.watch_fork);
	w->links[1] = bpf_program__attach(w->skel->progs.watch_exit);
	if (cfg->cgroup_id)
		w->links[2] = bpf_program__attach(w->skel->progs.watch_cgroup);
	if (!w->links[0] || !w->links[1] || (cfg->cgroup_id && !w->links[2])) {
		err = why_fail(-errno, why, why_len, "cannot attach the process watch: %s",
			       strerror(errno));
		goto fail;
	}
	*out = w;
	return 0;
fail:
	process_watch_close(w);
	return err;
}

void process_watch_close(struct process_watch *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < sizeof(w->links) / sizeof(w->links[0]); i++)
		bpf_link__destroy(w->links[i]);
	process_watch_bpf__destroy(w->skel);
	free(w);
}

int process_watch_children(struct process_watch *w, pid_t pid)
{
	__u32 key = pid, one = 1;

	return bpf_map__update_elem(w->skel->maps.fork_watch, &key, sizeof(key), &one,
				    sizeof(one), BPF_ANY);
}
