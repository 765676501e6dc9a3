/* SPDX-License-Identifier: MIT */
/*
 * What the reporters share beyond report.h: durations, signed sizes, frame
 * names and the test for figures that cannot be trusted, so that the text,
 * JSON and folded outputs never disagree on them.
 */
#ifndef MEMTRACE_FORMAT_H
#define MEMTRACE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "report.h"

/* "29.8s", "3m12s", "2h05m", "3d04h". buf must hold at least 16 bytes;
 * returns buf. NaN, infinite and negative durations print as "0.0s". */
const char *fmt_age(char *buf, size_t len, double seconds);

/* fmt_bytes() with a sign: "+1.2 MiB", "-512 B", "+0 B". buf must hold at
 * least 17 bytes; returns buf. */
const char *fmt_growth(char *buf, size_t len, int64_t bytes);

/* 0 in place of NaN and infinities, which printf would spell "nan"/"inf". */
double finite_or_zero(double d);

/* True when a counter says that allocations or frees were missed, so that
 * outstanding bytes may be over- or under-stated. */
bool report_may_be_wrong(const struct report_accounting *a);

/*
 * Names that come from the traced program (its comm, its symbols, its
 * files) must neither break the output's lines nor drive the terminal:
 * the text and folded outputs escape them visibly (util/escape.h: control
 * characters, C1 controls, bidirectional overrides and invalid UTF-8 as
 * \xNN), and the folded output writes ';' as ':', since it separates
 * frames there.
 */
enum name_style {
	NAME_TEXT,	/* fmt_frame(): function+0x1a [module] (file:line);
			   inlined frames: function [inlined] (file:line) */
	NAME_TEXT_SHORT, /* the same with C++ template arguments as <...> */
	NAME_FOLDED,	/* flame graphs: function, or [module] when unknown,
			   so that unknown frames of one module merge */
};

/* A frame's name in flame graphs (NAME_FOLDED), not escaped: each output
 * escapes it its own way. snprintf semantics, as fmt_frame(). */
int fmt_frame_folded(char *buf, size_t len, const struct report_frame *f);

/* The string s escaped into out (size len, NUL-terminated); returns the
 * escaped length, as snprintf does (>= len: cut). */
size_t clean_name(char *out, size_t len, const char *s, enum name_style style);

/* Write one frame, escaped and never truncated. Returns 0, -ENOMEM or
 * -EIO. */
int fput_frame(FILE *out, const struct report_frame *f, enum name_style style);

/* Write s escaped. Returns 0 or -EIO. */
int fput_clean(FILE *out, const char *s, enum name_style style);

/* Length of the valid UTF-8 sequence at s, or 0 when the bytes there are
 * not one (overlong forms, surrogates and code points past U+10FFFF are
 * invalid, RFC 3629). Stops at the first byte that does not fit, so never
 * reads past a NUL. */
size_t utf8_len(const unsigned char *s);

/* A malloc'ed copy of s that is valid UTF-8 without control characters:
 * each byte that starts no valid sequence becomes U+FFFD, each control
 * character '?'. NULL when out of memory. For outputs whose readers
 * insist on UTF-8 (pprof, SVG, HTML). */
char *strdup_utf8_clean(const char *s);

/* Make sure everything written so far reached out: 0 or -EIO. */
int fput_finish(FILE *out);

#endif /* MEMTRACE_FORMAT_H */
