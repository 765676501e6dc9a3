// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vec.h"

#define VEC_MIN_CAP 16

int vec_reserve(void *items, size_t *cap, size_t need, size_t size)
{
	void **p = items, *grown;
	size_t want = *cap ? *cap : VEC_MIN_CAP;

	if (need <= *cap)
		return 0;
	while (want < need) {
		if (want > SIZE_MAX / 2)
			return -ENOMEM;
		want *= 2;
	}
	if (size && want > SIZE_MAX / size)
		return -ENOMEM;
	grown = realloc(*p, want * size);
	if (!grown)
		return -ENOMEM;
	*p = grown;
	*cap = want;
	return 0;
}
