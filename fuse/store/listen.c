/* listen.c - the store's pub/sub listener: one subscription to the site's channel, its
 * messages decoded for the overlay, re-subscribed (and everything forgotten) after a loss. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "store/internal.h"

/* Sleep MS or until store_listen_stop.  True when stopped. */
static bool wait_stop(struct store *s, int ms)
{
	struct pollfd p = {.fd = s->stop_pipe[0], .events = POLLIN};

	if (atomic_load(&s->listen_stop))
		return true;
	poll(&p, 1, ms);
	return atomic_load(&s->listen_stop);
}

/* One published message: "E <dir> <origin>\0<name>" or "I <ino> <origin>\0". */
static void deliver(struct store *s, const char *m, size_t len, store_inval_cb cb, void *arg)
{
	char origin[PEER_MAX + 1];
	const char *nul = memchr(m, '\0', len), *sp;
	uint64_t ino;
	(void)s;

	if (!nul || len < 5 || m[1] != ' ' || (m[0] != 'E' && m[0] != 'I'))
		goto unknown;
	sp = memchr(m + 2, ' ', (size_t)(nul - m - 2));
	if (!sp || !parse_u64(m + 2, (size_t)(sp - m - 2), 10, &ino) ||
	    (size_t)(nul - sp - 1) > PEER_MAX)
		goto unknown;
	memcpy(origin, sp + 1, (size_t)(nul - sp - 1));
	origin[nul - sp - 1] = '\0';
	if (m[0] == 'E')
		cb(arg, origin, STORE_INVAL_ENTRY, ino, nul + 1, len - (size_t)(nul + 1 - m));
	else
		cb(arg, origin, STORE_INVAL_INODE, ino, NULL, 0);
	return;
unknown:
	/* a message of a later format revision, or damage: forget everything to be safe */
	cb(arg, "", STORE_INVAL_ALL, 0, NULL, 0);
}

/* Read the subscription until an error, silence past the timeout, or stop.  True on stop. */
static bool listen_loop(struct store *s, redisContext *c, store_inval_cb cb, void *arg)
{
	int64_t ping_sent = 0;
	unsigned gen = atomic_load(&s->prim_gen);
	char why[160];

	for (;;) {
		struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN},
				      {.fd = s->stop_pipe[0], .events = POLLIN}};
		redisReply *r;
		int n, wait, done;

		for (;;) {
			if (redisGetReplyFromReader(c, (void **)&r) != REDIS_OK) {
				slog(s, LOG_ERR, "store: invalidation listener: %s", c->errstr);
				return false;
			}
			if (!r)
				break;
			ping_sent = 0; /* anything read proves the connection alive */
			if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
			    reply_is_str(r->element[0]) && !strcmp(r->element[0]->str, "message") &&
			    r->element[2]->type == REDIS_REPLY_STRING)
				deliver(s, r->element[2]->str, r->element[2]->len, cb, arg);
			freeReplyObject(r);
		}
		if (ping_sent)
			wait = (int)(ping_sent + s->timeout_ms - mono_ms());
		else
			wait = LISTEN_IDLE_MS;
		if (wait < 0)
			wait = 0;
		n = poll(p, 2, wait);
		if (n < 0 && errno != EINTR)
			return false;
		if (atomic_load(&s->listen_stop))
			return true;
		if (gen != atomic_load(&s->prim_gen)) {
			slog(s, LOG_NOTICE, "store: invalidation listener: the primary moved");
			return false; /* subscribe on the new one */
		}
		if (n == 0) {
			if (ping_sent) {
				slog(s, LOG_ERR,
				     "store: invalidation listener: no answer within %u ms, "
				     "reconnecting",
				     s->timeout_ms);
				return false;
			}
			if (redisAppendCommand(c, "PING") != REDIS_OK)
				return false;
			do {
				if (redisBufferWrite(c, &done) != REDIS_OK)
					goto io;
			} while (!done);
			ping_sent = mono_ms();
			continue;
		}
		if (n > 0 && p[0].revents && redisBufferRead(c) != REDIS_OK)
			goto io;
	}
io:
	slog(s, LOG_ERR, "store: invalidation listener: %s",
	     io_reason(c, s->timeout_ms, why, sizeof why));
	return false;
}

int store_listen(struct store *s, store_inval_cb cb, void *arg)
{
	bool subscribed_before = false, down = false;
	char why[160], chan[KEY_MAX], drain[64];

	key_inval(chan, s->prefix);
	/* here, not in store_open: this thread outlives a daemon's fork, the opener does not */
	if (sentinel_watch_start(s))
		slog(s, LOG_ERR,
		     "store: cannot start the sentinel watcher: fail-overs are "
		     "followed only after an error");
	while (!atomic_load(&s->listen_stop)) {
		redisContext *c;
		redisReply *r;

		if (connect_raw(s, &c, why, sizeof why)) {
			if (!down)
				slog(s, LOG_ERR, "store: invalidation listener: %s; retrying", why);
			down = true;
			wait_stop(s, (int)s->retry_ms);
			continue;
		}
		r = redisCommand(c, "SUBSCRIBE %s", chan);
		if (!r || r->type != REDIS_REPLY_ARRAY) {
			if (!down)
				slog(s, LOG_ERR,
				     "store: invalidation listener: SUBSCRIBE failed: %s",
				     r ? (r->type == REDIS_REPLY_ERROR ? r->str : "bad reply")
				       : io_reason(c, s->timeout_ms, why, sizeof why));
			down = true;
			if (r)
				freeReplyObject(r);
			redisFree(c);
			wait_stop(s, (int)s->retry_ms);
			continue;
		}
		freeReplyObject(r);
		if (down)
			slog(s, LOG_NOTICE, "store: invalidation listener subscribed again");
		down = false;
		if (subscribed_before)
			cb(arg, "", STORE_INVAL_ALL, 0, NULL, 0);
		subscribed_before = true;
		if (!listen_loop(s, c, cb, arg))
			down = true;
		redisFree(c);
		if (down)
			wait_stop(s, (int)s->retry_ms);
	}
	sentinel_watch_stop(s);
	while (read(s->stop_pipe[0], drain, sizeof drain) > 0)
		;
	atomic_store(&s->listen_stop, false);
	return 0;
}

void store_listen_stop(struct store *s)
{
	ssize_t w;

	atomic_store(&s->listen_stop, true);
	w = write(s->stop_pipe[1], "x", 1); /* full pipe: already woken */
	(void)w;
}
