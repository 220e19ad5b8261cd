/* listen.c - the store's pub/sub listener: one subscription to the site's channel, its
 * messages decoded for the overlay and checked against the site's sequence (store/keys.def,
 * `seq`), re-subscribed (and everything forgotten) after a loss, a gap or a lost last message. */
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

/* What one listener knows: the last sequence number it has seen, and the check in flight. */
struct lstate {
	store_inval_cb cb;
	void *arg;
	uint64_t last;	       /* the sequence number of the last message delivered */
	uint64_t check_at;     /* 0, or the `seq` the last check read, beyond `last` */
	uint64_t pings, pongs; /* PINGs sent and answered on the subscription */
	uint64_t check_pong;   /* the answer after which every message up to check_at is in */
	int64_t next_check;    /* monotonic ms */
	redisContext *chk;     /* a second connection for GET seq (not in pub/sub mode) */
};

static void forget_all(struct lstate *l)
{
	l->cb(l->arg, "", STORE_INVAL_ALL, 0, NULL, 0);
}

/* One published message: "E:<seq> <dir> <origin>\0<name>" or "I:<seq> <ino> <origin>\0". */
static void deliver(struct store *s, struct lstate *l, const char *m, size_t len)
{
	char origin[PEER_MAX + 1];
	const char *nul = memchr(m, '\0', len), *sp, *sp2;
	uint64_t ino, seq;

	if (!nul || len < 7 || m[1] != ':' || (m[0] != 'E' && m[0] != 'I'))
		goto unknown;
	sp = memchr(m + 2, ' ', (size_t)(nul - m - 2));
	if (!sp || !parse_u64(m + 2, (size_t)(sp - m - 2), 10, &seq))
		goto unknown;
	sp2 = memchr(sp + 1, ' ', (size_t)(nul - sp - 1));
	if (!sp2 || !parse_u64(sp + 1, (size_t)(sp2 - sp - 1), 10, &ino) ||
	    (size_t)(nul - sp2 - 1) > PEER_MAX)
		goto unknown;
	if (seq != l->last + 1) {
		slog(s, LOG_NOTICE,
		     "store: invalidation %llu after %llu: messages were missed, forgetting "
		     "everything",
		     (unsigned long long)seq, (unsigned long long)l->last);
		l->last = seq;
		forget_all(l);
		return;
	}
	l->last = seq;
	memcpy(origin, sp2 + 1, (size_t)(nul - sp2 - 1));
	origin[nul - sp2 - 1] = '\0';
	if (m[0] == 'E')
		l->cb(l->arg, origin, STORE_INVAL_ENTRY, ino, nul + 1, len - (size_t)(nul + 1 - m));
	else
		l->cb(l->arg, origin, STORE_INVAL_INODE, ino, NULL, 0);
	return;
unknown:
	/* a message of another format revision, or damage: forget everything to be safe */
	forget_all(l);
}

/* The site's sequence number on C into *SEQ (0 while no message was ever sent). */
static int read_seq(struct store *s, redisContext *c, uint64_t *seq)
{
	char key[KEY_MAX];
	redisReply *r;
	int rc = 0;

	key_seq(key, s->prefix);
	r = redisCommand(c, "GET %s", key);
	if (!r)
		return -EIO;
	*seq = 0;
	if (r->type == REDIS_REPLY_STRING) {
		if (!parse_u64(r->str, r->len, 10, seq))
			rc = -EIO;
	} else if (r->type != REDIS_REPLY_NIL) {
		struct cluster_redirect d;

		/* a cluster whose site's slot moved: the caller connects again, to its node */
		route_redirect(s, r, &d);
		rc = -EIO;
	}
	freeReplyObject(r);
	return rc;
}

static int send_ping(redisContext *c, struct lstate *l)
{
	int done;

	if (redisAppendCommand(c, "PING") != REDIS_OK)
		return -EIO;
	do {
		if (redisBufferWrite(c, &done) != REDIS_OK)
			return -EIO;
	} while (!done);
	l->pings++;
	return 0;
}

/* The periodic check (SEQ_CHECK_MS): a message published but never received (the last one
 * of a burst, when nothing follows to show the gap) shows as `seq` beyond the last number
 * seen.  It may still be on its way: a PING sent now is answered after it, so the verdict
 * waits for that answer.  A check that cannot be made is tried again next time. */
static int check_seq(struct store *s, redisContext *c, struct lstate *l)
{
	char why[160];
	uint64_t seq;

	l->next_check = mono_ms() + SEQ_CHECK_MS;
	if (l->check_at)
		return 0; /* the last one is still waiting for its answer */
	if (!l->chk && connect_raw(s, &l->chk, why, sizeof why))
		return 0;
	if (read_seq(s, l->chk, &seq)) {
		redisFree(l->chk);
		l->chk = NULL;
		return 0;
	}
	if (seq == l->last)
		return 0;
	l->check_at = seq;
	if (send_ping(c, l))
		return -EIO;
	l->check_pong = l->pings;
	return 0;
}

static void on_pong(struct store *s, struct lstate *l)
{
	l->pongs++;
	if (!l->check_at || l->pongs < l->check_pong)
		return;
	if (l->check_at != l->last) {
		slog(s, LOG_NOTICE,
		     "store: invalidation sequence is at %llu, the last message seen %llu: "
		     "forgetting everything",
		     (unsigned long long)l->check_at, (unsigned long long)l->last);
		l->last = l->check_at;
		forget_all(l);
	}
	l->check_at = 0;
}

static bool is_pong(const redisReply *r)
{
	return (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && reply_is_str(r->element[0]) &&
		!strcasecmp(r->element[0]->str, "pong")) ||
	       (r->type == REDIS_REPLY_STATUS && !strcasecmp(r->str, "PONG"));
}

/* Read the subscription until an error, silence past the timeout, or stop.  True on stop.
 * One piece: the replies, the keep-alive PING and the sequence check share one poll. */
static bool listen_loop(struct store *s, redisContext *c, struct lstate *l)
{
	int64_t ping_sent = 0, idle_at = mono_ms() + LISTEN_IDLE_MS;
	unsigned gen = atomic_load(&s->prim_gen);
	char why[160];

	for (;;) {
		struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN},
				      {.fd = s->stop_pipe[0], .events = POLLIN}};
		redisReply *r;
		int64_t now, until;
		int n;

		for (;;) {
			if (redisGetReplyFromReader(c, (void **)&r) != REDIS_OK) {
				slog(s, LOG_ERR, "store: invalidation listener: %s", c->errstr);
				return false;
			}
			if (!r)
				break;
			ping_sent = 0; /* anything read proves the connection alive */
			idle_at = mono_ms() + LISTEN_IDLE_MS;
			if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
			    reply_is_str(r->element[0]) && !strcmp(r->element[0]->str, "message") &&
			    r->element[2]->type == REDIS_REPLY_STRING)
				deliver(s, l, r->element[2]->str, r->element[2]->len);
			else if (is_pong(r))
				on_pong(s, l);
			freeReplyObject(r);
		}
		atomic_store(&s->listen_busy, false);
		now = mono_ms();
		if (now >= l->next_check && check_seq(s, c, l))
			goto io;
		until = ping_sent ? ping_sent + s->timeout_ms : idle_at;
		if (l->next_check < until)
			until = l->next_check;
		n = poll(p, 2, until > now ? (int)(until - now) : 0);
		if (n < 0 && errno != EINTR)
			return false;
		if (atomic_load(&s->listen_stop))
			return true;
		if (gen != atomic_load(&s->prim_gen)) {
			slog(s, LOG_NOTICE, "store: invalidation listener: the primary moved");
			return false; /* subscribe on the new one */
		}
		if (n > 0 && p[0].revents) {
			atomic_store(&s->listen_busy, true); /* until the loop above delivers */
			if (redisBufferRead(c) != REDIS_OK)
				goto io;
			continue;
		}
		now = mono_ms();
		if (ping_sent && now >= ping_sent + s->timeout_ms) {
			slog(s, LOG_ERR,
			     "store: invalidation listener: no answer within %u ms, reconnecting",
			     s->timeout_ms);
			return false;
		}
		if (!ping_sent && now >= idle_at) {
			if (send_ping(c, l))
				goto io;
			ping_sent = now;
		}
	}
io:
	slog(s, LOG_ERR, "store: invalidation listener: %s",
	     io_reason(c, s->timeout_ms, why, sizeof why));
	return false;
}

/* Connect and subscribe.  The sequence is read first, on the same connection: a message
 * published between the two is lost, and the next one shows the gap.  0, or -EIO with WHY. */
static int subscribe(struct store *s, struct lstate *l, redisContext **out, char *why, size_t size)
{
	char chan[KEY_MAX];
	redisContext *c;
	redisReply *r;

	key_inval(chan, s->prefix);
	if (connect_raw(s, &c, why, size))
		return -EIO;
	if (read_seq(s, c, &l->last)) {
		io_reason(c, s->timeout_ms, why, size);
		redisFree(c);
		return -EIO;
	}
	r = redisCommand(c, "SUBSCRIBE %s", chan);
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		snprintf(why, size, "SUBSCRIBE failed: %s",
			 r ? (r->type == REDIS_REPLY_ERROR ? r->str : "bad reply")
			   : io_reason(c, s->timeout_ms, why, size));
		if (r)
			freeReplyObject(r);
		redisFree(c);
		return -EIO;
	}
	freeReplyObject(r);
	*out = c;
	return 0;
}

int store_listen(struct store *s, store_inval_cb cb, void *arg)
{
	struct lstate l = {.cb = cb, .arg = arg};
	bool down = false, lost = true;
	char why[160], drain[64];

	/* here, not in store_open: this thread outlives a daemon's fork, the opener does not */
	if (sentinel_watch_start(s))
		slog(s, LOG_ERR,
		     "store: cannot start the sentinel watcher: fail-overs are "
		     "followed only after an error");
	while (!atomic_load(&s->listen_stop)) {
		redisContext *c;

		if (subscribe(s, &l, &c, why, sizeof why)) {
			if (!down)
				slog(s, LOG_ERR, "store: invalidation listener: %s; retrying", why);
			down = true;
			wait_stop(s, (int)s->retry_ms);
			continue;
		}
		if (down)
			slog(s, LOG_NOTICE, "store: invalidation listener subscribed again");
		down = false;
		/* In step from here: whatever was kept before is forgotten. */
		l.check_at = l.pings = l.pongs = 0;
		l.next_check = mono_ms() + SEQ_CHECK_MS;
		forget_all(&l);
		lost = false;
		atomic_store(&s->listen_fd, c->fd);
		if (!listen_loop(s, c, &l))
			down = true;
		atomic_store(&s->listen_fd, -1);
		atomic_store(&s->listen_busy, false);
		redisFree(c);
		if (!lost) {
			cb(arg, "", STORE_INVAL_LOST, 0, NULL, 0);
			lost = true;
		}
		if (down)
			wait_stop(s, (int)s->retry_ms);
	}
	sentinel_watch_stop(s);
	if (l.chk)
		redisFree(l.chk);
	while (read(s->stop_pipe[0], drain, sizeof drain) > 0)
		;
	atomic_store(&s->listen_stop, false);
	return 0;
}

bool store_listen_pending(struct store *s)
{
	struct pollfd p = {.fd = atomic_load(&s->listen_fd), .events = POLLIN};

	if (atomic_load(&s->listen_busy))
		return true;
	return p.fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

void store_listen_stop(struct store *s)
{
	ssize_t w;

	atomic_store(&s->listen_stop, true);
	w = write(s->stop_pipe[1], "x", 1); /* full pipe: already woken */
	(void)w;
}
