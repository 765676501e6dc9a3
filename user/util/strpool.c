// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strpool.h"

#define STRPOOL_MIN_BUCKETS 256

struct strpool_str {
	struct strpool_str *next;	/* hash chain */
	uint64_t hash;
	size_t len;
	char text[];
};

static uint64_t strpool_hash(const void *bytes, size_t len)
{
	const unsigned char *b = bytes;
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

/* Twice the buckets, when there are as many strings as buckets. */
static int strpool_grow(struct strpool *p)
{
	size_t n = p->nbuckets ? p->nbuckets * 2 : STRPOOL_MIN_BUCKETS;
	struct strpool_str **b = calloc(n, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < p->nbuckets; i++) {
		struct strpool_str *e, *next;

		for (e = p->buckets[i]; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(p->buckets);
	p->buckets = b;
	p->nbuckets = n;
	return 0;
}

const char *strpool_intern(struct strpool *p, const char *str, size_t len)
{
	uint64_t h = strpool_hash(str, len);
	struct strpool_str *e, **bucket;

	if (p->nbuckets) {
		for (e = p->buckets[h & (p->nbuckets - 1)]; e; e = e->next)
			if (e->hash == h && e->len == len && !memcmp(e->text, str, len))
				return e->text;
	}
	if (p->n >= p->nbuckets && strpool_grow(p))
		return NULL;
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return NULL;
	e->hash = h;
	e->len = len;
	memcpy(e->text, str, len);
	e->text[len] = '\0';
	bucket = &p->buckets[h & (p->nbuckets - 1)];
	e->next = *bucket;
	*bucket = e;
	p->n++;
	return e->text;
}

void strpool_free(struct strpool *p)
{
	for (size_t i = 0; i < p->nbuckets; i++) {
		struct strpool_str *e, *next;

		for (e = p->buckets[i]; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(p->buckets);
	memset(p, 0, sizeof(*p));
}
