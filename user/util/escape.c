// SPDX-License-Identifier: MIT
/* Escaping target-controlled names for terminals (see escape.h). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "escape.h"

size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (!n)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	/* RFC 3629's table: no overlong forms, surrogates or values past
	 * U+10FFFF. */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

int utf8_is_c1(const unsigned char *s, size_t len)
{
	return len == 2 && s[0] == 0xc2 && s[1] <= 0x9f;
}

/* U+202A..U+202E and U+2066..U+2069: e2 80 aa..ae, e2 81 a6..a9. */
static bool is_bidi_control(const unsigned char *s, size_t len)
{
	return len == 3 && s[0] == 0xe2 &&
	       ((s[1] == 0x80 && s[2] >= 0xaa && s[2] <= 0xae) ||
		(s[1] == 0x81 && s[2] >= 0xa6 && s[2] <= 0xa9));
}

/* How many bytes at s (n left) are kept as they are, or 0 when the first
 * byte must be escaped. */
static size_t kept(const unsigned char *s, size_t n, const struct escape_opts *o)
{
	size_t len = utf8_seq_len(s, n);

	if (!len)
		return 0;
	if (len == 1)
		return s[0] >= 0x20 && s[0] != 0x7f && s[0] != '\\' &&
		       !(o && o->from && s[0] == (unsigned char)o->from);
	if (utf8_is_c1(s, len) || is_bidi_control(s, len))
		return 0;
	return len;
}

/* The escape of byte c: "\\\\" or "\\xNN"; returns its length. */
static size_t escape_byte(unsigned char c, char buf[5])
{
	static const char hex[] = "0123456789abcdef";

	buf[0] = '\\';
	if (c == '\\') {
		buf[1] = '\\';
		return 2;
	}
	buf[1] = 'x';
	buf[2] = hex[c >> 4];
	buf[3] = hex[c & 15];
	return 4;
}

/* Where escape_str() writes: out, cut at len, counting everything. */
struct sink {
	char *out;
	size_t len, pos;
};

static void put(struct sink *k, const void *bytes, size_t m)
{
	const char *b = bytes;

	for (size_t i = 0; i < m; i++, k->pos++)
		if (k->pos + 1 < k->len)
			k->out[k->pos] = b[i];
}

size_t escape_str(char *out, size_t len, const char *str, size_t n,
		  const struct escape_opts *o)
{
	const unsigned char *s = (const unsigned char *)str;
	struct sink k = { .out = out, .len = len };
	size_t i = 0;

	while (i < n) {
		size_t run = kept(s + i, n - i, o), seq;
		char buf[5];

		if (run) {
			put(&k, s + i, run);
			i += run;
			continue;
		}
		/* A sequence to escape goes byte by byte: a C1 control is
		 * two \x escapes, an override three. */
		if (o && o->from && s[i] == (unsigned char)o->from) {
			put(&k, &o->to, 1);
			i++;
			continue;
		}
		seq = utf8_seq_len(s + i, n - i);
		for (size_t j = 0; j < (seq ? seq : 1); j++)
			put(&k, buf, escape_byte(s[i + j], buf));
		i += seq ? seq : 1;
	}
	if (len)
		out[k.pos < len ? k.pos : len - 1] = '\0';
	return k.pos;
}

int escape_fput(FILE *out, const char *str, size_t n, const struct escape_opts *o)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		size_t run = 0, k;
		char buf[5];

		/* Write plain runs whole. */
		while (i + run < n && (k = kept(s + i + run, n - i - run, o)))
			run += k;
		if (run && fwrite(s + i, 1, run, out) != run)
			return -EIO;
		i += run;
		if (i < n && o && o->from && s[i] == (unsigned char)o->from) {
			if (fputc(o->to, out) == EOF)
				return -EIO;
			i++;
		} else if (i < n) {
			size_t seq = utf8_seq_len(s + i, n - i);

			if (!seq)
				seq = 1;
			for (size_t j = 0; j < seq; j++) {
				size_t m = escape_byte(s[i + j], buf);

				if (fwrite(buf, 1, m, out) != m)
					return -EIO;
			}
			i += seq;
		}
	}
	return 0;
}
