// SPDX-License-Identifier: MIT
/*
 * The protocol buffers encoder: the bytes of each wire form, checked
 * against the encoding the protobuf documentation spells out
 * (developers.google.com/protocol-buffers/docs/encoding: 150 in field 1 is
 * 08 96 01; "testing" in field 2 is 12 07 74 65 73 74 69 6e 67).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "report/protobuf.h"

#define BYTES(b, ...) do { \
	static const uint8_t want_[] = { __VA_ARGS__ }; \
	cr_assert_not((b)->failed); \
	cr_assert_eq((b)->len, sizeof(want_), "length %zu", (b)->len); \
	cr_assert_eq(memcmp((b)->data, want_, sizeof(want_)), 0); \
} while (0)

Test(protobuf, documented_examples)
{
	struct pb_buf b = { 0 };

	pb_varint(&b, 1, 150);
	BYTES(&b, 0x08, 0x96, 0x01);
	pb_reset(&b);
	pb_bytes(&b, 2, "testing", 7);
	BYTES(&b, 0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67);
	pb_free(&b);
}

Test(protobuf, varints)
{
	struct pb_buf b = { 0 };

	pb_varint(&b, 1, 0);
	BYTES(&b, 0x08, 0x00);
	pb_reset(&b);
	pb_varint_nz(&b, 1, 0);
	cr_assert_eq(b.len, 0);
	pb_varint(&b, 15, 127);
	BYTES(&b, 0x78, 0x7f);
	pb_reset(&b);
	pb_varint(&b, 16, 128);		/* a field number past 15: two key bytes */
	BYTES(&b, 0x80, 0x01, 0x80, 0x01);
	pb_reset(&b);
	pb_varint(&b, 1, UINT64_MAX);
	BYTES(&b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
	pb_reset(&b);
	pb_int64(&b, 1, -1);		/* int64, not zigzag: ten bytes */
	BYTES(&b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
	pb_free(&b);
}

Test(protobuf, packed_and_nested)
{
	struct pb_buf b = { 0 }, m = { 0 };
	const uint64_t v[] = { 3, 270, 86942 };

	/* The documentation's packed example: 22 06 03 8e 02 9e a7 05. */
	pb_packed(&b, 4, v, 3);
	BYTES(&b, 0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05);
	pb_reset(&b);
	pb_packed(&b, 4, v, 0);
	cr_assert_eq(b.len, 0);
	pb_varint(&m, 1, 150);
	pb_message(&b, 3, &m);
	BYTES(&b, 0x1a, 0x03, 0x08, 0x96, 0x01);
	pb_reset(&b);
	pb_bytes(&b, 1, "", 0);
	BYTES(&b, 0x0a, 0x00);
	pb_free(&b);
	pb_free(&m);
}

Test(protobuf, large_and_failed)
{
	struct pb_buf b = { 0 }, m = { 0 };
	static char big[300000];

	memset(big, 'x', sizeof(big));
	pb_bytes(&b, 1, big, sizeof(big));
	/* Length 300000 = 0xe0 0xa7 0x12 as a varint. */
	cr_assert_eq(b.len, 1 + 3 + sizeof(big));
	cr_assert_eq(b.data[1], 0xe0);
	cr_assert_eq(b.data[2], 0xa7);
	cr_assert_eq(b.data[3], 0x12);
	/* A failed nested message fails its parent: no half message. */
	m.failed = true;
	pb_message(&b, 2, &m);
	cr_assert(pb_failed(&b));
	pb_varint(&b, 1, 1);
	cr_assert_eq(b.len, 1 + 3 + sizeof(big));
	pb_free(&b);
}
