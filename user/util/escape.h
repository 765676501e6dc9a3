/* SPDX-License-Identifier: MIT */
/*
 * Names that come from a traced process (its command name, its symbols, its
 * file names) made safe to print on a terminal, visibly: what a terminal
 * would act on, and what is not text, is shown as an escape instead.
 *
 * Escaped, each byte as \xNN: C0 controls (0x00..0x1f), DEL (0x7f), the C1
 * controls in their UTF-8 form (U+0080..U+009F, bytes c2 80..c2 9f: U+009B
 * is a CSI on terminals that honour C1), the bidirectional overrides and
 * isolates (U+202A..U+202E, U+2066..U+2069: they reorder what follows on
 * screen), and every byte that is not part of a valid UTF-8 sequence
 * (overlong forms, surrogates and code points past U+10FFFF included).
 * A backslash is written \\ so that the output reads back unambiguously.
 * Everything else, printable ASCII and valid UTF-8, is kept as it is.
 */
#ifndef MEMTRACE_ESCAPE_H
#define MEMTRACE_ESCAPE_H

#include <stddef.h>
#include <stdio.h>

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
size_t utf8_seq_len(const unsigned char *s, size_t n);

/* Is the valid UTF-8 sequence of len bytes at s a C1 control? */
int utf8_is_c1(const unsigned char *s, size_t len);

/* One printable ASCII byte may be written as another: ';' as ':' in
 * folded stacks, where ';' separates frames. */
struct escape_opts {
	char from, to;		/* from = 0: none */
};

/*
 * Escape the n bytes at s into out (size len, NUL-terminated when len >
 * 0). Returns the length of the whole escaped text, as snprintf does: a
 * result >= len means it was cut.
 */
size_t escape_str(char *out, size_t len, const char *s, size_t n,
		  const struct escape_opts *o);

/* Write the n bytes at s escaped. Returns 0 or -EIO. */
int escape_fput(FILE *out, const char *s, size_t n, const struct escape_opts *o);

#endif /* MEMTRACE_ESCAPE_H */
