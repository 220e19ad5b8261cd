/* sentinel.c - a store behind Redis Sentinel: which server is the primary (asked of the
 * sentinels, confirmed with ROLE), asked again after an error or a READONLY reply, and
 * followed as soon as a sentinel announces +switch-master. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "store/internal.h"

void sentinel_lost(struct store *s, bool moved)
{
	if (!s->url.master)
		return;
	pthread_mutex_lock(&s->prim_lock);
	s->prim_known = false;
	pthread_mutex_unlock(&s->prim_lock);
	if (moved)
		atomic_fetch_add(&s->prim_gen, 1);
}

/* Record HOST:PORT as the primary; a change makes every connection reconnect. */
static void set_primary(struct store *s, const char *host, size_t hostlen, int port,
			const char *how)
{
	bool changed;

	pthread_mutex_lock(&s->prim_lock);
	changed = strlen(s->prim_host) != hostlen || memcmp(s->prim_host, host, hostlen) ||
		  s->prim_port != port;
	snprintf(s->prim_host, sizeof s->prim_host, "%.*s", (int)hostlen, host);
	s->prim_port = port;
	s->prim_known = true;
	pthread_mutex_unlock(&s->prim_lock);
	if (changed) {
		atomic_fetch_add(&s->prim_gen, 1);
		slog(s, LOG_NOTICE, "store: sentinel master %s: the primary is %.*s:%d (%s)",
		     s->url.master, (int)hostlen, host, port, how);
	}
}

/* A connection to sentinel I, authenticated with the store's credentials if it asks for
 * them (NOAUTH to a first PING).  NULL with WHY. */
static redisContext *sentinel_connect(struct store *s, int i, char *why, size_t whylen)
{
	const struct sentinel_addr *a = &s->url.sentinels[i];
	struct timeval tv = ms_tv(s->timeout_ms);
	redisContext *c = redisConnectWithTimeout(a->host, a->port, tv);
	redisReply *r;
	char buf[160];

	if (!c) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	if (c->err || redisSetTimeout(c, tv) != REDIS_OK)
		goto io;
	r = redisCommand(c, "PING");
	if (!r)
		goto io;
	if (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOAUTH", 6) && s->pass) {
		freeReplyObject(r);
		if (auth(s, c, buf, sizeof buf)) {
			snprintf(why, whylen, "sentinel %s:%d: %s", a->host, a->port, buf);
			redisFree(c);
			return NULL;
		}
		return c;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(why, whylen, "sentinel %s:%d: %s", a->host, a->port, r->str);
		freeReplyObject(r);
		redisFree(c);
		return NULL;
	}
	freeReplyObject(r);
	return c;
io:
	snprintf(why, whylen, "sentinel %s:%d: %s", a->host, a->port,
		 io_reason(c, s->timeout_ms, buf, sizeof buf));
	redisFree(c);
	return NULL;
}

/* Ask sentinel I where the primary is.  0 (recorded), or -EIO with WHY. */
static int ask_one(struct store *s, int i, char *why, size_t whylen)
{
	redisContext *c = sentinel_connect(s, i, why, whylen);
	redisReply *r;
	uint64_t port;
	int rc = -EIO;

	if (!c)
		return -EIO;
	r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", s->url.master);
	if (!r) {
		char buf[160];

		snprintf(why, whylen, "sentinel %s:%d: %s", s->url.sentinels[i].host,
			 s->url.sentinels[i].port, io_reason(c, s->timeout_ms, buf, sizeof buf));
	} else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
		   reply_is_str(r->element[0]) && reply_is_str(r->element[1]) &&
		   r->element[0]->len > 0 && r->element[0]->len < 256 &&
		   parse_u64(r->element[1]->str, r->element[1]->len, 10, &port) && port > 0 &&
		   port < 65536) {
		set_primary(s, r->element[0]->str, r->element[0]->len, (int)port, "asked");
		rc = 0;
	} else {
		snprintf(why, whylen, "sentinel %s:%d does not know master %s%s%.80s",
			 s->url.sentinels[i].host, s->url.sentinels[i].port, s->url.master,
			 r->type == REDIS_REPLY_ERROR ? ": " : "",
			 r->type == REDIS_REPLY_ERROR ? r->str : "");
	}
	if (r)
		freeReplyObject(r);
	redisFree(c);
	return rc;
}

int sentinel_primary(struct store *s, char *host, size_t hostlen, int *port, char *why,
		     size_t whylen)
{
	int rc = -EIO;

	for (int round = 0; round < 2; round++) {
		pthread_mutex_lock(&s->prim_lock);
		if (s->prim_known) {
			snprintf(host, hostlen, "%s", s->prim_host);
			*port = s->prim_port;
			rc = 0;
		}
		pthread_mutex_unlock(&s->prim_lock);
		if (rc == 0 || round == 1)
			break;
		/* the last sentinel that answered first: a dead one costs one refused connect */
		for (int n = 0; n < s->url.nsentinels; n++) {
			int i = (atomic_load(&s->sent_next) + n) % s->url.nsentinels;

			if (ask_one(s, i, why, whylen) == 0) {
				atomic_store(&s->sent_next, i);
				break;
			}
		}
	}
	return rc;
}

int sentinel_check_role(struct store *s, redisContext *c, char *why, size_t whylen)
{
	redisReply *r = redisCommand(c, "ROLE");
	int rc = 0;

	if (!r) {
		io_reason(c, s->timeout_ms, why, whylen);
		return -EIO;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || !reply_is_str(r->element[0]) ||
	    strcmp(r->element[0]->str, "master")) {
		snprintf(why, whylen,
			 "%s:%d is not the primary (ROLE: %.40s): a fail-over in progress?",
			 c->tcp.host, c->tcp.port,
			 r->type == REDIS_REPLY_ERROR		      ? r->str
			 : r->elements && reply_is_str(r->element[0]) ? r->element[0]->str
								      : "bad reply");
		sentinel_lost(s, false);
		rc = -EIO;
	}
	freeReplyObject(r);
	return rc;
}

/* ---- the watcher: +switch-master from one sentinel at a time ---- */

/* "+switch-master NAME OLDIP OLDPORT NEWIP NEWPORT" */
static void switch_master(struct store *s, const char *m, size_t len)
{
	char name[65], ip[256], buf[401];
	unsigned port;

	if (len >= sizeof buf)
		return;
	memcpy(buf, m, len);
	buf[len] = '\0';
	if (sscanf(buf, "%64s %*s %*s %255s %u", name, ip, &port) != 3 ||
	    strcmp(name, s->url.master) || port == 0 || port > 65535)
		return;
	set_primary(s, ip, strlen(ip), (int)port, "+switch-master");
}

/* Read one subscription until an error or stop.  True when stopped. */
static bool watch_loop(struct store *s, redisContext *c)
{
	int64_t ping_sent = 0;

	for (;;) {
		struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN},
				      {.fd = s->watch_pipe[0], .events = POLLIN}};
		redisReply *r;
		int n, done;

		for (;;) {
			if (redisGetReplyFromReader(c, (void **)&r) != REDIS_OK)
				return false;
			if (!r)
				break;
			ping_sent = 0;
			if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
			    reply_is_str(r->element[0]) && !strcmp(r->element[0]->str, "message") &&
			    reply_is_str(r->element[2]))
				switch_master(s, r->element[2]->str, r->element[2]->len);
			freeReplyObject(r);
		}
		n = poll(p, 2, ping_sent ? (int)s->timeout_ms : LISTEN_IDLE_MS);
		if (atomic_load(&s->watch_stop))
			return true;
		if (n < 0)
			continue;
		if (n == 0) {
			if (ping_sent)
				return false; /* silent sentinel: try the next one */
			if (redisAppendCommand(c, "PING") != REDIS_OK)
				return false;
			do {
				if (redisBufferWrite(c, &done) != REDIS_OK)
					return false;
			} while (!done);
			ping_sent = mono_ms();
			continue;
		}
		if (p[0].revents && redisBufferRead(c) != REDIS_OK)
			return false;
	}
}

static void *watch_main(void *arg)
{
	struct store *s = arg;
	bool down = false;
	char why[200];

	for (int i = 0; !atomic_load(&s->watch_stop); i = (i + 1) % s->url.nsentinels) {
		redisContext *c = sentinel_connect(s, i, why, sizeof why);
		redisReply *r = c ? redisCommand(c, "SUBSCRIBE +switch-master") : NULL;
		struct pollfd p = {.fd = s->watch_pipe[0], .events = POLLIN};

		if (r && r->type == REDIS_REPLY_ARRAY) {
			if (down)
				slog(s, LOG_NOTICE, "store: sentinel watcher subscribed again");
			down = false;
			/* a switch announced while nobody listened: ask again */
			sentinel_lost(s, false);
			watch_loop(s, c);
		} else if (!down && i == s->url.nsentinels - 1) {
			slog(s, LOG_ERR, "store: no sentinel takes SUBSCRIBE +switch-master (%s)",
			     c ? (r && r->type == REDIS_REPLY_ERROR ? r->str : "bad reply") : why);
			down = true;
		}
		if (r)
			freeReplyObject(r);
		if (c)
			redisFree(c);
		if (!atomic_load(&s->watch_stop))
			poll(&p, 1, (int)s->retry_ms);
	}
	return NULL;
}

int sentinel_watch_start(struct store *s)
{
	if (!s->url.master || s->watching)
		return 0;
	atomic_store(&s->watch_stop, false);
	if (pipe2(s->watch_pipe, O_CLOEXEC | O_NONBLOCK))
		return -errno;
	if (pthread_create(&s->watch, NULL, watch_main, s)) {
		close(s->watch_pipe[0]);
		close(s->watch_pipe[1]);
		s->watch_pipe[0] = s->watch_pipe[1] = -1;
		return -EAGAIN;
	}
	s->watching = true;
	return 0;
}

void sentinel_watch_stop(struct store *s)
{
	ssize_t w;

	if (!s->watching)
		return;
	atomic_store(&s->watch_stop, true);
	w = write(s->watch_pipe[1], "x", 1);
	(void)w;
	pthread_join(s->watch, NULL);
	close(s->watch_pipe[0]);
	close(s->watch_pipe[1]);
	s->watch_pipe[0] = s->watch_pipe[1] = -1;
	s->watching = false;
}
