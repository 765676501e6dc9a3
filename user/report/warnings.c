// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "warnings.h"

void warnings_add(struct warnings *w, const char *fmt, ...)
{
	char buf[WARNING_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < w->n; i++)
		if (!strcmp(w->line[i], buf))
			return;
	if (w->n < WARNINGS_MAX)
		memcpy(w->line[w->n++], buf, sizeof(buf));
	else
		w->dropped++;
}

size_t warnings_list(const struct warnings *w, const char **out, size_t max)
{
	size_t n = w->n < max ? w->n : max;

	for (size_t i = 0; i < n; i++)
		out[i] = w->line[i];
	return n;
}
