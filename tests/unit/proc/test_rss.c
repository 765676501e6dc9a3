// SPDX-License-Identifier: MIT
/* Reading a process's RSS (user/proc/rss.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc/rss.h"

Test(rss, status_fields)
{
	const char *text = "Name:\tx\nVmPeak:\t  2000 kB\nVmRSS:\t  1500 kB\n"
			   "RssAnon:\t   1000 kB\nRssFile:\t    400 kB\nRssShmem:\t 100 kB\n";
	struct rss r;

	cr_assert_eq(rss_parse_status(text, &r), 0);
	cr_assert_eq(r.total, 1500 * 1024);
	cr_assert_eq(r.anon, 1000 * 1024);
	cr_assert_eq(r.file, 400 * 1024);
	cr_assert_eq(r.shmem, 100 * 1024);
}

Test(rss, kernel_thread_or_zombie_has_none)
{
	struct rss r;

	cr_assert_eq(rss_parse_status("Name:\tkthreadd\nState:\tS\n", &r), -ESRCH);
}

Test(rss, own_pages_resident_after_touching)
{
	size_t len = 64 * 4096;
	char *p = aligned_alloc(4096, len);
	struct rss_pages pg;
	struct rss r;

	cr_assert_not_null(p);
	memset(p, 1, len);
	cr_assert_eq(rss_read(getpid(), &r), 0);
	cr_assert_gt(r.anon, len);
	/* pagemap of oneself: present bits are readable without privileges. */
	cr_assert_eq(rss_pages_open(getpid(), &pg), 0);
	cr_assert_eq(rss_pages_resident(&pg, (uint64_t)p, (uint64_t)p + len), len);
	rss_pages_close(&pg);
	free(p);
}

Test(rss, this_thread_has_a_stack_pointer_or_runs)
{
	uint64_t sps[8];
	int n = rss_thread_sps(getpid(), sps, 8);

	/* This thread is running (it reads the file): no stack pointer. */
	cr_assert_geq(n, 0);
	cr_assert_eq(rss_thread_sps(999999999, sps, 8), -ESRCH);
}
