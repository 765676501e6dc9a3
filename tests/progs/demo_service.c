// SPDX-License-Identifier: MIT
/*
 * The bundled demo: a toy "service" that handles requests and leaks in the
 * way real services do. Each request allocates a transient buffer (freed),
 * parses headers into strings (freed), and registers a session that a
 * cache keeps forever: the leak memtrace should point at.
 *
 * Usage: demo_service [SECONDS]   (default 6)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct session {
	struct session *next;
	char user[32];
	char *history;		/* grows with every request */
	size_t history_len;
};

struct cache {
	struct session *head;	/* never evicted: the leak */
	size_t n;
};

__attribute__((noinline)) static struct session *session_new(struct cache *c, int id)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	snprintf(s->user, sizeof(s->user), "user%d", id);
	s->next = c->head;
	c->head = s;
	c->n++;
	return s;
}

__attribute__((noinline)) static void session_log(struct session *s, const char *line)
{
	size_t len = strlen(line);
	char *h = realloc(s->history, s->history_len + len + 1);

	if (!h)
		return;
	memcpy(h + s->history_len, line, len + 1);
	s->history = h;
	s->history_len += len;
}

__attribute__((noinline)) static char *read_request(int id)
{
	char *buf = malloc(16384);	/* transient: freed after handling */

	if (buf)
		snprintf(buf, 16384, "GET /item/%d HTTP/1.1\r\nHost: demo\r\n", id);
	return buf;
}

__attribute__((noinline)) static void handle_request(struct cache *c, int id)
{
	char *req = read_request(id);
	struct session *s;

	if (!req)
		return;
	s = session_new(c, id);
	if (s)
		session_log(s, req);
	free(req);
}

int main(int argc, char **argv)
{
	struct cache cache = { 0 };
	double seconds = argc > 1 ? atof(argv[1]) : 6;
	struct timespec start, now;
	int id = 0;

	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		for (int i = 0; i < 200; i++)
			handle_request(&cache, id++);
		usleep(20000);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9 < seconds);
	printf("demo_service: handled %d requests, %zu sessions cached\n", id, cache.n);
	return 0;
}
