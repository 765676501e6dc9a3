// SPDX-License-Identifier: MIT
/* util/escape.c: names from traced processes made safe for terminals. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "util/escape.h"

static void expect(const char *in, size_t n, const char *want)
{
	char out[256];
	size_t len = escape_str(out, sizeof(out), in, n, NULL);

	cr_assert_str_eq(out, want);
	cr_assert_eq(len, strlen(want));
}

#define EXPECT(in, want) expect(in, sizeof(in) - 1, want)

Test(escape, plain_text_and_utf8_are_kept)
{
	EXPECT("main+0x1a [leaky]", "main+0x1a [leaky]");
	EXPECT("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80");
	/* U+00A0, the first code point past the C1 range, is text. */
	EXPECT("a\xc2\xa0" "b", "a\xc2\xa0" "b");
}

Test(escape, c0_del_and_backslash)
{
	EXPECT("a\x1b[2Jb", "a\\x1b[2Jb");
	EXPECT("line\nbreak\r\t", "line\\x0abreak\\x0d\\x09");
	EXPECT("del\x7f", "del\\x7f");
	EXPECT("a\\xff", "a\\\\xff");
	expect("nul\0after", 9, "nul\\x00after");
}

Test(escape, c1_controls_in_utf8)
{
	/* U+009B is CSI: "\xc2\x9b" "31m" turns text red on xterm. */
	EXPECT("a\xc2\x9b" "31mX", "a\\xc2\\x9b31mX");
	EXPECT("\xc2\x80\xc2\x9f", "\\xc2\\x80\\xc2\\x9f");
}

Test(escape, invalid_utf8_byte_by_byte)
{
	EXPECT("x\xffy", "x\\xffy");
	EXPECT("caf\xc3", "caf\\xc3");				/* cut mid-character */
	EXPECT("\xc0\xaf", "\\xc0\\xaf");			/* overlong '/' */
	EXPECT("\xed\xa0\x80", "\\xed\\xa0\\x80");		/* a surrogate */
	EXPECT("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");	/* past U+10FFFF */
	EXPECT("\xe6\x97z", "\\xe6\\x97z");			/* truncated sequence */
}

Test(escape, bidi_overrides)
{
	/* U+202E RIGHT-TO-LEFT OVERRIDE would show "evil" as "live". */
	EXPECT("a\xe2\x80\xae" "evil", "a\\xe2\\x80\\xaeevil");
	EXPECT("\xe2\x81\xa6x\xe2\x81\xa9", "\\xe2\\x81\\xa6x\\xe2\\x81\\xa9");
	/* U+2026 (an ellipsis) is not one. */
	EXPECT("\xe2\x80\xa6", "\xe2\x80\xa6");
}

Test(escape, cut_like_snprintf)
{
	char out[6];
	size_t len = escape_str(out, sizeof(out), "ab\x01" "cd", 5, NULL);

	cr_assert_eq(len, 8);		/* "ab\x01cd" */
	cr_assert_str_eq(out, "ab\\x0");
	cr_assert_eq(escape_str(NULL, 0, "\x01", 1, NULL), 4);
}

Test(escape, replacement_byte)
{
	const struct escape_opts folded = { .from = ';', .to = ':' };
	char out[64];

	escape_str(out, sizeof(out), "a;b\x1b", 4, &folded);
	cr_assert_str_eq(out, "a:b\\x1b");
}

Test(escape, fput_matches_str)
{
	static const char *const samples[] = {
		"plain", "a\xc2\x9b" "b", "\xff\xfe", "x\\y\n", "\xe2\x80\xae", "caf\xc3",
	};
	const struct escape_opts folded = { .from = ';', .to = ':' };

	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		char want[64], *got = NULL;
		size_t got_len = 0;
		FILE *f = open_memstream(&got, &got_len);

		cr_assert_not_null(f);
		cr_assert_eq(escape_fput(f, samples[i], strlen(samples[i]), &folded), 0);
		fclose(f);
		escape_str(want, sizeof(want), samples[i], strlen(samples[i]), &folded);
		cr_assert_str_eq(got, want, "sample %zu", i);
		free(got);
	}
}

Test(escape, utf8_seq_len_bounds)
{
	const unsigned char s[] = { 0xe6, 0x97, 0xa5 };

	cr_assert_eq(utf8_seq_len(s, 3), 3);
	cr_assert_eq(utf8_seq_len(s, 2), 0);	/* never reads past n */
	cr_assert_eq(utf8_seq_len(s, 0), 0);
}
