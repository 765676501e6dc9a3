// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdio.h>

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
