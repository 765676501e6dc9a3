// SPDX-License-Identifier: MIT
/*
 * Creating the maps the probe objects share (see probe_maps.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "probe_maps.h"
#include "probes.h"
#include "util/why.h"
#include "shared_maps.skel.h"

struct probe_maps {
	struct shared_maps_bpf *skel;
};

/* libbpf's own messages would repeat, less clearly, what the caller prints;
 * keep warnings only when asked to debug. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || !getenv("MEMTRACE_DEBUG"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int size_maps(struct shared_maps_bpf *s, const struct probes_config *cfg)
{
	int err = bpf_map__set_max_entries(s->maps.events, cfg->ringbuf_bytes);

	/* -a: every process of the machine is in the filter, and their
	 * stacks share the map (1 KiB at most each, allocated as used). */
	if (!err && cfg->system_wide &&
	    !(err = bpf_map__set_max_entries(s->maps.targets, 1u << 16)))
		err = bpf_map__set_max_entries(s->maps.stacks, 1u << 18);
	if (!err)
		err = bpf_map__set_max_entries(s->maps.unwind_rows,
					       cfg->unwind_rows ? cfg->unwind_rows : 1);
	/* Not sampling: the map of sampled blocks is never touched, and its
	 * 1 M buckets took 13 ms to create. */
	if (!err && !cfg->sample_bytes)
		err = bpf_map__set_max_entries(s->maps.sampled, 1);
	return err;
}

int probe_maps_open(struct probe_maps **out, const struct probes_config *cfg,
		    char *why, size_t why_len)
{
	struct probe_maps *m;
	int err;

	libbpf_set_print(libbpf_print);
	*out = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return why_fail(-ENOMEM, why, why_len, "out of memory");
	m->skel = shared_maps_bpf__open();
	if (!m->skel) {
		err = why_fail(-errno, why, why_len, "cannot open the BPF maps' object: %s",
			       strerror(errno));
		goto fail;
	}
	err = size_maps(m->skel, cfg);
	if (err) {
		why_fail(err, why, why_len, "map sizes: %s", strerror(-err));
		goto fail;
	}
	err = shared_maps_bpf__load(m->skel);
	if (err) {
		why_fail(err, why, why_len, "the kernel refused memtrace's BPF maps: %s "
			 "(run with MEMTRACE_DEBUG=1 for libbpf's messages)", strerror(-err));
		goto fail;
	}
	*out = m;
	return 0;
fail:
	probe_maps_close(m);
	return err;
}

int probe_maps_share(const struct probe_maps *m, struct bpf_object *obj, bool all)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		struct bpf_map *shared;
		int err;

		if (bpf_map__is_internal(map))
			continue;	/* its own .rodata, .bss */
		shared = bpf_object__find_map_by_name(m->skel->obj, bpf_map__name(map));
		if (!shared) {
			if (all)
				return -ENOENT;
			continue;
		}
		err = bpf_map__reuse_fd(map, bpf_map__fd(shared));
		if (err)
			return err;
	}
	return 0;
}

int probe_maps_events_fd(const struct probe_maps *m)
{
	return bpf_map__fd(m->skel->maps.events);
}

int probe_maps_targets_fd(const struct probe_maps *m)
{
	return bpf_map__fd(m->skel->maps.targets);
}

void probe_maps_close(struct probe_maps *m)
{
	if (!m)
		return;
	shared_maps_bpf__destroy(m->skel);
	free(m);
}
