// SPDX-License-Identifier: MIT
/*
 * The debuginfod worker (see debuginfod_fetch.h). Requests form one list,
 * in the order asked, under one mutex; each carries its state. The worker
 * takes the oldest waiting one, fetches without the lock held, and marks
 * it done; poll hands done ones over.
 *
 * libdebuginfod is opened by the worker, not linked: it brings libcurl and
 * some thirty libraries more (TLS, Kerberos, LDAP), whose loading took
 * 6.6 ms of every start of memtrace here (an empty program linked with
 * memtrace's other libraries starts in 3.0 ms, with libdebuginfod too in
 * 9.6), where most runs fetch nothing.
 */
#include <dlfcn.h>
#include <elfutils/debuginfod.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "debuginfod_fetch.h"
#include "util/vec.h"

enum req_state { REQ_WAITING, REQ_FETCHING, REQ_DONE, REQ_TAKEN };

struct request {
	uint8_t id[64];
	size_t len;
	enum req_state state;
	int fd;			/* or a negative errno, once done */
};

struct debuginfod_fetch {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool started;
	bool stopping;		/* read by the progress callback too */
	struct request *reqs;
	size_t n, cap;
	size_t pending;		/* not yet taken */
};

/* The functions the worker calls, from dlopen(). */
struct client_lib {
	debuginfod_client *(*begin)(void);
	void (*end)(debuginfod_client *c);
	void (*set_progressfn)(debuginfod_client *c, debuginfod_progressfn_t fn);
	int (*find_debuginfo)(debuginfod_client *c, const unsigned char *id, int len,
			      char **path);
};

/* 0, or -ENOSYS when the library or one of its functions is missing. */
static int client_lib_open(struct client_lib *l)
{
	void *h = dlopen("libdebuginfod.so.1", RTLD_NOW | RTLD_LOCAL);

	if (!h)
		return -ENOSYS;
	*(void **)&l->begin = dlsym(h, "debuginfod_begin");
	*(void **)&l->end = dlsym(h, "debuginfod_end");
	*(void **)&l->set_progressfn = dlsym(h, "debuginfod_set_progressfn");
	*(void **)&l->find_debuginfo = dlsym(h, "debuginfod_find_debuginfo");
	return l->begin && l->end && l->set_progressfn && l->find_debuginfo ? 0 : -ENOSYS;
}

/* The fetcher whose worker runs on this thread, for progress(): the
 * client's own user data would need one more function looked up before
 * the callback could find it. */
static _Thread_local struct debuginfod_fetch *this_worker;

/* libdebuginfod calls this while it transfers: non-zero cancels. */
static int progress(debuginfod_client *c, long done, long total)
{
	struct debuginfod_fetch *f = this_worker;
	bool stop;

	pthread_mutex_lock(&f->lock);
	stop = f->stopping;
	pthread_mutex_unlock(&f->lock);
	return stop ? -1 : 0;
}

/* A debug file worth reading: a regular file with something in it (a
 * server's "not found" can be cached as an empty file). */
static int checked(int fd)
{
	struct stat st;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || !st.st_size) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

static void *worker(void *arg)
{
	struct debuginfod_fetch *f = arg;
	struct client_lib lib;
	debuginfod_client *client = NULL;

	if (client_lib_open(&lib)) {
		const char *e = dlerror();

		/* Once, from here: nothing else knows why every fetch fails. */
		fprintf(stderr, "memtrace: DEBUGINFOD_URLS is set, but libdebuginfod.so.1 "
			"cannot be loaded (%s): no debug file is fetched\n",
			e ? e : "a function is missing");
	} else {
		client = lib.begin();
	}
	this_worker = f;
	if (client)
		lib.set_progressfn(client, progress);
	pthread_mutex_lock(&f->lock);
	while (!f->stopping) {
		struct request *r = NULL;
		uint8_t id[64];
		size_t len, i;
		int fd;

		for (i = 0; i < f->n && !r; i++)
			if (f->reqs[i].state == REQ_WAITING)
				r = &f->reqs[i];
		if (!r) {
			pthread_cond_wait(&f->wake, &f->lock);
			continue;
		}
		r->state = REQ_FETCHING;
		i = r - f->reqs;	/* reqs may move while unlocked */
		len = r->len;
		memcpy(id, r->id, len);
		pthread_mutex_unlock(&f->lock);
		fd = client ? checked(lib.find_debuginfo(client, id, len, NULL)) : -ENOSYS;
		pthread_mutex_lock(&f->lock);
		f->reqs[i].fd = fd;
		f->reqs[i].state = REQ_DONE;
	}
	pthread_mutex_unlock(&f->lock);
	/* The library stays loaded: libcurl and TLS keep state of their own
	 * to the process's exit (unloaded, LeakSanitizer counts it leaked). */
	if (client)
		lib.end(client);
	return NULL;
}

int debuginfod_fetch_new(struct debuginfod_fetch **out)
{
	const char *urls = getenv("DEBUGINFOD_URLS");
	struct debuginfod_fetch *f;

	*out = NULL;
	if (!urls || !urls[strspn(urls, " \t")])
		return 0;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	*out = f;
	return 0;
}

void debuginfod_fetch_free(struct debuginfod_fetch *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->stopping = true;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
	if (f->started)
		pthread_join(f->thread, NULL);
	for (size_t i = 0; i < f->n; i++)
		if (f->reqs[i].state == REQ_DONE && f->reqs[i].fd >= 0)
			close(f->reqs[i].fd);
	free(f->reqs);
	pthread_cond_destroy(&f->wake);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

int debuginfod_fetch_request(struct debuginfod_fetch *f, const uint8_t *id, size_t len)
{
	int err = 0;

	if (!len || len > sizeof(f->reqs[0].id))
		return -EINVAL;
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->n; i++)
		if (f->reqs[i].len == len && !memcmp(f->reqs[i].id, id, len))
			goto out;
	err = vec_reserve(&f->reqs, &f->cap, f->n + 1, sizeof(*f->reqs));
	if (err)
		goto out;
	if (!f->started) {
		err = -pthread_create(&f->thread, NULL, worker, f);
		if (err)
			goto out;
		f->started = true;
	}
	f->reqs[f->n] = (struct request){ .len = len, .state = REQ_WAITING, .fd = -1 };
	memcpy(f->reqs[f->n].id, id, len);
	f->n++;
	f->pending++;
	pthread_cond_signal(&f->wake);
out:
	pthread_mutex_unlock(&f->lock);
	return err;
}

int debuginfod_fetch_poll(struct debuginfod_fetch *f, uint8_t *id, size_t *len, int *fd)
{
	int found = 0;

	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->n && !found; i++) {
		struct request *r = &f->reqs[i];

		if (r->state != REQ_DONE)
			continue;
		memcpy(id, r->id, r->len);
		*len = r->len;
		*fd = r->fd;
		r->state = REQ_TAKEN;
		f->pending--;
		found = 1;
	}
	pthread_mutex_unlock(&f->lock);
	return found;
}

size_t debuginfod_fetch_pending(struct debuginfod_fetch *f)
{
	size_t n;

	pthread_mutex_lock(&f->lock);
	n = f->pending;
	pthread_mutex_unlock(&f->lock);
	return n;
}
