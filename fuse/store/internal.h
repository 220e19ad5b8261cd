/* internal.h - what the files of the store module share: the store and per-thread connection
 * structs, the script table, and the helpers every layer uses (not part of store.h's API).
 *
 * Layers, each calling only those above it:  url.c, keys.c, scripts.c  ->  conn.c  ->  resp.c
 * ->  the operations (lookup.c, write.c, remove.c) and listen.c. */
#ifndef PRESSFS_STORE_INTERNAL_H
#define PRESSFS_STORE_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "path.h"
#include "store/cluster.h"
#include "store/keys.h"
#include "store/store.h"

#define ID_BATCH       256  /* chunk ids reserved per INCRBY */
#define LISTEN_IDLE_MS 5000 /* a silent subscription is PINGed after this long */
#define SEQ_CHECK_MS   1000 /* how often the listener compares the site's `seq` with its own */
#define PEER_MAX       255
#define TARGET_MAX     4095
#define ARGS_MAX       16

/* ---- scripts.c: the Lua scripts, embedded at build time from store/lua/ ---- */
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
	SC_LINK,
	SC_WHERE,
	SC_IMPORT,
	SC_COUNT
};
struct script {
	const char *name;
	const char *text;
	size_t len;
};
extern const struct script store_scripts[SC_COUNT];

/* ---- url.c ---- */
#define SENTINEL_MAX 16
struct sentinel_addr {
	char *host;
	int port;
};
struct store_url {
	char *host; /* NULL for a unix socket or a sentinel URL */
	int port;
	char *unix_path;
	char *user, *pass; /* NULL when the URL has no credentials */
	int db;
	char where[160]; /* host:port or unix:path, for messages: never the password */
	/* redis-sentinel://: the sentinels to ask and the name of the primary they watch;
	 * redis-cluster://: cluster set, and the seed nodes in sentinels[] */
	char *master;
	bool cluster;
	int nsentinels;
	struct sentinel_addr sentinels[SENTINEL_MAX];
};
/* redis://[user:password@]host:port[/db], unix:///abs/path,
 * redis-sentinel://host:port[,host:port...]/MASTER[/db] or
 * redis-cluster://host:port[,host:port...] into *U.  -EINVAL with MSG (which
 * never holds the password), -ENOMEM. */
int url_parse(struct store_url *u, const char *url, char *msg, size_t msglen);
void url_free(struct store_url *u);

/* ---- conn.c ---- */
/* One thread's connection.  Owned by the store (its list) and pointed to by the thread's key. */
struct conn {
	struct store *s;
	redisContext *c;	  /* NULL while disconnected */
	int64_t retry_at_ms;	  /* monotonic: before this, fail at once */
	uint64_t id_next, id_end; /* reserved chunk ids [next, end) */
	unsigned gen;		  /* s->prim_gen when connected: another one means reconnect */
	char sha[SC_COUNT][41];
	char err[192];
	bool oom; /* the last refused reply was Redis's OOM (maxmemory reached) */
	struct conn *prev, *next;
};

struct store {
	struct store_url url;
	char *user, *pass; /* for AUTH: the config's, else the URL's; pass NULL: no AUTH */
	char *prefix;	   /* "pressfs:{SITE}:" */
	size_t prefix_len;
	char *peer;
	size_t peer_len;
	unsigned timeout_ms, retry_ms, pending_ttl_s, grace_ms;
	store_log_fn log;
	void *log_arg;

	pthread_key_t key;
	pthread_mutex_t lock; /* conns */
	struct conn *conns;
	bool ready;		  /* store_open has succeeded: an empty site is data loss */
	atomic_bool down;	  /* an outage has been logged and not yet its end */
	atomic_bool proto_logged; /* the site's format refusal has been logged */
	/* store_hold_changes(): the holder's scripts go through, this peer's other changing
	 * scripts take it shared (writer-preferring: a waiting holder is not starved) */
	pthread_rwlock_t changes;
	pthread_mutex_t why_lock;
	char why[160];		   /* the reason of the current or last outage */
	atomic_llong last_err_log; /* second of the last logged error reply */
	atomic_ullong bad_records; /* names and records refused by validation */

	int stop_pipe[2]; /* store_listen_stop writes, store_listen polls */
	atomic_bool listen_stop;

	/* durability: WAIT for this many replicas, this long, after each change (0: no WAIT) */
	unsigned wait_replicas, wait_ms;

	/* sentinel.c: the primary of url.master as last learnt; route.c: the primary serving
	 * the site's slot (prim_lock guards the three, and cmap) */
	pthread_mutex_t prim_lock;
	char prim_host[256];
	int prim_port;
	bool prim_known;
	atomic_uint prim_gen; /* bumped when the primary moves */
	atomic_int sent_next; /* the sentinel asked first */
	pthread_t watch;
	bool watching;
	int watch_pipe[2];
	atomic_bool watch_stop;

	/* route.c: a cluster's slot map as last learnt, and the site's slot */
	struct cluster_map cmap;
	unsigned site_slot;

	atomic_int listen_fd;	 /* the subscription's socket, -1 while there is none */
	atomic_bool listen_busy; /* the listener holds messages it has not delivered yet */
};

int64_t mono_ms(void);
int64_t real_ns(void);
__attribute__((format(printf, 3, 4))) void slog(struct store *s, int level, const char *fmt, ...);
__attribute__((format(printf, 2, 3))) void set_err(struct conn *k, const char *fmt, ...);
/* A reply of the wrong type or an error reply: logged at most once a second; -EIO. */
int refused(struct store *s, struct conn *k, const char *what, const redisReply *r);
const char *io_reason(const redisContext *c, unsigned timeout_ms, char *buf, size_t size);
/* AUTH with the store's user and password on C.  0, or -EIO with WHY. */
int auth(struct store *s, redisContext *c, char *why, size_t whylen);
/* Connect (to the primary the sentinels name, for a sentinel URL, checked with ROLE), set the
 * command timeout, AUTH and SELECT.  0 with *out, or -EIO with WHY filled. */
int connect_raw(struct store *s, redisContext **out, char *why, size_t whylen);
/* The calling thread's connection, connected.  -EIO while Redis is down, -EPROTO for a site
 * of another format. */
int conn_get(struct store *s, struct conn **out);
/* An I/O error on K: drop the connection, fail at once for retry_ms, log once per outage. */
int conn_fail(struct store *s, struct conn *k);
/* The calling thread's connection, for its error text (never NULL after conn_get). */
struct conn *conn_current(struct store *s);

/* ---- sentinel.c ---- */
/* Where the primary is: as last learnt, else asked of the sentinels.  0, or -EIO with WHY. */
int sentinel_primary(struct store *s, char *host, size_t hostlen, int *port, char *why,
		     size_t whylen);
/* The server on C says it is a master; else -EIO with WHY and the primary forgotten. */
int sentinel_check_role(struct store *s, redisContext *c, char *why, size_t whylen);
/* Forget the primary (asked again at the next connect); MOVED: every connection reconnects.
 * A no-op without a sentinel URL. */
void sentinel_lost(struct store *s, bool moved);
/* The thread that follows +switch-master; none without a sentinel URL. */
int sentinel_watch_start(struct store *s);
void sentinel_watch_stop(struct store *s);

/* ---- route.c: a store on Redis Cluster (a no-op, each, without a cluster URL) ---- */
/* The node serving the site's slot: as last learnt, else from CLUSTER SLOTS asked of the
 * known nodes and the seeds.  0, or -EIO with WHY. */
int route_primary(struct store *s, char *host, size_t hostlen, int *port, char *why, size_t whylen);
/* Forget the map (asked again at the next connect); MOVED: every connection reconnects. */
void route_lost(struct store *s, bool moved);
/* What to do with the error reply R of a command on a cluster: ROUTE_NONE (not a cluster's
 * error: the caller's to report), ROUTE_AGAIN (the site's slot moved, or the cluster is in
 * the middle of a change: after a pause, the caller gets its connection again and retries),
 * ROUTE_ASK (this one command goes to *D's node, after ASKING). */
enum route_verdict { ROUTE_NONE, ROUTE_AGAIN, ROUTE_ASK };
enum route_verdict route_redirect(struct store *s, const redisReply *r, struct cluster_redirect *d);
/* ARGC/ARGV/LENS again, on a connection of its own to D's node (after ASKING for an ASK).
 * The reply, or NULL with K's error set. */
redisReply *route_resend(struct store *s, struct conn *k, const struct cluster_redirect *d,
			 int argc, const char **argv, const size_t *lens);
/* The next reply on K's connection, of a pipeline whose command was ARGC/ARGV/LENS: on a
 * cluster, a MOVED or ASK is followed by sending the command again where it points, and *OUT
 * is that node's reply.  REDIS_OK with *OUT (which may be an error reply: the caller's to
 * refuse), or REDIS_ERR on an I/O error of K's connection (conn_fail's).  A pipeline of
 * single-key commands reads each of its replies with it instead of redisGetReply. */
int route_reply(struct store *s, struct conn *k, int argc, const char **argv, const size_t *lens,
		redisReply **out);
/* Up to ROUTE_TRIES attempts, ROUTE_PAUSE_MS apart, while a slot moves: a site's slot of
 * 100,000 files migrates in a few seconds, and a commit that gives up loses a close(). */
#define ROUTE_TRIES    200
#define ROUTE_PAUSE_MS 50

/* ---- resp.c: commands, scripts and their replies ---- */
struct args {
	int n;
	const char *v[ARGS_MAX];
	size_t l[ARGS_MAX];
	char num[ARGS_MAX][KEY_MAX]; /* numbers and keys formatted here */
};
void arg_mem(struct args *a, const void *p, size_t len);
void arg_str(struct args *a, const char *p);
__attribute__((format(printf, 2, 3))) void arg_fmt(struct args *a, const char *fmt, ...);
/* Room for a key in A: the builder writes it into the returned buffer of KEY_MAX bytes and
 * arg_key_done records its length. */
char *arg_key(struct args *a);
void arg_key_done(struct args *a, size_t len);
/* One command, one reply.  0 with *out (never an error reply), or -EIO. */
int command(struct store *s, const char *what, struct args *a, redisReply **out);
/* Run script WHICH with ARGV[4...] from A.  0 with *out (not an error reply), or -EIO. */
int script(struct store *s, enum script_id which, const struct args *a, redisReply **out);
/* A script's integer answer: a negative errno, else a refused reply. */
int script_errno(struct store *s, enum script_id which, const redisReply *r);
/* Fill *A from the field/value pairs R->element[FROM...] of inode INO. */
int attr_parse(const redisReply *r, size_t from, uint64_t ino, struct store_attr *a);
/* A name or record that fails validation (-EBADMSG from attr_parse): counted, the first
 * logged; returns -ENOENT, as for an absent entry.  KIND and ID say which. */
int bad_record(struct store *s, const char *what, const char *kind, uint64_t id);
/* The {ino, field, value, ...} answer of a script, or its errno. */
int attr_reply(struct store *s, enum script_id which, const redisReply *r, struct store_attr *a);
/* Send "SET KEY DATA EX TTL" straight from the caller's buffer.  -1 with K's error set. */
int send_set(struct store *s, struct conn *k, const char *key, size_t keylen, const void *data,
	     size_t len, const char *ttl);

/* ---- small shared helpers ---- */

/* Strict decimal (or octal) digits of P[0..LEN) into *V; false on anything else or overflow. */
static inline bool parse_u64(const char *p, size_t len, unsigned base, uint64_t *v)
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

static inline bool parse_i64(const char *p, size_t len, int64_t *v)
{
	uint64_t u;
	bool neg = len > 0 && p[0] == '-';

	if (!parse_u64(p + neg, len - neg, 10, &u) || u > (uint64_t)INT64_MAX)
		return false;
	*v = neg ? -(int64_t)u : (int64_t)u;
	return true;
}

static inline bool reply_is_str(const redisReply *r)
{
	return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

/* ino from a script's reply element: a string of digits or an integer. */
static inline bool reply_u64(const redisReply *r, uint64_t *v)
{
	if (r->type == REDIS_REPLY_INTEGER && r->integer >= 0) {
		*v = (uint64_t)r->integer;
		return true;
	}
	return reply_is_str(r) && parse_u64(r->str, r->len, 10, v);
}

static inline struct timeval ms_tv(unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	return tv;
}

static inline int check_name(const char *name, size_t len)
{
	if (!name)
		return -EINVAL;
	return path_check_name(name, len);
}

#endif
