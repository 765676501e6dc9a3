// SPDX-License-Identifier: MIT
/*
 * Demangling with libiberty (see demangle.h). DMGL_AUTO lets libiberty
 * tell the schemes apart by their prefix: _Z (C++, and Rust's legacy
 * scheme, which wraps it), _R (Rust v0).
 */
#include <libiberty/demangle.h>
#include <stdbool.h>
#include <string.h>

#include "demangle.h"

char *demangle(const char *name)
{
	/* Only names that start like a mangling: libiberty's other styles
	 * (GNAT, D) would also rewrite some plain C names. */
	if (!name || name[0] != '_' || (name[1] != 'Z' && name[1] != 'R'))
		return NULL;
	return cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI | DMGL_AUTO);
}

struct out {
	char *buf;
	size_t size;
	size_t len;
};

static void put(struct out *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++, o->len++)
		if (o->len + 1 < o->size)
			o->buf[o->len] = s[i];
}

/* How many bytes at s spell an operator whose name holds '<' or '>',
 * after the word "operator"; 0 if none. */
static size_t operator_len(const char *s)
{
	static const char *const ops[] = { "<=>", "<<=", ">>=", "<<", ">>", "<=", ">=",
					   "->*", "->", "<", ">" };

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strncmp(s, ops[i], strlen(ops[i])))
			return strlen(ops[i]);
	return 0;
}

size_t short_templates(const char *name, char *buf, size_t size)
{
	struct out o = { buf, size, 0 };
	int depth = 0;

	for (const char *s = name; *s;) {
		size_t n;

		if (!strncmp(s, "operator", 8) && (n = operator_len(s + 8))) {
			if (!depth)
				put(&o, s, 8 + n);
			s += 8 + n;
			continue;
		}
		if (s[0] == '-' && s[1] == '>') {
			/* In an expression (decltype(p->x)): no bracket. */
			if (!depth)
				put(&o, s, 2);
			s += 2;
			continue;
		}
		if (*s == '<') {
			if (!depth++)
				put(&o, "<...", 4);
		} else if (*s == '>' && depth) {
			if (!--depth)
				put(&o, ">", 1);
		} else if (!depth) {
			put(&o, s, 1);
		}
		s++;
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return o.len;
}
