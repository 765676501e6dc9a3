// SPDX-License-Identifier: MIT
/*
 * Text in SVG and HTML: what a hostile name becomes, byte for byte.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/markup.h"

static char *escaped(const char *s, size_t max)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	cr_assert_eq(max ? fput_markup_cut(f, s, max) : fput_markup(f, s), 0);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

#define ESCAPES_TO(in, out) do { \
	char *got_ = escaped(in, 0); \
	cr_assert_str_eq(got_, out); \
	free(got_); \
} while (0)

Test(markup, markup_characters)
{
	ESCAPES_TO("a<b>&c\"d'e", "a&lt;b&gt;&amp;c&quot;d&#39;e");
	ESCAPES_TO("&amp;", "&amp;amp;");
	ESCAPES_TO("]]></script><!--", "]]&gt;&lt;/script&gt;&lt;!--");
	ESCAPES_TO("", "");
}

Test(markup, control_characters)
{
	ESCAPES_TO("a\x01" "b\nc\td\x1b[31m\x7f", "a?b?c?d?[31m?");
}

Test(markup, utf8_kept_and_broken_bytes_replaced)
{
	ESCAPES_TO("m\xc3\xb3" "dulo \xe2\x82\xac \xf0\x9f\x90\x8d",
		   "m\xc3\xb3" "dulo \xe2\x82\xac \xf0\x9f\x90\x8d");
	/* A lone byte, a cut sequence, an overlong form, a surrogate: one
	 * U+FFFD per byte. */
	ESCAPES_TO("\xff", "\xef\xbf\xbd");
	ESCAPES_TO("\xc3(", "\xef\xbf\xbd(");
	ESCAPES_TO("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd");
	ESCAPES_TO("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	ESCAPES_TO("\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	/* U+FFFE and U+FFFF are UTF-8 but no XML character: one U+FFFD. */
	ESCAPES_TO("a\xef\xbf\xbe" "b\xef\xbf\xbf", "a\xef\xbf\xbd" "b\xef\xbf\xbd");
	/* U+FFFD itself stays. */
	ESCAPES_TO("\xef\xbf\xbd", "\xef\xbf\xbd");
	/* A sequence cut by the end of the string. */
	ESCAPES_TO("ab\xe2\x82", "ab\xef\xbf\xbd\xef\xbf\xbd");
}

Test(markup, cut_counts_characters)
{
	char *s;

	cr_assert_eq(markup_chars("m\xc3\xb3" "dulo"), 6);
	cr_assert_eq(markup_chars("\xff\xfe"), 2);
	s = escaped("abcdef", 6);
	cr_assert_str_eq(s, "abcdef");
	free(s);
	s = escaped("abcdefg", 6);
	cr_assert_str_eq(s, "abcd..");
	free(s);
	/* Never inside a character or a reference. */
	s = escaped("\xc3\xb3\xc3\xb3\xc3\xb3\xc3\xb3", 3);
	cr_assert_str_eq(s, "\xc3\xb3..");
	free(s);
	s = escaped("<<<<<<", 4);
	cr_assert_str_eq(s, "&lt;&lt;..");
	free(s);
	s = escaped("abc", 1);
	cr_assert_str_eq(s, "");
	free(s);
}

Test(markup, long_names_whole)
{
	char *name = malloc(10001), *s;

	memset(name, 'x', 10000);
	name[10000] = '\0';
	name[5000] = '<';
	s = escaped(name, 0);
	cr_assert_eq(strlen(s), 10000 + 3);
	cr_assert_eq(strncmp(s + 5000, "&lt;", 4), 0);
	free(s);
	free(name);
}

Test(markup, full_device)
{
	FILE *f = fopen("/dev/full", "w");
	char big[70000];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_not_null(f);
	setvbuf(f, NULL, _IONBF, 0);
	cr_assert_eq(fput_markup(f, big), -EIO);
	fclose(f);
}
