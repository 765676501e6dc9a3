/* SPDX-License-Identifier: MIT */
/*
 * The ring-buffer consumer: drains the probes' one ring buffer and hands
 * each event, in order, to a handler. It knows nothing of what the events
 * mean.
 */
#ifndef MEMTRACE_RINGBUF_CONSUMER_H
#define MEMTRACE_RINGBUF_CONSUMER_H

#include <stddef.h>
#include <stdint.h>
#include "memtrace_events.h"

struct rb_consumer;

/* rec is a struct mt_event, or a larger record whose first byte says
 * which (struct mt_snapshot); size is its length in bytes. */
typedef void (*rb_event_fn)(void *ctx, const void *rec, size_t size);

int rb_consumer_new(struct rb_consumer **out, int map_fd, rb_event_fn fn, void *ctx);
void rb_consumer_free(struct rb_consumer *c);

/* An fd that becomes readable when the probes wake the consumer. */
int rb_consumer_fd(const struct rb_consumer *c);

/* Hand every event waiting in the ring to the handler. Returns how many,
 * or a negative errno. */
int rb_consumer_drain(struct rb_consumer *c);

/* Records that were not struct mt_event (a version mismatch): counted,
 * never silently dropped. */
uint64_t rb_consumer_malformed(const struct rb_consumer *c);

#endif /* MEMTRACE_RINGBUF_CONSUMER_H */
