// SPDX-License-Identifier: MIT
/*
 * Escaping for SVG and HTML (see markup.h).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "format.h"
#include "markup.h"

/* The valid sequence at s (its length in *n), or 0 when it must be
 * replaced: not UTF-8, or U+FFFE/U+FFFF (EF BF BE, EF BF BF). */
static size_t usable(const unsigned char *s)
{
	size_t n = utf8_len(s);

	if (n == 3 && s[0] == 0xef && s[1] == 0xbf && s[2] >= 0xbe)
		return 0;
	return n;
}

size_t markup_chars(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t chars = 0;

	while (*s) {
		size_t n = utf8_len(s);

		s += n ? n : 1;
		chars++;
	}
	return chars;
}

/* Write up to max characters; *s moves past them. */
static int put(FILE *out, const unsigned char **ps, size_t max)
{
	const unsigned char *s = *ps;
	size_t chars = 0;
	int err = 0;

	while (*s && chars < max && !err) {
		size_t run = 0, n;

		/* Plain text is written in runs. */
		while (chars < max && (n = usable(s + run)) && s[run] >= 0x20 && s[run] != 0x7f &&
		       !strchr("&<>\"'", s[run])) {
			run += n;
			chars++;
		}
		if (run && fwrite(s, 1, run, out) != run)
			err = -EIO;
		s += run;
		if (!*s || chars >= max || err)
			break;
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default:
			n = utf8_len(s);
			if (n == 1) {
				fputc('?', out);	/* a control character */
			} else {
				/* Not UTF-8 (one byte at a time), or U+FFFE/U+FFFF
				 * (the whole sequence): U+FFFD. */
				fputs("\xef\xbf\xbd", out);
				s += n ? n - 1 : 0;
			}
			break;
		}
		s++;
		chars++;
	}
	*ps = s;
	return err || ferror(out) ? -EIO : 0;
}

int fput_markup(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	return put(out, &p, SIZE_MAX);
}

int fput_markup_cut(FILE *out, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	int err;

	if (markup_chars(s) <= max)
		return put(out, &p, SIZE_MAX);
	if (max < 2)
		return 0;
	err = put(out, &p, max - 2);
	if (!err && fputs("..", out) == EOF)
		err = -EIO;
	return err;
}
