/* store.c - the shared store: one site's upper layer kept in Redis through hiredis, one
 * connection per thread, every metadata change one Lua script (see store.h, docs/FORMAT.md). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "path.h"
#include "store.h"
#include "store_lua.h"

enum script_id {
	SC_INIT,
	SC_LOOKUP,
	SC_RESOLVE,
	SC_CREATE,
	SC_COPYUP_DIR,
	SC_PUBLISH_NEW,
	SC_COMMIT,
	SC_APPEND,
	SC_SETATTR,
	SC_REMOVE,
	SC_RENAME,
	SC_DROP_CACHE,
	SC_COUNT
};

static const struct {
	const char *name;
	const char *text;
} scripts[SC_COUNT] = {
    [SC_INIT] = {"init", lua_init},
    [SC_LOOKUP] = {"lookup", lua_lookup},
    [SC_RESOLVE] = {"resolve", lua_resolve},
    [SC_CREATE] = {"create", lua_create},
    [SC_COPYUP_DIR] = {"copyup_dir", lua_copyup_dir},
    [SC_PUBLISH_NEW] = {"publish_new", lua_publish_new},
    [SC_COMMIT] = {"commit", lua_commit},
    [SC_APPEND] = {"append", lua_append},
    [SC_SETATTR] = {"setattr", lua_setattr},
    [SC_REMOVE] = {"remove", lua_remove},
    [SC_RENAME] = {"rename", lua_rename},
    [SC_DROP_CACHE] = {"drop_cache", lua_drop_cache},
};

#define ID_BATCH       256  /* chunk ids reserved per INCRBY */
#define LISTEN_IDLE_MS 5000 /* a silent subscription is PINGed after this long */
#define NODE_MAX       255
#define TARGET_MAX     4095
#define ARGS_MAX       16

/* One thread's connection.  Owned by the store (its list) and pointed to by the thread's key. */
struct conn {
	struct store *s;
	redisContext *c;	  /* NULL while disconnected */
	int64_t retry_at_ms;	  /* monotonic: before this, fail at once */
	uint64_t id_next, id_end; /* reserved chunk ids [next, end) */
	char sha[SC_COUNT][41];
	char err[192];
	struct conn *prev, *next;
};

struct store {
	/* where */
	char *host;
	int port;
	char *unix_path;
	char *user, *pass;
	int db;
	char *prefix;
	size_t prefix_len;
	char *node;
	size_t node_len;
	char where[160]; /* host:port or unix:path, for messages */
	unsigned timeout_ms, retry_ms, pending_ttl_s, grace_ms;
	store_log_fn log;
	void *log_arg;

	pthread_key_t key;
	pthread_mutex_t lock; /* conns */
	struct conn *conns;
	bool ready;	  /* store_open has succeeded: an empty site is data loss */
	atomic_bool down; /* an outage has been logged and not yet its end */
	pthread_mutex_t why_lock;
	char why[160];		   /* the reason of the current or last outage */
	atomic_llong last_err_log; /* second of the last logged error reply */

	int stop_pipe[2]; /* store_listen_stop writes, store_listen polls */
	atomic_bool listen_stop;
};

/* ---- small helpers ---- */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct timeval ms_tv(unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	return tv;
}

__attribute__((format(printf, 3, 4))) static void slog(struct store *s, int level, const char *fmt,
						       ...)
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

__attribute__((format(printf, 2, 3))) static void set_err(struct conn *k, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(k->err, sizeof k->err, fmt, ap);
	va_end(ap);
}

/* Strict decimal (or octal) digits of P[0..LEN) into *V; false on anything else or overflow. */
static bool parse_u64(const char *p, size_t len, unsigned base, uint64_t *v)
{
	uint64_t x = 0;

	if (len == 0 || len > 22)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(p[i] - '0');
		if (d >= base || x > (UINT64_MAX - d) / base)
			return false;
		x = x * base + d;
	}
	*v = x;
	return true;
}

static bool parse_i64(const char *p, size_t len, int64_t *v)
{
	uint64_t u;
	bool neg = len > 0 && p[0] == '-';

	if (!parse_u64(p + neg, len - neg, 10, &u) || u > (uint64_t)INT64_MAX)
		return false;
	*v = neg ? -(int64_t)u : (int64_t)u;
	return true;
}

static bool reply_is_str(const redisReply *r)
{
	return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

/* ino from a script's reply element: a string of digits or an integer. */
static bool reply_u64(const redisReply *r, uint64_t *v)
{
	if (r->type == REDIS_REPLY_INTEGER && r->integer >= 0) {
		*v = (uint64_t)r->integer;
		return true;
	}
	return reply_is_str(r) && parse_u64(r->str, r->len, 10, v);
}

static int check_name(const char *name, size_t len)
{
	if (!name)
		return -EINVAL;
	return path_check_name(name, len);
}

/* ---- logging of outages and refused replies ---- */

static void note_down(struct store *s, const char *why)
{
	pthread_mutex_lock(&s->why_lock);
	snprintf(s->why, sizeof(s->why), "%s", why);
	pthread_mutex_unlock(&s->why_lock);
	if (!atomic_exchange(&s->down, true))
		slog(s, LOG_ERR,
		     "store: Redis at %s not available (%s); shared files give EIO until it is",
		     s->where, why);
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

/* A reply of the wrong type or an error reply: the connection is still in step, only this
 * call fails.  Logged at most once a second so a misconfigured server cannot flood the log. */
static int refused(struct store *s, struct conn *k, const char *what, const redisReply *r)
{
	long long sec = mono_ms() / 1000;

	if (r && r->type == REDIS_REPLY_ERROR)
		set_err(k, "%s: Redis replied: %.*s", what, (int)r->len, r->str);
	else
		set_err(k, "%s: unexpected reply (type %d)", what, r ? r->type : -1);
	if (atomic_exchange(&s->last_err_log, sec) != sec)
		slog(s, LOG_ERR, "store: %s", k->err);
	return -EIO;
}

/* ---- connections ---- */

static const char *io_reason(const redisContext *c, unsigned timeout_ms, char *buf, size_t size)
{
	if (c->err == REDIS_ERR_IO && strcmp(c->errstr, strerror(EAGAIN)) == 0)
		snprintf(buf, size, "no answer within %u ms", timeout_ms);
	else if (c->err == REDIS_ERR_EOF)
		snprintf(buf, size, "connection closed by the server");
	else
		snprintf(buf, size, "%s", c->errstr[0] ? c->errstr : "I/O error");
	return buf;
}

/* Connect, set the command timeout, AUTH and SELECT.  0 with *out, or -EIO with WHY filled. */
static int connect_raw(struct store *s, redisContext **out, char *why, size_t whylen)
{
	struct timeval tv = ms_tv(s->timeout_ms);
	redisContext *c;
	redisReply *r = NULL;
	int rc = -EIO;

	*out = NULL;
	c = s->unix_path ? redisConnectUnixWithTimeout(s->unix_path, tv)
			 : redisConnectWithTimeout(s->host, s->port, tv);
	if (!c) {
		snprintf(why, whylen, "out of memory");
		return -EIO;
	}
	if (c->err) {
		io_reason(c, s->timeout_ms, why, whylen);
		goto fail;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		io_reason(c, s->timeout_ms, why, whylen);
		goto fail;
	}
	if (s->pass) {
		/* AUTH user password (Redis 6 ACLs); with no user, the one-argument form */
		const char *argv[3] = {"AUTH", s->user, s->pass};
		size_t lens[3] = {4, strlen(s->user), strlen(s->pass)};

		if (!s->user[0])
			argv[1] = s->pass, lens[1] = lens[2];
		r = redisCommandArgv(c, s->user[0] ? 3 : 2, argv, lens);
		if (!r) {
			io_reason(c, s->timeout_ms, why, whylen);
			goto fail;
		}
		if (r->type == REDIS_REPLY_ERROR) {
			snprintf(why, whylen, "AUTH refused: %s", r->str);
			goto fail;
		}
		freeReplyObject(r);
		r = NULL;
	}
	if (s->db) {
		r = redisCommand(c, "SELECT %d", s->db);
		if (!r) {
			io_reason(c, s->timeout_ms, why, whylen);
			goto fail;
		}
		if (r->type == REDIS_REPLY_ERROR) {
			snprintf(why, whylen, "SELECT %d refused: %s", s->db, r->str);
			goto fail;
		}
		freeReplyObject(r);
	}
	*out = c;
	return 0;
fail:
	if (r)
		freeReplyObject(r);
	redisFree(c);
	return rc;
}

/* A new connection for K: connect, load the scripts (pipelined) and make sure the site is
 * there.  0, -EIO, or -EPROTO when the site holds another format version. */
static int conn_connect(struct store *s, struct conn *k)
{
	char why[160], ver[16], now[24];
	redisContext *c;
	redisReply *r = NULL;
	int rc, i;

	rc = connect_raw(s, &c, why, sizeof why);
	if (rc) {
		set_err(k, "%s", why);
		return rc;
	}
	for (i = 0; i < SC_COUNT; i++)
		redisAppendCommand(c, "SCRIPT LOAD %s", scripts[i].text);
	snprintf(ver, sizeof ver, "%d", STORE_FORMAT_VERSION);
	snprintf(now, sizeof now, "%" PRId64, real_ns());
	{
		const char *argv[] = {"EVAL", lua_init, "1", s->prefix, now, s->node, "0", ver};
		size_t lens[] = {4,	      strlen(lua_init), 1, s->prefix_len,
				 strlen(now), s->node_len,	1, strlen(ver)};
		redisAppendCommandArgv(c, 8, argv, lens);
	}
	for (i = 0; i <= SC_COUNT; i++) {
		if (redisGetReply(c, (void **)&r) != REDIS_OK) {
			set_err(k, "%s", io_reason(c, s->timeout_ms, why, sizeof why));
			rc = -EIO;
			goto fail;
		}
		if (i < SC_COUNT) {
			if (r->type != REDIS_REPLY_STRING || r->len != 40) {
				set_err(k, "SCRIPT LOAD %s refused: %s", scripts[i].name,
					r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
				rc = -EIO;
				goto fail;
			}
			memcpy(k->sha[i], r->str, 41);
		} else if (r->type != REDIS_REPLY_INTEGER) {
			set_err(k, "site check refused: %s",
				r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
			rc = -EIO;
			goto fail;
		} else if (r->integer == -EPROTO) {
			set_err(k,
				"site %s holds a store format other than %d (or keys without a "
				"format marker)",
				s->prefix, STORE_FORMAT_VERSION);
			rc = -EPROTO;
			goto fail;
		} else if (r->integer == 2 || (r->integer == 1 && s->ready)) {
			slog(s, LOG_WARNING,
			     "store: site %s had lost its %s (Redis lost its data?); re-created it "
			     "empty",
			     s->prefix, r->integer == 2 ? "root directory" : "keys");
		}
		freeReplyObject(r);
		r = NULL;
	}
	k->c = c;
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

/* An I/O error on K: drop the connection, fail at once for retry_ms, log once per outage. */
static int conn_fail(struct store *s, struct conn *k)
{
	char why[160];

	if (k->c) {
		if (k->c->err) /* else the caller has set k->err */
			set_err(k, "%s", io_reason(k->c, s->timeout_ms, why, sizeof why));
		redisFree(k->c);
		k->c = NULL;
	}
	k->retry_at_ms = mono_ms() + s->retry_ms;
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

/* The calling thread's connection, connected.  -EIO while Redis is down. */
static int conn_get(struct store *s, struct conn **out)
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
		if (!conn_stale(k))
			return 0;
		redisFree(k->c);
		k->c = NULL;
		k->retry_at_ms = 0; /* reconnect at once */
	}
	if (mono_ms() < k->retry_at_ms)
		return -EIO;
	rc = conn_connect(s, k);
	if (rc) {
		k->retry_at_ms = mono_ms() + s->retry_ms;
		if (rc == -EPROTO)
			slog(s, LOG_ERR, "store: %s", k->err);
		else
			note_down(s, k->err);
		return rc;
	}
	note_up(s);
	return 0;
}

/* ---- commands ---- */

struct args {
	int n;
	const char *v[ARGS_MAX];
	size_t l[ARGS_MAX];
	/* Numbers and keys formatted here.  The longest is a key: the prefix "pressfs:{SITE}:"
	 * (at most 9 + 64 + 2 bytes), a two-byte kind and a 20-digit id: 97 bytes. */
	char num[ARGS_MAX][128];
};

static void arg_mem(struct args *a, const void *p, size_t len)
{
	a->v[a->n] = p;
	a->l[a->n++] = len;
}

static void arg_str(struct args *a, const char *p)
{
	arg_mem(a, p, strlen(p));
}

__attribute__((format(printf, 2, 3))) static void arg_fmt(struct args *a, const char *fmt, ...)
{
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(a->num[a->n], sizeof a->num[0], fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof a->num[0])
		abort(); /* a truncated key would address another file: never go on */
	arg_mem(a, a->num[a->n], (size_t)len);
}

/* One command, one reply.  0 with *out (never an error reply: those are logged and give
 * -EIO), or -EIO. */
static int command(struct store *s, const char *what, struct args *a, redisReply **out)
{
	struct conn *k;
	redisReply *r;
	int rc;

	*out = NULL;
	rc = conn_get(s, &k);
	if (rc)
		return rc == -EPROTO ? -EIO : rc;
	r = redisCommandArgv(k->c, a->n, a->v, a->l);
	if (!r)
		return conn_fail(s, k);
	if (r->type == REDIS_REPLY_ERROR) {
		rc = refused(s, k, what, r);
		freeReplyObject(r);
		return rc;
	}
	*out = r;
	return 0;
}

/* Run script WHICH with ARGV[4...] from A.  0 with *out (a reply that is not an error), or
 * -EIO.  EVALSHA first; a Redis that lost its script cache (a restart) gets the text. */
static int script(struct store *s, enum script_id which, const struct args *a, redisReply **out)
{
	const char *argv[ARGS_MAX + 7];
	size_t lens[ARGS_MAX + 7];
	char now[24], grace[16];
	struct conn *k;
	redisReply *r;
	int rc, argc = 0;

	*out = NULL;
	rc = conn_get(s, &k);
	if (rc)
		return rc == -EPROTO ? -EIO : rc;
	snprintf(now, sizeof now, "%" PRId64, real_ns());
	snprintf(grace, sizeof grace, "%u", s->grace_ms);
	argv[argc] = "EVALSHA", lens[argc++] = 7;
	argv[argc] = k->sha[which], lens[argc++] = 40;
	argv[argc] = "1", lens[argc++] = 1;
	argv[argc] = s->prefix, lens[argc++] = s->prefix_len;
	argv[argc] = now, lens[argc++] = strlen(now);
	argv[argc] = s->node, lens[argc++] = s->node_len;
	argv[argc] = grace, lens[argc++] = strlen(grace);
	for (int i = 0; i < a->n; i++)
		argv[argc] = a->v[i], lens[argc++] = a->l[i];

	r = redisCommandArgv(k->c, argc, argv, lens);
	if (!r)
		return conn_fail(s, k);
	if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
		freeReplyObject(r);
		argv[0] = "EVAL", lens[0] = 4;
		argv[1] = scripts[which].text, lens[1] = strlen(scripts[which].text);
		r = redisCommandArgv(k->c, argc, argv, lens);
		if (!r)
			return conn_fail(s, k);
	}
	if (r->type == REDIS_REPLY_ERROR) {
		rc = refused(s, k, scripts[which].name, r);
		freeReplyObject(r);
		return rc;
	}
	*out = r;
	return 0;
}

/* A script's integer answer: a negative errno, or (when OK_VALUES) a non-negative value. */
static int script_errno(struct store *s, enum script_id which, const redisReply *r)
{
	struct conn *k = pthread_getspecific(s->key);

	if (r->type == REDIS_REPLY_INTEGER && r->integer < 0 && r->integer > -4096) {
		if (r->integer == -EIO) {
			set_err(k, "%s: the store refers to data that is gone",
				scripts[which].name);
			slog(s, LOG_WARNING,
			     "store: %s: a chunk or inode the change refers to is gone (expired "
			     "pending chunk, or a damaged site: run fsck)",
			     scripts[which].name);
		}
		return (int)r->integer;
	}
	return refused(s, k, scripts[which].name, r);
}

/* ---- attributes ---- */

void store_attr_release(struct store_attr *a)
{
	free(a->chunks);
	free(a->target);
	a->chunks = NULL;
	a->target = NULL;
	a->nchunks = 0;
}

static int parse_chunks(const char *p, size_t len, struct store_attr *a)
{
	size_t n = 0, i = 0;

	for (size_t j = 0; j < len; j++)
		if (p[j] != ' ' && (j == 0 || p[j - 1] == ' '))
			n++;
	if (n == 0)
		return 0;
	if (n > UINT32_MAX)
		return -EIO;
	a->chunks = calloc(n, sizeof *a->chunks);
	if (!a->chunks)
		return -ENOMEM;
	while (i < len) {
		size_t j = i;

		while (j < len && p[j] != ' ')
			j++;
		if (j > i && !parse_u64(p + i, j - i, 10, &a->chunks[a->nchunks++]))
			return -EIO;
		i = j + 1;
	}
	return 0;
}

/* Fill *A from the field/value pairs R->element[FROM...] of inode INO. */
static int attr_parse(const redisReply *r, size_t from, uint64_t ino, struct store_attr *a)
{
	uint64_t u;
	int rc = -EIO;

	memset(a, 0, sizeof *a);
	a->ino = ino;
	if (r->type != REDIS_REPLY_ARRAY || (r->elements - from) % 2)
		return -EIO;
	for (size_t i = from; i + 1 < r->elements; i += 2) {
		const redisReply *f = r->element[i], *v = r->element[i + 1];
		const char *n;

		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			goto fail;
		n = f->str;
		if (!strcmp(n, "type")) {
			if (v->len != 1 || !strchr("fdl", v->str[0]))
				goto fail;
			a->type = v->str[0];
		} else if (!strcmp(n, "cls")) {
			if (v->len != 1)
				goto fail;
			a->cls = v->str[0];
		} else if (!strcmp(n, "mode")) {
			if (!parse_u64(v->str, v->len, 8, &u) || u > UINT32_MAX)
				goto fail;
			a->mode = (uint32_t)u;
		} else if (!strcmp(n, "uid") || !strcmp(n, "gid")) {
			if (!parse_u64(v->str, v->len, 10, &u) || u > UINT32_MAX)
				goto fail;
			*(n[0] == 'u' ? &a->uid : &a->gid) = (uint32_t)u;
		} else if (!strcmp(n, "size")) {
			if (!parse_u64(v->str, v->len, 10, &a->size))
				goto fail;
		} else if (!strcmp(n, "mtime")) {
			if (!parse_i64(v->str, v->len, &a->mtime_ns))
				goto fail;
		} else if (!strcmp(n, "ctime")) {
			if (!parse_i64(v->str, v->len, &a->ctime_ns))
				goto fail;
		} else if (!strcmp(n, "ver")) {
			if (!parse_u64(v->str, v->len, 10, &a->version))
				goto fail;
		} else if (!strcmp(n, "opaque")) {
			a->opaque = v->len == 1 && v->str[0] == '1';
		} else if (!strcmp(n, "unlinked")) {
			a->unlinked = true;
		} else if (!strcmp(n, "chunks")) {
			if (a->chunks)
				goto fail;
			rc = parse_chunks(v->str, v->len, a);
			if (rc)
				goto fail;
			rc = -EIO;
		} else if (!strcmp(n, "target")) {
			if (a->target)
				goto fail;
			a->target = strndup(v->str, v->len);
			if (!a->target) {
				rc = -ENOMEM;
				goto fail;
			}
		} /* fields this version does not know are left alone */
	}
	if (!a->type || (a->type == STORE_SYMLINK && !a->target))
		goto fail;
	return 0;
fail:
	store_attr_release(a);
	return rc;
}

/* The {ino, field, value, ...} answer of a script, or its errno. */
static int attr_reply(struct store *s, enum script_id which, const redisReply *r,
		      struct store_attr *a)
{
	uint64_t ino;
	int rc;

	if (r->type == REDIS_REPLY_INTEGER)
		return script_errno(s, which, r);
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || !reply_u64(r->element[0], &ino))
		return refused(s, pthread_getspecific(s->key), scripts[which].name, r);
	rc = attr_parse(r, 1, ino, a);
	if (rc == -EIO)
		return refused(s, pthread_getspecific(s->key), scripts[which].name, r);
	return rc;
}

/* ---- opening ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode P[0..LEN) into a new string; NULL when malformed or holding a NUL. */
static char *pct_decode(const char *p, size_t len)
{
	char *out = malloc(len + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '%') {
			int hi = i + 2 < len ? hexval(p[i + 1]) : -1;
			int lo = i + 2 < len ? hexval(p[i + 2]) : -1;

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				free(out);
				return NULL;
			}
			*o++ = (char)(hi * 16 + lo);
			i += 2;
		} else {
			*o++ = p[i];
		}
	}
	*o = '\0';
	return out;
}

/* redis://[user:password@]host:port[/db] or unix:///abs/path into S.  -EINVAL with MSG. */
static int parse_url(struct store *s, const char *url, char *msg, size_t msglen)
{
	const char *p, *auth_end, *at, *hp, *host_end, *port_p;
	uint64_t v;

	if (!url || !*url) {
		snprintf(msg, msglen, "no Redis URL given");
		return -EINVAL;
	}
	if (!strncmp(url, "unix://", 7)) {
		p = url + 7;
		if (p[0] != '/' || !p[1]) {
			snprintf(msg, msglen, "bad URL \"%s\": expected unix:///absolute/path",
				 url);
			return -EINVAL;
		}
		if (strlen(p) >= 108) {
			snprintf(msg, msglen, "bad URL \"%s\": socket path too long", url);
			return -EINVAL;
		}
		s->unix_path = strdup(p);
		snprintf(s->where, sizeof s->where, "unix:%s", p);
		return s->unix_path ? 0 : -ENOMEM;
	}
	if (strncmp(url, "redis://", 8)) {
		snprintf(msg, msglen,
			 "bad URL \"%s\": expected redis://[user:password@]host:port[/db] or "
			 "unix:///path",
			 url);
		return -EINVAL;
	}
	p = url + 8;
	auth_end = p + strcspn(p, "/");
	at = NULL;
	for (const char *q = p; q < auth_end; q++)
		if (*q == '@')
			at = q;
	hp = p;
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));

		if (!colon) {
			snprintf(msg, msglen,
				 "bad URL: credentials must be user:password@ "
				 "(empty user for the default user)");
			return -EINVAL;
		}
		s->user = pct_decode(p, (size_t)(colon - p));
		s->pass = pct_decode(colon + 1, (size_t)(at - colon - 1));
		if (!s->user || !s->pass) {
			snprintf(msg, msglen, "bad URL: malformed %%-escape in user or password");
			return -EINVAL;
		}
		if (!s->pass[0]) {
			snprintf(msg, msglen, "bad URL: empty password");
			return -EINVAL;
		}
		hp = at + 1;
	}
	if (*hp == '[') {
		host_end = memchr(hp, ']', (size_t)(auth_end - hp));
		if (!host_end || host_end == hp + 1 || host_end[1] != ':') {
			snprintf(msg, msglen, "bad URL \"%s\": expected [ipv6]:port", url);
			return -EINVAL;
		}
		for (const char *q = hp + 1; q < host_end; q++)
			if (!strchr("0123456789abcdefABCDEF:.", *q)) {
				snprintf(msg, msglen, "bad URL \"%s\": bad IPv6 address", url);
				return -EINVAL;
			}
		s->host = strndup(hp + 1, (size_t)(host_end - hp - 1));
		port_p = host_end + 2;
	} else {
		host_end = NULL;
		for (const char *q = hp; q < auth_end; q++)
			if (*q == ':')
				host_end = q;
		if (!host_end || host_end == hp) {
			snprintf(msg, msglen, "bad URL \"%s\": expected host:port", url);
			return -EINVAL;
		}
		for (const char *q = hp; q < host_end; q++)
			if (!(*q == '.' || *q == '-' || (*q >= '0' && *q <= '9') ||
			      ((*q | 32) >= 'a' && (*q | 32) <= 'z'))) {
				snprintf(msg, msglen, "bad URL \"%s\": bad host name", url);
				return -EINVAL;
			}
		s->host = strndup(hp, (size_t)(host_end - hp));
		port_p = host_end + 1;
	}
	if (!s->host)
		return -ENOMEM;
	if (!parse_u64(port_p, (size_t)(auth_end - port_p), 10, &v) || v == 0 || v > 65535) {
		snprintf(msg, msglen, "bad URL \"%s\": port must be 1-65535", url);
		return -EINVAL;
	}
	s->port = (int)v;
	snprintf(s->where, sizeof s->where, "%s%s%s:%d", *hp == '[' ? "[" : "", s->host,
		 *hp == '[' ? "]" : "", s->port);
	if (*auth_end == '/') {
		if (!parse_u64(auth_end + 1, strlen(auth_end + 1), 10, &v) || v > INT_MAX) {
			snprintf(msg, msglen, "bad URL \"%s\": database must be a number", url);
			return -EINVAL;
		}
		s->db = (int)v;
	}
	return 0;
}

static bool site_ok(const char *site)
{
	size_t n = site ? strlen(site) : 0;

	if (n < 1 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = site[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static void store_free(struct store *s)
{
	free(s->host);
	free(s->unix_path);
	free(s->user);
	free(s->pass);
	free(s->prefix);
	free(s->node);
	free(s);
}

int store_open(const struct store_config *cfg, struct store **out)
{
	struct store *s;
	struct conn *k;
	char msg[256];
	int rc;

	*out = NULL;
	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->log = cfg->log;
	s->log_arg = cfg->log_arg;
	pthread_mutex_init(&s->why_lock, NULL);
	s->stop_pipe[0] = s->stop_pipe[1] = -1;
	s->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 2000;
	s->retry_ms = cfg->retry_ms ? cfg->retry_ms : 500;
	s->pending_ttl_s = cfg->pending_ttl_s ? cfg->pending_ttl_s : 3600;
	s->grace_ms = cfg->grace_ms ? cfg->grace_ms : 60000;

	if (!site_ok(cfg->site)) {
		slog(s, LOG_ERR, "store: bad site name \"%s\": 1-64 of [A-Za-z0-9._-]",
		     cfg->site ? cfg->site : "");
		rc = -EINVAL;
		goto fail;
	}
	rc = parse_url(s, cfg->url, msg, sizeof msg);
	if (rc) {
		if (rc == -EINVAL)
			slog(s, LOG_ERR, "store: %s", msg);
		goto fail;
	}
	if (cfg->password) {
		free(s->user);
		free(s->pass);
		s->user = strdup(cfg->user ? cfg->user : "");
		s->pass = strdup(cfg->password);
		rc = -ENOMEM;
		if (!s->user || !s->pass)
			goto fail;
	}
	if (cfg->node && cfg->node[0]) {
		s->node = strdup(cfg->node);
	} else {
		char host[HOST_NAME_MAX + 1] = "node";

		gethostname(host, sizeof host);
		host[HOST_NAME_MAX] = '\0';
		if (asprintf(&s->node, "%s:%d", host, (int)getpid()) < 0)
			s->node = NULL;
	}
	rc = -ENOMEM;
	if (!s->node || asprintf(&s->prefix, "pressfs:{%s}:", cfg->site) < 0)
		goto fail;
	s->prefix_len = strlen(s->prefix);
	s->node_len = strlen(s->node);
	if (s->node_len > NODE_MAX) {
		slog(s, LOG_ERR, "store: node id longer than %d bytes", NODE_MAX);
		rc = -EINVAL;
		goto fail;
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
	store_free(s);
	return rc;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	pthread_setspecific(s->key, NULL);
	pthread_key_delete(s->key);
	while (s->conns) {
		struct conn *k = s->conns;

		s->conns = k->next;
		conn_free(k);
	}
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->why_lock);
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

/* ---- names and lookups ---- */

int store_lookup(struct store *s, uint64_t dir, const char *name, size_t namelen,
		 struct store_attr *a)
{
	struct args args = {0};
	redisReply *r;
	int rc;

	memset(a, 0, sizeof *a);
	rc = check_name(name, namelen);
	if (rc)
		return rc;
	arg_fmt(&args, "%" PRIu64, dir);
	arg_mem(&args, name, namelen);
	rc = script(s, SC_LOOKUP, &args, &r);
	if (rc)
		return rc;
	if (r->type == REDIS_REPLY_INTEGER && r->integer == 0)
		rc = STORE_WHITEOUT;
	else if ((rc = attr_reply(s, SC_LOOKUP, r, a)) == 0)
		rc = a->type;
	freeReplyObject(r);
	return rc;
}

int store_resolve_dir(struct store *s, const char *path, size_t len, uint64_t *ino)
{
	struct args args = {0};
	redisReply *r;
	size_t i = 1;
	int rc;

	*ino = 0;
	if (!path || len == 0 || path[0] != '/')
		return -EINVAL;
	while (len > 1 && i <= len) { /* every segment must be a valid name */
		const char *e = memchr(path + i, '/', len - i);
		size_t n = e ? (size_t)(e - path) - i : len - i;

		rc = check_name(path + i, n);
		if (rc)
			return rc;
		i += n + 1;
	}
	arg_mem(&args, path, len);
	rc = script(s, SC_RESOLVE, &args, &r);
	if (rc)
		return rc;
	if (r->type == REDIS_REPLY_INTEGER && r->integer == 0)
		rc = 0;
	else if (!reply_u64(r, ino))
		rc = refused(s, pthread_getspecific(s->key), "resolve", r);
	freeReplyObject(r);
	return rc;
}

int store_getattr(struct store *s, uint64_t ino, struct store_attr *a)
{
	struct args args = {0};
	redisReply *r;
	int rc;

	memset(a, 0, sizeof *a);
	arg_str(&args, "HGETALL");
	arg_fmt(&args, "%si:%" PRIu64, s->prefix, ino);
	rc = command(s, "getattr", &args, &r);
	if (rc)
		return rc;
	if (r->type != REDIS_REPLY_ARRAY)
		rc = refused(s, pthread_getspecific(s->key), "getattr", r);
	else if (r->elements == 0)
		rc = -ENOENT;
	else if ((rc = attr_parse(r, 0, ino, a)) == -EIO)
		rc = refused(s, pthread_getspecific(s->key), "getattr (damaged inode)", r);
	freeReplyObject(r);
	return rc;
}

/* ---- creating ---- */

static bool cls_ok(char cls)
{
	return cls == 's' || cls == 'c';
}

int store_create(struct store *s, uint64_t dir, const char *name, size_t namelen, uint32_t mode,
		 uint32_t uid, uint32_t gid, char cls, const char *target, struct store_attr *a)
{
	struct args args = {0};
	redisReply *r;
	char type;
	int rc;

	memset(a, 0, sizeof *a);
	rc = check_name(name, namelen);
	if (rc)
		return rc;
	switch (mode & S_IFMT) {
	case S_IFREG:
		type = STORE_FILE;
		break;
	case S_IFDIR:
		type = STORE_DIR;
		break;
	case S_IFLNK:
		type = STORE_SYMLINK;
		if (!target || !target[0])
			return -EINVAL;
		if (strlen(target) > TARGET_MAX)
			return -ENAMETOOLONG;
		break;
	default:
		return -EINVAL;
	}
	if (!cls_ok(cls))
		return -EINVAL;
	arg_fmt(&args, "%" PRIu64, dir);
	arg_mem(&args, name, namelen);
	arg_mem(&args, &type, 1);
	arg_fmt(&args, "%o", mode);
	arg_fmt(&args, "%" PRIu32, uid);
	arg_fmt(&args, "%" PRIu32, gid);
	arg_mem(&args, &cls, 1);
	arg_str(&args, type == STORE_SYMLINK ? target : "");
	rc = script(s, SC_CREATE, &args, &r);
	if (rc)
		return rc;
	rc = attr_reply(s, SC_CREATE, r, a);
	freeReplyObject(r);
	return rc;
}

int store_copyup_dir(struct store *s, uint64_t dir, const char *name, size_t namelen, uint32_t mode,
		     uint32_t uid, uint32_t gid, int64_t mtime_ns, uint64_t *ino)
{
	struct args args = {0};
	redisReply *r;
	int rc;

	*ino = 0;
	rc = check_name(name, namelen);
	if (rc)
		return rc;
	arg_fmt(&args, "%" PRIu64, dir);
	arg_mem(&args, name, namelen);
	arg_fmt(&args, "%o", S_IFDIR | (mode & 07777));
	arg_fmt(&args, "%" PRIu32, uid);
	arg_fmt(&args, "%" PRIu32, gid);
	arg_fmt(&args, "%" PRId64, mtime_ns);
	rc = script(s, SC_COPYUP_DIR, &args, &r);
	if (rc)
		return rc;
	if (r->type == REDIS_REPLY_INTEGER)
		rc = script_errno(s, SC_COPYUP_DIR, r);
	else if (!reply_u64(r, ino))
		rc = refused(s, pthread_getspecific(s->key), "copyup_dir", r);
	freeReplyObject(r);
	return rc;
}

/* ---- file content ---- */

/* Reserve N consecutive chunk ids on K's connection: *first...*first+n-1. */
static int reserve_ids(struct store *s, struct conn *k, size_t n, uint64_t *first)
{
	redisReply *r;
	size_t want = n > ID_BATCH ? n : ID_BATCH;
	int rc = 0;

	if (k->id_end - k->id_next >= n) {
		*first = k->id_next;
		k->id_next += n;
		return 0;
	}
	r = redisCommand(k->c, "INCRBY %snext %llu", s->prefix, (unsigned long long)want);
	if (!r)
		return conn_fail(s, k);
	if (r->type != REDIS_REPLY_INTEGER || r->integer < (long long)want) {
		rc = refused(s, k, "INCRBY next", r);
	} else {
		k->id_end = (uint64_t)r->integer + 1;
		k->id_next = k->id_end - want;
		*first = k->id_next;
		k->id_next += n;
	}
	freeReplyObject(r);
	return rc;
}

/* Send "SET KEY DATA EX TTL" straight from the caller's buffer, sparing hiredis's two copies
 * of each MiB (its output buffer is empty between commands).  -1 with K's error set. */
static int send_set(struct store *s, struct conn *k, const char *key, size_t keylen,
		    const void *data, size_t len, const char *ttl)
{
	char head[192], tail[64];
	int hl = snprintf(head, sizeof head, "*5\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$%zu\r\n", keylen,
			  key, len);
	int tl = snprintf(tail, sizeof tail, "\r\n$2\r\nEX\r\n$%zu\r\n%s\r\n", strlen(ttl), ttl);
	struct iovec iov[3] = {{head, (size_t)hl}, {(void *)data, len}, {tail, (size_t)tl}};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 3};

	while (msg.msg_iovlen) {
		ssize_t w = sendmsg(k->c->fd, &msg, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				set_err(k, "no answer within %u ms", s->timeout_ms);
			else
				set_err(k, "%s", strerror(errno));
			return -1;
		}
		while (msg.msg_iovlen && (size_t)w >= msg.msg_iov->iov_len) {
			w -= (ssize_t)msg.msg_iov->iov_len;
			msg.msg_iov++;
			msg.msg_iovlen--;
		}
		if (msg.msg_iovlen) {
			msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + w;
			msg.msg_iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

int store_put_chunks(struct store *s, size_t n, const void *const *data, const size_t *len,
		     uint64_t *ids)
{
	char key[128], ttl[24];
	struct conn *k;
	uint64_t first = 0;
	size_t got, keylen;
	int rc;

	for (size_t i = 0; i < n; i++)
		if (len[i] > STORE_CHUNK_SIZE || (len[i] && !data[i]))
			return -EINVAL;
	if (n == 0)
		return 0;
	rc = conn_get(s, &k);
	if (rc)
		return rc == -EPROTO ? -EIO : rc;
	rc = reserve_ids(s, k, n, &first);
	if (rc)
		return rc;
	snprintf(ttl, sizeof ttl, "%u", s->pending_ttl_s);
	/* Each SET goes out as soon as it is formatted, the "+OK"s are read at the end: the
	 * upload runs at the socket's pace, one round trip in all. */
	for (size_t i = 0; i < n; i++) {
		ids[i] = first + i;
		keylen = (size_t)snprintf(key, sizeof key, "%sc:%" PRIu64, s->prefix, ids[i]);
		if (send_set(s, k, key, keylen, data[i], len[i], ttl))
			return conn_fail(s, k);
	}
	rc = 0;
	for (got = 0; got < n; got++) {
		redisReply *r;

		if (redisGetReply(k->c, (void **)&r) != REDIS_OK)
			return conn_fail(s, k);
		if (r->type != REDIS_REPLY_STATUS && !rc)
			rc = refused(s, k, "SET chunk", r);
		freeReplyObject(r);
	}
	return rc;
}

int store_alloc_ids(struct store *s, size_t n, uint64_t *ids)
{
	struct conn *k;
	uint64_t first = 0;
	int rc;

	if (n == 0)
		return 0;
	rc = conn_get(s, &k);
	if (rc)
		return rc == -EPROTO ? -EIO : rc;
	rc = reserve_ids(s, k, n, &first);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		ids[i] = first + i;
	return 0;
}

/* "id id id" for a script. */
static char *fmt_ids(size_t n, const uint64_t *ids, size_t *len)
{
	char *buf = malloc(n * 21 + 1), *p = buf;

	if (!buf)
		return NULL;
	*p = '\0';
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, i ? " %" PRIu64 : "%" PRIu64, ids[i]);
	*len = (size_t)(p - buf);
	return buf;
}

static bool chunks_fit(uint64_t size, size_t nchunks)
{
	return nchunks <= size / STORE_CHUNK_SIZE + (size % STORE_CHUNK_SIZE != 0) &&
	       nchunks <= UINT32_MAX;
}

int store_publish_new(struct store *s, uint64_t dir, const char *name, size_t namelen,
		      uint32_t mode, uint32_t uid, uint32_t gid, char cls, uint64_t size,
		      size_t nchunks, const uint64_t *chunks, bool merge, struct store_attr *a)
{
	struct args args = {0};
	redisReply *r;
	char *list;
	size_t listlen;
	int rc;

	memset(a, 0, sizeof *a);
	rc = check_name(name, namelen);
	if (rc)
		return rc;
	if ((mode & S_IFMT) && (mode & S_IFMT) != S_IFREG)
		return -EINVAL;
	if (!cls_ok(cls) || !chunks_fit(size, nchunks) || size > (1ull << 53))
		return -EINVAL;
	list = fmt_ids(nchunks, chunks, &listlen);
	if (!list)
		return -ENOMEM;
	arg_fmt(&args, "%" PRIu64, dir);
	arg_mem(&args, name, namelen);
	arg_fmt(&args, "%o", S_IFREG | (mode & 07777));
	arg_fmt(&args, "%" PRIu32, uid);
	arg_fmt(&args, "%" PRIu32, gid);
	arg_mem(&args, &cls, 1);
	arg_fmt(&args, "%" PRIu64, size);
	arg_mem(&args, list, listlen);
	arg_mem(&args, merge ? "1" : "0", 1);
	rc = script(s, SC_PUBLISH_NEW, &args, &r);
	free(list);
	if (rc)
		return rc;
	rc = attr_reply(s, SC_PUBLISH_NEW, r, a);
	freeReplyObject(r);
	return rc;
}

int store_commit(struct store *s, uint64_t ino, uint64_t size, size_t nchunks,
		 const uint64_t *chunks, int64_t mtime_ns, struct store_attr *a)
{
	struct args args = {0};
	redisReply *r;
	char *list;
	size_t listlen;
	int rc;

	memset(a, 0, sizeof *a);
	if (!chunks_fit(size, nchunks) || size > (1ull << 53))
		return -EINVAL;
	list = fmt_ids(nchunks, chunks, &listlen);
	if (!list)
		return -ENOMEM;
	arg_fmt(&args, "%" PRIu64, ino);
	arg_fmt(&args, "%" PRIu64, size);
	arg_mem(&args, list, listlen);
	arg_fmt(&args, "%" PRId64, mtime_ns);
	rc = script(s, SC_COMMIT, &args, &r);
	free(list);
	if (rc)
		return rc;
	rc = attr_reply(s, SC_COMMIT, r, a);
	freeReplyObject(r);
	return rc;
}

int store_append(struct store *s, uint64_t ino, const void *data, size_t len, int64_t mtime_ns,
		 struct store_attr *a)
{
	struct args args = {0};
	redisReply *r;
	int rc;

	if (len == 0)
		return store_getattr(s, ino, a);
	memset(a, 0, sizeof *a);
	if (!data || len > 512u * 1024 * 1024)
		return -EINVAL;
	arg_fmt(&args, "%" PRIu64, ino);
	arg_mem(&args, data, len);
	arg_fmt(&args, "%" PRId64, mtime_ns);
	rc = script(s, SC_APPEND, &args, &r);
	if (rc)
		return rc;
	rc = attr_reply(s, SC_APPEND, r, a);
	freeReplyObject(r);
	return rc;
}

ssize_t store_read_chunk(struct store *s, uint64_t id, size_t off, size_t len, void *buf)
{
	struct args args = {0};
	redisReply *r;
	ssize_t rc;
	int err;

	if (len == 0)
		return 0;
	if (off >= STORE_CHUNK_SIZE)
		return 0;
	if (len > STORE_CHUNK_SIZE - off)
		len = STORE_CHUNK_SIZE - off;
	arg_str(&args, "GETRANGE");
	arg_fmt(&args, "%sc:%" PRIu64, s->prefix, id);
	arg_fmt(&args, "%zu", off);
	arg_fmt(&args, "%zu", off + len - 1);
	err = command(s, "read", &args, &r);
	if (err)
		return err;
	if (r->type != REDIS_REPLY_STRING || r->len > len) {
		rc = refused(s, pthread_getspecific(s->key), "GETRANGE", r);
	} else if (r->len > 0) {
		memcpy(buf, r->str, r->len);
		rc = (ssize_t)r->len;
	} else {
		/* nothing there: past the stored end (the reader zero-fills), or no chunk at all */
		redisReply *e;

		args.n = 0;
		arg_str(&args, "EXISTS");
		arg_fmt(&args, "%sc:%" PRIu64, s->prefix, id);
		rc = command(s, "read", &args, &e);
		if (rc == 0) {
			if (e->type != REDIS_REPLY_INTEGER)
				rc = refused(s, pthread_getspecific(s->key), "EXISTS", e);
			else if (e->integer == 0) {
				set_err(pthread_getspecific(s->key), "chunk %" PRIu64 " is missing",
					id);
				slog(s, LOG_WARNING, "store: chunk %" PRIu64 " is missing", id);
				rc = -EIO;
			}
			freeReplyObject(e);
		}
	}
	freeReplyObject(r);
	return rc;
}

/* ---- attributes, removal, renaming ---- */

int store_setattr(struct store *s, uint64_t ino, unsigned mask, const struct store_attr *in,
		  struct store_attr *out)
{
	struct args args = {0};
	redisReply *r;
	int rc;

	memset(out, 0, sizeof *out);
	arg_fmt(&args, "%" PRIu64, ino);
	if (mask & STORE_SET_MODE)
		arg_fmt(&args, "%04o", in->mode & 07777);
	else
		arg_str(&args, "");
	if (mask & STORE_SET_UID)
		arg_fmt(&args, "%" PRIu32, in->uid);
	else
		arg_str(&args, "");
	if (mask & STORE_SET_GID)
		arg_fmt(&args, "%" PRIu32, in->gid);
	else
		arg_str(&args, "");
	if (mask & STORE_SET_MTIME)
		arg_fmt(&args, "%" PRId64, in->mtime_ns);
	else
		arg_str(&args, "");
	rc = script(s, SC_SETATTR, &args, &r);
	if (rc)
		return rc;
	rc = attr_reply(s, SC_SETATTR, r, out);
	freeReplyObject(r);
	return rc;
}

static int remove_entry(struct store *s, uint64_t dir, const char *name, size_t namelen,
			bool whiteout, char want)
{
	struct args args = {0};
	redisReply *r;
	int rc;

	rc = check_name(name, namelen);
	if (rc)
		return rc;
	arg_fmt(&args, "%" PRIu64, dir);
	arg_mem(&args, name, namelen);
	arg_str(&args, whiteout ? "1" : "0");
	arg_mem(&args, &want, 1);
	rc = script(s, SC_REMOVE, &args, &r);
	if (rc)
		return rc;
	rc = r->type == REDIS_REPLY_INTEGER && r->integer == 0 ? 0 : script_errno(s, SC_REMOVE, r);
	freeReplyObject(r);
	return rc;
}

int store_unlink(struct store *s, uint64_t dir, const char *name, size_t namelen, bool whiteout)
{
	return remove_entry(s, dir, name, namelen, whiteout, 'f');
}

int store_rmdir(struct store *s, uint64_t dir, const char *name, size_t namelen, bool whiteout)
{
	return remove_entry(s, dir, name, namelen, whiteout, 'd');
}

int store_rename(struct store *s, uint64_t sdir, const char *sname, size_t snamelen, uint64_t ddir,
		 const char *dname, size_t dnamelen, unsigned flags)
{
	struct args args = {0};
	redisReply *r;
	int rc;

	rc = check_name(sname, snamelen);
	if (!rc)
		rc = check_name(dname, dnamelen);
	if (rc)
		return rc;
	if (flags & ~(STORE_RENAME_NOREPLACE | STORE_RENAME_WHITEOUT | STORE_RENAME_OPAQUE))
		return -EINVAL;
	arg_fmt(&args, "%" PRIu64, sdir);
	arg_mem(&args, sname, snamelen);
	arg_fmt(&args, "%" PRIu64, ddir);
	arg_mem(&args, dname, dnamelen);
	arg_str(&args, flags & STORE_RENAME_NOREPLACE ? "1" : "0");
	arg_str(&args, flags & STORE_RENAME_WHITEOUT ? "1" : "0");
	arg_str(&args, flags & STORE_RENAME_OPAQUE ? "1" : "0");
	rc = script(s, SC_RENAME, &args, &r);
	if (rc)
		return rc;
	rc = r->type == REDIS_REPLY_INTEGER && r->integer == 0 ? 0 : script_errno(s, SC_RENAME, r);
	freeReplyObject(r);
	return rc;
}

int store_drop_cache(struct store *s, uint64_t dir, const char *name, size_t namelen, uint64_t ino,
		     uint64_t version, bool whiteout)
{
	struct args args = {0};
	redisReply *r;
	int rc = check_name(name, namelen);

	if (rc)
		return rc;
	arg_fmt(&args, "%" PRIu64, dir);
	arg_mem(&args, name, namelen);
	arg_fmt(&args, "%" PRIu64, ino);
	arg_fmt(&args, "%" PRIu64, version);
	arg_str(&args, whiteout ? "1" : "0");
	rc = script(s, SC_DROP_CACHE, &args, &r);
	if (rc)
		return rc;
	if (r->type == REDIS_REPLY_INTEGER && (r->integer == 0 || r->integer == 1))
		rc = (int)r->integer;
	else
		rc = script_errno(s, SC_DROP_CACHE, r);
	freeReplyObject(r);
	return rc;
}

/* ---- listing ---- */

void store_dirents_free(struct store_dirent *d, size_t n)
{
	if (!d)
		return;
	for (size_t i = 0; i < n; i++)
		free(d[i].name);
	free(d);
}

int store_readdir(struct store *s, uint64_t dir, struct store_dirent **out, size_t *n)
{
	struct args args = {0};
	struct store_dirent *d = NULL;
	size_t m = 0;
	redisReply *r;
	int rc;

	*out = NULL;
	*n = 0;
	arg_str(&args, "HGETALL");
	arg_fmt(&args, "%sd:%" PRIu64, s->prefix, dir);
	rc = command(s, "readdir", &args, &r);
	if (rc)
		return rc;
	if (r->type != REDIS_REPLY_ARRAY || r->elements % 2) {
		rc = refused(s, pthread_getspecific(s->key), "readdir", r);
		goto out;
	}
	if (r->elements == 0) {
		rc = -ENOENT;
		goto out;
	}
	d = calloc(r->elements / 2, sizeof *d);
	if (!d) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < r->elements; i += 2) {
		const redisReply *f = r->element[i], *v = r->element[i + 1];
		struct store_dirent *e = &d[m];

		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			goto bad;
		if (f->len == 1 && f->str[0] == '.')
			continue; /* the sentinel */
		if (v->len < 1)
			goto bad;
		e->type = v->str[0];
		if (e->type == STORE_WHITEOUT) {
			if (v->len != 1)
				goto bad;
		} else if (!strchr("fdl", e->type) ||
			   !parse_u64(v->str + 1, v->len - 1, 10, &e->ino)) {
			goto bad;
		}
		e->name = malloc(f->len + 1);
		if (!e->name) {
			rc = -ENOMEM;
			goto fail;
		}
		memcpy(e->name, f->str, f->len);
		e->name[f->len] = '\0';
		e->namelen = f->len;
		m++;
	}
	*out = d;
	*n = m;
	rc = 0;
	goto out;
bad:
	rc = refused(s, pthread_getspecific(s->key), "readdir (damaged directory)", r);
fail:
	store_dirents_free(d, m);
out:
	freeReplyObject(r);
	return rc;
}

/* ---- invalidation ---- */

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
	char origin[NODE_MAX + 1];
	const char *nul = memchr(m, '\0', len), *sp;
	uint64_t ino;
	(void)s;

	if (!nul || len < 5 || m[1] != ' ' || (m[0] != 'E' && m[0] != 'I'))
		goto unknown;
	sp = memchr(m + 2, ' ', (size_t)(nul - m - 2));
	if (!sp || !parse_u64(m + 2, (size_t)(sp - m - 2), 10, &ino) ||
	    (size_t)(nul - sp - 1) > NODE_MAX)
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
	char why[160], chan[128], drain[64];

	snprintf(chan, sizeof chan, "%sinval", s->prefix);
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
