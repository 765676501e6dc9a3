/* SPDX-License-Identifier: MIT */
/*
 * A protocol buffers encoder, just what pprof's profile.proto needs:
 * varints, packed varints, length-delimited fields (strings, bytes and
 * nested messages). Messages are built into growable buffers; a nested
 * message is built in its own buffer, then added to its parent as a
 * length-delimited field.
 *
 * Errors are sticky: after a failed allocation every call does nothing and
 * pb_failed() is true, so that a writer checks once at the end.
 */
#ifndef MEMTRACE_PROTOBUF_H
#define MEMTRACE_PROTOBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pb_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	bool failed;		/* out of memory: the contents are incomplete */
};

/* An empty buffer needs no call: struct pb_buf b = { 0 }. */
void pb_free(struct pb_buf *b);

/* Empty it, keeping its memory (and clearing failed). */
void pb_reset(struct pb_buf *b);

/* Field `field` of wire type 0 (int64, uint64, bool, enum). Zero is
 * written too: proto3 readers take a missing field as zero, and writers
 * that want the smaller form skip zeros themselves (pb_varint_nz). */
void pb_varint(struct pb_buf *b, uint32_t field, uint64_t v);
/* The same, written only when v is not zero. */
void pb_varint_nz(struct pb_buf *b, uint32_t field, uint64_t v);
/* int64 values are encoded as their two's-complement uint64 (10 bytes when
 * negative), as proto3 does for int64 (not sint64). */
void pb_int64(struct pb_buf *b, uint32_t field, int64_t v);

/* Field `field` of wire type 2: len bytes at data. */
void pb_bytes(struct pb_buf *b, uint32_t field, const void *data, size_t len);
/* A nested message: the whole of msg. */
void pb_message(struct pb_buf *b, uint32_t field, const struct pb_buf *msg);
/* A packed repeated varint field (proto3's default for repeated scalars);
 * nothing when n is 0. */
void pb_packed(struct pb_buf *b, uint32_t field, const uint64_t *v, size_t n);

/* Is the buffer complete? */
static inline bool pb_failed(const struct pb_buf *b)
{
	return b->failed;
}

#endif /* MEMTRACE_PROTOBUF_H */
