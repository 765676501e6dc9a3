/* SPDX-License-Identifier: MIT */
/*
 * The maps the probe objects share (bpf/shared_maps.bpf.h): the ring
 * buffer of events, the filter of traced processes, the counters, the
 * threads' call states, the stacks, the unwind tables and mappings, the
 * Python targets. They are created here, once, before any probe object is
 * loaded; each object then takes them over (probe_maps_share()), so the
 * objects' programs can go through the verifier at the same time.
 */
#ifndef MEMTRACE_PROBE_MAPS_H
#define MEMTRACE_PROBE_MAPS_H

#include <stdbool.h>
#include <stddef.h>

struct bpf_object;
struct probe_maps;
struct probes_config;

/*
 * Start creating the ring buffer of ringbuf_bytes beside the caller, which
 * goes on finding its targets meanwhile: the kernel zeroes its pages, 5-8
 * ms for the default 32 MiB here, on the CPU start-up leaves idle until the
 * probes load. 0 or -ENOMEM; *out is then for probe_maps_open() or
 * probe_maps_close().
 */
int probe_maps_begin(struct probe_maps **out, size_t ringbuf_bytes);

/* Create the other maps, sized for cfg (-a, unwind rows, sampling), with
 * the ring buffer begun (cfg->ringbuf_bytes must be the size begun).
 * Returns 0 or a negative errno with why filled. libbpf's own messages are
 * kept quiet from here on unless MEMTRACE_DEBUG is set. */
int probe_maps_open(struct probe_maps *m, const struct probes_config *cfg,
		    char *why, size_t why_len);
void probe_maps_close(struct probe_maps *m);

/*
 * Before obj is loaded: each of its maps that is one of the shared maps
 * becomes that map. all: every map of obj but its own data sections must
 * be one (-ENOENT otherwise). 0 or a negative errno.
 */
int probe_maps_share(const struct probe_maps *m, struct bpf_object *obj, bool all);

/* The ring buffer of events and the filter of traced processes, for an
 * object that takes them by descriptor (process_watch.h). */
int probe_maps_events_fd(const struct probe_maps *m);
int probe_maps_targets_fd(const struct probe_maps *m);

#endif /* MEMTRACE_PROBE_MAPS_H */
