/* SPDX-License-Identifier: MIT */
/*
 * Text in SVG and HTML (XML 1.0 and HTML5 both): names that come from the
 * traced program must neither end an element or attribute early nor make
 * the document unreadable. Every writer of markup writes such text through
 * these functions only:
 *   - & < > " ' become character references, so the same text is safe in
 *     element content and in quoted attribute values;
 *   - control characters become '?' (XML 1.0 forbids most of them);
 *   - bytes that are not UTF-8 become U+FFFD, as do U+FFFE and U+FFFF,
 *     which XML forbids too.
 */
#ifndef MEMTRACE_MARKUP_H
#define MEMTRACE_MARKUP_H

#include <stddef.h>
#include <stdio.h>

/* Characters (code points, an invalid byte counting as one) in s. */
size_t markup_chars(const char *s);

/* Write s escaped. Returns 0 or -EIO. */
int fput_markup(FILE *out, const char *s);

/* Write at most max characters of s escaped: s whole if it fits, else its
 * first max - 2 characters and "..". Returns 0 or -EIO. */
int fput_markup_cut(FILE *out, const char *s, size_t max);

#endif /* MEMTRACE_MARKUP_H */
