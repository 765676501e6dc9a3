// SPDX-License-Identifier: MIT
/*
 * Protocol buffers encoding (see protobuf.h). The wire format: each field
 * is a key varint (field number << 3 | wire type), then a varint (type 0)
 * or a length varint and that many bytes (type 2). Varints are 7 bits per
 * byte, least significant first, the high bit set on all but the last.
 */
#include <stdlib.h>
#include <string.h>

#include "protobuf.h"

enum { WIRE_VARINT = 0, WIRE_LEN = 2 };

/* The most bytes a varint takes: 64 bits in 7-bit groups. */
#define VARINT_MAX 10

void pb_free(struct pb_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void pb_reset(struct pb_buf *b)
{
	b->len = 0;
	b->failed = false;
}

/* Room for n more bytes; false (and failed set) when there is none. */
static bool reserve(struct pb_buf *b, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (b->failed)
		return false;
	if (b->len + n <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + n) {
		if (cap > SIZE_MAX / 2) {
			b->failed = true;
			return false;
		}
		cap *= 2;
	}
	p = realloc(b->data, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

static void put_raw_varint(struct pb_buf *b, uint64_t v)
{
	if (!reserve(b, VARINT_MAX))
		return;
	while (v >= 0x80) {
		b->data[b->len++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b->data[b->len++] = (uint8_t)v;
}

static void put_key(struct pb_buf *b, uint32_t field, unsigned int wire)
{
	put_raw_varint(b, (uint64_t)field << 3 | wire);
}

void pb_varint(struct pb_buf *b, uint32_t field, uint64_t v)
{
	put_key(b, field, WIRE_VARINT);
	put_raw_varint(b, v);
}

void pb_varint_nz(struct pb_buf *b, uint32_t field, uint64_t v)
{
	if (v)
		pb_varint(b, field, v);
}

void pb_int64(struct pb_buf *b, uint32_t field, int64_t v)
{
	pb_varint(b, field, (uint64_t)v);
}

void pb_bytes(struct pb_buf *b, uint32_t field, const void *data, size_t len)
{
	put_key(b, field, WIRE_LEN);
	put_raw_varint(b, len);
	if (!reserve(b, len))
		return;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
}

void pb_message(struct pb_buf *b, uint32_t field, const struct pb_buf *msg)
{
	if (msg->failed) {
		b->failed = true;
		return;
	}
	pb_bytes(b, field, msg->data, msg->len);
}

/* Bytes the varint of v takes. */
static size_t varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

void pb_packed(struct pb_buf *b, uint32_t field, const uint64_t *v, size_t n)
{
	size_t len = 0;

	if (!n)
		return;
	for (size_t i = 0; i < n; i++)
		len += varint_size(v[i]);
	put_key(b, field, WIRE_LEN);
	put_raw_varint(b, len);
	for (size_t i = 0; i < n; i++)
		put_raw_varint(b, v[i]);
}
