// SPDX-License-Identifier: MIT
/*
 * Formatting shared by the reporters: sizes, durations and frames.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "util/escape.h"
#include "symbols/demangle.h"

const char *fmt_bytes(char *buf, size_t len, uint64_t bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = bytes / 1024.0;
	uint64_t tenths;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(buf, len, "%" PRIu64 " B", bytes);
		return buf;
	}
	/* Round first, then pick the unit, so 1048575 is "1.0 MiB" and not
	 * "1024.0 KiB". Integer tenths also keep printf's rounding out. */
	tenths = llround(v * 10);
	while (tenths >= 10240 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		tenths = llround(v * 10);
		u++;
	}
	snprintf(buf, len, "%" PRIu64 ".%" PRIu64 " %s", tenths / 10, tenths % 10, units[u]);
	return buf;
}

const char *fmt_growth(char *buf, size_t len, int64_t bytes)
{
	/* Negated in unsigned arithmetic: -INT64_MIN does not fit an int64_t. */
	uint64_t magnitude = bytes < 0 ? -(uint64_t)bytes : (uint64_t)bytes;
	char num[32];

	snprintf(buf, len, "%c%s", bytes < 0 ? '-' : '+',
		 fmt_bytes(num, sizeof(num), magnitude));
	return buf;
}

const char *fmt_age(char *buf, size_t len, double seconds)
{
	uint64_t tenths, s;

	/* Also catches NaN, for which every comparison is false. */
	if (!(seconds >= 0) || isinf(seconds))
		seconds = 0;
	/* About a thousand years, well short of where llround() overflows. */
	if (seconds > 3.2e10)
		seconds = 3.2e10;

	/* Rounded before choosing the form, so 59.97 is "1m00s", not "60.0s". */
	tenths = llround(seconds * 10);
	if (tenths < 600) {
		snprintf(buf, len, "%" PRIu64 ".%" PRIu64 "s", tenths / 10, tenths % 10);
		return buf;
	}
	s = llround(seconds);
	if (s < 3600)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s % 86400 / 3600);
	return buf;
}

double finite_or_zero(double d)
{
	return isfinite(d) ? d : 0;
}

bool report_may_be_wrong(const struct report_accounting *a)
{
	/* Unknown frees, exec drops and nested calls are not listed: the
	 * aggregator and the probes handle them without losing anything. */
	return a->lost_events || a->returns_without_entry ||
	       a->entries_without_return || a->stacks_not_captured ||
	       a->replaced_live || a->pymalloc.unreadable || a->samples_dropped ||
	       a->processes_partial;
}

/* snprintf that appends, keeping snprintf's "length it would have taken"
 * so that callers can size a buffer and try again. */
struct appender {
	char *buf;
	size_t len;
	size_t pos;
};

static void append(struct appender *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void append(struct appender *a, const char *fmt, ...)
{
	bool room = a->pos < a->len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? a->buf + a->pos : NULL, room ? a->len - a->pos : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		a->pos += n;
}

/* "[vdso]" and "[anon]" are already bracketed: "[vdso+0x10]", not
 * "[[vdso]+0x10]". */
static int module_name(const char *module, const char **name)
{
	size_t n = strlen(module);

	if (n >= 2 && module[0] == '[' && module[n - 1] == ']') {
		*name = module + 1;
		return n - 2;
	}
	*name = module;
	return n;
}

static void append_source(struct appender *a, const struct report_frame *f)
{
	if (!f->file)
		return;
	if (f->line > 0)
		append(a, " (%s:%d)", f->file, f->line);
	else
		append(a, " (%s)", f->file);
}

/* The function's name, shortened for NAME_TEXT_SHORT. */
static void append_function(struct appender *a, const char *function, enum name_style style)
{
	size_t room = a->pos < a->len ? a->len - a->pos : 0;

	if (style != NAME_TEXT_SHORT) {
		append(a, "%s", function);
		return;
	}
	a->pos += short_templates(function, room ? a->buf + a->pos : NULL, room);
}

static int format_frame(char *buf, size_t len, const struct report_frame *f,
			enum name_style style)
{
	struct appender a = { .buf = buf, .len = len };
	const char *module;
	int mlen = module_name(f->module ? f->module : "[unknown]", &module);

	if (len)
		buf[0] = '\0';

	if (f->function && f->python) {
		/* The interpreter's module says nothing of the Python code. */
		append(&a, "%s", f->function);
		append_source(&a, f);
	} else if (f->function && style == NAME_FOLDED) {
		append(&a, "%s", f->function);
	} else if (f->inlined && style != NAME_FOLDED) {
		/* Same address and module as the frame it is inlined into. */
		append_function(&a, f->function ? f->function : "??", style);
		append(&a, " [inlined]");
		append_source(&a, f);
	} else if (f->function) {
		append_function(&a, f->function, style);
		if (f->offset)
			append(&a, "+0x%" PRIx64, f->offset);
		append(&a, " [%.*s]", mlen, module);
		append_source(&a, f);
	} else if (style == NAME_FOLDED) {
		append(&a, "[%.*s]", mlen, module);
	} else if (f->module && strcmp(f->module, "[unknown]")) {
		append(&a, "[%.*s+0x%" PRIx64 "]", mlen, module, f->module_offset);
		append_source(&a, f);
	} else {
		/* No mapping holds the address: it is all there is to show. */
		append(&a, "[unknown 0x%" PRIx64 "]", f->address);
	}
	return a.pos;
}

int fmt_frame(char *buf, size_t len, const struct report_frame *f)
{
	return format_frame(buf, len, f, NAME_TEXT);
}

int fmt_frame_folded(char *buf, size_t len, const struct report_frame *f)
{
	return format_frame(buf, len, f, NAME_FOLDED);
}

static const struct escape_opts *opts_of(enum name_style style)
{
	static const struct escape_opts folded = { .from = ';', .to = ':' };

	return style == NAME_FOLDED ? &folded : NULL;
}

size_t clean_name(char *out, size_t len, const char *s, enum name_style style)
{
	return escape_str(out, len, s, strlen(s), opts_of(style));
}

int fput_frame(FILE *out, const struct report_frame *f, enum name_style style)
{
	char small[256], *buf = small;
	size_t n;
	int err;

	/* Most frames fit; C++ names can take kilobytes. */
	n = format_frame(small, sizeof(small), f, style);
	if (n >= sizeof(small)) {
		buf = malloc(n + 1);
		if (!buf)
			return -ENOMEM;
		format_frame(buf, n + 1, f, style);
	}
	err = escape_fput(out, buf, n, opts_of(style));
	if (buf != small)
		free(buf);
	return err;
}

int fput_clean(FILE *out, const char *s, enum name_style style)
{
	return escape_fput(out, s, strlen(s), opts_of(style));
}

size_t utf8_len(const unsigned char *s)
{
	/* utf8_seq_len() on what is left of the string (a NUL ends a
	 * sequence early, and is one byte of its own). */
	return *s ? utf8_seq_len(s, strnlen((const char *)s, 4)) : 1;
}

char *strdup_utf8_clean(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t len = strlen(str), o = 0;
	/* U+FFFD takes 3 bytes in place of 1. */
	char *out = malloc(3 * len + 1);

	if (!out)
		return NULL;
	while (*s) {
		size_t n = utf8_len(s);

		if (!n) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			s++;
		} else if (n == 1) {
			out[o++] = *s < 0x20 || *s == 0x7f ? '?' : *s;
			s++;
		} else {
			memcpy(out + o, s, n);
			o += n;
			s += n;
		}
	}
	out[o] = '\0';
	return out;
}

int fput_finish(FILE *out)
{
	if (fflush(out))
		return errno ? -errno : -EIO;
	return ferror(out) ? -EIO : 0;
}
