// SPDX-License-Identifier: MIT
/*
 * Draining the ring buffer. The probes submit without waking anyone (a
 * wakeup per event costs more than the probe itself), so the main loop
 * calls rb_consumer_drain() on a short timer as well as when woken.
 */
#include <errno.h>
#include <stdlib.h>
#include <bpf/libbpf.h>

#include "ringbuf_consumer.h"

struct rb_consumer {
	struct ring_buffer *rb;
	rb_event_fn fn;
	void *ctx;
	uint64_t malformed;
};

static int on_sample(void *ctx, void *data, size_t size)
{
	struct rb_consumer *c = ctx;

	if (size < sizeof(struct mt_event)) {
		c->malformed++;
		return 0;
	}
	c->fn(c->ctx, data, size);
	return 0;
}

int rb_consumer_new(struct rb_consumer **out, int map_fd, rb_event_fn fn, void *ctx)
{
	struct rb_consumer *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->ctx = ctx;
	c->rb = ring_buffer__new(map_fd, on_sample, c, NULL);
	if (!c->rb) {
		int err = -errno;

		free(c);
		return err;
	}
	*out = c;
	return 0;
}

void rb_consumer_free(struct rb_consumer *c)
{
	if (!c)
		return;
	ring_buffer__free(c->rb);
	free(c);
}

int rb_consumer_fd(const struct rb_consumer *c)
{
	return ring_buffer__epoll_fd(c->rb);
}

int rb_consumer_drain(struct rb_consumer *c)
{
	return ring_buffer__consume(c->rb);
}

uint64_t rb_consumer_malformed(const struct rb_consumer *c)
{
	return c->malformed;
}
