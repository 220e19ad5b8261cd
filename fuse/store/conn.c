/* conn.c - the store's connections: one per thread, made on first use, re-made after an
 * error; the outage state (down, why, logged once); opening and closing the store. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "store/internal.h"

int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void slog(struct store *s, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (s && s->log)
		s->log(s->log_arg, level, msg);
	else
		fprintf(stderr, "pressfs: %s\n", msg);
}

void set_err(struct conn *k, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(k->err, sizeof k->err, fmt, ap);
	va_end(ap);
}

/* ---- outages and refused replies ---- */

static void note_down(struct store *s, const char *why)
{
	pthread_mutex_lock(&s->why_lock);
	snprintf(s->why, sizeof(s->why), "%s", why);
	pthread_mutex_unlock(&s->why_lock);
	if (!atomic_exchange(&s->down, true))
		slog(s, LOG_ERR,
		     "store: Redis at %s not available (%s); shared files give EIO until it is",
		     s->url.where, why);
}

bool store_down(struct store *s, char *why, size_t size)
{
	bool down = atomic_load(&s->down);

	pthread_mutex_lock(&s->why_lock);
	snprintf(why, size, "%s", down ? s->why : "");
	pthread_mutex_unlock(&s->why_lock);
	return down;
}

static void note_up(struct store *s)
{
	if (atomic_exchange(&s->down, false))
		slog(s, LOG_NOTICE, "store: Redis reachable again");
}

/* The connection is still in step, only this call fails.  Logged at most once a second so a
 * misconfigured server cannot flood the log. */
int refused(struct store *s, struct conn *k, const char *what, const redisReply *r)
{
	long long sec = mono_ms() / 1000;

	k->oom = r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "OOM", 3);
	/* a primary demoted under us: find the new one, and move every connection to it */
	if (r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "READONLY", 8)) {
		sentinel_lost(s, true);
		route_lost(s, true);
	}
	if (r && r->type == REDIS_REPLY_ERROR)
		set_err(k, "%s: Redis replied: %.*s", what, (int)r->len, r->str);
	else
		set_err(k, "%s: unexpected reply (type %d)", what, r ? r->type : -1);
	if (atomic_exchange(&s->last_err_log, sec) != sec)
		slog(s, LOG_ERR, "store: %s", k->err);
	return -EIO;
}

/* ---- connections ---- */

const char *io_reason(const redisContext *c, unsigned timeout_ms, char *buf, size_t size)
{
	if (c->err == REDIS_ERR_IO && strcmp(c->errstr, strerror(EAGAIN)) == 0)
		snprintf(buf, size, "no answer within %u ms", timeout_ms);
	else if (c->err == REDIS_ERR_EOF)
		snprintf(buf, size, "connection closed by the server");
	else
		snprintf(buf, size, "%s", c->errstr[0] ? c->errstr : "I/O error");
	return buf;
}

/* AUTH user password (Redis 6 ACLs); with no user, the one-argument form.  The reply's
 * text is Redis's own ("WRONGPASS ..."), never the password. */
int auth(struct store *s, redisContext *c, char *why, size_t whylen)
{
	const char *user = s->user ? s->user : "";
	const char *argv[3] = {"AUTH", user, s->pass};
	size_t lens[3] = {4, strlen(user), strlen(s->pass)};
	redisReply *r;
	int rc = 0;

	if (!user[0])
		argv[1] = s->pass, lens[1] = lens[2];
	r = redisCommandArgv(c, user[0] ? 3 : 2, argv, lens);
	if (!r) {
		io_reason(c, s->timeout_ms, why, whylen);
		return -EIO;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(why, whylen, "AUTH refused: %s", r->str);
		rc = -EIO;
	}
	freeReplyObject(r);
	return rc;
}

int connect_raw(struct store *s, redisContext **out, char *why, size_t whylen)
{
	struct timeval tv = ms_tv(s->timeout_ms);
	redisContext *c;
	redisReply *r = NULL;

	*out = NULL;
	if (s->url.master || s->url.cluster) {
		char host[256];
		int port;

		if (s->url.master ? sentinel_primary(s, host, sizeof host, &port, why, whylen)
				  : route_primary(s, host, sizeof host, &port, why, whylen))
			return -EIO;
		c = redisConnectWithTimeout(host, port, tv);
	} else {
		c = s->url.unix_path ? redisConnectUnixWithTimeout(s->url.unix_path, tv)
				     : redisConnectWithTimeout(s->url.host, s->url.port, tv);
	}
	if (!c) {
		snprintf(why, whylen, "out of memory");
		return -EIO;
	}
	if (c->err || redisSetTimeout(c, tv) != REDIS_OK) {
		io_reason(c, s->timeout_ms, why, whylen);
		goto fail;
	}
	if (s->pass && auth(s, c, why, whylen))
		goto fail;
	if (s->url.master && sentinel_check_role(s, c, why, whylen))
		goto fail;
	if (s->url.db) {
		r = redisCommand(c, "SELECT %d", s->url.db);
		if (!r) {
			io_reason(c, s->timeout_ms, why, whylen);
			goto fail;
		}
		if (r->type == REDIS_REPLY_ERROR) {
			snprintf(why, whylen, "SELECT %d refused: %s", s->url.db, r->str);
			goto fail;
		}
		freeReplyObject(r);
	}
	*out = c;
	return 0;
fail:
	if (r)
		freeReplyObject(r);
	if (c->err) { /* a dead primary: ask the sentinels (the cluster) next time */
		sentinel_lost(s, false);
		route_lost(s, false);
	}
	redisFree(c);
	return -EIO;
}

/* The init script's answer R (see lua/init.lua).  0, or -EIO/-EPROTO with K's error set. */
static int init_answer(struct store *s, struct conn *k, const redisReply *r)
{
	struct cluster_redirect d;

	if (route_redirect(s, r, &d) != ROUTE_NONE) {
		set_err(k, "site check: %s (the site's slot is moving)", r->str);
		return -EAGAIN; /* connect again, to where the slot is now */
	}
	if (r->type != REDIS_REPLY_INTEGER) {
		set_err(k, "site check refused: %s",
			r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
		return -EIO;
	}
	if (r->integer == -EPROTO) {
		set_err(k, "site %s holds a store format other than %d", s->prefix,
			STORE_FORMAT_VERSION);
		return -EPROTO;
	}
	if (r->integer == -ENODATA) {
		/* keys it cannot vouch for: refused, as another format would be */
		set_err(k,
			"the store lost data (format key missing): was Redis flushed or "
			"evicting? Site %s has keys but no format marker",
			s->prefix);
		return -EPROTO;
	}
	if (r->integer == 1 && s->ready)
		slog(s, LOG_ERR,
		     "store: the store lost data (format key missing): was Redis flushed or "
		     "evicting? Site %s had lost its keys; re-created it empty",
		     s->prefix);
	else if (r->integer == 2)
		slog(s, LOG_WARNING,
		     "store: site %s had lost its root directory (Redis lost its data?); "
		     "re-created it empty",
		     s->prefix);
	return 0;
}

/* A new connection for K: connect, load the scripts (pipelined) and make sure the site is
 * there.  0, -EIO, or -EPROTO when the site holds another format version. */
static int conn_connect(struct store *s, struct conn *k)
{
	const struct script *init = &store_scripts[SC_INIT];
	char why[160], ver[16], now[24];
	redisContext *c;
	redisReply *r = NULL;
	unsigned gen = atomic_load(&s->prim_gen);
	int rc, i;

	rc = connect_raw(s, &c, why, sizeof why);
	if (rc) {
		set_err(k, "%s", why);
		return rc;
	}
	for (i = 0; i < SC_COUNT; i++) {
		const char *argv[] = {"SCRIPT", "LOAD", store_scripts[i].text};
		size_t lens[] = {6, 4, store_scripts[i].len};

		redisAppendCommandArgv(c, 3, argv, lens);
	}
	snprintf(ver, sizeof ver, "%d", STORE_FORMAT_VERSION);
	snprintf(now, sizeof now, "%" PRId64, real_ns());
	{
		const char *argv[] = {"EVAL", init->text, "1", s->prefix, now, s->peer, "0", ver};
		size_t lens[] = {4,	      init->len,   1, s->prefix_len,
				 strlen(now), s->peer_len, 1, strlen(ver)};
		redisAppendCommandArgv(c, 8, argv, lens);
	}
	for (i = 0; i <= SC_COUNT; i++) {
		if (redisGetReply(c, (void **)&r) != REDIS_OK) {
			set_err(k, "%s", io_reason(c, s->timeout_ms, why, sizeof why));
			rc = -EIO;
			goto fail;
		}
		if (i == SC_COUNT) {
			rc = init_answer(s, k, r);
			if (rc)
				goto fail;
		} else if (r->type != REDIS_REPLY_STRING || r->len != 40) {
			set_err(k, "SCRIPT LOAD %s refused: %s", store_scripts[i].name,
				r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
			rc = -EIO;
			goto fail;
		} else {
			memcpy(k->sha[i], r->str, 41);
		}
		freeReplyObject(r);
		r = NULL;
	}
	k->c = c;
	k->gen = gen;
	k->id_next = k->id_end = 0; /* ids reserved before a restart may be handed out again */
	return 0;
fail:
	if (r)
		freeReplyObject(r);
	/* the rest of the pipeline's replies go with the context */
	redisFree(c);
	return rc;
}

static void conn_free(struct conn *k)
{
	if (k->c)
		redisFree(k->c);
	free(k);
}

/* Thread exit: drop the thread's connection. */
static void conn_destroy(void *p)
{
	struct conn *k = p;
	struct store *s = k->s;

	pthread_mutex_lock(&s->lock);
	if (k->prev)
		k->prev->next = k->next;
	else
		s->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	pthread_mutex_unlock(&s->lock);
	conn_free(k);
}

int conn_fail(struct store *s, struct conn *k)
{
	char why[160];

	if (k->c) {
		if (k->c->err) /* else the caller has set k->err */
			set_err(k, "%s", io_reason(k->c, s->timeout_ms, why, sizeof why));
		redisFree(k->c);
		k->c = NULL;
	}
	k->retry_at_ms = mono_ms() + s->retry_ms;
	sentinel_lost(s, false);
	route_lost(s, false);
	note_down(s, k->err);
	return -EIO;
}

/* Anything readable on an idle connection is the server's EOF (a restart, an idle timeout):
 * the connection is replaced before a command is lost on it. */
static bool conn_stale(const struct conn *k)
{
	struct pollfd p = {.fd = k->c->fd, .events = POLLIN};

	return poll(&p, 1, 0) > 0;
}

struct conn *conn_current(struct store *s)
{
	return pthread_getspecific(s->key);
}

struct redisContext *store_raw_context(struct store *s, int *err)
{
	struct conn *k;
	int rc = conn_get(s, &k);

	if (rc) {
		*err = rc == -EPROTO ? -EIO : rc;
		return NULL;
	}
	return k->c;
}

int conn_get(struct store *s, struct conn **out)
{
	struct conn *k = pthread_getspecific(s->key);
	int rc;

	if (!k) {
		k = calloc(1, sizeof *k);
		if (!k)
			return -ENOMEM;
		k->s = s;
		if (pthread_setspecific(s->key, k)) {
			free(k);
			return -ENOMEM;
		}
		pthread_mutex_lock(&s->lock);
		k->next = s->conns;
		if (s->conns)
			s->conns->prev = k;
		s->conns = k;
		pthread_mutex_unlock(&s->lock);
	}
	*out = k;
	if (k->c) {
		if (!conn_stale(k) && k->gen == atomic_load(&s->prim_gen))
			return 0;
		redisFree(k->c);
		k->c = NULL;
		k->retry_at_ms = 0; /* reconnect at once */
	}
	if (mono_ms() < k->retry_at_ms)
		return -EIO;
	rc = conn_connect(s, k);
	/* a cluster's slot on its way: after a pause, to where it is now */
	for (int i = 0; rc == -EAGAIN && i < ROUTE_TRIES; i++) {
		struct timespec ts = {0, ROUTE_PAUSE_MS * 1000000L};

		nanosleep(&ts, NULL);
		rc = conn_connect(s, k);
	}
	if (rc == -EAGAIN)
		rc = -EIO;
	if (rc) {
		k->retry_at_ms = mono_ms() + s->retry_ms;
		if (rc != -EPROTO)
			note_down(s, k->err);
		else if (!atomic_exchange(&s->proto_logged, true))
			slog(s, LOG_ERR, "store: %s", k->err); /* once, not every retry */
		return rc;
	}
	atomic_store(&s->proto_logged, false);
	note_up(s);
	return 0;
}

/* ---- opening ---- */

/* Refuse a Redis that may evict keys: an evicted chunk or inode is a file gone without a
 * trace, which pressfs cannot tell from a deletion.  INFO, not CONFIG GET: a site's ACL
 * user (docs/FORMAT.md) may read it.  -EPERM, logged; a Redis that will not say is only
 * warned about. */
static int check_eviction(struct store *s, bool allow)
{
	redisContext *c;
	redisReply *r;
	const char *p;
	char policy[32] = "", why[160];
	int rc = 0;

	if (connect_raw(s, &c, why, sizeof why))
		return 0; /* the first connection below says why */
	r = redisCommand(c, "INFO memory");
	redisFree(c);
	if (!r)
		return 0;
	if (r->type != REDIS_REPLY_STRING) {
		slog(s, LOG_WARNING,
		     "store: cannot read Redis's maxmemory-policy (%s): it must be noeviction, "
		     "or files may vanish",
		     r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
		freeReplyObject(r);
		return 0;
	}
	p = strstr(r->str, "maxmemory_policy:");
	if (p)
		sscanf(p + 17, "%31[a-z-]", policy);
	if (policy[0] && strcmp(policy, "noeviction")) {
		slog(s, allow ? LOG_WARNING : LOG_ERR,
		     "store: Redis at %s has maxmemory-policy %s: it may evict keys, and files "
		     "would vanish without a trace%s",
		     s->url.where, policy,
		     allow ? " (allowed by allow_evicting)"
			   : "; set maxmemory-policy noeviction, or accept the risk with "
			     "allow_evicting");
		rc = allow ? 0 : -EPERM;
	}
	freeReplyObject(r);
	return rc;
}

static void store_free(struct store *s)
{
	cluster_map_free(&s->cmap);
	url_free(&s->url);
	free(s->user);
	if (s->pass) {
		explicit_bzero(s->pass, strlen(s->pass));
		free(s->pass);
	}
	free(s->prefix);
	free(s->peer);
	free(s);
}

/* Who AUTH says we are: each of user and password from the config when set, else from the
 * URL.  No password: no AUTH. */
static int store_auth(struct store *s, const struct store_config *cfg)
{
	const char *user = cfg->user && cfg->user[0] ? cfg->user : s->url.user;
	const char *pass = cfg->password && cfg->password[0] ? cfg->password : s->url.pass;

	if (!pass) {
		if (user && user[0]) {
			slog(s, LOG_ERR, "store: a Redis user was given without a password");
			return -EINVAL;
		}
		return 0;
	}
	s->user = strdup(user ? user : "");
	s->pass = strdup(pass);
	return s->user && s->pass ? 0 : -ENOMEM;
}

/* Everything store_open takes from CFG but the connection.  0, -EINVAL (logged), -ENOMEM. */
static int store_setup(struct store *s, const struct store_config *cfg)
{
	char prefix[KEY_MAX], msg[256];
	int rc;

	if (key_prefix(prefix, cfg->site)) {
		slog(s, LOG_ERR, "store: bad site name \"%.64s\": 1-64 of [A-Za-z0-9._-]",
		     cfg->site ? cfg->site : "");
		return -EINVAL;
	}
	rc = url_parse(&s->url, cfg->url, msg, sizeof msg);
	if (rc) {
		if (rc == -EINVAL)
			slog(s, LOG_ERR, "store: %s", msg);
		return rc;
	}
	rc = store_auth(s, cfg);
	if (rc)
		return rc;
	if (cfg->peer && cfg->peer[0]) {
		s->peer = strdup(cfg->peer);
	} else {
		char host[HOST_NAME_MAX + 1] = "peer";

		gethostname(host, sizeof host);
		host[HOST_NAME_MAX] = '\0';
		if (asprintf(&s->peer, "%s:%d", host, (int)getpid()) < 0)
			s->peer = NULL;
	}
	s->prefix = strdup(prefix);
	if (!s->peer || !s->prefix)
		return -ENOMEM;
	s->prefix_len = strlen(s->prefix);
	s->site_slot = cluster_slot(s->prefix, s->prefix_len);
	s->peer_len = strlen(s->peer);
	if (s->peer_len > PEER_MAX) {
		slog(s, LOG_ERR, "store: peer id longer than %d bytes", PEER_MAX);
		return -EINVAL;
	}
	return 0;
}

int store_open(const struct store_config *cfg, struct store **out)
{
	struct store *s;
	struct conn *k;
	int rc;

	*out = NULL;
	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->log = cfg->log;
	s->log_arg = cfg->log_arg;
	pthread_mutex_init(&s->why_lock, NULL);
	pthread_mutex_init(&s->prim_lock, NULL);
	{
		pthread_rwlockattr_t ra;

		pthread_rwlockattr_init(&ra);
		pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&s->changes, &ra);
		pthread_rwlockattr_destroy(&ra);
	}
	s->stop_pipe[0] = s->stop_pipe[1] = -1;
	s->watch_pipe[0] = s->watch_pipe[1] = -1;
	s->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 2000;
	atomic_store(&s->listen_fd, -1);
	s->retry_ms = cfg->retry_ms ? cfg->retry_ms : 500;
	s->pending_ttl_s = cfg->pending_ttl_s ? cfg->pending_ttl_s : 3600;
	s->grace_ms = cfg->grace_ms ? cfg->grace_ms : 60000;

	rc = store_setup(s, cfg);
	if (rc)
		goto fail;
	if (cfg->durability_set) {
		s->wait_replicas = cfg->durability;
		s->wait_ms = cfg->durability_timeout_ms ? cfg->durability_timeout_ms : 1000;
	} else if (s->url.master || s->url.cluster) {
		s->wait_replicas = 1;
		s->wait_ms = 1000;
	}
	if (pipe2(s->stop_pipe, O_CLOEXEC | O_NONBLOCK)) {
		rc = -errno;
		goto fail;
	}
	rc = pthread_mutex_init(&s->lock, NULL);
	if (rc) {
		rc = -rc;
		goto fail_pipe;
	}
	rc = pthread_key_create(&s->key, conn_destroy);
	if (rc) {
		rc = -rc;
		goto fail_mutex;
	}
	/* before the first connection, which creates an empty site */
	rc = check_eviction(s, cfg->allow_evicting);
	if (!rc)
		rc = conn_get(s, &k);
	if (rc)
		goto fail_key;
	s->ready = true;
	*out = s;
	return 0;
fail_key:
	while (s->conns) {
		k = s->conns;
		s->conns = k->next;
		conn_free(k);
	}
	pthread_key_delete(s->key);
fail_mutex:
	pthread_mutex_destroy(&s->lock);
fail_pipe:
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
fail:
	pthread_mutex_destroy(&s->why_lock);
	pthread_mutex_destroy(&s->prim_lock);
	pthread_rwlock_destroy(&s->changes);
	store_free(s);
	return rc;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	sentinel_watch_stop(s);
	pthread_setspecific(s->key, NULL);
	pthread_key_delete(s->key);
	while (s->conns) {
		struct conn *k = s->conns;

		s->conns = k->next;
		conn_free(k);
	}
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->why_lock);
	pthread_mutex_destroy(&s->prim_lock);
	pthread_rwlock_destroy(&s->changes);
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
	store_free(s);
}

void store_set_logger(struct store *s, store_log_fn log, void *arg)
{
	s->log = log;
	s->log_arg = arg;
}

const char *store_strerror(struct store *s)
{
	struct conn *k = pthread_getspecific(s->key);

	return k ? k->err : "";
}
