// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "why.h"

int why_fail(int err, char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return err;
}

void why_say(const char *fmt, ...)
{
	char small[1024], *line = small;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(small)) {
		line = malloc(n + 1);
		if (!line)
			return;
		va_start(ap, fmt);
		vsnprintf(line, n + 1, fmt, ap);
		va_end(ap);
	}
	fputs("memtrace: ", stderr);
	escape_fput(stderr, line, n, NULL);
	fputc('\n', stderr);
	if (line != small)
		free(line);
}
