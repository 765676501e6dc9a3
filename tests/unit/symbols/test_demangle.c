// SPDX-License-Identifier: MIT
/*
 * Demangling against what c++filt (binutils) prints for the same names,
 * and the text report's template shortening on names as demangled.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symbols/demangle.h"

/* c++filt's answer for one name (it prints plain names unchanged). */
static void cxxfilt(const char *name, char *buf, size_t size)
{
	char cmd[1024];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "c++filt '%s'", name);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	cr_assert_not_null(fgets(buf, size, p));
	pclose(p);
	buf[strcspn(buf, "\n")] = '\0';
}

static void expect_like_cxxfilt(const char *name)
{
	char theirs[1024];
	char *ours = demangle(name);

	cxxfilt(name, theirs, sizeof(theirs));
	cr_assert_not_null(ours, "%s not demangled (c++filt: %s)", name, theirs);
	cr_assert_str_eq(ours, theirs, "%s", name);
	free(ours);
}

Test(demangle, cxx_like_cxxfilt)
{
	expect_like_cxxfilt("_ZN4shop9OrderBook3addEl");
	expect_like_cxxfilt("_Znwm");
	expect_like_cxxfilt("_ZNSt15__new_allocatorISt23_Sp_counted_ptr_inplaceIN4shop5OrderESaIvE"
			    "LN9__gnu_cxx12_Lock_policyE2EEE8allocateEmPKv");
	expect_like_cxxfilt("_ZZ4mainENKUliE_clEi");
	expect_like_cxxfilt("_ZSt11make_sharedIN4shop5OrderEJEESt10shared_ptrINSt9enable_ifIXn"
			    "tsrSt8is_arrayIT_E5valueES5_E4typeEEDpOT0_");
}

Test(demangle, rust_legacy_and_v0)
{
	char *legacy = demangle("_ZN4core3fmt9Formatter9write_str17h3c5a3d5d8e9b1a2fE");
	char *v0 = demangle("_RNvNtCs1234_7mycrate3foo3bar");
	char *generic = demangle("_RINvNtCs1234_7mycrate3foo3barmE");
	char *closure = demangle("_RNCNvCsgStHSCytQ6I_4main4main0B3_");

	/* Rust's legacy scheme ends in a hash, which the name omits. */
	cr_assert_str_eq(legacy, "core::fmt::Formatter::write_str");
	cr_assert_str_eq(v0, "mycrate::foo::bar");
	cr_assert_str_eq(generic, "mycrate::foo::bar::<u32>");
	cr_assert_str_eq(closure, "main::main::{closure#0}");
	free(legacy);
	free(v0);
	free(generic);
	free(closure);
}

Test(demangle, plain_and_garbage_names_are_left_alone)
{
	cr_assert_null(demangle("malloc"));
	cr_assert_null(demangle("main"));
	cr_assert_null(demangle(""));
	cr_assert_null(demangle(NULL));
	cr_assert_null(demangle("_Z"));
	cr_assert_null(demangle("_ZN999999999999999999999999"));
	cr_assert_null(demangle("_R"));
}

Test(demangle, hostile_nesting_is_refused_not_a_crash)
{
	/* 100,000 nested pointer types: libiberty's recursion limit stops
	 * it well before the stack would. */
	size_t n = 100000;
	char *name = malloc(n + 16), *d;

	strcpy(name, "_Z1fP");
	memset(name + 5, 'P', n);
	strcpy(name + 5 + n, "i");
	d = demangle(name);
	free(d);
	free(name);
}

static void expect_short(const char *name, const char *expect)
{
	char buf[512];
	size_t n = short_templates(name, buf, sizeof(buf));

	cr_assert_str_eq(buf, expect);
	cr_assert_eq(n, strlen(expect));
}

Test(short_templates, folds_outer_arguments)
{
	expect_short("std::vector<std::shared_ptr<shop::Order>, std::allocator<std::shared_ptr"
		     "<shop::Order> > >::push_back(std::shared_ptr<shop::Order>&&)",
		     "std::vector<...>::push_back(std::shared_ptr<...>&&)");
	expect_short("main", "main");
	expect_short("std::map<long, int>::operator[](long const&)",
		     "std::map<...>::operator[](long const&)");
}

Test(short_templates, operators_stay)
{
	expect_short("std::basic_ostream<char>& std::operator<< <std::char_traits<char> >"
		     "(std::basic_ostream<char>&, char const*)",
		     "std::basic_ostream<...>& std::operator<< <...>(std::basic_ostream<...>&, "
		     "char const*)");
	expect_short("bool std::operator< <int>(a const&, b const&)",
		     "bool std::operator< <...>(a const&, b const&)");
	expect_short("foo::operator->() const", "foo::operator->() const");
	expect_short("X<decltype(p->x)>::f()", "X<...>::f()");
}

Test(short_templates, snprintf_semantics)
{
	char buf[8];
	const char *name = "std::vector<int>::size() const";
	size_t n = short_templates(name, buf, sizeof(buf));

	cr_assert_eq(n, strlen("std::vector<...>::size() const"));
	cr_assert_str_eq(buf, "std::ve");
	cr_assert_eq(short_templates(name, NULL, 0), n);
}
