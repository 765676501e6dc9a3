// SPDX-License-Identifier: MIT
/*
 * Creating the maps the probe objects share (see probe_maps.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "probe_maps.h"
#include "probes.h"
#include "util/side_task.h"
#include "util/why.h"
#include "shared_maps.skel.h"

struct probe_maps {
	struct shared_maps_bpf *skel;
	size_t ringbuf_bytes;
	int ringbuf_fd;			/* created by the side task */
	struct side_task ringbuf_task;
};

static void create_ringbuf(void *arg)
{
	struct probe_maps *m = arg;
	int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "events", 0, 0, m->ringbuf_bytes, NULL);

	m->ringbuf_fd = fd < 0 ? -errno : fd;
}

/* The ring buffer's descriptor, or a negative errno (side_task_finish()
 * returns at once when called again). */
static int ringbuf_wait(struct probe_maps *m)
{
	side_task_finish(&m->ringbuf_task);
	return m->ringbuf_fd;
}

int probe_maps_begin(struct probe_maps **out, size_t ringbuf_bytes)
{
	struct probe_maps *m = calloc(1, sizeof(*m));

	*out = m;
	if (!m)
		return -ENOMEM;
	m->ringbuf_bytes = ringbuf_bytes;
	m->ringbuf_fd = -EINVAL;
	side_task_start(&m->ringbuf_task, create_ringbuf, m);
	return 0;
}

/* libbpf's own messages would repeat, less clearly, what the caller prints;
 * keep warnings only when asked to debug. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || !getenv("MEMTRACE_DEBUG"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* Live sampled heap the map of sampled blocks has room for at least. */
#define SAMPLED_COVERS_BYTES (64ull << 30)
#define SAMPLED_MIN_ENTRIES (1u << 16)

/* Buckets for the blocks sampled one per sample_bytes (0: not sampling):
 * room for SAMPLED_COVERS_BYTES of them, between SAMPLED_MIN_ENTRIES and
 * MT_SAMPLED_MAX (--sample-bytes 524288: 131,072). */
static __u32 sampled_entries(uint64_t sample_bytes)
{
	__u32 n = SAMPLED_MIN_ENTRIES;

	if (!sample_bytes)
		return 1;
	while (n < MT_SAMPLED_MAX && sample_bytes < SAMPLED_COVERS_BYTES / n)
		n *= 2;
	return n;
}

static int size_maps(struct shared_maps_bpf *s, const struct probes_config *cfg)
{
	int err = 0;

	/* -a: every process of the machine is in the filter, and their
	 * stacks share the map (1 KiB at most each, allocated as used). */
	if (!err && cfg->system_wide &&
	    !(err = bpf_map__set_max_entries(s->maps.targets, 1u << 16)))
		err = bpf_map__set_max_entries(s->maps.stacks, 1u << 18);
	if (!err)
		err = bpf_map__set_max_entries(s->maps.unwind_rows,
					       cfg->unwind_rows ? cfg->unwind_rows : 1);
	/* The map of sampled blocks: its 1 M buckets took 13 ms to create.
	 * Not sampling it is never touched; sampling, it needs a bucket per
	 * live sampled block, about the live bytes / sample_bytes (a block
	 * it has no room for is counted, samples_dropped). */
	if (!err)
		err = bpf_map__set_max_entries(s->maps.sampled, sampled_entries(cfg->sample_bytes));
	return err;
}

int probe_maps_open(struct probe_maps *m, const struct probes_config *cfg,
		    char *why, size_t why_len)
{
	int err, ringbuf = ringbuf_wait(m);

	libbpf_set_print(libbpf_print);
	if (ringbuf < 0)
		return why_fail(ringbuf, why, why_len, "the kernel refused memtrace's ring "
				"buffer of %zu MiB: %s", m->ringbuf_bytes >> 20,
				strerror(-ringbuf));
	if (cfg->ringbuf_bytes != m->ringbuf_bytes)
		return why_fail(-EINVAL, why, why_len, "the ring buffer was begun at %zu "
				"bytes, not %zu", m->ringbuf_bytes, cfg->ringbuf_bytes);
	m->skel = shared_maps_bpf__open();
	if (!m->skel)
		return why_fail(-errno, why, why_len, "cannot open the BPF maps' object: %s",
				strerror(errno));
	/* The object's map becomes the ring buffer begun (a copy of the
	 * descriptor: ours is closed with the rest). */
	err = bpf_map__reuse_fd(m->skel->maps.events, ringbuf);
	if (!err)
		err = size_maps(m->skel, cfg);
	if (err)
		return why_fail(err, why, why_len, "map sizes: %s", strerror(-err));
	err = shared_maps_bpf__load(m->skel);
	if (err)
		return why_fail(err, why, why_len, "the kernel refused memtrace's BPF maps: %s "
				"(run with MEMTRACE_DEBUG=1 for libbpf's messages)",
				strerror(-err));
	return 0;
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
	if (ringbuf_wait(m) >= 0)
		close(m->ringbuf_fd);
	shared_maps_bpf__destroy(m->skel);
	free(m);
}
